"""`icemonitor intake ...`: keys, audit verification, staff accounts and retention."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from icemonitor import config
from icemonitor.intake import KEY_ENV
from icemonitor.messages import LANGS, Message, msg
from icemonitor.messages.cli_lang import LANG_HELP, _check_lang, _lang_default, error_text

if TYPE_CHECKING:  # the intake's modules (cryptography, argon2) are imported by the command that runs
    from icemonitor.intake.settings import IntakeSettings
    from icemonitor.intake.store import Vault

console = Console()
err = Console(stderr=True)
# the staff commands' text is said in --lang (default ICEMONITOR_LANG); usernames, roles, paths and links as they are
Lang = Annotated[str, typer.Option("--lang", help=LANG_HELP, default_factory=_lang_default, callback=_check_lang)]
ERROR_LABEL = msg("error:")


def _say(text: Message, lang: str, to: Console = console) -> None:
    """One line of a staff command's output in `lang` (printed as it is: no markup)."""
    to.print(text.render(lang), highlight=False, markup=False, soft_wrap=True)


def _lang(kwargs: dict) -> str:
    """The --lang a command was given (its errors are said in it)."""
    lang = kwargs.get("lang")
    return lang if lang in LANGS else "en"


def _settings() -> IntakeSettings:
    from icemonitor.intake.settings import IntakeSettings

    return IntakeSettings.from_env()


