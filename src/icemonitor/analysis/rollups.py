"""Rollups of the build's count tables (warehouse/aggregates.py), made in the process once per warehouse version,
for the overview's figures that would otherwise sum many rollup rows per request:

- county_months: event_days' counted events per county, method class and month, for the counts per county
  (analysis.overview.county_rates). Summing event_days per county hashes every row's county code (1.7 million rows
  at 8x the real data: ~28 ms of CPU per request); the same sum over this rollup (~130,000 rows at 8x, summed with
  numpy) is exact for any period: the period's whole months come from here, its partial first and last months
  from event_days itself (the days of those months only).
- release_aor_spans: aor_days' counted events per release, AOR and method class with their first and last day,
  for the releases behind a figure without a period (analysis.overview.release_spans).
- aor_months: aor_days' counted events per release, AOR, method class, criminality, fiscal year and month, for
  the counts grouped by those keys without a period or over whole months (analysis.overview.counts: the dashboard's
  trend and AOR ranking, the API's summary).
- keyed_months: the month tables' counted events per AOR, per AOR and placed state, per county, per AOR and
  whether a county is resolved, or per AOR and office county or placed state of the unresolved, with release and
  month (KEYINGS), for a place's peers and a county's resolution (analysis.place_profile) and summary's office
  placements and unresolved events: whole months from here, partial first and last months from the day tables,
  as county_months.

They are derived data of the warehouse file, like event_days, not cached answers: they take no question (keyed_months
only which keys it holds: a state's counties, a place's AORs), are read
once per file version (query.selection.per_warehouse: path, mtime, size; a read-only file does not change until a
build swaps in a new one), so they cannot differ between two requests to one version, and every request still
works out its own figure from them (also with ICEMONITOR_CACHE=off). A writable connection (a build) never uses
the first three (keyed_months is read afresh on one), and a question they do not answer (another condition) is
counted from the count tables as before.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import duckdb
import numpy as np

from icemonitor.query.selection import database_file, has_table, month_after, per_warehouse, whole_months
from icemonitor.query.sql import Where, in_list
from icemonitor.warehouse.aggregates import AOR_DAYS, AOR_MONTHS, EVENT_DAYS, EVENT_MONTHS, STATE_DAYS, STATE_MONTHS

# the WHERE parts the rollups answer (query.Selection's own SQL): counted rows, a period, `column IN (...)`
COUNTED, DATE_FROM, DATE_TO = "counted", "event_date >= ?", "event_date <= ?"
SUM = "coalesce(sum(n), 0)::BIGINT"  # query.selection's count over the count tables


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
        return dict(zip([self.counties[i] for i in present.tolist()],
                        total[present].round().astype(np.int64).tolist()))


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


def split(where: Where, columns: tuple[str, ...]) -> tuple[dict[str, list[str]], dt.date | None, dt.date | None] | None:
    """({column: values} of `column IN (...)` conditions on `columns`, from, to) of a WHERE of counted rows that
    names only those conditions and a period (query.Selection's own SQL), else None."""
    values: dict[str, list[str]] = {}
    d0, d1, counted = None, None, False
    params = list(where.params)
    for part in where.parts:
        mine = [params.pop(0) for _ in range(part.count("?"))]
        column = part.split(" IN (", 1)[0]
        if part == DATE_FROM and d0 is None:
            d0 = mine[0]
        elif part == DATE_TO and d1 is None:
            d1 = mine[0]
        elif part == COUNTED:
            counted = True
        elif (column in columns and column not in values and part == f"{column} IN ({', '.join('?' * len(mine))})"
              and all(isinstance(m, str) for m in mine)):
            values[column] = mine
        else:
            return None
    if not counted or not all(d is None or type(d) is dt.date for d in (d0, d1)):
        return None
    return values, d0, d1


def rolled(con: duckdb.DuckDBPyConnection, rollup: str, table: str, source: str, count_sql: str) -> bool:
    """Whether a question's source and count are the count table `rollup` of `table` on a read-only file."""
    return (source == f"(SELECT * FROM {rollup} WHERE table_name = '{table}')" and count_sql == SUM
            and database_file(con)[1])


def partial_edges(d0: dt.date | None, d1: dt.date | None, lo: dt.date | None,
                  hi: dt.date | None) -> list[tuple[str, dt.date]]:
    """The conditions (with their day) that keep the days of the partial first and last months of the period from
    `d0` to `d1` whose whole months run from `lo` up to `hi` (whole_months): none for a bound that is a month's
    first or last day, where that day table query would find nothing (it scanned the day table: ~3.5 ms of CPU
    each at 1x, twice per county summary)."""
    return [(c, d) for c, d, partial in (("event_date < ?", lo, lo is not None and lo != d0),
                                         ("event_date >= ?", hi, hi is not None and d1 is not None and hi <= d1))
            if partial]


def county_counts(con: duckdb.DuckDBPyConnection, table: str, source: str, where: Where,
                  count_sql: str) -> dict[str, int] | None:
    """county -> counted events under `where` read from `source` (event_days of `table`, summed with
    `count_sql`), for the counties with rows: whole months from the rollup, partial first and last months from
    `source`. None where the rollup does not answer (another source or condition, a writable connection, a period
    without a whole month): then the caller counts from `source`."""
    found = split(where, ("method_class",)) if rolled(con, EVENT_DAYS, table, source, count_sql) else None
    if found is None:
        return None
    values, d0, d1 = found
    lo, hi = whole_months(d0, d1)  # the first whole month, the day after the last
    if lo is not None and hi is not None and lo >= hi:
        return None
    out = county_months(con, table).counts(values.get("method_class"), lo, hi)
    edges = partial_edges(d0, d1, lo, hi)
    if edges:  # the partial first and last months' days
        for fips, n in con.execute(
                f"SELECT res_county_fips, {count_sql} FROM {source} WHERE {where.sql()} AND res_county_fips IS NOT "
                f"NULL AND ({' OR '.join(c for c, _ in edges)}) GROUP BY 1",
                [*where.params, *(d for _, d in edges)]).fetchall():
            out[fips] = out.get(fips, 0) + n
    return out


@per_warehouse(frozen=True)
def release_aor_spans(con: duckdb.DuckDBPyConnection, table: str) -> tuple[tuple, ...]:
    """(release_id, aor, method_class, first day, last day, events) of `table`'s counted rows in aor_days, per
    release, AOR and method class."""
    return tuple(con.execute(
        f"SELECT release_id, aor, method_class, min(event_date), max(event_date), sum(n)::BIGINT FROM {AOR_DAYS} "
        "WHERE table_name = ? AND counted GROUP BY ALL", [table]).fetchall())


def release_spans(con: duckdb.DuckDBPyConnection, table: str, source: str, where: Where,
                  count_sql: str) -> list[dict[str, Any]] | None:
    """Each release's first and last day, events and AORs (sorted; None for none) under `where` read from `source`
    (aor_days of `table`, summed with `count_sql`), ordered by first day (none last) and release, as
    analysis.overview.release_spans' SQL gives them; None where the rollup does not answer (a period, another
    condition, another source, a writable connection)."""
    found = split(where, ("aor", "method_class")) if rolled(con, AOR_DAYS, table, source, count_sql) else None
    if found is None or found[1] is not None or found[2] is not None:
        return None
    aors, methods = found[0].get("aor"), found[0].get("method_class")
    spans: dict[Any, dict[str, Any]] = {}
    for release, aor, method, first, last, n in release_aor_spans(con, table):
        if (aors is not None and aor not in aors) or (methods is not None and method not in methods):
            continue
        s = spans.setdefault(release, {"release_id": release, "first": None, "last": None, "n": 0, "aors": set()})
        if first is not None and (s["first"] is None or first < s["first"]):
            s["first"] = first
        if last is not None and (s["last"] is None or last > s["last"]):
            s["last"] = last
        s["n"] += n
        if aor is not None:
            s["aors"].add(aor)
    out = [{**s, "aors": sorted(s["aors"]) or None} for s in spans.values()]
    out.sort(key=lambda s: (s["first"] is None, s["first"] or dt.date.min, s["release_id"] is None,
                            s["release_id"] or ""))
    return out


# aor_days' counted events per release, AOR, method class, criminality, fiscal year and month (a few thousand rows
# per table at 8x): the counts of analysis.overview.counts grouped by these keys, without a period or over whole
# months
MONTH_COLUMNS = ("release_id", "aor", "method_class", "criminality", "fy", "month")
FILTERED = ("release_id", "aor", "method_class", "criminality")  # the `column IN (...)` conditions it answers
BY = {"release_id": "release_id", "release": "release_id", "aor": "aor", "method_class": "method_class",
      "criminality": "criminality", "fy": "fy", "month": "month", "year": "month"}  # group key -> its column


@dataclass(frozen=True)
class AorMonths:
    """The rollup as read-only numpy columns: per row an index into each column's distinct `values` (None among
    them; months as their first day) and the events counted."""

    values: dict[str, tuple]
    codes: dict[str, np.ndarray]
    n: np.ndarray

    def kept(self, filters: dict[str, list[str]], lo: dt.date | None, hi: dt.date | None) -> np.ndarray:
        """The row mask of the rows under `filters` ({column: values}) in the months from `lo` up to `hi` (None: no
        bound)."""
        keep = np.ones(len(self.n), dtype=bool)
        for column, wanted in filters.items():
            keep &= np.array([v in wanted for v in self.values[column]], dtype=bool)[self.codes[column]]
        if lo is not None or hi is not None:
            keep &= np.array([m is not None and (lo is None or m >= lo) and (hi is None or m < hi)
                              for m in self.values["month"]], dtype=bool)[self.codes["month"]]
        return keep

    def grouped(self, by: list[str], filters: dict[str, list[str]], lo: dt.date | None,
                hi: dt.date | None) -> list[dict[str, Any]]:
        """Rows {key..., n, rel} as query.filters.grouped_sql gives them (rel: the releases behind the group), for
        the rows under `filters` ({column: values}) in the months from `lo` up to `hi` (None: no bound)."""
        keep = self.kept(filters, lo, hi)
        if not keep.any():
            return []
        outputs, codes = [], []  # per key: its values as written, each kept row's index into them
        for key in by:
            column = self.values[BY[key]]
            written = [_written(key, v) for v in column]
            distinct = list(dict.fromkeys(written))
            index = np.array([distinct.index(w) for w in written], dtype=np.int64)
            outputs.append(distinct)
            codes.append(index[self.codes[BY[key]][keep]])
        dims = [len(o) for o in outputs]
        group = np.ravel_multi_index(codes, dims) if by else np.zeros(int(keep.sum()), dtype=np.int64)
        found, inverse = np.unique(group, return_inverse=True)
        total = np.bincount(inverse, weights=self.n[keep], minlength=len(found))  # exact below 2**53
        releases = self.values["release_id"]
        pairs = np.unique(inverse * len(releases) + self.codes["release_id"][keep])
        rel: list[list[Any]] = [[] for _ in found]
        for g, r in zip((pairs // len(releases)).tolist(), (pairs % len(releases)).tolist()):
            rel[g].append(releases[r])
        keys = np.unravel_index(found, dims) if by else []
        out = [{**{k: outputs[j][keys[j][i]] for j, k in enumerate(by)}, "n": int(round(total[i])), "rel": rel[i]}
               for i in range(len(found))]
        out.sort(key=lambda r: tuple((r[k] is None, r[k]) for k in by))  # ORDER BY the keys NULLS LAST
        return out


def _written(key: str, value: Any) -> Any:
    """A rollup value as grouped_sql writes the key (a month as YYYY-MM, its year for `year`)."""
    if value is None:
        return None
    if key == "month":
        return value.strftime("%Y-%m")
    if key == "year":
        return value.year
    return value


@per_warehouse(frozen=True)
def aor_months(con: duckdb.DuckDBPyConnection, table: str) -> AorMonths:
    """`table`'s counted events in aor_days per release, AOR, method class, criminality, fiscal year and month."""
    found = con.execute(
        "SELECT release_id, aor, method_class, criminality, CAST(fy AS INTEGER), "
        f"date_trunc('month', event_date)::DATE, sum(n)::BIGINT FROM {AOR_DAYS} WHERE table_name = ? AND counted "
        "GROUP BY ALL", [table]).fetchall()
    values, codes = {}, {}
    for i, column in enumerate(MONTH_COLUMNS):
        distinct = tuple(dict.fromkeys(r[i] for r in found))
        where = {v: j for j, v in enumerate(distinct)}
        values[column] = distinct
        codes[column] = np.fromiter((where[r[i]] for r in found), dtype=np.int64, count=len(found))
        codes[column].flags.writeable = False
    n = np.fromiter((r[6] for r in found), dtype=np.int64, count=len(found))
    n.flags.writeable = False
    return AorMonths(MappingProxyType(values), MappingProxyType(codes), n)


def grouped_counts(con: duckdb.DuckDBPyConnection, table: str, source: str, where: Where, count_sql: str,
                   by: list[str]) -> list[dict[str, Any]] | None:
    """query.filters.grouped_sql's rows for `by` under `where` read from `source` (aor_days of `table`, summed with
    `count_sql`), from the rollup: None where it does not answer (a key or condition it lacks, a period that does
    not begin and end with whole months, no key, another source, a writable connection)."""
    if not by or not set(by) <= set(BY):
        return None
    found = split(where, FILTERED) if rolled(con, AOR_DAYS, table, source, count_sql) else None
    if found is None:
        return None
    filters, d0, d1 = found
    if (d0 is not None and d0.day != 1) or (d1 is not None and (d1 + dt.timedelta(days=1)).day != 1):
        return None
    return aor_months(con, table).grouped(by, filters, d0, None if d1 is None else month_after(d1))


def releases(con: duckdb.DuckDBPyConnection, table: str, source: str, where: Where) -> list[str] | None:
    """The releases of the rows under `where` in `source` (common.releases_of's answer: sorted, without None) from
    aor_months, where it answers: `source` is aor_days of `table` (read-only), `where` counted rows, a period of
    whole months (`event_date BETWEEN ? AND ?`) and conditions on FILTERED columns (`column = 'value'`, `TRUE`, or
    `(column IN (...))` as analysis.sweeps writes its measure and an AOR place); else None (the caller asks the
    SQL). A sweeps question's releases took 5-12 ms of CPU of SQL over aor_days at 1x."""
    if not rolled(con, AOR_DAYS, table, source, SUM):
        return None
    parts, params = [], list(where.params)
    for part in where.parts:
        n = part.count("?")
        mine, params = params[:n], params[n:]
        literal = re.fullmatch(r"(\w+) = '(\w+)'", part)
        if part == "TRUE":
            continue
        if literal:
            parts.append((f"{literal[1]} IN (?)", [literal[2]]))
        elif part == "event_date BETWEEN ? AND ?":
            parts += [(DATE_FROM, mine[:1]), (DATE_TO, mine[1:])]
        else:
            parts.append((part[1:-1] if re.fullmatch(r"\((\w+) IN \([?, ]*\)\)", part) else part, mine))
    found = split(Where([p for p, _ in parts], [v for _, values in parts for v in values]), FILTERED)
    if found is None:
        return None
    filters, d0, d1 = found
    if d0 is None or d1 is None or d0.day != 1 or (d1 + dt.timedelta(days=1)).day != 1:
        return None
    months = aor_months(con, table)
    kept = months.kept(filters, d0, month_after(d1))
    names = months.values["release_id"]
    return sorted(names[i] for i in np.unique(months.codes["release_id"][kept]).tolist() if names[i] is not None)


# a keying -> (month table, its day table, the key's columns, which of their rows count): the peer levels, the
# AORs with whether their arrests are resolved to a county, and the office counties and placed states of the
# unresolved ones
KEYINGS = {"aor": (AOR_MONTHS, AOR_DAYS, ("aor",), "aor IS NOT NULL"),
           "state": (STATE_MONTHS, STATE_DAYS, ("aor", "res_state"), "TRUE"),
           "county": (EVENT_MONTHS, EVENT_DAYS, ("res_county_fips",), "res_county_fips IS NOT NULL"),
           "aor_resolved": (EVENT_MONTHS, EVENT_DAYS, ("aor", "res_county_fips IS NULL"), "TRUE"),
           "office": (EVENT_MONTHS, EVENT_DAYS, ("aor", "office_county_fips"), "res_county_fips IS NULL"),
           "unplaced_county": (EVENT_MONTHS, EVENT_DAYS, ("aor", "res_state"), "res_county_fips IS NULL")}


@dataclass(frozen=True)
class KeyedMonths:
    """The rollup as read-only numpy columns: per row a key (index into `keys`: the keying's columns' values), a
    release (index into `releases`), a month (its first day; NaT for rows without a date) and the events counted."""

    keys: tuple[tuple, ...]
    releases: tuple[str, ...]
    key: np.ndarray
    release: np.ndarray
    month: np.ndarray
    n: np.ndarray

    def counts(self, lo: dt.date | None, hi: dt.date | None) -> dict[tuple, tuple[int, set[str]]]:
        """key -> (events, releases behind them) of the months from `lo` up to (not including) `hi` (None: no
        bound), for the keys with rows."""
        keep = np.ones(len(self.n), dtype=bool)
        if lo is not None:
            keep &= self.month >= np.datetime64(lo, "D")
        if hi is not None:
            keep &= self.month < np.datetime64(hi, "D")
        key, release = self.key[keep], self.release[keep]
        total = np.bincount(key, weights=self.n[keep], minlength=len(self.keys))  # exact below 2**53
        present = np.flatnonzero(np.bincount(key, minlength=len(self.keys)))
        out = {self.keys[i]: (int(round(total[i])), set()) for i in present.tolist()}
        pairs = np.unique(key * len(self.releases) + release)
        for k, r in zip((pairs // len(self.releases)).tolist(), (pairs % len(self.releases)).tolist()):
            out[self.keys[k]][1].add(self.releases[r])
        return out


def keyed_within(keying: str, within: tuple[str, ...] | None) -> tuple[str, list[Any]]:
    """SQL and parameters keeping the rows of the keys `within` (values of the keying's first column; None: every
    key)."""
    if within is None:
        return "TRUE", []
    return in_list(KEYINGS[keying][2][0], list(within)) if within else ("FALSE", [])


@per_warehouse(frozen=True)
def keyed_months(con: duckdb.DuckDBPyConnection, table: str, keying: str, within: tuple[str, ...] | None = None
                 ) -> KeyedMonths:
    """Counted events of `table` per the keying's key (KEYINGS), release and month, from its month table; of
    the keys `within` (the first key column's values; None: all)."""
    months, _, columns, kept = KEYINGS[keying]
    among, params = keyed_within(keying, within)
    found = con.execute(f"SELECT {', '.join(columns)}, release_id, event_date, sum(n)::BIGINT FROM {months} "
                        f"WHERE table_name = ? AND counted AND {kept} AND {among} GROUP BY ALL",
                        [table, *params]).fetchall()
    width = len(columns)
    keys = tuple(dict.fromkeys(r[:width] for r in found))
    releases = tuple(dict.fromkeys(r[width] for r in found))
    where_key = {k: i for i, k in enumerate(keys)}
    where_release = {k: i for i, k in enumerate(releases)}
    key = np.fromiter((where_key[r[:width]] for r in found), dtype=np.int64, count=len(found))
    release = np.fromiter((where_release[r[width]] for r in found), dtype=np.int64, count=len(found))
    month = np.array([r[width + 1] for r in found], dtype="datetime64[D]")  # None: NaT, never within a period
    n = np.fromiter((r[-1] for r in found), dtype=np.int64, count=len(found))
    for a in (key, release, month, n):
        a.flags.writeable = False
    return KeyedMonths(keys, releases, key, release, month, n)


def keyed_counts(con: duckdb.DuckDBPyConnection, table: str, keying: str, where: Where,
                 within: tuple[str, ...] | None = None) -> dict[tuple, tuple[int, set[str]]] | None:
    """key -> (counted events, their releases) of the keying's keys (KEYINGS: AOR; AOR and placed state; county;
    AOR and unresolved county; AOR and office county or placed state of the unresolved) under `where` (counted
    rows and a period, nothing else), for the keys with rows: whole months from keyed_months, partial first and
    last months from the day table. None where it does not answer (another condition, a warehouse without the
    month table, a period without a whole month): then the caller counts. `within`: the keys counted
    (keyed_months)."""
    months, days, columns, kept = KEYINGS[keying]
    found = split(where, ())
    if found is None or not (has_table(con, months) and has_table(con, days)):
        return None
    lo, hi = whole_months(found[1], found[2])
    if lo is not None and hi is not None and lo >= hi:
        return None
    out = keyed_months(con, table, keying, within).counts(lo, hi)
    among, params = keyed_within(keying, within)
    edges = partial_edges(found[1], found[2], lo, hi)
    if edges:  # the partial first and last months' days
        for *key, release, n in con.execute(
                f"SELECT {', '.join(columns)}, release_id, sum(n)::BIGINT FROM {days} WHERE table_name = ? AND "
                f"{kept} AND {among} AND {where.sql()} AND ({' OR '.join(c for c, _ in edges)}) GROUP BY ALL",
                [table, *params, *where.params, *(d for _, d in edges)]).fetchall():
            n0, rel = out.get(tuple(key), (0, set()))
            out[tuple(key)] = (n0 + n, rel | {release})
    return out
