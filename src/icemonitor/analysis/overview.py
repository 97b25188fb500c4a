"""The dashboard's figures (overview, data page, downloads, API summary): counted events grouped by allow-listed keys,
the releases and spans behind them, months covered by few AORs, criminality by the release's own field, arrests per
AOR on the county map and per 10,000 non-citizen residents by county. Each counts through query.Selection (the
filters of query.filters) and returns an AnalysisResult."""

from __future__ import annotations

import datetime as dt
import math
from bisect import bisect_right
from types import MappingProxyType
from typing import Any

import duckdb

from icemonitor.analysis.result import AnalysisResult, plain
from icemonitor.analysis.summary import GROUPS
from icemonitor.messages import msg
from icemonitor.query.coverage import Coverage, coverage
from icemonitor.query.filters import DATE_KEYS, GROUP_BY, Columns, Filters, check_by, check_filters, grouped_sql
from icemonitor.query.selection import Compiled, Selection, has_table, per_warehouse, table_columns, unplaced_source

CRIMINALITY = msg("Criminality class as the release's own field gives it (criminality_field)")
# group keys of the dashboard that the CLI summary's GROUPS do not define (or define otherwise)
KEY_DEFINITIONS = {
    "criminality": CRIMINALITY,
    "year": msg("Calendar year of event_date"),
    "method_raw": msg("Apprehension method as the release writes it"),
    "criminality_field": msg("The release's own field the criminality class comes from"),
    "release_id": GROUPS["release"][1],
}


def counted(table: str) -> Any:
    """The definition of a counted event."""
    return msg("Counted events: rows of table {table} with counted = true (the release with precedence for the "
               "table, AOR and date; overlapping releases are not added twice)", table=table)


def reader(con: duckdb.DuckDBPyConnection, columns: Columns | None) -> Columns:
    """`columns` (a cached reader, the web tier's), else information_schema asked each time."""
    return columns or (lambda t: table_columns(con, t))


def rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | tuple = ()) -> list[dict[str, Any]]:
    """The result as a list of dicts."""
    result = con.execute(sql, list(params))
    names = [d[0] for d in result.description]
    return [dict(zip(names, r)) for r in result.fetchall()]


def compiled(con: duckdb.DuckDBPyConnection, f: Filters, columns: Columns | None = None,
             counted_only: bool = True) -> Compiled:
    """The filters checked (ParamError names a bad one) and compiled through query.Selection."""
    columns = reader(con, columns)
    check_filters(columns, f)
    return f.selection(counted_only).compile(con, columns=columns)


def _from(con: duckdb.DuckDBPyConnection, q: Compiled, *sql: str, columns: Columns | None = None) -> tuple[str, str]:
    """(FROM, count expression) for a question on the selection whose SELECT, GROUP BY and extra conditions are
    `sql`: the build's event_days where its columns answer it (Compiled.rolled_up: sum of n), else the table itself
    where no placed column (res_state, res_county_fips) is named, else the placed rows (count(*))."""
    rolled = q.rolled_up(con, *sql, columns=columns)
    if rolled is not q:
        return rolled.source, rolled.count_sql
    bare = unplaced_source(q.selection.table, q.where.sql(), *sql) if q.place is None else None
    return bare or q.source, "count(*)"


def _definitions(f: Filters, by: list[str]) -> dict[str, Any]:
    out = {k: KEY_DEFINITIONS.get(k) or GROUPS[k][1] for k in by}
    out["n"] = counted(f.table)
    return out


def place_coverage(con: duckdb.DuckDBPyConnection, f: Filters, columns: Columns | None = None) -> Coverage:
    """What the records cover of the filters' period and AOR (the AOR as the place), as query.coverage gives it."""
    filters = {k: v for k, v in f.column_filters().items() if k != "aor"}
    sel = Selection.of(f.table, f.date_from, f.date_to, f.aor, filters)
    return coverage(con, sel.compile(con, columns=reader(con, columns)))


