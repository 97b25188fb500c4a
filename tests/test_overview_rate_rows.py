"""analysis.overview.rate_rows (the county rates worked out over arrays) against the SQL it replaces, run by DuckDB
on the same counts and populations; charts.quantile_bands against a plain recount of its classes."""

from __future__ import annotations

import random
from bisect import bisect_right

import duckdb

from icemonitor.analysis import overview
from icemonitor.web import charts


def sql_rates(by_county: dict[str, int], pops: dict[str, float | int]) -> list[dict]:
    con = duckdb.connect()
    con.execute("CREATE TABLE a AS SELECT unnest(?::VARCHAR[]) AS county_fips, unnest(?::BIGINT[]) AS n",
                [list(by_county), list(by_county.values())])
    con.execute("CREATE TABLE p AS SELECT unnest(?::VARCHAR[]) AS county_fips, unnest(?::DOUBLE[]) AS noncitizen_pop",
                [list(pops), [float(v) for v in pops.values()]])
    found = con.execute("SELECT a.county_fips, a.n, round(a.n * 10000.0 / p.noncitizen_pop, 2) AS rate FROM a "
                        "JOIN p USING (county_fips) WHERE p.noncitizen_pop > 0 ORDER BY rate DESC, county_fips"
                        ).fetchall()
    return [{"county_fips": f, "n": n, "noncitizen_pop": pops[f], "rate": r} for f, n, r in found]


def test_rate_rows_equal_the_sql():
    rng = random.Random(9)
    fips = [f"{rng.randint(1, 56):02d}{rng.randint(1, 999):03d}" for _ in range(4000)]
    by_county = {f: rng.choice([1, 2, 5, rng.randint(1, 10**6)]) for f in fips}
    pops = {f: rng.choice([0, 0.0, 80000.0, 16000.0, rng.random() * 1e5, rng.randint(1, 10**5), 37])
            for f in fips[: len(fips) * 3 // 4] + ["99999"]}  # some counties without residents, one without events
    got = overview.rate_rows(by_county, pops)
    assert got == sql_rates(by_county, pops)
    assert any(a["rate"] == b["rate"] for a, b in zip(got, got[1:]))  # ties ordered by county
    assert [type(r["noncitizen_pop"]) for r in got] == [type(pops[r["county_fips"]]) for r in got]
    assert overview.rate_rows({}, pops) == [] and overview.rate_rows(by_county, {}) == []


def test_quantile_bands_by_the_cuts():
    rng = random.Random(3)
    rows = [{"rate": rng.choice([None, 0.0, 1.5, rng.random() * 100])} for _ in range(3000)]
    labels = charts.quantile_bands(rows, "rate")
    values = sorted(r["rate"] for r in rows if r["rate"] is not None)
    cuts = sorted({values[(i * len(values)) // 5] for i in range(1, 5)})
    assert len(labels) == len(cuts) + 1
    for r in rows:
        if r["rate"] is None:
            assert "band" not in r
        else:
            assert r["band"] == labels[min(bisect_right(cuts, r["rate"]), len(labels) - 1)]


def test_county_aors_on_a_day_equal_the_periods_valid_that_day():
    """overview.county_aors through aor_maps (a map per stretch between the periods' bounds) against each period
    compared with the day, for every day around every bound, with open starts and ends and overlapping periods."""
    import datetime as dt

    D = dt.date
    periods = [("48061", "SNA", None, D(2021, 9, 30)), ("48061", "HLG", D(2021, 10, 1), None),
               ("06037", "LOS", None, None), ("53033", "SEA", D(2015, 1, 1), D(2015, 1, 1)),
               ("53033", "SEA", D(2016, 3, 1), D(2018, 12, 31)), ("53033", "POO", D(2017, 1, 1), None),
               ("99999", None, None, None), ("01001", "NOL", D(2019, 5, 5), D(2020, 2, 29))]
    con = duckdb.connect()
    con.execute("CREATE TABLE county_aor_periods (county_fips VARCHAR, aor VARCHAR, valid_from DATE, valid_to DATE)")
    con.executemany("INSERT INTO county_aor_periods VALUES (?, ?, ?, ?)", periods)
    days = {D(1990, 1, 1), D(2099, 1, 1)}
    for _, _, a, b in periods:
        for d in (a, b):
            if d is not None:
                days |= {d + dt.timedelta(days=k) for k in (-1, 0, 1)}
    for day in sorted(days):
        want = sorted((f, a) for f, a, s, e in periods
                      if a is not None and (s is None or s <= day) and (e is None or e >= day))
        assert overview.county_aors(con, "unused", [day, day]) == want, day
