"""Month x AOR row counts of a warehouse, per table and release, and the comparison of two such snapshots."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from icemonitor.schema import tables

# (table, release_id, month 'YYYY-MM' or '', aor or '') -> (rows, counted rows)
Snapshot = dict[tuple[str, str, str, str], tuple[int, int]]


def take(warehouse: Path) -> Snapshot:
    """Count every table's rows by release, month of event_date and AOR (all rows, and rows flagged counted)."""
    out: Snapshot = {}
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        present = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        for name in tables():
            if name not in present:
                continue
            rows = con.execute(
                f'SELECT release_id, coalesce(strftime(event_date, \'%Y-%m\'), \'\'), coalesce(aor, \'\'), '
                f'count(*), count(*) FILTER (WHERE counted) FROM "{name}" GROUP BY ALL'
            ).fetchall()
            for rid, month, aor, n, c in rows:
                out[(name, rid, month, aor)] = (int(n), int(c))
    finally:
        con.close()
    return out


def load(con: sqlite3.Connection) -> Snapshot:
    return {
        (r["table_name"], r["release_id"], r["month"], r["aor"]): (r["n_rows"], r["n_counted"])
        for r in con.execute("SELECT * FROM snapshot")
    }


def save(con: sqlite3.Connection, snap: Snapshot) -> None:
    """Replace the stored snapshot (call inside a transaction)."""
    con.execute("DELETE FROM snapshot")
    con.executemany(
        "INSERT INTO snapshot VALUES (?,?,?,?,?,?)", [(*k, n, c) for k, (n, c) in sorted(snap.items())]
    )


@dataclass(frozen=True)
class CellChange:
    table: str
    release_id: str
    month: str
    aor: str
    rows_before: int
    rows_after: int
    counted_before: int
    counted_after: int

    @property
    def added(self) -> int:
        return max(self.rows_after - self.rows_before, 0)

    @property
    def removed(self) -> int:
        return max(self.rows_before - self.rows_after, 0)


def diff(before: Snapshot, after: Snapshot) -> list[CellChange]:
    """Every (table, release, month, AOR) cell whose row or counted-row count changed."""
    out = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key, (0, 0)), after.get(key, (0, 0))
        if a != b:
            out.append(CellChange(*key, b[0], a[0], b[1], a[1]))
    return out


@dataclass(frozen=True)
class Thresholds:
    """When a new version of a release disagrees with the one in use: a month x AOR cell of the old version
    with at least `min_rows` rows whose row count moves by more than `max_change` (a fraction)."""

    max_change: float = 0.05
    min_rows: int = 50


def disagreements(
    release_id: str, before: Snapshot, after: Snapshot, thresholds: Thresholds
) -> list[CellChange]:
    """Cells of one release where the new version departs from the old beyond the thresholds.

    Cells only in the new version (dates the old one did not cover) are extensions, not disagreements."""
    bad = []
    for change in diff(_only(before, release_id), _only(after, release_id)):
        old = change.rows_before
        if old >= thresholds.min_rows and abs(change.rows_after - old) > thresholds.max_change * old:
            bad.append(change)
    return bad


def _only(snap: Snapshot, release_id: str) -> Snapshot:
    return {k: v for k, v in snap.items() if k[1] == release_id}


def months_changed(changes: Iterable[CellChange], table: str) -> list[str]:
    """Months of a table whose counted rows changed (the newly covered or revised dates)."""
    return sorted({c.month for c in changes if c.table == table and c.month and c.counted_before != c.counted_after})
