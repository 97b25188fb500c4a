"""`icemonitor intake ...`: keys, audit verification, staff accounts and retention."""

from __future__ import annotations

import json
import os
from pathlib import Path

import typer
from rich.console import Console

from icemonitor import config
from icemonitor.intake import audit, auth
from icemonitor.intake.db import Database
from icemonitor.intake.keys import KEY_ENV, IntakeKeyError, new_key, write_key_file
from icemonitor.intake.settings import IntakeSettings
from icemonitor.intake.store import Vault

console = Console()
err = Console(stderr=True)


def _vault(settings: IntakeSettings) -> Vault:
    from icemonitor.intake.web import check_key_file

    return Vault(Database(settings.db_url), check_key_file(Path(settings.key_file))).open()


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
            err.print(f"error: {exc}", highlight=False, markup=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def add_commands(app: typer.Typer) -> None:
    """Add the `intake` command group to the icemonitor CLI."""
    group = typer.Typer(help="The confidential case-evaluation intake: keys, audit log, staff accounts, retention.",
                        no_args_is_help=True)
    app.add_typer(group, name="intake")

    @group.command("init-key")
    @_clear_errors
    def init_key(
        key_file: Path = typer.Option(None, "--key-file", help=f"where to write the key (default: ${KEY_ENV})"),
        inside_data_folder: bool = typer.Option(False, "--inside-data-folder",
                                                help="allow the key inside the data folder (not recommended)"),
    ) -> None:
        """Create a new random master key file (mode 0600); refuses to overwrite one."""
        path = key_file or (Path(os.environ[KEY_ENV]) if os.environ.get(KEY_ENV) else None)
        if path is None:
            raise IntakeKeyError(f"give --key-file or set {KEY_ENV}")
        if _inside(path, config.home()) and not inside_data_folder:
            raise IntakeKeyError(f"{path} is inside the data folder {config.home()}: keep the key apart from the "
                                 "data and its backups (or pass --inside-data-folder)")
        write_key_file(path.expanduser(), new_key())
        console.print(f"master key written to {path}. Back it up apart from the database: without it no request can be read.")

    @group.command("rotate-key")
    @_clear_errors
    def rotate_key() -> None:
        """Re-wrap every request's data key (and staff TOTP secrets) under a new master key, then replace the key file."""
        settings = IntakeSettings.from_env()
        vault = _vault(settings)
        key_path = Path(settings.key_file)
        pending = key_path.with_name(key_path.name + ".new")
        fresh = new_key()
        write_key_file(pending, fresh, overwrite=True)  # on disk before the database changes
        try:
            count = vault.rotate(fresh, actor="cli")
        except BaseException:
            pending.unlink(missing_ok=True)  # the database still uses the old key
            raise
        os.replace(pending, key_path)
        console.print(f"{count} data keys re-wrapped; {key_path} now holds the new master key. "
                      "Destroy old copies of the previous key (and backups made with it) to extend shredding to them.")

    @group.command("verify-audit")
    @_clear_errors
    def verify_audit(as_json: bool = typer.Option(False, "--json")) -> None:
        """Recompute the audit log's keyed hash chain; exit 1 if any row was changed, removed or reordered."""
        settings = IntakeSettings.from_env()
        vault = _vault(settings)  # the chain is keyed: verifying needs the master key
        check = audit.verify(vault.db, vault.audit_key)
        if as_json:
            console.print_json(json.dumps(check.__dict__))
        elif check.ok:
            console.print(f"audit log intact: {check.rows} rows, head {check.head}")
        else:
            err.print(f"audit log TAMPERED at row {check.bad_seq}: {check.reason}")
        if not check.ok:
            raise typer.Exit(1)

    @group.command("add-user")
    @_clear_errors
    def add_user(
        username: str,
        role: list[str] = typer.Option(..., "--role", help="reviewer, attorney or admin (repeatable)"),
    ) -> None:
        """Create a staff account; prints its TOTP secret once."""
        settings = IntakeSettings.from_env()
        vault = _vault(settings)
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
        try:
            secret = auth.add_user(vault, username, password, role, actor="cli")
        except auth.AccountError as exc:
            err.print(f"error: {exc}")
            raise typer.Exit(2) from None
        import pyotp

        console.print(f"account {username} created. TOTP secret (add it to an authenticator app now; not shown again): {secret}")
        console.print(pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name="icemonitor intake"))

    @group.command("purge")
    @_clear_errors
    def purge(days: int = typer.Option(None, "--days", help="override the retention period in days"),
              as_json: bool = typer.Option(False, "--json")) -> None:
        """Crypto-shred every request closed more than the retention period ago (each shred is audited)."""
        settings = IntakeSettings.from_env()
        vault = _vault(settings)
        n_days = settings.retention_days if days is None else days
        done = vault.purge(n_days, actor="cli-retention")
        if as_json:
            console.print_json(json.dumps({"retention_days": n_days, "shredded": done}))
        else:
            console.print(f"{len(done)} requests closed more than {n_days} days ago shredded")


register = add_commands  # the name every stage's cli module exposes
