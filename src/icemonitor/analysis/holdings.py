"""What the warehouse holds, for the dashboard's menus and its coverage and releases tables: the event tables, the
AOR codes in each, each table's rows and date range, the loaded release files, the raw apprehension methods behind
each method class, and the release catalog's titles.

These take no question, only the file: each is read once per warehouse version (query.selection.per_warehouse: the
file's path, mtime and size; a read-only file does not change until a build swaps in a new one, and a writable or
in-memory connection is asked every time) and every caller gets its own copy. They stay kept with the web
tier's answer caches off (ICEMONITOR_CACHE=off): two requests to one warehouse version cannot see different
holdings, and a new version is read afresh."""

from __future__ import annotations

from functools import lru_cache
from types import MappingProxyType
from typing import Any

import duckdb

from icemonitor.analysis.overview import reader, rows
from icemonitor.analysis.result import AnalysisResult, plain
from icemonitor.messages import msg
from icemonitor.query.filters import EVENT_TABLES, Columns
from icemonitor.query.selection import per_warehouse
from icemonitor.warehouse.aggregates import EVENT_DAYS, EVENT_METHODS

# Columns of the warehouse's releases table shown by the API and the pages (whichever exist).
RELEASE_COLUMNS = ("release_id", "file_name", "table_name", "sha256", "rows_read", "rows_loaded", "rows_rejected",
                   "rows_counted", "duplicate_rows", "date_min", "date_max")


def event_tables(con: duckdb.DuckDBPyConnection, columns: Columns | None = None) -> list[str]:
    """The event tables this warehouse has."""
    cols = reader(con, columns)
    return [t for t in EVENT_TABLES if cols(t)]


def aors(con: duckdb.DuckDBPyConnection, table: str = "arrests", columns: Columns | None = None) -> list[str]:
    """AOR codes present in a table (read once per warehouse version; `columns` is not needed)."""
    return _aors(con, table)


@per_warehouse
def _aors(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    cols = reader(con, None)
    if table not in EVENT_TABLES or "aor" not in cols(table):
        return []
    if cols(EVENT_DAYS):  # the build's count table holds every row's AOR, in far fewer rows
        return [r["aor"] for r in rows(con, f"SELECT DISTINCT aor FROM {EVENT_DAYS} WHERE table_name = ? "
                                            "AND aor IS NOT NULL ORDER BY 1", [table])]
    return [r["aor"] for r in rows(con, f"SELECT DISTINCT aor FROM {table} WHERE aor IS NOT NULL ORDER BY 1")]


def table_coverage(con: duckdb.DuckDBPyConnection, columns: Columns | None = None) -> AnalysisResult:
    """Per event table: rows, counted rows, first and last event date, releases (read once per warehouse version;
    `columns` is not needed)."""
    figures = _table_coverage(con)
    return AnalysisResult(
        name="table_coverage", columns=["table", "rows", "counted_rows", "min_date", "max_date", "releases"],
        figures=figures, releases=[r for f in figures for r in f["releases"] if r],
        definitions={"rows": msg("Rows loaded from every release"),
                     "counted_rows": msg("Rows with counted = true (the release with precedence for the table, AOR "
                                         "and date)"),
                     "min_date/max_date": msg("First and last event date in the table")})


@per_warehouse
def _table_coverage(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    cols = reader(con, None)
    figures = []
    rolled = bool(cols(EVENT_DAYS))  # the build's count table: every row of each table, counted per day and more
    for t in event_tables(con):
        if rolled:
            n, source, params = "coalesce(sum(n), 0)::BIGINT", f"{EVENT_DAYS} WHERE table_name = ?", [t]
            n_counted = "coalesce(sum(n) FILTER (WHERE counted), 0)::BIGINT"
        else:
            n, source, params = "count(*)", t, []
            n_counted = "count(*) FILTER (WHERE counted)"
        row = rows(con, f"SELECT {n} AS rows, {n_counted if 'counted' in cols(t) else n} AS counted_rows, "
                        "min(event_date) AS min_date, max(event_date) AS max_date, "
                        f"list(DISTINCT release_id ORDER BY release_id) AS releases FROM {source}", params)[0]
        figures.append({"table": t, **row, "releases": row["releases"] or []})  # an empty table: no releases
    return figures


def loaded_releases(con: duckdb.DuckDBPyConnection, columns: Columns | None = None) -> list[dict[str, Any]]:
    """The warehouse's releases table (whichever of the known columns it has), one row per raw file (read once per
    warehouse version; `columns` is not needed). Each caller gets its own dicts (of plain values: no deeper copy)."""
    return [dict(r) for r in _loaded_releases(con)]


@per_warehouse(frozen=True)
def _loaded_releases(con: duckdb.DuckDBPyConnection) -> tuple[MappingProxyType, ...]:
    present = reader(con, None)("releases")
    cols = [c for c in RELEASE_COLUMNS if c in present]
    if not cols:
        return ()
    order = ", ".join(c for c in ("release_id", "table_name", "file_name") if c in cols) or "1"
    found = [plain(r) for r in rows(con, f"SELECT {', '.join(cols)} FROM releases ORDER BY {order}")]
    return tuple(MappingProxyType(r) for r in found)


def method_codes(con: duckdb.DuckDBPyConnection, table: str, columns: Columns | None = None) -> dict[str, list[str]]:
    """Which raw apprehension methods fall in each method class, as the warehouse maps them (most used first; read
    once per warehouse version, `columns` is not needed)."""
    return _method_codes(con, table)


@per_warehouse
def _method_codes(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, list[str]]:
    if table not in EVENT_TABLES or not {"method_class", "method_raw"} <= reader(con, None)(table):
        return {}
    if reader(con, None)(EVENT_METHODS):  # the build's count per class and raw method: no scan of the rows
        found = rows(con, f"SELECT method_class, method_raw, n FROM {EVENT_METHODS} WHERE table_name = ? "
                          "ORDER BY method_class, n DESC, method_raw", [table])
    else:
        found = rows(con, f"SELECT method_class, method_raw, count(*) AS n FROM {table} WHERE method_raw IS NOT NULL "
                          "GROUP BY ALL ORDER BY method_class, n DESC, method_raw")  # ties in a fixed order
    out: dict[str, list[str]] = {}
    for r in found:
        out.setdefault(r["method_class"] or "unclassified", []).append(r["method_raw"])
    return out


def release_files(con: duckdb.DuckDBPyConnection, table: str, columns: Columns | None = None) -> list[dict[str, Any]]:
    """The releases behind a table's rows, each with the source files its rows come from (empty where the table
    records none): [{"release_id", "files"}]. `table` must come from an allow-list (a download's table names)."""
    has_file = "source_file" in reader(con, columns)(table)
    files = "list(DISTINCT source_file ORDER BY source_file)" if has_file else "[]"
    return rows(con, f'SELECT release_id, {files} AS files FROM "{table}" GROUP BY release_id ORDER BY release_id')


@lru_cache(maxsize=1)
def catalog_releases() -> dict[str, dict[str, str | None]]:
    """Release id -> title and FOIA request number from the release catalog (empty if it cannot be read)."""
    try:
        from icemonitor.catalog.catalog import load_catalog

        return {r.id: {"title": r.title, "foia_request": r.foia_request} for r in load_catalog().releases}
    except Exception:  # the catalog is optional context for the figures
        return {}
