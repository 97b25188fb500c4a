"""The build's month tables (warehouse/aggregates.py: event_months, state_months, aor_months, the day tables summed
per calendar month) and what reads them: query.Selection routes a question that reads event_date only by month to
them, its period's partial first and last months to the day tables, with the figures of the event rows (random
selections on the real data); the place profile's peers (analysis.rollups.peer_months) and policies (read once per
warehouse version) equal the SQL they replace, run here on the event rows. (tests/test_refresh_recount.py: a
refresh's recount reaches the month tables too.)"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icemonitor.query.filters import GROUP_BY
from icemonitor.query.selection import Selection, rollup_source, whole_months

DAYS_KEYS = {
    "event_months": "table_name, fy, release_id, counted, aor, state, res_state, res_county_fips, office_county_fips, "
                    "res_by, res_county_by, method_class, criminality_field, criminality",
    "state_months": "table_name, fy, release_id, counted, aor, state, res_state, res_by, method_class, "
                    "criminality_field, criminality",
    "aor_months": "table_name, fy, release_id, counted, aor, state, method_class, criminality_field, criminality",
}
TABLES = ("arrests", "encounters", "removals")
PLACES = (None, "CA", "TX", "06037", "48201", "LOS", "SEA", "NYC")
DATES = st.dates(min_value=dt.date(2012, 1, 1), max_value=dt.date(2026, 3, 31))
BY = ("fy", "month", "year", "method_class", "aor", "state", "criminality", "release_id")


def _rows(con, sql: str, params: list | None = None) -> list[tuple]:
    return sorted(con.execute(sql, params or []).fetchall(), key=repr)


@pytest.mark.parametrize("months", sorted(DAYS_KEYS))
def test_each_month_table_is_event_days_summed_per_month(warehouse_con, months):
    """The same counts as an independent GROUP BY of event_days per month, in far fewer rows."""
    con = warehouse_con
    keys = DAYS_KEYS[months]
    want = _rows(con, f"SELECT {keys}, date_trunc('month', event_date)::DATE, sum(n)::BIGINT FROM event_days "
                      "GROUP BY ALL")
    assert want and _rows(con, f"SELECT {keys}, event_date, n FROM {months}") == want
    days = months.replace("_months", "_days")
    n = lambda t: con.execute(f"SELECT count(*) FROM {t} WHERE table_name = 'arrests'").fetchone()[0]  # noqa: E731
    assert n(months) * 2 < n(days)
    assert con.execute(f"SELECT count(*) FROM {months} WHERE day(event_date) <> 1").fetchone()[0] == 0


def test_a_question_by_month_reads_the_month_tables(warehouse_con):
    con = warehouse_con
    period = (dt.date(2017, 1, 15), dt.date(2018, 3, 10))
    for sql, table in ((("counted AND res_state = ?", "fy"), "state_months"),
                       (("counted AND aor = ?", GROUP_BY["month"][0]), "aor_months"),
                       (("counted AND res_county_fips = ?", "CAST(year(event_date) AS INTEGER)"), "event_months")):
        source = rollup_source(con, "arrests", *sql, months=period)[0]
        assert table in source and table.replace("_months", "_days") in source  # the edge months' days
        assert table not in rollup_source(con, "arrests", *sql)[0]  # not asked by month: the day tables
        whole = rollup_source(con, "arrests", *sql, months=(dt.date(2017, 1, 1), None))[0]
        assert table in whole and "_days" not in whole  # whole months only
    for by in ("day", "week"):  # event_date by day: never the month tables
        assert "_months" not in rollup_source(con, "arrests", "counted", GROUP_BY[by][0], months=period)[0]
    assert "_months" not in rollup_source(con, "arrests", "counted", "max(event_date)", months=period)[0]
    one = rollup_source(con, "arrests", "counted", "fy", months=(dt.date(2017, 3, 2), dt.date(2017, 3, 30)))[0]
    assert "_months" not in one  # no whole month


def test_whole_months():
    d = dt.date
    assert whole_months(None, None) == (None, None)
    assert whole_months(d(2017, 1, 1), d(2017, 12, 31)) == (d(2017, 1, 1), d(2018, 1, 1))
    assert whole_months(d(2017, 1, 2), d(2017, 12, 30)) == (d(2017, 2, 1), d(2017, 12, 1))
    assert whole_months(d(2017, 12, 5), None) == (d(2018, 1, 1), None)
    assert whole_months(None, d(2016, 2, 29)) == (None, d(2016, 3, 1))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(TABLES), place=st.sampled_from(PLACES), d0=st.one_of(st.none(), DATES),
       days=st.one_of(st.none(), st.integers(0, 2000)), by=st.lists(st.sampled_from(BY), max_size=2, unique=True),
       method=st.sampled_from([None, "at_large", "custodial,other"]), counted=st.booleans())
def test_month_tables_count_as_the_event_rows(warehouse_con, table, place, d0, days, by, method, counted):
    """Random selections (periods starting and ending mid-month too) grouped by month-level keys: the same rows
    and counts from the month tables (and the edge months' days) as from the event rows."""
    con = warehouse_con
    d1 = (d0 or dt.date(2015, 6, 17)) + dt.timedelta(days=days) if days is not None else None
    q = Selection.of(table, d0, d1, place, {"method_class": method} if method else None,
                     counted_only=counted).compile(con)
    exprs = [f"{GROUP_BY[k][0]} AS k{i}" for i, k in enumerate(by)]
    rolled = q.rolled_up(con, *exprs, "release_id", months=True)
    lo, hi = whole_months(d0, d1)
    if lo is None or hi is None or lo < hi:
        assert "_months" in rolled.source
    sql = "SELECT {keys}{n}, list_sort(list(DISTINCT release_id)) FROM {src} WHERE {w} {group}"
    keys = "".join(f"{e}, " for e in exprs)
    group = "GROUP BY ALL" if by else ""
    w = q.where.sql()
    months = _rows(con, sql.format(keys=keys, n=rolled.count_sql, src=rolled.source, w=w, group=group), q.where.params)
    direct = _rows(con, sql.format(keys=keys, n="count(*)", src=q.source, w=w, group=group), q.where.params)
    assert months == direct


# the peers' SQL before they were counted from analysis.rollups (session 8), here on the event rows
PEERS_SQL = {
    "aor": ("WITH e AS (SELECT aor AS peer, count(*) AS n, list(DISTINCT release_id) AS rel FROM {src} "
            "WHERE {w} AND aor IS NOT NULL GROUP BY 1), c AS ({map}), "
            "p AS (SELECT c.aor AS peer, sum(p.noncitizen_pop) AS noncitizen_pop FROM c JOIN "
            "(SELECT county_fips, sum(noncitizen_pop) AS noncitizen_pop FROM population WHERE year = ? GROUP BY 1) p "
            "USING (county_fips) GROUP BY 1) "
            "SELECT e.peer, NULL AS name, e.n, p.noncitizen_pop, round(e.n * 10000.0 / p.noncitizen_pop, 2) AS rate, "
            "e.rel FROM e JOIN p USING (peer) WHERE p.noncitizen_pop > 0 ORDER BY rate DESC, peer"),
    "state": ("WITH w AS ({whole}), x AS (SELECT aor, res_state, release_id, count(*) AS n FROM {src} "
              "WHERE {w} GROUP BY ALL), e AS (SELECT coalesce(w.state, x.res_state) AS peer, "
              "sum(x.n)::BIGINT AS n, list(DISTINCT x.release_id) AS rel FROM x LEFT JOIN w ON x.aor = w.aor "
              "GROUP BY 1), p AS (SELECT state AS peer, sum(noncitizen_pop) AS noncitizen_pop FROM population "
              "WHERE year = ? GROUP BY 1) "
              "SELECT e.peer, NULL AS name, e.n, p.noncitizen_pop, round(e.n * 10000.0 / p.noncitizen_pop, 2) AS rate, "
              "e.rel FROM e JOIN p USING (peer) WHERE p.noncitizen_pop > 0 ORDER BY rate DESC, peer"),
    "county": ("WITH p AS (SELECT county_fips AS peer, any_value(county_name) AS name, "
               "sum(noncitizen_pop) AS noncitizen_pop FROM population WHERE year = ? AND state = ? GROUP BY 1), "
               "e AS (SELECT res_county_fips AS peer, count(*) AS n, list(DISTINCT release_id) AS rel FROM {src} "
               "WHERE {w} AND res_county_fips IN (SELECT peer FROM p) GROUP BY 1) "
               "SELECT p.peer, p.name, coalesce(e.n, 0) AS n, p.noncitizen_pop, "
               "round(coalesce(e.n, 0) * 10000.0 / p.noncitizen_pop, 2) AS rate, e.rel "
               "FROM p LEFT JOIN e USING (peer) WHERE p.noncitizen_pop > 0 ORDER BY rate DESC, peer"),
}


@pytest.mark.parametrize("place, d0, d1", [
    ("CA", None, None), ("TX", "2017-01-01", "2017-12-31"), ("06037", None, None),
    ("48201", "2016-10-15", "2019-09-12"), ("LOS", None, None), ("SEA", "2017-03-01", "2017-03-31"),
    ("NYC", "2018-02-10", None), ("17031", None, "2018-06-20"), ("IL", "2019-01-01", "2019-01-20")])
def test_peers_equal_their_sql_on_the_event_rows(warehouse_con, place, d0, d1):
    """Peers counted from the month rollups (edge months from the day tables) equal the SQL they replace, run on
    the event rows: every peer, count, population, rate, rank and release."""
    from conftest import shared_ref

    from icemonitor.analysis import place_profile as pp
    from icemonitor.analysis.overview import county_aor_map, last_counted_date, population_year

    con = warehouse_con
    d0, d1 = (dt.date.fromisoformat(d) if d else None for d in (d0, d1))
    got = pp.peers(con, place, d0, d1, ref=shared_ref)
    every = Selection.of("arrests", d0, d1).compile(con)
    q = Selection.of("arrests", d0, d1, place).compile(con, shared_ref)
    year = population_year(con, d1 or last_counted_date(con, "arrests"))
    level = q.place.level if q.place.level in ("aor", "state") else "county"
    w, params = every.where.sql(), every.where.params
    if level == "aor":
        map_sql, map_params, _ = county_aor_map(con, d1 or last_counted_date(con, "arrests"))
        sql, args = PEERS_SQL["aor"].format(src=every.source, w=w, map=map_sql), [*params, *map_params, year]
    elif level == "state":
        pairs = pp._whole_aor_pairs(con)
        whole = "SELECT unnest(?::VARCHAR[]) AS aor, unnest(?::VARCHAR[]) AS state"
        sql = PEERS_SQL["state"].format(src=every.source, w=w, whole=whole)
        args = [[a for a, _ in pairs], [s for _, s in pairs], *params, year]
    else:
        sql, args = PEERS_SQL["county"].format(src=every.source, w=w), [year, q.place.states[0], *params]
    cur = con.execute(sql, args)
    names = [c[0] for c in cur.description]
    want = [dict(zip(names, r)) for r in cur.fetchall()]
    assert want and got.extra["population_year"] == year
    assert got.releases == sorted({x for r in want for x in (r.pop("rel") or [])})
    for i, r in enumerate(want):
        r.update(rank=i + 1, current=r["peer"] == q.place.code)
    assert got.figures == want
    assert sum(r["current"] for r in want) == 1


@pytest.mark.parametrize("place", ["CA", "06037", "LOS", "17031", "NYC", "TX", "WA"])
def test_policies_equal_their_sql(warehouse_con, place):
    """A place's policy events and local counts, filtered from the rows read once, equal the SQL they replace."""
    from conftest import shared_ref

    from icemonitor.analysis import place_profile as pp
    from icemonitor.analysis.result import plain_rows
    from icemonitor.query.selection import parse_place
    from icemonitor.query.sql import in_list

    con = warehouse_con
    got = pp.policies(con, place, shared_ref)
    p = parse_place(con, place, shared_ref)
    conds, params = [], []
    if p.states:
        sql, args = in_list("state", list(p.states))
        conds.append(f"(jurisdiction_level = 'state' AND {sql})")
        params += args
    if p.level == "county":
        sql, args = in_list("county_fips", list(p.county_fips))
        conds.append(f"(jurisdiction_level <> 'state' AND {sql})")
        params += args
    select = ", ".join(f'"{c}"' for c in pp.POLICY_COLUMNS)
    cur = con.execute(f"SELECT {select} FROM policies WHERE {' OR '.join(conds) or 'FALSE'} "
                      "ORDER BY start NULLS LAST, policy_id", params)
    want = plain_rows([dict(zip(pp.POLICY_COLUMNS, r)) for r in cur.fetchall()])  # dates as AnalysisResult has them
    assert got.figures == want
    local = []
    if p.level != "county" and p.county_fips:
        sql, args = in_list("county_fips", list(p.county_fips))
        local = [dict(zip(("kind", "n", "first", "last"), r)) for r in con.execute(
            "SELECT kind, count(*) AS n, min(start) AS first, max(start) AS last FROM policies "
            f"WHERE jurisdiction_level <> 'state' AND {sql} GROUP BY kind ORDER BY kind", args).fetchall()]
    assert got.extra["local_counts"] == plain_rows(local)
    if place in ("CA", "06037"):  # not nothing against nothing
        assert want and (local or place == "06037")
