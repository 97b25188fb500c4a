"""Detention watches in the state database: creating one (with what it has already seen), running every active
one after each refresh, and over a chosen period on request. Findings are queued once (alerts.queue).

- detention-posting: a posting not seen by the watch before; the postings in the warehouse when the watch is
  created are its baseline (no alert for them).
- facility-threshold: a facility (ICE's code in DDP's facility daily population) whose people held during a day
  rose past the watch's threshold, on a day after the last day of the records when the watch was created.
- stale-posting: ICE's newest stated date too old (checked at every refresh, even one that found nothing new),
  and ICE's staleness errors in each posting not seen by the watch before.
A watch created before there is a warehouse takes its baseline at its first run, without alerting.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import duckdb

from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.watch import detention_findings as df
from icemonitor.watch import state
from icemonitor.watch.alerts import queue
from icemonitor.watch.findings import Finding

KINDS = df.KINDS
NATION = ("US", msg("United States"))  # ICE's detention statistics are national


def settings(con: duckdb.DuckDBPyConnection | None, kind: str, facility: str | None, threshold: int | None,
             max_age_days: int | None) -> tuple[str, str, dict]:
    """(place, label, options) of a new detention watch, checked against the warehouse when there is one."""
    if kind == "facility-threshold":
        if not facility:
            raise InputError(msg("facility-threshold watches need --facility (ICE's facility code, e.g. STWRTGA; see "
                                 "`icemonitor detention facilities`)"), field="facility")
        if threshold is None or threshold < 0:
            raise InputError(msg("facility-threshold watches need --threshold N (people held during a day, N >= 0)"),
                             field="threshold", value=threshold)
        code = facility.strip().upper()
        name = df.facility_name(con, code) if con is not None else None
        if con is not None and df.has_detention(con) and name is None:
            raise InputError(msg("no such facility code in DDP's facility daily population"), field="facility",
                             value=facility)
        since = df.last_facility_day(con, code) if con is not None else None
        return code, f"{name or code} ({code})", {"threshold": int(threshold), "since": str(since) if since else None}
    if facility or threshold is not None:
        raise InputError(msg("{kind} watches take no --facility or --threshold", kind=kind), field="facility")
    options = {}
    if kind == "stale-posting":
        if max_age_days is not None and max_age_days < 1:
            raise InputError(msg("--max-age-days is at least 1"), field="max-age-days", value=max_age_days)
        options["max_age_days"] = max_age_days or df.STALE_AFTER_DAYS
    return *NATION, options


def add(con: sqlite3.Connection, warehouse: duckdb.DuckDBPyConnection | None, kind: str, place: str, label: str,
        options: dict, channel: str, target: str, secret_env: str | None, lang: str = "en") -> int:
    """Store the watch and its baseline (the postings already in the warehouse) in one transaction."""
    now = state.iso(state.now_utc())
    ready = warehouse is not None and df.has_detention(warehouse)
    if not ready:
        options = {**options, "baseline_pending": True}
    con.execute("BEGIN IMMEDIATE")
    try:
        wid = con.execute(
            "INSERT INTO watches (place, place_label, kind, channel, target, secret_env, created_at, options, lang, "
            "label_message) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [place, str(label), kind, channel, target, secret_env, now, json.dumps(options), lang,
             state.kept_label(label)],
        ).lastrowid
        if ready:
            _mark_seen(con, wid, df.postings(warehouse), None)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return wid


def _mark_seen(con: sqlite3.Connection, watch_id: int, files: set[str], refresh_id: int | None) -> None:
    now = state.iso(state.now_utc())
    con.executemany("INSERT OR IGNORE INTO watch_seen (watch_id, item, seen_at, refresh_id) VALUES (?,?,?,?)",
                    [(watch_id, f, now, refresh_id) for f in sorted(files)])


def _seen(con: sqlite3.Connection, watch_id: int) -> set[str]:
    return {r[0] for r in con.execute("SELECT item FROM watch_seen WHERE watch_id = ?", [watch_id])}


def _findings(wh: duckdb.DuckDBPyConnection, w: sqlite3.Row, options: dict, unseen: set[str],
              today: dt.date) -> list[Finding]:
    if w["kind"] == "detention-posting":
        return df.new_postings(wh, w["id"], set(df.postings(wh)) - unseen)
    if w["kind"] == "stale-posting":
        return df.stale_posting(wh, w["id"], today, options.get("max_age_days", df.STALE_AFTER_DAYS), files=unseen)
    since = dt.date.fromisoformat(options["since"]) if options.get("since") else None
    return df.facility_threshold(wh, w["id"], options["threshold"], facility_code=w["place"], since=since)


def evaluate_detention(con: sqlite3.Connection, warehouse: Path, refresh_id: int | None,
                       today: dt.date | None = None) -> list[int]:
    """Run every active detention watch over the warehouse in use; returns the ids of new findings."""
    watches = [w for w in con.execute("SELECT * FROM watches WHERE active = 1 ORDER BY id") if w["kind"] in KINDS]
    if not watches or not Path(warehouse).exists():
        return []
    today = today or state.now_utc().date()
    wh = duckdb.connect(str(warehouse), read_only=True)
    new: list[int] = []
    try:
        if not df.has_detention(wh):
            return []
        everything = df.postings(wh)
        for w in watches:
            options = json.loads(w["options"] or "{}")
            if options.pop("baseline_pending", False):  # created before there was a warehouse: no alert for the past
                if w["kind"] == "facility-threshold":
                    last = df.last_facility_day(wh, w["place"])
                    options["since"] = str(last) if last else None
                con.execute("UPDATE watches SET options = ? WHERE id = ?", [json.dumps(options), w["id"]])
                _mark_seen(con, w["id"], everything, refresh_id)
                continue
            unseen = everything - _seen(con, w["id"])
            for f in _findings(wh, w, options, unseen, today):
                if (fid := queue(con, w, f, refresh_id)) is not None:
                    new.append(fid)
            _mark_seen(con, w["id"], unseen, refresh_id)
    finally:
        wh.close()
    return new


def check(con: sqlite3.Connection, warehouse: Path, w: sqlite3.Row, date_from: dt.date,
          date_to: dt.date) -> list[int]:
    """Run one detention watch over a past period (postings stating a date in it; facility days in it) and queue
    what it finds; nothing already found is queued again."""
    wh = duckdb.connect(str(warehouse), read_only=True)
    try:
        if not df.has_detention(wh):
            raise InputError(msg("the warehouse has no detention tables: build it with the detention releases"),
                             field="watch_id", value=w["id"])
        options = json.loads(w["options"] or "{}")
        files = df.postings(wh, date_from, date_to)
        if w["kind"] == "detention-posting":
            found = df.new_postings(wh, w["id"], df.postings(wh) - files)
        elif w["kind"] == "stale-posting":
            found = df.posting_errors(wh, w["id"], files)
        else:
            found = df.facility_threshold(wh, w["id"], options["threshold"], facility_code=w["place"],
                                          since=date_from - dt.timedelta(days=1), until=date_to)
    finally:
        wh.close()
    return [fid for f in found if (fid := queue(con, w, f, None)) is not None]
