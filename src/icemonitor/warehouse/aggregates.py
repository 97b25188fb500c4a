"""The build's count tables (schema.yaml's derived_tables), in SQL: event_days, every event table's rows counted per
day, release, AOR, placed state and county, method class and criminality; aor_days, the same summed over the
placement columns; event_methods, the rows per method class
and raw apprehension method (what every figure's definition of the method classes lists).

A count or group-by on these columns reads this table (query.Selection.rolled_up) instead of every row joined
to the landmark resolution: the table grows with days x places x categories, not with rows. state_days is
event_days summed over its county columns (what a question naming a placed state but no county reads: a third of
event_days' rows), and aor_days is state_days summed over the placed state too. Placement is
warehouse/placement.py's, the same SQL every query uses (policy `event`). Derived after the places stage (it
needs landmark_resolution and recorded_counties), by every build; a refresh derives again only the counts of the
tables and releases whose rows changed (and the tables summed from it only those pairs' sums: KEPT_BY_REFRESH),
unless the placement tables changed (then all of them).

event_months, state_months and aor_months are the three day tables summed per calendar month (event_date: the
month's first day): a question that reads event_date only by month (its whole months; query.Selection reads a
period's partial first and last months from the day tables) reads a quarter (counties) to a tenth of the rows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import cache

import duckdb

from icemonitor.schema import derived_tables, tables
from icemonitor.warehouse.placement import READS, RESOLUTION_TABLE, placed_source

log = logging.getLogger(__name__)

EVENT_DAYS = "event_days"
AOR_DAYS = "aor_days"
STATE_DAYS = "state_days"
COUNTY_COLUMNS = frozenset({"res_county_fips", "office_county_fips", "res_county_by"})  # what state_days sums over
EVENT_METHODS = "event_methods"
EVENT_MONTHS = "event_months"
STATE_MONTHS = "state_months"
AOR_MONTHS = "aor_months"
MONTHS_OF = {EVENT_DAYS: EVENT_MONTHS, STATE_DAYS: STATE_MONTHS, AOR_DAYS: AOR_MONTHS}  # day table -> its months
# the count tables a refresh keeps: each re-derives only the (table, release) pairs whose counts changed
KEPT_BY_REFRESH = frozenset({EVENT_DAYS, STATE_DAYS, AOR_DAYS, EVENT_MONTHS, STATE_MONTHS, AOR_MONTHS})


def _columns(con: duckdb.DuckDBPyConnection):
    """table -> its columns (empty for no such table), each read once: placed_source asks for the placement tables'
    with every event table's, and the tables do not change while one derivation reads them."""

    @cache
    def read(table: str) -> set[str]:
        rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
                           "AND table_name = ?", [table]).fetchall()
        return {r[0] for r in rows}

    return read


def placement_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of the placement tables' rows (landmark_resolution, recorded_counties; '' for one absent), of the
    columns placement reads (placement.READS: not, e.g., a landmark's count of arrests, which changes with the
    counted rows): while it holds, the placement of rows already counted has not changed."""
    columns = _columns(con)
    parts = []
    for name, reads in READS.items():
        cols = [c for c in reads if c in columns(name)]
        if cols:
            row = f"CAST(({', '.join(cols)}) AS VARCHAR)"
            parts.append(",".join(cols) + ":" + con.execute(
                f"SELECT count(*) || ':' || coalesce(md5(string_agg({row}, '|' ORDER BY {row})), '') FROM {name}"
            ).fetchone()[0])
        else:
            parts.append("")
    return "/".join(parts)


PLACEMENT_BEFORE = "placement_before"  # a refresh's snapshot of landmark_resolution's placing columns (temporary)


def placement_snapshot(con: duckdb.DuckDBPyConnection) -> str:
    """Before a refresh changes the placement tables: their fingerprint, and a temporary copy of landmark_resolution's
    placing columns (placed_again compares it with the new one)."""
    cols = [c for c in READS[RESOLUTION_TABLE] if c in _columns(con)(RESOLUTION_TABLE)]
    con.execute(f"DROP TABLE IF EXISTS temp.{PLACEMENT_BEFORE}")
    if cols:
        con.execute(f"CREATE TEMP TABLE {PLACEMENT_BEFORE} AS SELECT {', '.join(cols)} FROM {RESOLUTION_TABLE}")
    return placement_fingerprint(con)


def placed_again(con: duckdb.DuckDBPyConnection, before: str) -> set[tuple[str, str]] | None:
    """The (table, release) pairs whose rows' placement changed since placement_snapshot (`before`, the fingerprint
    it returned): none while the fingerprint holds; else the pairs with rows of an (aor, landmark) whose resolution
    row changed (placed_source joins a row to its own (aor, landmark) only: e.g. a landmark no counted arrest carries
    any more loses its resolution, and only the rows carrying it are placed again). None (every pair) when that
    cannot be told: the recorded counties or the resolution's columns changed, or no snapshot."""
    now = placement_fingerprint(con)
    if now == before:
        return set()
    columns = _columns(con)
    cols = [c for c in READS[RESOLUTION_TABLE] if c in columns(RESOLUTION_TABLE)]
    (had,) = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_catalog = 'temp' "
                         "AND table_name = ?", [PLACEMENT_BEFORE]).fetchone()
    if (now.split("/")[1:] != before.split("/")[1:] or not had or not {"aor", "landmark"} <= set(cols)
            or now.split(":")[0] != before.split(":")[0]):
        return None
    listed = ", ".join(cols)
    con.execute(f"CREATE OR REPLACE TEMP TABLE placement_changed AS SELECT DISTINCT aor, landmark FROM ("
                f"(SELECT {listed} FROM temp.{PLACEMENT_BEFORE} EXCEPT ALL SELECT {listed} FROM {RESOLUTION_TABLE}) "
                f"UNION ALL (SELECT {listed} FROM {RESOLUTION_TABLE} EXCEPT ALL SELECT {listed} FROM "
                f"temp.{PLACEMENT_BEFORE}))")
    pairs = set()
    for table in tables():
        if {"aor", "landmark"} <= columns(table):
            pairs |= {(table, r) for (r,) in con.execute(
                f"SELECT DISTINCT release_id FROM {table} SEMI JOIN temp.placement_changed USING (aor, landmark)"
            ).fetchall()}
    con.execute("DROP TABLE temp.placement_changed")
    log.info("placement changed for %s", sorted(pairs))
    return pairs