def counts(con: duckdb.DuckDBPyConnection, f: Filters, by: list[str], columns: Columns | None = None,
           with_coverage: bool = True) -> AnalysisResult:
    """Counted events grouped by `by` (query.filters.GROUP_BY keys), rows {key..., n}; extra `total`.

    With coverage (the AOR as the place): where the records do not cover the period (or a filtered field) there is
    no count: no rows and a total of None, never 0."""
    q = compiled(con, f, columns)
    check_by(reader(con, columns), f.table, by)
    cover = place_coverage(con, f, columns) if with_coverage else None
    caveats: list[Any] = []
    if cover is not None and not cover.countable:
        figures, total = [], None
        releases = releases_used(con, q, columns)  # where there is no count, a subset's releases are still named
        caveats.append(cover.no_count_caveat())
    else:
        where = q.where
        # one scan: the counts and, per group, the releases behind them (their union: the figure's releases)
        source, n = _from(con, q, *(GROUP_BY[k][0] for k in by), "release_id", columns=columns)
        from icemonitor.analysis import rollups  # numpy: after start-up (app.DEFERRED_IMPORTS)
        figures = rollups.grouped_counts(con, f.table, source, where, n, by)  # without a period or whole months
        if figures is None:
            figures = rows(con, grouped_sql(by, n, source, where.sql()), where.params)
        releases = sorted({x for r in figures for x in (r.pop("rel") or []) if x is not None})
        total = sum(r["n"] for r in figures)
        if cover is not None and cover.status == "partial":
            caveats.append(msg("Partial: {reason}.", reason=cover.reason))
    return AnalysisResult(name="counts", parameters={**f.as_params(), "by": by}, columns=[*by, "n"], figures=figures,
                          definitions=_definitions(f, by), releases=releases, caveats=caveats,
                          extra={"total": total}, coverage=cover.to_dict() if cover is not None else None)


def releases_used(con: duckdb.DuckDBPyConnection, q: Compiled, columns: Columns | None = None) -> list[str]:
    source, _ = _from(con, q, "release_id", columns=columns)
    found = rows(con, f"SELECT DISTINCT release_id FROM {source} WHERE {q.where.sql()} ORDER BY 1", q.where.params)
    return [r["release_id"] for r in found if r["release_id"] is not None]


def release_spans(con: duckdb.DuckDBPyConnection, f: Filters, columns: Columns | None = None) -> AnalysisResult:
    """For the counted rows under the filters: each release's first and last date, rows and the AORs it covers."""
    q = compiled(con, f, columns)
    aor = ("list(DISTINCT aor ORDER BY aor) FILTER (WHERE aor IS NOT NULL)" if "aor" in reader(con, columns)(f.table)
           else "[]")
    source, n = _from(con, q, "release_id", "event_date", aor, columns=columns)
    from icemonitor.analysis import rollups  # numpy: after start-up (app.DEFERRED_IMPORTS)
    figures = rollups.release_spans(con, f.table, source, q.where, n) if aor != "[]" else None  # without a period
    if figures is None:
        figures = rows(con, f"SELECT release_id, min(event_date) AS first, max(event_date) AS last, {n} AS n, "
                            f"{aor} AS aors FROM {source} WHERE {q.where.sql()} GROUP BY release_id "
                            "ORDER BY first, release_id", q.where.params)
    return AnalysisResult(
        name="release_spans", parameters=f.as_params(), figures=figures,
        definitions={"first/last": msg("First and last event date of the release's counted rows under the filters"),
                     "aors": msg("AORs the release's counted rows come from"), "n": counted(f.table)},
        releases=[r["release_id"] for r in figures if r["release_id"]])


