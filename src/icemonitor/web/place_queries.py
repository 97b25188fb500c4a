"""Queries behind the place pages for a state or a county (and the policy timeline and peers for every place).

Events are selected as the CLI's `--place` selects them: one query.Selection (counted rows, event placements, the
place's filter on aor / placed state / placed county) compiled for the warehouse. SQL is parameterised;
identifiers come from fixed strings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from icemonitor.query.selection import Compiled, Selection, event_source
from icemonitor.query.sql import in_list
from icemonitor.web import queries
from icemonitor.web.db import Warehouse

POLICY_COLUMNS = ("policy_id", "jurisdiction", "jurisdiction_level", "state", "county_fips", "place_name", "kind",
                  "start", "end", "end_known", "citation", "source", "source_row", "evidence", "verified")


def source(wh: Warehouse, table: str = "arrests") -> str:
    """FROM clause with res_state / res_county_fips, events placed as everywhere (query.selection.event_source)."""
    return event_source(wh.cursor(), table, columns=wh.columns)


def selected(wh: Warehouse, place: Any, d0: dt.date | None, d1: dt.date | None, counted: bool = True) -> Compiled:
    """The place's arrests in the period as the CLI's `--place` selects them (query.Selection: counted rows, event
    placements); counted=False keeps every release's rows, for figures within one release."""
    return Selection.of("arrests", d0, d1, place, counted_only=counted).compile(wh.cursor(), columns=wh.columns)


def trend(wh: Warehouse, place: Any, d0, d1) -> dict[str, Any]:
    """Counted arrests per month and method class (rows like queries.summary's: month, method_class, n)."""
    q = selected(wh, place, d0, d1)
    rows = wh.query(f"SELECT strftime(date_trunc('month', event_date), '%Y-%m') AS month, method_class, count(*) AS n "
                    f"FROM {q.source} WHERE {q.where.sql()} GROUP BY ALL ORDER BY 1, 2 NULLS LAST", q.where.params)
    return {"rows": rows, "total": sum(r["n"] for r in rows), "releases": releases(wh, place, d0, d1)}


def method_mix(wh: Warehouse, place: Any, d0, d1) -> dict[str, Any]:
    q = selected(wh, place, d0, d1)
    rows = wh.query(f"SELECT CAST(fy AS INTEGER) AS fy, method_class, count(*) AS n FROM {q.source} "
                    f"WHERE {q.where.sql()} GROUP BY ALL ORDER BY 1, 2 NULLS LAST", q.where.params)
    return {"rows": rows, "releases": releases(wh, place, d0, d1)}


def releases(wh: Warehouse, place: Any, d0, d1) -> list[str]:
    q = selected(wh, place, d0, d1)
    rows = wh.query(f"SELECT DISTINCT release_id FROM {q.source} WHERE {q.where.sql()} ORDER BY 1", q.where.params)
    return [r["release_id"] for r in rows if r["release_id"]]


def criminality(wh: Warehouse, place: Any, d0, d1) -> list[dict[str, Any]]:
    """By release, criminality field, fiscal year and class, where the release records it (within one release, so
    all its rows are used, as on the AOR page)."""
    q = selected(wh, place, d0, d1, counted=False)
    return wh.query(
        f"SELECT release_id, criminality_field, CAST(fy AS INTEGER) AS fy, criminality, count(*) AS n "
        f"FROM {q.source} WHERE {q.where.sql()} AND criminality_field IS NOT NULL "
        "AND criminality_field <> 'not_recorded' GROUP BY ALL ORDER BY release_id, criminality_field, fy, criminality",
        q.where.params)


def resolution(wh: Warehouse, place: Any, d0, d1) -> dict[str, Any]:
    """For a county: counted arrests resolved to it, and the counted arrests of its AOR(s) that no landmark
    resolution places in any county (they may belong to this county or another)."""
    q = selected(wh, place, d0, d1)
    placed = wh.query(f"SELECT count(*) AS n FROM {q.source} WHERE {q.where.sql()}", q.where.params)[0]["n"]
    aors = list(place.aors)
    if not aors:
        return {"resolved": placed, "aor_total": 0, "aor_unresolved": 0, "aors": []}
    w = q.base.copy().add(*_in("aor", aors))
    row = wh.query(f"SELECT count(*) AS total, count(*) FILTER (WHERE res_county_fips IS NULL) AS unresolved "
                   f"FROM {q.source} WHERE {w.sql()}", w.params)[0]
    return {"resolved": placed, "aor_total": row["total"], "aor_unresolved": row["unresolved"], "aors": aors}


def _in(col: str, values: list[Any]) -> tuple[Any, ...]:
    sql, params = in_list(col, values)
    return (sql, *params)


