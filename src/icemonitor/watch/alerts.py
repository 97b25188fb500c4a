"""After a refresh: run every active watch over the newly covered months and queue each new finding once."""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import duckdb

from icemonitor.watch import state
from icemonitor.watch.findings import EVALUATORS, Finding
from icemonitor.watch.places import parse
from icemonitor.watch.snapshot import CellChange, months_changed

log = logging.getLogger(__name__)


def evaluate_watches(
    con: sqlite3.Connection, warehouse: Path, changes: list[CellChange], refresh_id: int | None
) -> list[int]:
    """Evaluate every active watch over the months whose counted arrests changed; returns new finding ids."""
    months = months_changed(changes, "arrests")
    watches = con.execute("SELECT * FROM watches WHERE active = 1 ORDER BY id").fetchall()
    if not months or not watches:
        return []
    wh = duckdb.connect(str(warehouse), read_only=True)
    new: list[int] = []
    try:
        for w in watches:
            place = parse(w["place"])
            found = EVALUATORS[w["kind"]](wh, w["id"], place, months)
            for f in found:
                fid = queue(con, w, f, refresh_id)
                if fid is not None:
                    new.append(fid)
    finally:
        wh.close()
    return new


def queue(con: sqlite3.Connection, watch: sqlite3.Row, finding: Finding, refresh_id: int | None) -> int | None:
    """Store a finding and its outbox row in one transaction; None when the finding was already known."""
    now = state.iso(state.now_utc())
    con.execute("BEGIN IMMEDIATE")
    try:
        cur = con.execute(
            "INSERT OR IGNORE INTO findings (dedup_key, watch_id, refresh_id, kind, place, period, title, body, data, "
            "created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
            [finding.dedup_key, watch["id"], refresh_id, finding.kind, finding.place, finding.period, finding.title,
             finding.body, json.dumps(finding.data, default=str, sort_keys=True), now],
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