def partial_months(con: duckdb.DuckDBPyConnection, f: Filters, columns: Columns | None = None) -> AnalysisResult:
    """Runs of months whose counted rows come from fewer than half as many AORs as the best-covered month (e.g.
    only the Seattle production before FY2016): figures {"from": "YYYY-MM", "to": "YYYY-MM", "aors": [...]}. None
    for one AOR, where the question does not arise."""
    definitions = {"partial": msg("A month whose counted rows come from fewer than half as many AORs as the "
                                  "best-covered month")}
    cols = reader(con, columns)(f.table)
    if f.aor or not {"aor", "event_date"} <= cols:
        return AnalysisResult(name="partial_months", parameters=f.as_params(), definitions=definitions)
    q = compiled(con, f, columns)
    month, fmt = DATE_KEYS["month"]  # grouped on the month's first day, written as text once per month
    source, n = _from(con, q, "aor", "event_date", columns=columns)
    found = month_aors(con, f.table, source, q.where, n)
    if found is None:
        found = rows(con, f"SELECT strftime(m, '{fmt}') AS month, aors FROM (SELECT {month} AS m, list(DISTINCT aor "
                          f"ORDER BY aor) FILTER (WHERE aor IS NOT NULL) AS aors FROM {source} WHERE {q.where.sql()} "
                          "AND event_date IS NOT NULL GROUP BY 1) ORDER BY 1", q.where.params)
    most = max((len(r["aors"] or []) for r in found), default=0)
    runs: list[dict[str, Any]] = []
    previous = None
    for r in found:
        month, aors = r["month"], list(r["aors"] or [])
        if 2 * len(aors) < most:
            follows = previous is not None and month == _next_month(previous)
            if runs and follows and runs[-1]["aors"] == aors and runs[-1]["to"] == previous:
                runs[-1]["to"] = month
            else:
                runs.append({"from": month, "to": month, "aors": aors})
        previous = month
    return AnalysisResult(name="partial_months", parameters=f.as_params(), columns=["from", "to", "aors"],
                          figures=runs, definitions=definitions)


def month_aors(con: duckdb.DuckDBPyConnection, table: str, source: str, where: Any,
               count_sql: str) -> list[dict[str, Any]] | None:
    """partial_months' rows ({month: 'YYYY-MM', aors: the AORs with rows that month, sorted; None for none}, by
    month) from analysis.rollups' aor_months (aor_days' rows per release, AOR, ... and month, read once per
    warehouse version), where it answers: `source` is aor_days of `table`, `where` its counted rows under
    conditions the rollup holds and whole months; else None (the caller asks the SQL). The national trend's query
    over aor_days took ~15 ms of CPU a request at 8x."""
    import numpy as np  # after start-up (app.DEFERRED_IMPORTS), as analysis.rollups

    from icemonitor.analysis import rollups

    found = (rollups.split(where, rollups.FILTERED) if rollups.rolled(con, rollups.AOR_DAYS, table, source, count_sql)
             else None)
    if found is None:
        return None
    filters, d0, d1 = found
    if (d0 is not None and d0.day != 1) or (d1 is not None and (d1 + dt.timedelta(days=1)).day != 1):
        return None
    months = rollups.aor_months(con, table)
    keep = months.kept(filters, d0, None if d1 is None else d1 + dt.timedelta(days=1))  # whole months
    firsts = months.values["month"]
    keep &= np.array([m is not None for m in firsts], dtype=bool)[months.codes["month"]]  # rows with a date
    aors = months.values["aor"]
    pairs = np.unique(months.codes["month"][keep] * len(aors) + months.codes["aor"][keep]).tolist()
    out: dict[Any, list[str]] = {}
    for pair in pairs:
        seen = out.setdefault(firsts[pair // len(aors)], [])
        if aors[pair % len(aors)] is not None:
            seen.append(aors[pair % len(aors)])
    return [{"month": m.strftime("%Y-%m"), "aors": sorted(out[m]) or None} for m in sorted(out)]


def _next_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:7])
    return f"{y + 1}-01" if m == 12 else f"{y}-{m + 1:02d}"


