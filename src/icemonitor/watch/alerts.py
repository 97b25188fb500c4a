"""After a refresh: run every active watch over the newly covered months and queue each new finding once."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import duckdb

from icemonitor.messages import msg, render
from icemonitor.watch import state
from icemonitor.watch.findings import EVALUATORS, Finding
from icemonitor.watch.places import parse, product_ref
from icemonitor.watch.snapshot import CellChange, months_changed

log = logging.getLogger(__name__)


def evaluate_pending(con: sqlite3.Connection, warehouse: Path) -> tuple[list[int], list[str]]:
    """Run the watches over every refresh whose changes they have not been run over yet (this one, and any
    earlier one interrupted before its watches ran). Returns new finding ids and problems met."""
    new: list[int] = []
    problems: list[str] = []
    # callers hold the refresh lock, so no other refresh is writing: every row not done is pending
    pending = [r["id"] for r in con.execute("SELECT id FROM refreshes WHERE watches_done = 0 ORDER BY id")]
    for rid in pending:
        changes = [
            CellChange(r["table_name"], r["release_id"], r["month"], r["aor"], r["rows_before"], r["rows_after"],
                       r["counted_before"], r["counted_after"])
            for r in con.execute("SELECT * FROM release_diff WHERE refresh_id = ?", [rid])
        ]
        try:
            new += evaluate_watches(con, warehouse, changes, rid)
        except Exception as err:  # noqa: BLE001 - kept pending, retried at the next refresh
            problems.append(msg("watches not run over refresh {id} (will retry): {kind}: {err}", id=rid,
                                kind=type(err).__name__, err=str(err)))
            continue
        con.execute("UPDATE refreshes SET watches_done = 1 WHERE id = ?", [rid])
    return new, problems


def evaluate_watches(
    con: sqlite3.Connection, warehouse: Path, changes: list[CellChange], refresh_id: int | None
) -> list[int]:
    """Evaluate every active watch over the months whose counted arrests changed; returns new finding ids."""
    months = months_changed(changes, "arrests")
    # only the analysis watches are evaluated here; intake-urgent watches are fed by the intake (intake_alerts)
    watches = [w for w in con.execute("SELECT * FROM watches WHERE active = 1 ORDER BY id") if w["kind"] in EVALUATORS]
    if not months or not watches:
        return []
    wh = duckdb.connect(str(warehouse), read_only=True)
    new: list[int] = []
    try:
        for w in watches:
            place = parse(w["place"], wh, product_ref(warehouse.parent))
            found = EVALUATORS[w["kind"]](wh, w["id"], place, months)
            for f in found:
                fid = queue(con, w, f, refresh_id)
                if fid is not None:
                    new.append(fid)
    finally:
        wh.close()
    return new


def queue(con: sqlite3.Connection, watch: sqlite3.Row, finding: Finding, refresh_id: int | None) -> int | None:
    """Store a finding (its title and body said in the watch's language) and its outbox row in one transaction;
    None when the finding was already known."""
    now = state.iso(state.now_utc())
    lang = watch["lang"] or "en"  # the language the watch's alerts are written in (state schema 3)
    con.execute("BEGIN IMMEDIATE")
    try:
        if finding.kind == "sweeps" and _overlapping_sweep(con, watch["id"], finding):
            con.execute("COMMIT")
            return None
        cur = con.execute(
            "INSERT OR IGNORE INTO findings (dedup_key, watch_id, refresh_id, kind, place, period, title, body, data, "
            "created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [finding.dedup_key, watch["id"], refresh_id, finding.kind, finding.place, finding.period,
             render(finding.title, lang), render(finding.body, lang),
             json.dumps(finding.data, default=str, sort_keys=True), now],
        )
        if cur.rowcount == 0:
            con.execute("COMMIT")
            return None
        fid = cur.lastrowid
        con.execute(
            "INSERT INTO deliveries (finding_id, watch_id, channel, target, idempotency_key, status, attempts, "
            "next_attempt_at, created_at) VALUES (?,?,?,?,?,'pending',0,?,?)",
            [fid, watch["id"], watch["channel"], watch["target"], f"icemonitor-{finding.dedup_key}", now, now],
        )
        con.execute("COMMIT")
        return fid
    except BaseException:
        con.execute("ROLLBACK")
        raise


def check_watch(con: sqlite3.Connection, warehouse: Path, watch_id: int, months: list[str]) -> list[int]:
    """Run one watch over the given months of the warehouse in use and queue what it finds (deduplicated)."""
    from icemonitor.errors import InputError

    w = con.execute("SELECT * FROM watches WHERE id = ? AND active = 1", [watch_id]).fetchone()
    if w is None:
        raise InputError(msg("no active watch with that id"), field="watch_id", value=watch_id)
    if w["kind"] not in EVALUATORS:
        raise InputError(msg("{kind} watches are not run over the records (they alert on new intake requests)",
                             kind=w["kind"]), field="watch_id", value=watch_id)
    wh = duckdb.connect(str(warehouse), read_only=True)
    try:
        found = EVALUATORS[w["kind"]](wh, w["id"], parse(w["place"], wh, product_ref(warehouse.parent)), months)
    finally:
        wh.close()
    return [fid for f in found if (fid := queue(con, w, f, None)) is not None]


def cancel_pending(con: sqlite3.Connection, watch_id: int) -> int:
    """Cancel a removed watch's unsent alerts (they stay in the log as 'cancelled')."""
    now = state.iso(state.now_utc())
    rows = con.execute(
        "SELECT id, attempts FROM deliveries WHERE watch_id = ? AND status IN ('pending', 'sending')", [watch_id]
    ).fetchall()
    for r in rows:
        con.execute("UPDATE deliveries SET status = 'cancelled' WHERE id = ?", [r["id"]])
        con.execute(
            "INSERT INTO delivery_log (delivery_id, attempt, at, outcome, detail) VALUES (?,?,?,?,?)",
            [r["id"], r["attempts"], now, "cancelled", "the watch was removed"],
        )
    return len(rows)


def _overlapping_sweep(con: sqlite3.Connection, watch_id: int, finding: Finding) -> bool:
    """A sweep already reported for this watch and place whose dates overlap (a revision can move its ends)."""
    start, end = finding.period.split("..")
    return con.execute(
        "SELECT 1 FROM findings WHERE watch_id = ? AND kind = 'sweeps' AND place = ? "
        "AND substr(period, 1, 10) <= ? AND substr(period, 13, 10) >= ?",
        [watch_id, finding.place, end, start],
    ).fetchone() is not None