def write_event_days(con: duckdb.DuckDBPyConnection, only: set[tuple[str, str]] | None = None) -> int:
    """(Re)create event_days from the event tables present; returns its rows. Each table's counts are ordered by
    placed state and county (what event_days alone answers: county questions), so a county's or a state's counties'
    rows lie in few row groups and a question naming them skips the rest. With `only` ((table, release) pairs
    whose rows changed; the placement tables unchanged), the table is kept and only those pairs' counts are derived
    again: each count depends on its own table's and release's rows only."""
    spec = derived_tables()[EVENT_DAYS]
    keys = [c.name for c in spec.columns if c.name not in ("table_name", "n")]
    columns = _columns(con)
    if only is None:
        con.execute(f"DROP TABLE IF EXISTS {EVENT_DAYS}")
        con.execute(spec.ddl())
    else:
        for table, release_id in sorted(only):
            con.execute(f"DELETE FROM {EVENT_DAYS} WHERE table_name = ? AND release_id = ?", [table, release_id])
    parts, params = [], []
    for table in tables():
        cols = columns(table)
        releases = sorted(r for t, r in only if t == table) if only is not None else None
        if not cols or releases == []:
            continue
        # a column the table lacks is NULL for all its rows (every event table has the common columns today)
        picked = ", ".join(k if k in cols or k.startswith("res_") or k == "office_county_fips" else f"NULL AS {k}"
                           for k in keys)
        where = f"WHERE release_id IN ({', '.join('?' for _ in releases)}) " if releases else ""
        parts.append(f"SELECT {len(parts)} AS _part, ? AS table_name, {picked}, count(*) AS n "
                     f"FROM {placed_source(table, 'event', columns)} {where}GROUP BY ALL")
        params += [table, *(releases or [])]
    if parts:
        # one INSERT (each table's rows a part of it, in the order of the tables): written straight to the
        # database file, where one INSERT per table went through the write-ahead log first (twice the writing)
        con.execute(f"INSERT INTO {EVENT_DAYS} SELECT * EXCLUDE (_part) FROM ({' UNION ALL '.join(parts)}) "
                    "ORDER BY _part, res_state, res_county_fips, event_date", params)
    n = int(con.execute(f"SELECT count(*) FROM {EVENT_DAYS}").fetchone()[0])
    log.info("%s: %d rows written%s", EVENT_DAYS, n, "" if only is None else f" ({len(only)} table-releases again)")
    return n