def criminality_fields(con: duckdb.DuckDBPyConnection, f: Filters, columns: Columns | None = None) -> AnalysisResult:
    """Rows by release, criminality_field, fiscal year and criminality, where the release records criminality.

    Each group stays within one release, so all of that release's rows are used (not only `counted` ones): a
    release that records criminality may overlap a fuller release that has precedence for counts but does not.
    """
    definitions = {"criminality": CRIMINALITY,
                   "n": msg("Rows of the release (not only counted rows): each group stays within one release")}
    if not {"criminality_field", "criminality", "release_id"} <= reader(con, columns)(f.table):
        return AnalysisResult(name="criminality_fields", parameters=f.as_params(), definitions=definitions)
    q = compiled(con, f, columns, counted_only=False)
    kept = "criminality_field IS NOT NULL AND criminality_field <> 'not_recorded'"
    source, n = _from(con, q, "release_id, criminality_field, fy, criminality", kept, columns=columns)
    figures = rows(con, f"SELECT release_id, criminality_field, CAST(fy AS INTEGER) AS fy, criminality, {n} AS n "
                        f"FROM {source} WHERE {q.where.sql()} AND {kept} GROUP BY ALL "
                        "ORDER BY release_id, criminality_field, fy, criminality", q.where.params)
    return AnalysisResult(name="criminality_fields", parameters=f.as_params(), figures=figures,
                          columns=["release_id", "criminality_field", "fy", "criminality", "n"],
                          definitions=definitions, releases=[r["release_id"] for r in figures])


def last_event_date(con: duckdb.DuckDBPyConnection, f: Filters, columns: Columns | None = None) -> dt.date | None:
    """The last event date among the counted rows under the filters (of a table without filters, a fact of the
    warehouse like its table coverage: read once per warehouse version)."""
    if f == Filters(f.table):
        return last_counted_date(con, f.table)
    return _last_event_date(con, f, columns)


@per_warehouse(frozen=True)
def last_counted_date(con: duckdb.DuckDBPyConnection, table: str) -> dt.date | None:
    """The last event date among a table's counted rows."""
    return _last_event_date(con, Filters(table))


def _last_event_date(con: duckdb.DuckDBPyConnection, f: Filters, columns: Columns | None = None) -> dt.date | None:
    q = compiled(con, f, columns)
    source, _ = _from(con, q, "event_date", columns=columns)
    d = con.execute(f"SELECT max(event_date) FROM {source} WHERE {q.where.sql()}", q.where.params).fetchone()[0]
    return dt.date.fromisoformat(d) if isinstance(d, str) else d


