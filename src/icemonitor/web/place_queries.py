"""Queries behind the place pages for a state or a county (and the policy timeline and peers for every place).

Events are placed as the CLI's `--place` places them: `analysis.common.event_source` joins the places stage's
landmark_resolution, and `places.place_filter.Place.sql_filter` matches aor / resolved state / resolved county.
Every count uses `counted` rows only. SQL is parameterised; identifiers come from fixed strings.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from icemonitor.web import queries
from icemonitor.web.db import Warehouse

POLICY_COLUMNS = ("policy_id", "jurisdiction", "jurisdiction_level", "state", "county_fips", "place_name", "kind",
                  "start", "end", "end_known", "citation", "source", "source_row", "evidence", "verified")


def source(wh: Warehouse, table: str = "arrests") -> str:
    """FROM clause with res_state / res_county_fips (analysis.common.event_source)."""
    from icemonitor.analysis.common import event_source

    return event_source(wh.cursor(), table)


def _within(parts: list[str], params: list, d0: dt.date | None, d1: dt.date | None) -> tuple[str, list]:
    """`parts` ANDed with the period's bounds (either may be None)."""
    parts, params = list(parts), list(params)
    if d0:
        parts.append("event_date >= ?")
        params.append(d0)
    if d1:
        parts.append("event_date <= ?")
        params.append(d1)
    return " AND ".join(f"({p})" for p in parts), params


def place_where(place: Any, d0: dt.date | None, d1: dt.date | None, counted: bool = True) -> tuple[str, list]:
    sql, params = place.sql_filter(aor_col="aor", state_col="res_state", county_col="res_county_fips")
    return _within((["counted"] if counted else []) + [sql], params, d0, d1)


def trend(wh: Warehouse, place: Any, d0, d1) -> dict[str, Any]:
    """Counted arrests per month and method class (rows like queries.summary's: month, method_class, n)."""
    w, p = place_where(place, d0, d1)
    src = source(wh)
    rows = wh.query(f"SELECT strftime(date_trunc('month', event_date), '%Y-%m') AS month, method_class, count(*) AS n "
                    f"FROM {src} WHERE {w} GROUP BY ALL ORDER BY 1, 2 NULLS LAST", p)
    return {"rows": rows, "total": sum(r["n"] for r in rows), "releases": releases(wh, place, d0, d1)}


def method_mix(wh: Warehouse, place: Any, d0, d1) -> dict[str, Any]:
    w, p = place_where(place, d0, d1)
    rows = wh.query(f"SELECT CAST(fy AS INTEGER) AS fy, method_class, count(*) AS n FROM {source(wh)} WHERE {w} "
                    "GROUP BY ALL ORDER BY 1, 2 NULLS LAST", p)
    return {"rows": rows, "releases": releases(wh, place, d0, d1)}


def releases(wh: Warehouse, place: Any, d0, d1) -> list[str]:
    w, p = place_where(place, d0, d1)
    rows = wh.query(f"SELECT DISTINCT release_id FROM {source(wh)} WHERE {w} ORDER BY 1", p)
    return [r["release_id"] for r in rows if r["release_id"]]


def criminality(wh: Warehouse, place: Any, d0, d1) -> list[dict[str, Any]]:
    """By release, criminality field, fiscal year and class, where the release records it (within one release, so
    all its rows are used, as on the AOR page)."""
    w, p = place_where(place, d0, d1, counted=False)
    return wh.query(
        f"SELECT release_id, criminality_field, CAST(fy AS INTEGER) AS fy, criminality, count(*) AS n "
        f"FROM {source(wh)} WHERE {w} AND criminality_field IS NOT NULL AND criminality_field <> 'not_recorded' "
        "GROUP BY ALL ORDER BY release_id, criminality_field, fy, criminality", p)


def resolution(wh: Warehouse, place: Any, d0, d1) -> dict[str, Any]:
    """For a county: counted arrests resolved to it, and the counted arrests of its AOR(s) that no landmark
    resolution places in any county (they may belong to this county or another)."""
    src = source(wh)
    w, p = place_where(place, d0, d1)
    placed = wh.query(f"SELECT count(*) AS n FROM {src} WHERE {w}", p)[0]["n"]
    aors = list(place.aors)
    if not aors:
        return {"resolved": placed, "aor_total": 0, "aor_unresolved": 0, "aors": []}
    q, params = _within(["counted", f"aor IN ({', '.join('?' for _ in aors)})"], aors, d0, d1)
    row = wh.query(f"SELECT count(*) AS total, count(*) FILTER (WHERE res_county_fips IS NULL) AS unresolved "
                   f"FROM {src} WHERE {q}", params)[0]
    return {"resolved": placed, "aor_total": row["total"], "aor_unresolved": row["unresolved"], "aors": aors}


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
    src = source(wh)
    end = d1 or queries.last_event_date(wh, queries.Filters("arrests", d0, d1))
    year = population_year(wh, end)
    if year is None:
        return None
    dq, dp = ["counted"], []
    if d0:
        dq.append("event_date >= ?")
        dp.append(d0)
    if d1:
        dq.append("event_date <= ?")
        dp.append(d1)
    dwhere = " AND ".join(dq)
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
