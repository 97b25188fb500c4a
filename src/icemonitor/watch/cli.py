"""CLI: `refresh`, `history`, `watch add/list/remove`, `alerts log/deliver`, `scheduler`."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.console import Console
from rich.table import Table

from icemonitor import config
from icemonitor.errors import IcemonitorError, InputError
from icemonitor.messages import Message, Month, kept_text, msg
from icemonitor.messages.cli_lang import LANG_HELP, _check_lang, _lang_default, error_text
from icemonitor.watch.state import kept_label

console = Console(stderr=True, soft_wrap=True)  # error lines unbroken (paths, field names)
out = Console()

EXIT_OK = 0
EXIT_ERROR = 2
EXIT_FETCH_FAILED = 3  # the refresh worked with what could be fetched; some files could not be
EXIT_HELD_BACK = 10  # the refresh worked but held back a suspect release version
EXIT_LOCKED = 75  # EX_TEMPFAIL: another refresh holds the lock; try again later

watch_app = typer.Typer(help="Watched places and what to tell whom.", no_args_is_help=True)
alerts_app = typer.Typer(help="Alerts: the log of what was sent, and sending what is due.", no_args_is_help=True)


Lang = Annotated[str, typer.Option("--lang", help=LANG_HELP, default_factory=_lang_default, callback=_check_lang)]
# the confirmations' words (the findings' titles are stored in each watch's language)
REFRESH_STATUS = {"updated": msg("updated"), "unchanged": msg("unchanged"), "held_back": msg("held back"),
                  "running": msg("running"), "failed": msg("failed")}
DELIVERY_STATUS = {"pending": msg("pending"), "sending": msg("sending"), "sent": msg("sent"),
                   "cancelled": msg("cancelled")}
ERROR_LABEL = msg("error:")
PROGRESS_WORDS = {"refresh": msg("refresh"), "files": msg("files"), "fetching": msg("fetching")}
ALERTS_COLUMNS = {"id": msg("id"), "status": msg("status"), "to": msg("to"), "attempts": msg("attempts"),
                  "when": msg("sent / next try"), "finding": msg("finding"), "error": msg("last error")}
# the `history` and `watch list` tables' words (codes, release ids, file names and the stored refresh messages as
# they are)
REFRESHES_COLUMNS = {"id": msg("id"), "started_at": msg("started"), "finished_at": msg("finished"),
                     "status": msg("status"), "message": msg("message")}
FILES_COLUMNS = {"release_id": msg("release"), "file_name": msg("file"), "sha256": msg("SHA-256"),
                 "status": msg("status"), "first_refresh": msg("first refresh")}
FILE_STATUS = {"in_use": msg("in use"), "superseded": msg("superseded"), "suspect": msg("suspect")}
DIFF_COLUMNS = {"table_name": msg("table"), "month": msg("month"), "aor": msg("AOR"), "rows_before": msg("before"),
                "rows_after": msg("after"), "added": msg("added"), "removed": msg("removed"),
                "counted_before": msg("counted before"), "counted_after": msg("counted after")}
WATCHES_COLUMNS = {"id": msg("id"), "place_label": msg("place"), "kind": msg("watch"), "channel": msg("channel"),
                   "target": msg("target"), "lang": msg("language"), "created_at": msg("created")}


def _say(message: str, lang: str) -> None:
    """A confirmation line in `lang` (a message; plain text, e.g. a watch's problem, as it is)."""
    out.print(escape(message.render(lang) if isinstance(message, Message) else message), highlight=False)


def _fail(err: Exception, code: int = EXIT_ERROR, lang: str = "en") -> None:
    """The error on one line, in `lang` where it has that language; exit with `code`."""
    console.print(f"[bold red]{escape(ERROR_LABEL.render(lang))}[/] {escape(error_text(err, lang))}", highlight=False)
    raise typer.Exit(code)


def refresh_command(
    mirror: Annotated[Optional[Path], typer.Option(help="Folder laid out like shared/data to fetch from (or ICEMONITOR_MIRROR)")] = None,
    max_change: Annotated[float, typer.Option(help="A new version is suspect when a month x AOR cell moves by more than this fraction")] = 0.05,
    min_rows: Annotated[int, typer.Option(help="...for cells with at least this many rows in the version in use")] = 50,
    deliver: Annotated[bool, typer.Option(help="Send due alerts after the refresh")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON")] = False,
    allow_removal: Annotated[bool, typer.Option("--allow-removal", help="Swap in the new warehouse even when it lacks files the one in use has (e.g. files dropped from the catalog)")] = False,
    detention_page: Annotated[Optional[str], typer.Option("--detention-page", help="Also look at ICE's Detention Management page (give its address) and archive every new detention-statistics posting before building")] = None,
    lang: Lang = ...,
) -> None:
    """Fetch new releases, rebuild, record what changed, run the watches and send alerts (one shot, cron-friendly).

    Exit codes: 0 done (updated or nothing new), 3 done but some files could not be fetched, 10 done but a
    new release version was held back as suspect, 75 another refresh is running, 2 error."""
    from icemonitor.watch import state
    from icemonitor.watch.delivery import deliver_due
    from icemonitor.watch.lock import LockHeld
    from icemonitor.watch.refresh import refresh
    from icemonitor.watch.snapshot import Thresholds

    try:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        words = {k: escape(m.render(lang)) for k, m in PROGRESS_WORDS.items()}
        with Progress(TextColumn(f"[bold]{words['refresh']}[/]"), BarColumn(),
                      TextColumn("{task.completed}/{task.total} " + words["files"]),
                      TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
            task = bar.add_task(words["fetching"], total=None)

            def progress(name: str, done: int, total: int) -> None:
                bar.update(task, total=total, completed=done,
                           description=escape(msg("building: {name}", name=name).render(lang)))

            result = refresh(mirror=mirror or config.mirror(), thresholds=Thresholds(max_change, min_rows),
                             progress=progress, allow_removal=allow_removal, **_discovery(detention_page, lang))
    except LockHeld as err:
        _fail(err, EXIT_LOCKED, lang)
    except IcemonitorError as err:
        _fail(err, lang=lang)
    run = None
    try:
        if deliver:
            con = state.connect()
            try:
                run = deliver_due(con)
            finally:
                con.close()
    except LockHeld as err:  # another process is sending: it will send these too
        result.messages.append(msg("alerts not sent now: {err}", err=str(err)))
    except IcemonitorError as err:
        _fail(err, lang=lang)
    summary = {
        "refresh_id": result.refresh_id, "status": result.status,
        "added": [list(k) for k in result.added], "changed": [list(k) for k in result.changed],
        "removed": [list(k) for k in result.removed], "fetch_errors": result.fetch_errors,
        "suspect": [e.__dict__ for e in result.suspect],
        "rows_added": sum(c.added for c in result.changes), "rows_removed": sum(c.removed for c in result.changes),
        "new_findings": len(result.findings),
        "sent": len(run.sent) if run else 0, "failed": len(run.failed) if run else 0,
        "messages": result.messages,
    }
    if as_json:
        out.print_json(json.dumps(summary))
    else:
        for m in result.messages:  # messages of the refresh (and plain text of the watches' problems)
            _say(m, lang)
        _say(msg("refresh {id}: {status}; {n} new finding(s); {sent} alert(s) sent, {failed} failed (will retry)",
                 id=result.refresh_id, status=REFRESH_STATUS.get(result.status, result.status), n=summary["new_findings"],
                 sent=summary["sent"], failed=summary["failed"]), lang)
    if result.status == "held_back":
        raise typer.Exit(EXIT_HELD_BACK)
    raise typer.Exit(EXIT_FETCH_FAILED if result.fetch_errors else EXIT_OK)


def history_command(
    refresh_id: Annotated[Optional[int], typer.Argument(help="Show what this refresh changed, by table, month and AOR")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    lang: Lang = ...,
) -> None:
    """The release history: past refreshes, or one refresh's diff (rows added and removed by month and AOR)."""
    from icemonitor.watch import state

    con = state.connect()
    try:
        if refresh_id is None:
            rows = [dict(r) for r in con.execute("SELECT * FROM refreshes ORDER BY id DESC")]
            files = [dict(r) for r in con.execute(
                "SELECT release_id, file_name, sha256, status, first_refresh, last_refresh FROM release_files "
                "ORDER BY release_id, file_name, first_refresh")]
            if as_json:
                out.print_json(json.dumps({"refreshes": rows, "release_files": files}))
                return
            t = _table(msg("refreshes"), REFRESHES_COLUMNS, lang)
            for r in rows:
                r["status"] = _word(REFRESH_STATUS, r["status"], lang)
                r["message"] = kept_text(r.get("messages"), r["message"], lang)
                t.add_row(*(escape(str(r[c] or "")) for c in REFRESHES_COLUMNS))
            out.print(t)
            f = _table(msg("release file versions"), FILES_COLUMNS, lang)
            for r in files:
                f.add_row(r["release_id"], r["file_name"], r["sha256"][:12], _word(FILE_STATUS, r["status"], lang),
                          str(r["first_refresh"]))
            out.print(f)
            return
        rows = [dict(r) for r in con.execute(
            "SELECT table_name, month, aor, sum(rows_before) AS rows_before, sum(rows_after) AS rows_after, "
            "sum(counted_before) AS counted_before, sum(counted_after) AS counted_after FROM release_diff "
            "WHERE refresh_id = ? GROUP BY table_name, month, aor ORDER BY table_name, month, aor", [refresh_id])]
    finally:
        con.close()
    for r in rows:
        r["added"] = max(r["rows_after"] - r["rows_before"], 0)
        r["removed"] = max(r["rows_before"] - r["rows_after"], 0)
    if as_json:
        out.print_json(json.dumps(rows))
        return
    t = _table(msg("refresh {id}: rows added and removed by table, month and AOR (all releases)", id=refresh_id),
               DIFF_COLUMNS, lang, right=("rows_before", "rows_after", "added", "removed", "counted_before",
                                          "counted_after"))
    no_date, no_aor = msg("(no date)").render(lang), msg("(no AOR)").render(lang)
    for r in rows:
        t.add_row(r["table_name"], r["month"] or no_date, r["aor"] or no_aor, f"{r['rows_before']:,}",
                  f"{r['rows_after']:,}", f"{r['added']:,}", f"{r['removed']:,}", f"{r['counted_before']:,}",
                  f"{r['counted_after']:,}")
    out.print(t)


def _table(title: Message, columns: dict[str, Message], lang: str, right: tuple[str, ...] = ()) -> Table:
    """A table whose title and headers are said in `lang` (`right`: the keys of right-aligned figure columns)."""
    t = Table(title=escape(title.render(lang)))
    for key, header in columns.items():
        t.add_column(escape(header.render(lang)), justify="right" if key in right else "left")
    return t


def _word(words: dict[str, Message], code: str, lang: str) -> str:
    """A stored status code as a word in `lang` (an unknown code as it is)."""
    return words[code].render(lang) if code in words else code


_EMAIL = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@watch_app.command("add")
def watch_add(
    watch: Annotated[str, typer.Option(help="sweeps | at-large-rise | no-record-rise | intake-urgent (new urgent intake requests; no place) | detention-posting | facility-threshold | stale-posting (ICE's detention statistics; no place)")],
    place: Annotated[Optional[str], typer.Option(help="US, an AOR code (LOS), a comma list of AOR codes, or (with the landmark resolution) a state, county FIPS, 'Name County, ST' or named group")] = None,
    email: Annotated[Optional[str], typer.Option(help="Send alerts to this address")] = None,
    webhook: Annotated[Optional[str], typer.Option(help="POST alerts as signed JSON to this URL")] = None,
    secret_env: Annotated[Optional[str], typer.Option(help="Environment variable holding the webhook's HMAC secret")] = None,
    facility: Annotated[Optional[str], typer.Option(help="facility-threshold: ICE's facility code (see `icemonitor detention facilities`)")] = None,
    threshold: Annotated[Optional[int], typer.Option(help="facility-threshold: alert when people held during a day rise past this")] = None,
    max_age_days: Annotated[Optional[int], typer.Option(help="stale-posting: alert when ICE's newest stated date is older than this (default 21)")] = None,
    lang: Annotated[str, typer.Option("--lang", help="language of the alerts' text: en or es (default: ICEMONITOR_LANG, else en); the JSON figures are unaffected", default_factory=_lang_default, callback=_check_lang)] = ...,
) -> None:
    """Watch a place (or, with intake-urgent, the intake inbox; with the detention watches, ICE's detention
    statistics); alerts go to one e-mail address or one webhook."""
    from icemonitor.watch import state
    from icemonitor.watch.detention_findings import KINDS as DETENTION_KINDS
    from icemonitor.watch.findings import KINDS
    from icemonitor.watch.intake_alerts import INTAKE_KIND, INTAKE_PLACE, INTAKE_PLACE_LABEL
    from icemonitor.watch.places import WatchPlace, parse, product_ref

    try:
        if watch not in (*KINDS, INTAKE_KIND, *DETENTION_KINDS):
            raise InputError(msg("Unknown watch; choose one of {choices}",
                                 choices=", ".join((*KINDS, INTAKE_KIND, *DETENTION_KINDS))), field="watch", value=watch)
        if watch in DETENTION_KINDS:
            _check_target(email, webhook, secret_env, lang)
            wid, label = _add_detention_watch(watch, place, facility, threshold, max_age_days, email, webhook,
                                              secret_env, lang)
            _say(msg("watch {id}: {watch} {label} -> {target}", id=wid, watch=watch, label=label,
                     target=email or webhook), lang)
            return
        if facility or threshold is not None or max_age_days is not None:
            raise InputError(msg("--facility, --threshold and --max-age-days are for the detention watches"),
                             field="watch", value=watch)
        if watch == INTAKE_KIND and place:
            raise InputError(msg("intake-urgent watches take no place (they alert on every urgent intake request)"),
                             field="place", value=place)
        if watch != INTAKE_KIND and not place:
            raise InputError(msg("{watch} watches need --place (US, an AOR code, a state or a county)", watch=watch),
                             field="place")
        _check_target(email, webhook, secret_env, lang)
        wh = config.warehouse_path()
        if watch == INTAKE_KIND:
            parsed = WatchPlace(INTAKE_PLACE, INTAKE_PLACE_LABEL, "FALSE", (), level="intake")
        elif wh.exists():
            import duckdb

            dcon = duckdb.connect(str(wh), read_only=True)
            try:
                parsed = parse(place, dcon, product_ref())
            finally:
                dcon.close()
        else:
            parsed = parse(place, None, product_ref())
            _note(msg("note: no warehouse yet; the place was not checked against the records"), lang)
        if watch == "sweeps" and parsed.level not in ("national", "aor"):
            raise InputError(msg("sweeps watches take US or AOR codes"), field="place", value=place)
        con = state.connect()
        try:
            wid = con.execute(
                "INSERT INTO watches (place, place_label, kind, channel, target, secret_env, created_at, lang, "
                "label_message) VALUES (?,?,?,?,?,?,?,?,?)",
                [parsed.text, str(parsed.label), watch, "email" if email else "webhook", email or webhook,
                 secret_env if webhook else None, state.iso(state.now_utc()), lang, kept_label(parsed.label)],
            ).lastrowid
        finally:
            con.close()
    except IcemonitorError as err:
        _fail(err, lang=lang)
    if watch == INTAKE_KIND:
        _say(msg("watch {id}: {watch} -> {target}", id=wid, watch=watch, target=email or webhook), lang)
    else:
        _say(msg("watch {id}: {watch} in {place} -> {target}", id=wid, watch=watch, place=parsed.label,
                 target=email or webhook), lang)


def _check_target(email: Optional[str], webhook: Optional[str], secret_env: Optional[str], lang: str) -> None:
    """Exactly one well-formed e-mail address or webhook (with the name of its secret's variable)."""
    if bool(email) == bool(webhook):
        raise InputError(msg("give exactly one of --email or --webhook"), field="email/webhook")
    if email and not _EMAIL.match(email):
        raise InputError(msg("not an e-mail address"), field="email", value=email)
    if webhook:
        if not re.match(r"^https?://[^\s]+$", webhook):
            raise InputError(msg("webhook URLs start with https:// (or http://)"), field="webhook", value=webhook)
        if not secret_env or not _ENV.match(secret_env):
            raise InputError(msg("webhooks need --secret-env NAME (the variable holding the HMAC secret)"),
                             field="secret-env", value=secret_env)
        if not os.environ.get(secret_env):
            _note(msg("note: {name} is not set now; it must be set wherever refresh, alerts deliver or serve runs",
                      name=secret_env), lang)


def _note(note: Message, lang: str) -> None:
    """A note beside a command's output (on stderr), in `lang`."""
    console.print(escape(note.render(lang)), highlight=False)


def _add_detention_watch(kind: str, place: Optional[str], facility: Optional[str], threshold: Optional[int],
                         max_age_days: Optional[int], email: Optional[str], webhook: Optional[str],
                         secret_env: Optional[str], lang: str = "en") -> tuple[int, str]:
    """Store a detention watch with its baseline (what the warehouse in use already shows); (id, label)."""
    from icemonitor.watch import detention_watches, state

    if place:
        raise InputError(msg("{kind} watches take no --place (a facility watch takes --facility)", kind=kind),
                         field="place", value=place)
    wh, dcon = config.warehouse_path(), None
    if wh.exists():
        import duckdb

        dcon = duckdb.connect(str(wh), read_only=True)
    else:
        _note(msg("note: no warehouse yet; the watch takes what the first refresh shows as already seen"), lang)
    con = state.connect()
    try:
        code, label, options = detention_watches.settings(dcon, kind, facility, threshold, max_age_days)
        wid = detention_watches.add(con, dcon, kind, code, label, options, "email" if email else "webhook",
                                    email or webhook, secret_env if webhook else None, lang)
    finally:
        con.close()
        if dcon is not None:
            dcon.close()
    if kind == "facility-threshold":
        return wid, msg("at {facility}, above {threshold:,} held during a day", facility=label, threshold=threshold)
    return wid, label


@watch_app.command("list")
def watch_list(as_json: Annotated[bool, typer.Option("--json")] = False, lang: Lang = ...) -> None:
    """The active watches."""
    from icemonitor.watch import state

    con = state.connect()
    try:
        rows = [dict(r) for r in con.execute("SELECT * FROM watches WHERE active = 1 ORDER BY id")]
    finally:
        con.close()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    t = _table(msg("watches"), WATCHES_COLUMNS, lang)
    for r in rows:
        r["place_label"] = kept_text(r.get("label_message"), r["place_label"], lang)
        t.add_row(*(escape(str(r[c])) for c in WATCHES_COLUMNS))
    out.print(t)


@watch_app.command("remove")
def watch_remove(watch_id: Annotated[int, typer.Argument(help="Watch id (see `watch list`)")], lang: Lang = ...) -> None:
    """Stop a watch (its findings and the alert log are kept)."""
    from icemonitor.watch import state

    from icemonitor.watch.alerts import cancel_pending

    con = state.connect()
    try:
        n = con.execute("UPDATE watches SET active = 0 WHERE id = ? AND active = 1", [watch_id]).rowcount
        cancelled = cancel_pending(con, watch_id) if n else 0
    finally:
        con.close()
    if not n:
        _fail(InputError(msg("no active watch with that id"), field="watch_id", value=watch_id), lang=lang)
    _say(msg("watch {id} removed; {n} unsent alert(s) cancelled", id=watch_id, n=cancelled) if cancelled else
         msg("watch {id} removed", id=watch_id), lang)


@watch_app.command("check")
def watch_check(
    watch_id: Annotated[int, typer.Argument(help="Watch id (see `watch list`)")],
    date_from: Annotated[str, typer.Option("--from", help="First month, YYYY-MM")],
    date_to: Annotated[str, typer.Option("--to", help="Last month, YYYY-MM")],
    send: Annotated[bool, typer.Option(help="Send the new alerts now")] = True,
    lang: Lang = ...,
) -> None:
    """Run a watch over past months of the warehouse now (e.g. right after adding it); nothing is sent twice."""
    from icemonitor.watch import state
    from icemonitor.watch.delivery import deliver_due
    from icemonitor.watch.findings import month_add

    try:
        for name, value in (("from", date_from), ("to", date_to)):
            if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
                raise InputError(msg("months look like YYYY-MM"), field=name, value=value)
        if date_to < date_from:
            raise InputError(msg("--to is before --from"), field="to", value=date_to)
        months, m = [], date_from
        while m <= date_to:
            months.append(m)
            m = month_add(m, 1)
        if not config.warehouse_path().exists():
            raise IcemonitorError(msg("no warehouse yet: run `icemonitor refresh` first"))
        con = state.connect()
        try:
            new = _check_any(con, watch_id, months)
            run = deliver_due(con) if send and new else None
        finally:
            con.close()
    except IcemonitorError as err:
        _fail(err, lang=lang)
    said = msg("watch {id}: {n} new finding(s) from {first} to {last}", id=watch_id, n=len(new),
               first=Month(date_from), last=Month(date_to))
    if run:
        said = msg("{said}; {sent} sent, {failed} failed (will retry)", said=said, sent=len(run.sent), failed=len(run.failed))
    _say(said, lang)


def _check_any(con, watch_id: int, months: list[str]) -> list[int]:  # noqa: ANN001 - sqlite3 connection
    """A records watch over the months; a detention watch over their days (postings stating a date in them)."""
    import datetime as dt

    from icemonitor.watch import detention_watches
    from icemonitor.watch.alerts import check_watch
    from icemonitor.watch.findings import month_add

    w = con.execute("SELECT * FROM watches WHERE id = ? AND active = 1", [watch_id]).fetchone()
    if w is None or w["kind"] not in detention_watches.KINDS:
        return check_watch(con, config.warehouse_path(), watch_id, months)
    last = dt.date.fromisoformat(month_add(months[-1], 1) + "-01") - dt.timedelta(days=1)
    return detention_watches.check(con, config.warehouse_path(), w, dt.date.fromisoformat(months[0] + "-01"), last)


@alerts_app.command("log")
def alerts_log(
    limit: Annotated[int, typer.Option(help="How many deliveries, newest first")] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
    lang: Lang = ...,
) -> None:
    """What was sent (or is waiting to be retried), to whom, and when."""
    from icemonitor.watch import state

    con = state.connect()
    try:
        rows = [dict(r) for r in con.execute(
            "SELECT d.id, d.status, d.channel, d.target, d.attempts, d.next_attempt_at, d.sent_at, d.last_error, "
            "d.idempotency_key, f.kind, f.place, f.period, f.title FROM deliveries d JOIN findings f "
            "ON f.id = d.finding_id ORDER BY d.id DESC LIMIT ?", [limit])]
        for r in rows:
            r["attempts_log"] = [dict(x) for x in con.execute(
                "SELECT attempt, at, outcome, detail FROM delivery_log WHERE delivery_id = ? ORDER BY id", [r["id"]])]
    finally:
        con.close()
    if as_json:
        out.print_json(json.dumps(rows))
        return
    t = Table(title=msg("alerts").render(lang))
    for c in ALERTS_COLUMNS.values():
        t.add_column(c.render(lang))
    for r in rows:
        when = r["sent_at"] if r["status"] == "sent" else msg("next {at}", at=r["next_attempt_at"]).render(lang)
        t.add_row(str(r["id"]), DELIVERY_STATUS[r["status"]].render(lang) if r["status"] in DELIVERY_STATUS
                  else r["status"], f"{r['channel']}:{r['target']}", str(r["attempts"]), escape(when),
                  escape(r["title"]), escape(r["last_error"] or ""))
    out.print(t)


@alerts_app.command("deliver")
def alerts_deliver(lang: Lang = ...) -> None:
    """Send the alerts that are due (retries included)."""
    from icemonitor.watch import state
    from icemonitor.watch.delivery import deliver_due
    from icemonitor.watch.lock import LockHeld

    con = state.connect()
    try:
        run = deliver_due(con)
    except LockHeld as err:
        _fail(err, EXIT_LOCKED, lang)
    finally:
        con.close()
    _say(msg("{sent} sent, {failed} failed (will retry), {resumed} resumed after an interruption",
             sent=len(run.sent), failed=len(run.failed), resumed=len(run.resumed)), lang)


def scheduler_command(
    every: Annotated[str, typer.Option(help="Refresh interval: 90s, 30m, 24h, 1d")] = "24h",
    mirror: Annotated[Optional[Path], typer.Option(help="Folder laid out like shared/data (or ICEMONITOR_MIRROR)")] = None,
    poll: Annotated[str, typer.Option(help="How often to send due alerts between refreshes")] = "5m",
    max_change: Annotated[float, typer.Option(help="Suspect threshold, as for `refresh`")] = 0.05,
    min_rows: Annotated[int, typer.Option(help="Minimum cell size for the suspect test, as for `refresh`")] = 50,
    detention_page: Annotated[Optional[str], typer.Option("--detention-page", help="As for `refresh`: look at ICE's Detention Management page for new postings at each refresh")] = None,
    lang: Lang = ...,
) -> None:
    """Run refreshes on an interval (for a service manager); retries due alerts in between. Its log lines are
    said in --lang."""
    import logging

    from icemonitor.watch import scheduler, state
    from icemonitor.watch.delivery import deliver_due
    from icemonitor.watch.lock import LockHeld
    from icemonitor.watch.refresh import refresh
    from icemonitor.watch.snapshot import Thresholds

    logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s")
    log = logging.getLogger("icemonitor.scheduler")
    for name in ("icemonitor.scheduler", "icemonitor.watch"):
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        interval, poll_s = scheduler.parse_interval(every), scheduler.parse_interval(poll)
    except InputError as err:
        _fail(err, lang=lang)

    def deliver_once() -> None:
        con = state.connect()
        try:
            run = deliver_due(con)
            if run.sent or run.failed:
                _log(log, msg("alerts: {sent} sent, {failed} failed (will retry)", sent=len(run.sent),
                              failed=len(run.failed)), lang)
        except LockHeld as err:
            log.info("%s", error_text(err, lang))
        finally:
            con.close()

    def refresh_once() -> None:
        try:
            result = refresh(mirror=mirror or config.mirror(), thresholds=Thresholds(max_change, min_rows),
                             **_discovery(detention_page, lang))
        except LockHeld as err:
            _log(log, msg("refresh skipped: {err}", err=error_text(err, lang)), lang)
            return
        for m in result.messages:  # messages of the refresh (and plain text of the watches' problems)
            _log(log, msg("refresh {id}: {message}", id=result.refresh_id, message=m), lang)
        deliver_once()

    scheduler.run(interval, refresh_once, deliver_once, poll=poll_s, lang=lang)


def _log(log, line: Message, lang: str) -> None:  # noqa: ANN001 - a logging.Logger
    """A scheduler's log line in `lang`."""
    log.info("%s", line.render(lang))


def _discovery(page: Optional[str], lang: str) -> dict:
    """refresh() keyword arguments that add a look at ICE's Detention Management page to the fetch step."""
    if not page:
        return {}
    if not re.match(r"^https?://[^\s]+$", page):
        _fail(InputError(msg("the page address starts with https:// (or http://)"), field="detention-page",
                         value=page), lang=lang)
    from icemonitor.watch.refresh import with_discovery

    return {"fetch": with_discovery(page)}


def register(app: typer.Typer) -> None:
    app.command("refresh")(refresh_command)
    app.command("history")(history_command)
    app.command("scheduler")(scheduler_command)
    app.add_typer(watch_app, name="watch")
    app.add_typer(alerts_app, name="alerts")