def one_of_each_place(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """The first county (by code) with an AOR and a state, its AOR and its state: a place page of each kind (the
    web tier's warm-up asks them); () without the counties table."""
    if not {"county_fips", "aor", "state"} <= table_columns(con, "counties"):
        return ()
    found = con.execute("SELECT county_fips, aor, state FROM counties WHERE aor IS NOT NULL AND state IS NOT NULL "
                        "ORDER BY county_fips LIMIT 1").fetchone()
    return tuple(found) if found else ()


def county_aor_source(con: duckdb.DuckDBPyConnection, f: Filters,
                      columns: Columns | None = None) -> tuple[str, list[Any], str] | None:
    """SQL giving (county_fips, aor) for the filters' period, its parameters, and which map it is: the map valid on
    the period's last day, or on the view's last event date (county_aor_map)."""
    cols = reader(con, columns)
    day = None
    if {"county_fips", "aor", "valid_from", "valid_to"} <= cols("county_aor_periods"):
        day = f.date_to or last_event_date(con, f, columns)
    return county_aor_map(con, day, columns)


@per_warehouse(frozen=True)
def map_vintages(con: duckdb.DuckDBPyConnection, vintage: str, valid: str, day: dt.date) -> tuple[Any, ...]:
    """The vintages of county_aor_periods rows valid on `day` (reference data: read once per warehouse version and
    day)."""
    return tuple(r[0] for r in con.execute(f"SELECT DISTINCT {vintage} AS v FROM county_aor_periods WHERE {valid} "
                                           "ORDER BY 1", [day, day]).fetchall())


def county_aor_map(con: duckdb.DuckDBPyConnection, day: dt.date | None,
                   columns: Columns | None = None) -> tuple[str, list[Any], str] | None:
    """SQL giving (county_fips, aor), its parameters, and which map it is.

    Prefers county_aor_periods (AOR of each county by date; open ends are NULL): the rows valid on `day`; else the
    counties table's aor column; None without either.
    """
    cols = reader(con, columns)
    if day is not None and {"county_fips", "aor", "valid_from", "valid_to"} <= cols("county_aor_periods"):
        vintage = "vintage" if "vintage" in cols("county_aor_periods") else "'county_aor_periods'"
        valid = "coalesce(valid_from, DATE '0001-01-01') <= ? AND coalesce(valid_to, DATE '9999-12-31') >= ?"
        names = map_vintages(con, vintage, valid, day)
        if names:
            label = ", ".join(str(v) for v in names)
            return (f"SELECT county_fips, aor FROM county_aor_periods WHERE {valid}", [day, day],
                    f"county_aor_periods {label}, valid on {day}")
    if {"county_fips", "aor"} <= cols("counties"):
        return "SELECT county_fips, aor FROM counties", [], "counties.aor"
    return None


def county_aors(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[tuple[str, str]]:
    """(county_fips, aor) of each county with an AOR in a county-to-AOR map (county_aor_map's SQL and parameters),
    by county: the map valid on a day from county_aor_periods (aor_maps: one per stretch of days between the
    periods' bounds, whatever day is asked), the counties table's as read once."""
    if not params:
        return list(_county_aors(con, sql))
    bounds, maps = aor_maps(con)
    return list(maps[bisect_right(bounds, params[0])])


@per_warehouse(frozen=True)
def aor_maps(con: duckdb.DuckDBPyConnection) -> tuple[tuple[Any, ...], tuple[tuple[tuple[str, str], ...], ...]]:
    """county_aor_periods as the maps valid between its periods' bounds, read once per warehouse version: (bounds,
    maps), `bounds` the sorted days on which some period starts or the day after one ends, maps[i] the (county_fips,
    aor) of the periods valid from bounds[i - 1] up to (not including) bounds[i] (maps[0]: before bounds[0]), by
    county. Within such a stretch no period starts or ends, so the map of any day in it is the same (comparing
    every period with the day asked took ~4 ms a request at 8x)."""
    periods = aor_periods_by_county(con)
    bounds = sorted({start for _, _, start, _ in periods if start is not None}
                    | {end + dt.timedelta(days=1) for _, _, _, end in periods if end is not None})
    firsts = [None, *bounds]  # the first day of each stretch (None: before every bound)
    maps = tuple(tuple((fips, aor) for fips, aor, start, end in periods
                       if (start is None or (day is not None and start <= day)) and (end is None or day is None
                                                                                   or end >= day))
                 for day in firsts)
    return tuple(bounds), maps


@per_warehouse(frozen=True)
def _county_aors(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[tuple[str, str], ...]:
    return tuple(con.execute(f"SELECT county_fips, aor FROM ({sql}) WHERE aor IS NOT NULL ORDER BY county_fips"
                             ).fetchall())


@per_warehouse(frozen=True)
def aor_periods_by_county(con: duckdb.DuckDBPyConnection) -> tuple[tuple[str, str, Any, Any], ...]:
    """(county_fips, aor, valid_from, valid_to) of county_aor_periods' rows with an AOR, by county (a reference
    table)."""
    return tuple(con.execute("SELECT county_fips, aor, valid_from, valid_to FROM county_aor_periods "
                             "WHERE aor IS NOT NULL ORDER BY county_fips, aor, valid_from, valid_to").fetchall())


def counted_by_aor(con: duckdb.DuckDBPyConnection, f: Filters, columns: Columns | None = None,
                   by_aor: AnalysisResult | None = None) -> AnalysisResult:
    """counts(f, ["aor"]) without coverage: `by_aor` itself where it is that count already (the overview's ranked
    AORs: the same filters, and a count, not a question the records do not cover), else counted here."""
    if (by_aor is not None and by_aor.extra.get("total") is not None
            and by_aor.parameters == plain({**f.as_params(), "by": ["aor"]})):
        return by_aor
    return counts(con, f, ["aor"], columns, with_coverage=False)


def aor_map(con: duckdb.DuckDBPyConnection, f: Filters, columns: Columns | None = None,
            by_aor: AnalysisResult | None = None) -> AnalysisResult:
    """Each county with its AOR's counted total for the filters (the counts by AOR, every AOR's counties alike);
    extra `map` names the county-to-AOR map, None without one (then no figures). `by_aor`: see counted_by_aor."""
    fa = Filters(f.table, f.date_from, f.date_to, None, f.method_class)
    source = county_aor_source(con, fa, columns)
    definitions = {"n": msg("Counted events of the county's AOR (every county of an AOR shows the AOR's total)")}
    if source is None:
        return AnalysisResult(name="aor_map", parameters=fa.as_params(), definitions=definitions,
                              caveats=[msg("This warehouse has no county-to-AOR map (county_aor_periods or "
                                           "counties).")],
                              extra={"map": None})
    by_aor = counted_by_aor(con, fa, columns, by_aor)
    n = {r["aor"]: r["n"] for r in by_aor.figures if r["aor"] is not None}
    sql, params, label = source
    # JSON-ready as built: VARCHAR codes from the map, counts from by_aor's (plain) figures
    figures = [{"county_fips": fips, "aor": aor, "n": n.get(aor, 0)}
               for fips, aor in county_aors(con, sql, params)]
    return AnalysisResult.of_ready_rows(name="aor_map", parameters=fa.as_params(), columns=["county_fips", "aor", "n"],
                          figures=figures, definitions={**by_aor.definitions, **definitions},
                          releases=by_aor.releases, extra={"map": label})


@per_warehouse(frozen=True)
def population_years(con: duckdb.DuckDBPyConnection) -> tuple[int, ...]:
    """The years of non-citizen population estimates (a reference table: read once per warehouse version)."""
    if not has_table(con, "population"):
        return ()
    return tuple(r[0] for r in con.execute(
        "SELECT DISTINCT year FROM population WHERE noncitizen_pop > 0 ORDER BY 1").fetchall())


def population_year(con: duckdb.DuckDBPyConnection, end: dt.date | None) -> int | None:
    """The latest year of non-citizen population estimates not after `end` (the earliest if all are later)."""
    years = population_years(con)
    if not years:
        return None
    if end is None:
        return years[-1]
    return max([y for y in years if y <= end.year], default=years[0])


POPULATION = ("SELECT county_fips, sum(noncitizen_pop) AS noncitizen_pop FROM population WHERE year = ? "
              "GROUP BY county_fips")  # non-citizen residents per county in a year


@per_warehouse(frozen=True)
def county_population(con: duckdb.DuckDBPyConnection, year: int) -> MappingProxyType:
    """county_fips -> non-citizen residents in `year` (POPULATION; a reference table: read once per warehouse
    version and year)."""
    return MappingProxyType(dict(con.execute(POPULATION, [year]).fetchall()))


@per_warehouse(frozen=True)
def population_is_plain(con: duckdb.DuckDBPyConnection, year: int) -> bool:
    """Whether every county_population value of `year` is a finite float (JSON-ready as it is; checked once per
    warehouse version and year)."""
    return all(type(v) is float and v - v == 0.0 for v in county_population(con, year).values())  # nan, inf: nan


def sql_round(x: float) -> float:
    """DuckDB's round(x, 2) of a non-negative DOUBLE: half away from zero on x * 100 (Python's round differs at
    halves of the binary value)."""
    m = x * 100.0
    r = math.floor(m)
    return (r + 1.0 if m - r >= 0.5 else float(r)) / 100.0


def sql_rounds(x: Any) -> Any:
    """sql_round of each value of a numpy float array (the same operations, element by element)."""
    import numpy as np

    m = x * 100.0
    r = np.floor(m)
    return np.where(m - r >= 0.5, r + 1.0, r) / 100.0


def rate_rows(by_county: dict[str, int], pops: Any) -> list[dict[str, Any]]:
    """{county_fips, n, noncitizen_pop, rate} of each county of `by_county` (county -> events) with non-citizen
    residents in `pops` (county -> residents), the rate per 10,000 residents rounded as DuckDB's round(x, 2), by
    rate (highest first), then county: the SQL's figures, worked out over arrays (a national map has some 3,000
    counties: ~4 ms of CPU a request as a loop)."""
    import numpy as np  # after start-up (app.DEFERRED_IMPORTS)

    fips = [k for k in by_county if (pops.get(k) or 0) > 0]
    if not fips:
        return []
    people = [pops[k] for k in fips]
    events = [by_county[k] for k in fips]
    rates = sql_rounds(np.array(events, dtype=np.float64) * 10000 / np.array(people, dtype=np.float64))
    order = np.lexsort((np.array(fips), -rates)).tolist()  # the last key first: rate descending, then county
    rates = rates.tolist()
    return [{"county_fips": fips[i], "n": events[i], "noncitizen_pop": people[i], "rate": rates[i]} for i in order]


def county_rates(con: duckdb.DuckDBPyConnection, f: Filters, columns: Columns | None = None,
                 by_aor: AnalysisResult | None = None) -> AnalysisResult:
    """Counted events per 10,000 non-citizen residents by county, events placed in counties as everywhere
    (query.selection, placement 'event': places of the arrest itself, never the county of the arresting office).

    extra: `available` (False without landmark_resolution, population or a table with landmarks; `missing` names
    the tables), the population `year`, and how many events are `resolved` to a county of the `total` (the
    counted events under the filters: the sum over AORs, `by_aor` where given, see counted_by_aor)."""
    cols = reader(con, columns)
    missing = [t for t, need in (("landmark_resolution", {"aor", "landmark", "county_fips"}),
                                 ("population", {"county_fips", "year", "noncitizen_pop"}))
               if not need <= cols(t)]
    definitions = {"rate": msg("Counted events placed in the county per 10,000 non-citizen residents (population "
                               "year nearest before the period's end)")}
    unavailable = AnalysisResult(name="county_rates", parameters=f.as_params(), definitions=definitions,
                                 extra={"available": False, "missing": missing})
    if missing or not {"landmark", "aor"} <= cols(f.table):
        return unavailable
    q = compiled(con, f, columns)
    year = population_year(con, f.date_to or last_event_date(con, f, columns))
    if year is None:
        return unavailable
    source, n = _from(con, q, "res_county_fips", columns=columns)
    # the counts per county from analysis.rollups' county_months where it answers (the rates worked out here as
    # the SQL below does), else the SQL from the source
    from icemonitor.analysis import rollups  # numpy: after start-up (app.DEFERRED_IMPORTS)
    by_county = rollups.county_counts(con, f.table, source, q.where, n)
    ready = False
    if by_county is not None:
        figures = rate_rows(by_county, county_population(con, year))
        # JSON-ready as built (county codes, int counts, finite float rates) where the populations are finite floats
        ready = population_is_plain(con, year)
    else:
        figures = rows(
            con,
            f"WITH a AS (SELECT res_county_fips AS county_fips, {n} AS n FROM {source} "
            f"WHERE {q.where.sql()} AND res_county_fips IS NOT NULL GROUP BY 1) "
            "SELECT a.county_fips, a.n, p.noncitizen_pop, round(a.n * 10000.0 / p.noncitizen_pop, 2) AS rate "
            f"FROM a JOIN ({POPULATION}) p USING (county_fips) WHERE p.noncitizen_pop > 0 "
            "ORDER BY rate DESC, county_fips",  # ties in a fixed order
            [*q.where.params, year])
    total = counted_by_aor(con, f, columns, by_aor)
    return (AnalysisResult.of_ready_rows if ready else AnalysisResult)(
        name="county_rates", parameters=f.as_params(), columns=["county_fips", "n", "noncitizen_pop", "rate"],
        figures=figures, definitions={**definitions, "n": counted(f.table)}, releases=total.releases,
        extra={"available": True, "missing": [], "year": year, "resolved": sum(r["n"] for r in figures),
               "total": total.extra["total"], "event_level": "kind" in cols("landmark_resolution")})