def _summed(con: duckdb.DuckDBPyConnection, name: str, source: str, order: str,
            only: set[tuple[str, str]] | None) -> int:
    """(Re)create the derived table `name` from `source` summed over the columns `name` lacks (for a month table,
    MONTHS_OF, over the days of each month too: event_date the month's first day), ordered by `order`. With
    `only` ((table, release) pairs; write_event_days), only those pairs are summed again: each sum reads its own
    pair's rows of `source`. Returns the table's rows."""
    spec = derived_tables()[name]
    month = name in MONTHS_OF.values()
    keys = ", ".join("date_trunc('month', event_date)::DATE AS event_date" if month and c.name == "event_date"
                     else c.name for c in spec.columns if c.name != "n")
    if only is not None and not _columns(con)(name):  # a warehouse without it (an older build): derived whole
        only = None
    if only is None:
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute(spec.ddl())
    pairs = sorted(only) if only is not None else None
    for table, release_id in pairs or []:
        con.execute(f"DELETE FROM {name} WHERE table_name = ? AND release_id = ?", [table, release_id])
    if pairs != []:
        where = ("WHERE " + " OR ".join("(table_name = ? AND release_id = ?)" for _ in pairs) + " ") if pairs else ""
        con.execute(f"INSERT INTO {name} SELECT {keys}, sum(n)::BIGINT AS n FROM {source} {where}"
                    f"GROUP BY ALL ORDER BY {order}", [x for pair in pairs or [] for x in pair])
    n = int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
    log.info("%s: %d rows written", name, n)
    return n


def write_state_days(con: duckdb.DuckDBPyConnection, only: set[tuple[str, str]] | None = None) -> int:
    """(Re)create state_days: event_days summed over its county columns (COUNTY_COLUMNS), keeping the placed state;
    ordered by table, placed state and AOR, so a state's rows lie together. With `only` (write_event_days), only
    those (table, release) pairs are summed again: each sum reads its own pair's event_days rows."""
    return _summed(con, STATE_DAYS, EVENT_DAYS, "table_name, res_state, aor, event_date", only)


def write_month_tables(con: duckdb.DuckDBPyConnection, only: set[tuple[str, str]] | None = None) -> int:
    """(Re)create event_months, state_months and aor_months: event_days, state_days and aor_days summed per calendar
    month, each ordered as its day table: event_months from event_days, state_months from event_months (the same
    sums as state_days' per month, from fewer rows), aor_months from state_months. With `only` (the pairs
    write_state_days sums again), each sums only those pairs again (each pair's sums read its own rows of the table
    before). Returns their rows."""
    return (_summed(con, EVENT_MONTHS, EVENT_DAYS, "table_name, res_state, res_county_fips, event_date", only)
            + _summed(con, STATE_MONTHS, EVENT_MONTHS, "table_name, res_state, aor, event_date", only)
            + _summed(con, AOR_MONTHS, STATE_MONTHS, "table_name, event_date", only))


def write_aor_days(con: duckdb.DuckDBPyConnection, only: set[tuple[str, str]] | None = None) -> int:
    """(Re)create aor_days: event_days summed over its placement columns (what a question naming no placed column
    reads), from state_days (already summed over the county columns) where it is derived, else from event_days.
    With `only` (write_state_days), only those (table, release) pairs are summed again."""
    source = STATE_DAYS if _columns(con)(STATE_DAYS) else EVENT_DAYS
    return _summed(con, AOR_DAYS, source, "table_name, event_date", only)


def _derive(con: duckdb.DuckDBPyConnection, name: str, select: Callable[[str, Callable[[str], set[str]]], str | None]
            ) -> int:
    """(Re)create the derived table `name` (schema.yaml) from each event table present: `select(table, columns)`
    gives the SELECT of its rows (its one parameter: the table's name), or None; returns the table's rows."""
    columns = _columns(con)
    con.execute(f"DROP TABLE IF EXISTS {name}")
    con.execute(derived_tables()[name].ddl())
    for table in tables():
        sql = select(table, columns) if columns(table) else None
        if sql:
            con.execute(f"INSERT INTO {name} {sql}", [table])
    n = int(con.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
    log.info("%s: %d rows written", name, n)
    return n


def write_event_methods(con: duckdb.DuckDBPyConnection) -> int:
    """(Re)create event_methods: per event table with both columns, rows per method class and raw method."""

    def select(table: str, columns: Callable[[str], set[str]]) -> str | None:
        if not {"method_class", "method_raw"} <= columns(table):
            return None
        return (f"SELECT ? AS table_name, method_class, method_raw, count(*) AS n FROM {table} "
                "WHERE method_raw IS NOT NULL GROUP BY ALL")

    return _derive(con, EVENT_METHODS, select)


def write_derived_tables(con: duckdb.DuckDBPyConnection, only: set[tuple[str, str]] | None = None,
                         summed: set[tuple[str, str]] | None = None) -> None:
    """Every derived table (after the places stage, which event_days' placement needs); `only` as in
    write_event_days; `summed` (with `only`): the pairs whose event_days counts changed, counted again or updated
    in place by a refresh's recount, which the day and month tables sum again (default `only`). event_methods is
    small and always derived again."""
    write_event_days(con, only)
    pairs = only if only is None or summed is None else only | summed
    write_state_days(con, pairs)
    write_aor_days(con, pairs)
    write_month_tables(con, pairs)
    write_event_methods(con)
