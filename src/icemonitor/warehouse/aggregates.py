"""The build's count tables (schema.yaml's derived_tables), in SQL: event_days, every event table's rows counted per
day, release, AOR, placed state and county, method class and criminality; event_methods, the rows per method class
and raw apprehension method (what every figure's definition of the method classes lists).

A count or group-by on these columns reads this table (query.Selection.rolled_up) instead of every row joined
to the landmark resolution: the table grows with days x places x categories, not with rows. Placement is
warehouse/placement.py's, the same SQL every query uses (policy `event`). Derived after the places stage (it
needs landmark_resolution and recorded_counties), by every build, full or incremental."""

from __future__ import annotations

import logging
from collections.abc import Callable

import duckdb

from icemonitor.schema import derived_tables, tables
from icemonitor.warehouse.placement import placed_source

log = logging.getLogger(__name__)

EVENT_DAYS = "event_days"
EVENT_METHODS = "event_methods"


def _columns(con: duckdb.DuckDBPyConnection):
    def read(table: str) -> set[str]:
        rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
                           "AND table_name = ?", [table]).fetchall()
        return {r[0] for r in rows}

    return read


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


def write_event_days(con: duckdb.DuckDBPyConnection) -> int:
    """(Re)create event_days from the event tables present; returns its rows."""
    keys = [c.name for c in derived_tables()[EVENT_DAYS].columns if c.name not in ("table_name", "n")]

    def select(table: str, columns: Callable[[str], set[str]]) -> str:
        cols = columns(table)
        # a column the table lacks is NULL for all its rows (every event table has the common columns today)
        picked = ", ".join(k if k in cols or k.startswith("res_") or k == "office_county_fips" else f"NULL AS {k}"
                           for k in keys)
        return (f"SELECT ? AS table_name, {picked}, count(*) AS n FROM {placed_source(table, 'event', columns)} "
                "GROUP BY ALL ORDER BY event_date")

    return _derive(con, EVENT_DAYS, select)


def write_event_methods(con: duckdb.DuckDBPyConnection) -> int:
    """(Re)create event_methods: per event table with both columns, rows per method class and raw method."""

    def select(table: str, columns: Callable[[str], set[str]]) -> str | None:
        if not {"method_class", "method_raw"} <= columns(table):
            return None
        return (f"SELECT ? AS table_name, method_class, method_raw, count(*) AS n FROM {table} "
                "WHERE method_raw IS NOT NULL GROUP BY ALL")

    return _derive(con, EVENT_METHODS, select)


def write_derived_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Every derived table (after the places stage, which event_days' placement needs)."""
    write_event_days(con)
    write_event_methods(con)