def policies(wh: Warehouse, place: Any) -> list[dict[str, Any]]:
    """Policy events (warehouse `policies`) for the place: laws and lists of its state(s), and for a county the
    county's and its cities' own agreements and listings. For a state or AOR, local rows are counted separately
    (local_policy_counts) rather than listed."""
    if "policies" not in wh.tables():
        return []
    cols = [c for c in POLICY_COLUMNS if c in wh.columns("policies")]
    select = ", ".join(f'"{c}"' for c in cols)
    states = list(place.states)
    conds, params = [], []
    if states:
        conds.append(f"(jurisdiction_level = 'state' AND state IN ({', '.join('?' for _ in states)}))")
        params.extend(states)
    if place.level == "county":
        counties = list(place.county_fips)
        conds.append(f"(jurisdiction_level <> 'state' AND county_fips IN ({', '.join('?' for _ in counties)}))")
        params.extend(counties)
    if not conds:
        return []
    return wh.query(f"SELECT {select} FROM policies WHERE {' OR '.join(conds)} ORDER BY start NULLS LAST, policy_id",
                    params)


def local_policy_counts(wh: Warehouse, place: Any) -> list[dict[str, Any]]:
    """For a state or AOR: county and city policy events in its counties, by kind (first and last start)."""
    if "policies" not in wh.tables() or place.level == "county" or not place.county_fips:
        return []
    fips = list(place.county_fips)
    return wh.query(
        "SELECT kind, count(*) AS n, min(start) AS first, max(start) AS last FROM policies "
        f"WHERE jurisdiction_level <> 'state' AND county_fips IN ({', '.join('?' for _ in fips)}) "
        "GROUP BY kind ORDER BY kind", fips)


def population_year(wh: Warehouse, end: dt.date | None) -> int | None:
    years = [r["year"] for r in wh.query("SELECT DISTINCT year FROM population WHERE noncitizen_pop > 0 ORDER BY 1")]
    if not years:
        return None
    if end is None:
        return years[-1]
    return max([y for y in years if y <= end.year], default=years[0])


def peers(wh: Warehouse, place: Any, d0, d1) -> dict[str, Any] | None:
    """Counted arrests per 10,000 non-citizen residents for the place and its peers: every AOR for an AOR, every
    state for a state, the counties of the same state for a county. None without the population table."""
    if not wh.has("population", "county_fips", "year", "noncitizen_pop") or place.level == "group":
        return None
    end = d1 or queries.last_event_date(wh, queries.Filters("arrests", d0, d1))
    year = population_year(wh, end)
    if year is None:
        return None
    q = selected(wh, None, d0, d1)  # every place's counted arrests in the period, placed alike
    src, dwhere, dp = q.source, q.base.sql(), q.base.params
    if place.level == "aor":
        amap = queries.county_aor_source(wh, queries.Filters("arrests", d0, d1))
        if amap is None:
            return None
        map_sql, map_params, _ = amap
        sql = (f"WITH e AS (SELECT aor AS peer, count(*) AS n FROM {src} WHERE {dwhere} AND aor IS NOT NULL GROUP BY 1), "
               f"c AS ({map_sql}), "
               "p AS (SELECT c.aor AS peer, sum(p.noncitizen_pop) AS noncitizen_pop FROM c JOIN "
               "(SELECT county_fips, sum(noncitizen_pop) AS noncitizen_pop FROM population WHERE year = ? GROUP BY 1) p "
               "USING (county_fips) GROUP BY 1) "
               "SELECT e.peer, e.n, p.noncitizen_pop, round(e.n * 10000.0 / p.noncitizen_pop, 2) AS rate "
               "FROM e JOIN p USING (peer) WHERE p.noncitizen_pop > 0 ORDER BY rate DESC")
        params = [*dp, *map_params, year]
    elif place.level == "state":
        sql = (f"WITH e AS (SELECT res_state AS peer, count(*) AS n FROM {src} WHERE {dwhere} AND res_state IS NOT NULL "
               "GROUP BY 1), p AS (SELECT state AS peer, sum(noncitizen_pop) AS noncitizen_pop FROM population "
               "WHERE year = ? GROUP BY 1) "
               "SELECT e.peer, e.n, p.noncitizen_pop, round(e.n * 10000.0 / p.noncitizen_pop, 2) AS rate "
               "FROM e JOIN p USING (peer) WHERE p.noncitizen_pop > 0 ORDER BY rate DESC")
        params = [*dp, year]
    else:
        state = place.states[0] if place.states else None
        sql = (f"WITH e AS (SELECT res_county_fips AS peer, count(*) AS n FROM {src} WHERE {dwhere} "
               "AND res_county_fips IS NOT NULL GROUP BY 1), "
               "p AS (SELECT county_fips AS peer, any_value(county_name) AS name, sum(noncitizen_pop) AS noncitizen_pop "
               "FROM population WHERE year = ? AND state = ? GROUP BY 1) "
               "SELECT p.peer, p.name, coalesce(e.n, 0) AS n, p.noncitizen_pop, "
               "round(coalesce(e.n, 0) * 10000.0 / p.noncitizen_pop, 2) AS rate "
               "FROM p LEFT JOIN e USING (peer) WHERE p.noncitizen_pop > 0 ORDER BY rate DESC")
        params = [*dp, year, state]
    rows = [dict(r) for r in wh.query(sql, params)]  # copies: the query cache keeps its own
    for i, r in enumerate(rows):
        r["rank"] = i + 1
        r["current"] = r["peer"] == place.code
    return {"rows": rows, "year": year}