def _vault(settings: IntakeSettings) -> Vault:
    from icemonitor.intake.db import Database
    from icemonitor.intake.store import Vault
    from icemonitor.intake.web import check_key_file

    key_file = Path(settings.key_file)
    return Vault(Database(settings.db_url, settings.audit_anchor_file), check_key_file(key_file), key_file).open()


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def _clear_errors(fn):
    """Show an IcemonitorError (missing key, wrong key, bad URL) as one line and exit 2, not as a traceback."""
    import functools

    from icemonitor.errors import IcemonitorError

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except IcemonitorError as exc:
            err.print(f"{ERROR_LABEL.render(_lang(kwargs))} {error_text(exc, _lang(kwargs))}", highlight=False,
                      markup=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def _account(action, *args, lang: str = "en", **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
    """Run an account change; an AccountError is a one-line error (in `lang` where it has it) and exit 2."""
    from icemonitor.intake import auth

    try:
        return action(*args, **kwargs)
    except auth.AccountError as exc:
        err.print(f"{ERROR_LABEL.render(lang)} {error_text(exc, lang)}", highlight=False, markup=False)
        raise typer.Exit(2) from None


def add_commands(app: typer.Typer) -> None:
    """Add the `intake` command group to the icemonitor CLI."""
    group = typer.Typer(help="The confidential case-evaluation intake: keys, audit log, staff accounts, retention.",
                        no_args_is_help=True)
    app.add_typer(group, name="intake")

    @group.command("init-key")
    @_clear_errors
    def init_key(
        key_file: Path = typer.Option(None, "--key-file", help="where to write the key (default: $ICEMONITOR_INTAKE_KEY_FILE)"),
        inside_data_folder: bool = typer.Option(False, "--inside-data-folder",
                                                help="allow the key inside the data folder (not recommended)"),
        lang: Lang = ...,
    ) -> None:
        """Create a new random master key file (mode 0600); refuses to overwrite one."""
        from icemonitor.intake.keys import IntakeKeyError, new_key, write_key_file

        path = key_file or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else None)
        if path is None:
            raise IntakeKeyError(msg("give --key-file or set {name}", name=KEY_ENV))
        if _inside(path, config.home()) and not inside_data_folder:
            raise IntakeKeyError(msg("{path} is inside the data folder {home}: keep the key apart from the data and "
                                     "its backups (or pass --inside-data-folder)", path=str(path),
                                     home=str(config.home())))
        write_key_file(path.expanduser(), new_key())
        _say(msg("master key written to {path}. Back it up apart from the database: without it no request can be "
                 "read.", path=str(path)), lang)

    @group.command("rotate-key")
    @_clear_errors
    def rotate_key(lang: Lang = ...) -> None:
        """Re-wrap every request's data key (and staff TOTP secrets) under a new master key, then replace the key file.

        Safe while the server runs: the rotation holds the database's key check, and the server reloads the key
        (from the key file, or the pending `.new` file until it is renamed) before it seals or opens anything."""
        from icemonitor.intake.keys import new_key, pending_key_file, write_key_file

        settings = _settings()
        vault = _vault(settings)
        key_path = Path(settings.key_file)
        pending = pending_key_file(key_path)
        fresh = new_key()
        write_key_file(pending, fresh, overwrite=True)  # on disk before the database changes
        try:
            done = vault.rotate(fresh, actor="cli")
        except BaseException:
            pending.unlink(missing_ok=True)  # the database still uses the old key
            raise
        os.replace(pending, key_path)
        _say(msg("{n} data keys re-wrapped; {path} now holds the new master key. Staff sessions and pending enrolment "
                 "links ended (log in again; `reset-user` re-issues a link). Destroy old copies of the previous key "
                 "(and backups made with it) to extend shredding to them.", n=done.rewrapped, path=str(key_path)),
             lang)
        if done.unreadable:
            _say(msg("{n} records did not open with the previous key either and were left as they were: run "
                     "`icemonitor intake verify`.", n=done.unreadable), lang, err)

    @group.command("verify-audit")
    @_clear_errors
    def verify_audit(as_json: bool = typer.Option(False, "--json"),
                     anchor: str = typer.Option(None, "--anchor", help="`audit N:HEAD` from a staff alert "
                                                "(default: the anchor file in the data folder)"),
                     lang: Lang = ...) -> None:
        """Recompute the audit log's keyed hash chain and compare it with its anchor; exit 1 if any row was
        changed, removed or reordered, or the log was truncated."""
        from icemonitor.intake import audit
        from icemonitor.intake.keys import IntakeKeyError

        settings = _settings()
        vault = _vault(settings)  # the chain is keyed: verifying needs the master key
        given = audit.parse_anchor(anchor) if anchor else None
        if anchor and given is None:
            raise IntakeKeyError(msg("--anchor: expected `audit ROWS:HEAD` as a staff alert shows it"))
        check = audit.verify(vault.db, vault.audit_key, given)
        if as_json:
            console.print_json(json.dumps(check.__dict__))
        elif check.ok:
            _say(msg("audit log intact: {rows} rows, head {head}", rows=check.rows, head=check.head), lang)
        else:
            _say(msg("audit log TAMPERED at row {row}: {reason}", row=check.bad_seq, reason=check.reason), lang, err)
        if not check.ok:
            raise typer.Exit(1)

    @group.command("verify")
    @_clear_errors
    def verify(as_json: bool = typer.Option(False, "--json"), lang: Lang = ...) -> None:
        """Open every request (each field and note) and every staff second factor with the master key, and check
        the audit log; exit 1 if anything does not open or the log was tampered with."""
        from icemonitor.intake import audit

        settings = _settings()
        vault = _vault(settings)
        records = vault.verify_records(actor="cli")
        chain = audit.verify(vault.db, vault.audit_key)
        if as_json:
            console.print_json(json.dumps({**records.__dict__, "audit": chain.__dict__}))
        else:
            _say(msg("{open} of {requests} requests open; {accounts_open} of {accounts} staff second factors open; "
                     "audit log {state} ({rows} rows)", open=records.requests - len(records.unreadable),
                     requests=records.requests, accounts_open=records.accounts - len(records.unreadable_accounts),
                     accounts=records.accounts, state=msg("intact") if chain.ok else msg("TAMPERED"),
                     rows=chain.rows), lang)
            for ref in records.unreadable:
                _say(msg("request {ref} does not open with this key (restore the key it was sealed with)", ref=ref),
                     lang, err)
            for name in records.unreadable_accounts:
                _say(msg("account {name}: second factor does not open; `icemonitor intake reset-user {name}`",
                         name=name), lang, err)
            if not chain.ok:
                _say(msg("audit log: row {row}: {reason}", row=chain.bad_seq, reason=chain.reason), lang, err)
        if not (records.ok and chain.ok):
            raise typer.Exit(1)

    @group.command("add-user")
    @_clear_errors
    def add_user(
        username: str,
        role: list[str] = typer.Option(..., "--role", help="reviewer, attorney or admin (repeatable)"),
        base_url: str = typer.Option("", "--base-url", help="the server's address, to print a whole link"),
        lang: Lang = ...,
    ) -> None:
        """Create a staff account; prints its one-time enrolment link (its owner sets password and TOTP there)."""
        from icemonitor.intake import auth

        vault = _vault(_settings())
        token = _account(auth.add_user, vault, username, role, actor="cli", lang=lang)
        _say(msg("account {name} created. Give its owner this one-time enrolment link (valid 72 hours): {link}",
                 name=username, link=f"{base_url.rstrip('/')}/staff/enrol/{token}"), lang)

    @group.command("reset-user")
    @_clear_errors
    def reset_user(username: str, base_url: str = typer.Option("", "--base-url"), lang: Lang = ...) -> None:
        """Clear an account's password and second factor, end its sessions, print a new enrolment link."""
        from icemonitor.intake import auth

        token = _account(auth.reset_user, _vault(_settings()), username, actor="cli", lang=lang)
        _say(msg("account {name} reset; new enrolment link: {link}", name=username,
                 link=f"{base_url.rstrip('/')}/staff/enrol/{token}"), lang)

    @group.command("set-roles")
    @_clear_errors
    def set_roles(username: str, role: list[str] = typer.Option(..., "--role"), lang: Lang = ...) -> None:
        """Replace an account's roles (audited; shown to the other admins)."""
        from icemonitor.intake import auth

        _account(auth.set_roles, _vault(_settings()), username, role, actor="cli", lang=lang)
        _say(msg("account {name}: roles {roles}", name=username, roles=",".join(sorted(set(role)))), lang)

    @group.command("disable-user")
    @_clear_errors
    def disable_user(username: str, enable: bool = typer.Option(False, "--enable", help="enable it again"),
                     lang: Lang = ...) -> None:
        """Disable an account (its sessions end at once), or enable it again."""
        from icemonitor.intake import auth

        _account(auth.set_disabled, _vault(_settings()), username, not enable, actor="cli", lang=lang)
        _say(msg("account {name} enabled", name=username) if enable else
             msg("account {name} disabled; its sessions ended", name=username), lang)

    @group.command("delete-user")
    @_clear_errors
    def delete_user(username: str, lang: Lang = ...) -> None:
        """Delete an account and its sessions; its assigned requests go back to the shared queue."""
        from icemonitor.intake import auth

        _account(auth.delete_user, _vault(_settings()), username, actor="cli", lang=lang)
        _say(msg("account {name} deleted", name=username), lang)

    @group.command("end-sessions")
    @_clear_errors
    def end_sessions(username: str, lang: Lang = ...) -> None:
        """Log an account out everywhere."""
        from icemonitor.intake import auth

        n = _account(auth.end_sessions, _vault(_settings()), username, actor="cli", lang=lang)
        _say(msg("account {name}: {n} sessions ended", name=username, n=n), lang)

    @group.command("list-users")
    @_clear_errors
    def list_users(lang: Lang = ...) -> None:
        """Staff accounts: roles and state."""
        from icemonitor.intake import auth

        for u in auth.list_users(_vault(_settings())):
            state = (msg("disabled") if u["disabled"] else
                     msg("waiting for enrolment") if not u["enrolled"] else msg("active"))
            console.print(f"{u['username']}\t{u['roles']}\t{state.render(lang)}\t"
                          + msg("failed logins {n}", n=u["failed_logins"]).render(lang), markup=False, highlight=False)

    @group.command("purge")
    @_clear_errors
    def purge(days: int = typer.Option(None, "--days", help="override the retention period in days"),
              as_json: bool = typer.Option(False, "--json"), lang: Lang = ...) -> None:
        """Crypto-shred every request closed more than the retention period ago (each shred is audited)."""
        settings = _settings()
        vault = _vault(settings)
        n_days = settings.retention_days if days is None else days
        done = vault.purge(n_days, actor="cli-retention")
        if as_json:
            console.print_json(json.dumps({"retention_days": n_days, "shredded": done}))
        else:
            _say(msg("{n} requests closed more than {days} days ago shredded", n=len(done), days=n_days), lang)


register = add_commands  # the name every stage's cli module exposes
