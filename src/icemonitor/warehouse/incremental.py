"""Incremental refresh: a new warehouse made from a copy of the old one, changing only what the changed files touch.

A warehouse records the digest of the code that built it (`build_info`) and the checksum of every file it holds
(`releases`). When the digest still holds, a build starts from a copy of the old file: the rows of files that are
gone or changed are deleted, those of new or changed files inserted (their parse comes from the cache when it is
there); the `counted` flag is re-derived for the releases whose precedence depends on a release added or removed (one
UPDATE per table and release, of the rows the added or removed release covers), and so are those releases' event_days
counts (the same UPDATE on the counts: their rows are not counted again); detention stays are re-derived for the
releases whose stints changed; the releases table, coverage and the extra stages (places, detention) are derived
again (they read aggregates of the tables, not the files). The count tables are kept, each re-deriving only the
changed pairs' counts and sums (aggregates.KEPT_BY_REFRESH; where the places stage changed a landmark's resolution,
also the pairs holding its rows: aggregates.placed_again), and so are the tables an answer stage names (its
`tables`: the stored sweeps, kept while their inputs are unchanged).
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import duckdb

from icemonitor.warehouse import aggregates, precedence

log = logging.getLogger(__name__)

BUILD_INFO_DDL = "CREATE TABLE build_info (build_digest VARCHAR, built_at TIMESTAMP DEFAULT current_timestamp)"


def build_digest(code_version: str) -> str:
    """The parse code's version and everything that shapes the warehouse from parsed rows (warehouse code,
    precedence rules, schema): a warehouse built under another digest is rebuilt whole."""
    h = hashlib.sha256(code_version.encode())
    base = Path(str(resources.files("icemonitor") / "warehouse"))
    for p in sorted(base.iterdir()):
        if p.is_file() and p.suffix in (".py", ".csv", ".yaml"):
            h.update(p.name.encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Previous:
    """What an existing warehouse holds: (release, file) -> checksum, and its loaded releases."""

    files: dict[tuple[str, str], str]
    tables: dict[tuple[str, str], set[str]]  # (release, file) -> event tables holding its rows

    @property
    def loaded(self) -> set[str]:
        return {r for r, _ in self.files}


def previous(target: Path, digest: str) -> Previous | None:
    """The old warehouse's contents if it can be refreshed in place (built by this code), else None."""
    if not target.exists():
        return None
    try:
        con = duckdb.connect(str(target), read_only=True)
    except duckdb.Error:
        return None
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if not {"build_info", "releases"} <= names:
            return None
        if con.execute("SELECT any_value(build_digest) FROM build_info").fetchone()[0] != digest:
            return None
        files: dict[tuple[str, str], str] = {}
        held: dict[tuple[str, str], set[str]] = {}
        for rid, name, sha, table in con.execute(
                "SELECT release_id, file_name, sha256, table_name FROM releases").fetchall():
            files[(rid, name)] = sha
            held.setdefault((rid, name), set()).add(table)
        return Previous(files, held)
    finally:
        con.close()


def delete_file(con: duckdb.DuckDBPyConnection, prev: Previous, key: tuple[str, str]) -> set[str]:
    """Delete the rows of one file the old warehouse held; returns the tables touched."""
    touched = prev.tables.get(key, set())
    for table in touched:
        con.execute(f'DELETE FROM "{table}" WHERE release_id = ? AND source_file = ?', list(key))
    return touched


# (table, release) -> the steps that re-derived its `counted`: (SQL of the flag, its parameters, SQL of the rows it
# was re-derived for, their parameters), over the columns `aor` and `event_date` only
Recounts = dict[tuple[str, str], list[tuple[str, list, str, list]]]


def recount(con: duckdb.DuckDBPyConnection, schema: dict, changed: set[str], loaded: set[str],
            fresh: set[tuple[str, str]]) -> Recounts:
    """Re-derive `counted` for the releases whose precedence depends on a release added or removed (`changed`);
    rows inserted in this build (`fresh`: (table, release)) already have it. Returns the (table, release) pairs
    updated, each with the steps taken (recount_event_days takes the same steps on the counts)."""
    rules = precedence.load_rules()
    updated: Recounts = {}
    for table in schema:
        present = {r[0] for r in con.execute(f'SELECT DISTINCT release_id FROM "{table}"').fetchall()}
        for rel in changed:
            for dep in precedence.depends_on(table, rel, rules) & present:
                if (table, dep) in fresh:
                    continue
                # only rows the added or removed release covers can change
                sql, params = precedence.counted(table, dep, loaded, rules)
                where, where_params = precedence.covered_by(table, rel, rules)
                con.execute(f'UPDATE "{table}" SET counted = ({sql}) WHERE release_id = ? AND {where}',
                            [*params, dep, *where_params])
                updated.setdefault((table, dep), []).append((sql, params, where, where_params))
                log.info("%s: counted re-derived for %s where %s covers", table, dep, rel)
    return updated


def recount_event_days(con: duckdb.DuckDBPyConnection, recounts: Recounts) -> set[tuple[str, str]]:
    """Take recount's steps on the event_days counts of the pairs it updated, instead of counting their rows again:
    a release's `counted` in a table is decided by a row's `aor` and `event_date` only, both columns of event_days,
    so the same UPDATE on the counts gives what counting the recounted rows gives (rows of one count share their
    `aor` and `event_date`, hence their new flag: no two counts merge). Returns the pairs whose counts were so
    re-derived (none when the copy holds no event_days)."""
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                       "WHERE table_schema = 'main'").fetchall()}
    if aggregates.EVENT_DAYS not in names:
        return set()
    for (table, dep), steps in sorted(recounts.items()):
        for sql, params, where, where_params in steps:
            con.execute(f"UPDATE {aggregates.EVENT_DAYS} SET counted = ({sql}) "
                        f"WHERE table_name = ? AND release_id = ? AND {where}", [*params, table, dep, *where_params])
    return set(recounts)


def drop_derived(con: duckdb.DuckDBPyConnection, keep: set[str]) -> None:
    """Drop every table and view but the event tables (`keep`): finish() derives them again."""
    for name, kind in con.execute(
            "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_catalog = current_database()").fetchall():  # the warehouse's own: not a temporary table
        if name not in keep:
            con.execute(f'DROP {"VIEW" if kind == "VIEW" else "TABLE"} "{name}"')
