"""Counted events per county, method class and month: a rollup of the build's event_days, made in the process once
per warehouse version, for the overview's per-county figures (analysis.overview.county_rates).

Summing event_days' rows of a table per county hashes every row's county code (1.7 million rows at 8x the real
data: ~28 ms of CPU per request). The same sum over this rollup (~130,000 rows at 8x, summed with numpy) is exact
for any period: the period's whole months come from here, its partial first and last months from event_days itself
(the days of those months only). It is derived data of the warehouse file, like event_days, not a cached answer: it
takes no question, is read once per file version (query.selection.per_warehouse: path, mtime, size; a read-only
file does not change until a build swaps in a new one), so it cannot differ between two requests to one version,
and every request still counts its own period and method classes from it (also with ICEMONITOR_CACHE=off). A
writable connection (a build) never uses it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np

from icemonitor.query.selection import database_file, per_warehouse
from icemonitor.query.sql import Where
from icemonitor.warehouse.aggregates import EVENT_DAYS

# the WHERE parts the rollup answers (query.Selection's own SQL): counted rows, a period, method classes
COUNTED, DATE_FROM, DATE_TO, METHODS = "counted", "event_date >= ?", "event_date <= ?", "method_class IN ("
SUM = "coalesce(sum(n), 0)::BIGINT"  # query.selection's count over event_days


@dataclass(frozen=True)
class CountyMonths:
    """The rollup as read-only numpy columns: per row a county (index into `counties`), a method class (index into
    `methods`; None among them), a month (its first day; NaT for rows without a date) and the events counted."""

    counties: tuple[str, ...]
    methods: tuple[str | None, ...]
    county: np.ndarray
    method: np.ndarray
    month: np.ndarray
    n: np.ndarray

    def counts(self, methods: list[str] | None, lo: dt.date | None, hi: dt.date | None) -> dict[str, int]:
        """county -> events of the months from `lo` up to (not including) `hi` (None: no bound) and the method
        classes `methods` (None: all), for the counties with rows."""
        keep = np.ones(len(self.n), dtype=bool)
        if methods is not None:
            keep &= np.array([m in methods for m in self.methods], dtype=bool)[self.method]
        if lo is not None:
            keep &= self.month >= np.datetime64(lo, "D")
        if hi is not None:
            keep &= self.month < np.datetime64(hi, "D")
        county = self.county[keep]
        present = np.flatnonzero(np.bincount(county, minlength=len(self.counties)))
        total = np.bincount(county, weights=self.n[keep], minlength=len(self.counties))  # exact below 2**53
        return dict(zip([self.counties[i] for i in present.tolist()], total[present].round().astype(np.int64).tolist()))


@per_warehouse(frozen=True)
def county_months(con: duckdb.DuckDBPyConnection, table: str) -> CountyMonths:
    """Counted events of `table` with a county (res_county_fips) per county, method class and month."""
    found = con.execute(
        "SELECT res_county_fips, method_class, date_trunc('month', event_date)::DATE, sum(n)::BIGINT "
        f"FROM {EVENT_DAYS} WHERE table_name = ? AND counted AND res_county_fips IS NOT NULL GROUP BY ALL",
        [table]).fetchall()
    counties = tuple(sorted({r[0] for r in found}))
    methods = tuple(dict.fromkeys(r[1] for r in found))
    where_county = {c: i for i, c in enumerate(counties)}
    where_method = {m: i for i, m in enumerate(methods)}
    county = np.fromiter((where_county[r[0]] for r in found), dtype=np.int64, count=len(found))
    method = np.fromiter((where_method[r[1]] for r in found), dtype=np.int64, count=len(found))
    month = np.array([r[2] for r in found], dtype="datetime64[D]")  # None: NaT, never within a period
    n = np.fromiter((r[3] for r in found), dtype=np.int64, count=len(found))
    for a in (county, method, month, n):
        a.flags.writeable = False
    return CountyMonths(counties, methods, county, method, month, n)


def _month_after(d: dt.date) -> dt.date:
    return dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)


def split(where: Where) -> tuple[list[str] | None, dt.date | None, dt.date | None] | None:
    """(method classes or None, from, to) of a WHERE the rollup answers (counted rows, a period, method classes),
    else None."""
    methods, d0, d1, counted = None, None, None, False
    params = list(where.params)
    for part in where.parts:
        mine = [params.pop(0) for _ in range(part.count("?"))]
        if part == DATE_FROM and d0 is None:
            d0 = mine[0]
        elif part == DATE_TO and d1 is None:
            d1 = mine[0]
        elif part == COUNTED:
            counted = True
        elif part.startswith(METHODS) and methods is None and all(isinstance(m, str) for m in mine):
            methods = mine
        else:
            return None
    if not counted or not all(d is None or type(d) is dt.date for d in (d0, d1)):
        return None
    return methods, d0, d1


def county_counts(con: duckdb.DuckDBPyConnection, table: str, source: str, where: Where,
                  count_sql: str) -> dict[str, int] | None:
    """county -> counted events under `where` read from `source` (event_days of `table`, summed with
    `count_sql`), for the counties with rows: whole months from the rollup, partial first and last months from
    `source`. None where the rollup does not answer (another source or condition, a writable connection, a period
    without a whole month): then the caller counts from `source`."""
    if (source != f"(SELECT * FROM {EVENT_DAYS} WHERE table_name = '{table}')" or count_sql != SUM
            or not database_file(con)[1]):
        return None
    found = split(where)
    if found is None:
        return None
    methods, d0, d1 = found
    lo = None if d0 is None else (d0 if d0.day == 1 else _month_after(d0))  # the first whole month
    hi = None  # the day after the last whole month
    if d1 is not None:
        hi = _month_after(d1) if (d1 + dt.timedelta(days=1)).day == 1 else d1.replace(day=1)
    if lo is not None and hi is not None and lo >= hi:
        return None
    out = county_months(con, table).counts(methods, lo, hi)
    edges = [(c, d) for c, d in (("event_date < ?", lo), ("event_date >= ?", hi)) if d is not None]
    if edges:  # the partial first and last months' days
        for fips, n in con.execute(
                f"SELECT res_county_fips, {count_sql} FROM {source} WHERE {where.sql()} AND res_county_fips IS NOT "
                f"NULL AND ({' OR '.join(c for c, _ in edges)}) GROUP BY 1",
                [*where.params, *(d for _, d in edges)]).fetchall():
            out[fips] = out.get(fips, 0) + n
    return out
