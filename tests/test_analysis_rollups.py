"""The overview's shortcuts give the figures of the queries they replace: analysis.rollups (counts per county and
release spans from rollups made once per warehouse version) against the SQL over the build's count tables, the
rate rounding against DuckDB's round, AnalysisResult's row conversion (plain_row) against result.plain, and the
per-warehouse readers (holdings, stored sweeps) handing every caller its own copy."""

from __future__ import annotations

import datetime as dt
import decimal
import math
import random

import duckdb
import numpy as np
import pytest

from icemonitor.analysis import holdings, overview, rollups
from icemonitor.analysis.result import AnalysisResult, plain, plain_row
from icemonitor.analysis.sweeps import sweeps
from icemonitor.query.filters import Filters

D = dt.date

COUNTY_PERIODS = [
    Filters("arrests"),
    Filters("arrests", method_class="at_large"),
    Filters("arrests", D(2016, 10, 1), D(2017, 9, 30)),  # whole months only
    Filters("arrests", D(2017, 1, 15), D(2018, 3, 10), None, "custodial"),  # partial first and last months
    Filters("arrests", D(2015, 2, 28), None),  # from the last day of a month, no end
    Filters("arrests", None, D(2016, 6, 20)),  # no start, a partial last month
    Filters("arrests", D(2017, 5, 3), D(2017, 5, 27)),  # within one month: the SQL itself
    Filters("encounters", D(2017, 1, 1), D(2017, 12, 31)),
]


def _without_rollups(monkeypatch) -> None:
    monkeypatch.setattr(rollups, "county_counts", lambda *a: None)
    monkeypatch.setattr(rollups, "release_spans", lambda *a: None)
    monkeypatch.setattr(rollups, "grouped_counts", lambda *a: None)


@pytest.mark.parametrize("f", COUNTY_PERIODS, ids=repr)
def test_county_rates_from_the_rollup_equal_the_sql(warehouse_con, monkeypatch, f):
    rolled = overview.county_rates(warehouse_con, f).model_dump(mode="json")
    _without_rollups(monkeypatch)
    direct = overview.county_rates(warehouse_con, f).model_dump(mode="json")
    assert rolled == direct
    if f.table == "arrests":
        assert len(direct["figures"]) > 100


def test_county_counts_are_the_event_rows_placed_in_each_county(warehouse_con):
    """Independent of event_days: the rollup's counts per county against the counted arrests placed there."""
    q = overview.compiled(warehouse_con, Filters("arrests", D(2017, 1, 15), D(2018, 3, 10)))
    source, n = overview._from(warehouse_con, q, "res_county_fips")
    counts = rollups.county_counts(warehouse_con, "arrests", source, q.where, n)
    assert counts is not None  # the rollup answers this period
    placed = q.source  # the placed rows of query.selection (no rollup)
    direct = dict(warehouse_con.execute(
        f"SELECT res_county_fips, count(*) FROM {placed} WHERE {q.where.sql()} AND res_county_fips IS NOT NULL "
        "GROUP BY 1", q.where.params).fetchall())
    assert counts == direct and sum(direct.values()) > 1000


@pytest.mark.parametrize("f", [Filters("arrests"), Filters("arrests", aor="SEA"),
                               Filters("arrests", aor="LOS", method_class="at_large"),
                               Filters("encounters"), Filters("arrests", method_class="custodial"),
                               Filters("arrests", D(2017, 1, 1), D(2017, 6, 30), "LOS")], ids=repr)
def test_release_spans_from_the_rollup_equal_the_sql(warehouse_con, monkeypatch, f):
    rolled = overview.release_spans(warehouse_con, f).model_dump(mode="json")
    _without_rollups(monkeypatch)
    direct = overview.release_spans(warehouse_con, f).model_dump(mode="json")
    assert rolled == direct and direct["figures"]


COUNTS = [
    (Filters("arrests", aor="LOS"), ["month", "method_class"]),
    (Filters("arrests"), ["aor"]),
    (Filters("arrests", D(2017, 1, 1), D(2017, 12, 31)), ["aor"]),  # whole months
    (Filters("arrests", D(2017, 10, 1), D(2018, 9, 30), "LOS"), ["fy"]),
    (Filters("arrests", method_class="at_large", criminality="convicted"), ["year", "release_id"]),
    (Filters("arrests", release="ice-arrests-2023"), ["release", "criminality", "month"]),
    (Filters("removals", aor="SEA"), ["fy", "method_class"]),
    (Filters("arrests", D(2017, 1, 15), D(2017, 12, 31)), ["aor"]),  # a partial month: the SQL itself
    (Filters("arrests"), ["state"]),  # a key the rollup lacks: the SQL itself
]


@pytest.mark.parametrize("f, by", COUNTS, ids=repr)
def test_counts_from_the_rollup_equal_the_sql(warehouse_con, monkeypatch, f, by):
    rolled = overview.counts(warehouse_con, f, by).model_dump(mode="json")
    _without_rollups(monkeypatch)
    direct = overview.counts(warehouse_con, f, by).model_dump(mode="json")
    assert rolled == direct
    if not f.release:
        assert direct["figures"]


def test_where_split_takes_only_what_the_rollups_hold():
    from icemonitor.query.sql import Where

    w = Where().add("counted").add("event_date >= ?", D(2017, 1, 1)).add("aor IN (?, ?)", "LOS", "SEA")
    assert rollups.split(w, ("aor",)) == ({"aor": ["LOS", "SEA"]}, D(2017, 1, 1), None)
    assert rollups.split(w, ("method_class",)) is None  # aor is not in this rollup
    assert rollups.split(Where().add("aor IN (?)", "LOS"), ("aor",)) is None  # not only counted rows
    assert rollups.split(w.copy().add("criminality IN (?)", "convicted"), ("aor",)) is None


def test_sql_round_is_duckdbs_round():
    rng = random.Random(14)
    ns = [rng.randint(1, 10**6) for _ in range(20000)] + [1, 1, 3, 5, 7]
    pops = [rng.choice([rng.random() * 1e6, float(rng.randint(1, 10**6)), rng.randint(1, 1000) / 7])
            for _ in range(20000)] + [80000.0, 16000.0, 2.4e7, 4e6, 5.6e7]  # exact halves: 0.125, 0.625, ...
    con = duckdb.connect()
    want = [r[0] for r in con.execute("SELECT round(n * 10000.0 / p, 2) FROM (SELECT unnest(?::BIGINT[]) AS n, "
                                      "unnest(?::DOUBLE[]) AS p)", [ns, pops]).fetchall()]
    assert [overview.sql_round(n * 10000 / p) for n, p in zip(ns, pops)] == want


ROWS = [
    {"a": "x", "n": 3, "ok": True, "none": None, "f": 1.5},
    {"n": np.int64(7), "f": np.float64(2.25), "nan": float("nan"), "inf": float("inf"), "ninf": -math.inf},
    {"d": D(2017, 1, 2), "t": dt.datetime(2017, 1, 2, 3, 4), "dec": decimal.Decimal("1.50"),
     "np_d": np.datetime64("2017-01-02"), "list": [np.int32(1), D(2018, 2, 3), (1, 2)], "tuple": ("a", np.int8(2))},
    {"nested": {"x": np.float32(0.5), 2: [float("nan")]}, "set": {3}},  # a figure row's own keys are text
    {"big": 2**70, "neg": -0.0, "s": "ünïcödé"},
]


def test_plain_row_is_plain():
    """AnalysisResult keeps a JSON-ready row as it is and converts any other as result.plain does."""
    for row in ROWS:
        assert plain_row(dict(row)) == plain(row)
    res = AnalysisResult(name="t", figures=[dict(r) for r in ROWS])
    assert res.figures[0] == ROWS[0]
    assert res.figures[1] == {"n": 7, "f": 2.25, "nan": None, "inf": None, "ninf": None}
    assert type(res.figures[1]["n"]) is int
    assert res.figures[2] == {"d": "2017-01-02", "t": "2017-01-02T03:04:00", "dec": "1.50",
                              "np_d": "2017-01-02", "list": [1, "2018-02-03", [1, 2]], "tuple": ["a", 2]}
    assert res.figures[3] == {"nested": {"x": 0.5, "2": [None]}, "set": [3]}
    assert res.figures[4] == ROWS[4]
    original = {"a": 1}
    kept = AnalysisResult(name="t", figures=[original]).figures[0]
    assert kept == original and kept is not original  # validation's copy: the caller's row is not shared


def test_holdings_hand_every_caller_its_own_copy(warehouse_con):
    first = holdings.table_coverage(warehouse_con)
    first.figures[0]["releases"].append("changed")
    first.figures[0]["rows"] = -1
    again = holdings.table_coverage(warehouse_con)
    assert again.figures[0]["rows"] != -1 and "changed" not in again.figures[0]["releases"]
    codes = holdings.method_codes(warehouse_con, "arrests")
    codes.clear()
    assert holdings.method_codes(warehouse_con, "arrests")
    names = holdings.aors(warehouse_con)
    names.append("XXX")
    assert "XXX" not in holdings.aors(warehouse_con)


def test_stored_sweeps_are_read_once_and_never_shared(warehouse_con):
    """Two questions over one stored run: the second's rows are not the first's (the analysis annotates them)."""
    args = dict(place=None, date_from=D(2015, 10, 1), date_to=D(2019, 9, 30), measure="at_large", limit=10)
    one = sweeps(warehouse_con, **args).model_dump(mode="json")
    two = sweeps(warehouse_con, **args).model_dump(mode="json")
    fresh = sweeps(warehouse_con, stored=False, **args).model_dump(mode="json")
    assert one == two and one["figures"]
    assert [(r["place"], r["start"], r["score"]) for r in one["figures"]] == [
        (r["place"], r["start"], r["score"]) for r in fresh["figures"]]


@pytest.mark.parametrize("day", [D(2015, 6, 30), D(2019, 9, 30), D(2023, 1, 1)])
def test_the_county_map_of_a_day_is_the_periods_valid_that_day(warehouse_con, day):
    """aor_map's counties (county_aor_periods as read once per warehouse version) against the rows valid on the
    day, asked of the table."""
    res = overview.aor_map(warehouse_con, Filters("arrests", None, day))
    want = warehouse_con.execute(
        "SELECT county_fips, aor FROM county_aor_periods WHERE coalesce(valid_from, DATE '0001-01-01') <= ? AND "
        "coalesce(valid_to, DATE '9999-12-31') >= ? AND aor IS NOT NULL ORDER BY county_fips, aor", [day, day]
    ).fetchall()
    assert [(r["county_fips"], r["aor"]) for r in res.figures] == want and len(want) > 3000
    n = {r["aor"]: r["n"] for r in overview.counts(warehouse_con, Filters("arrests", None, day), ["aor"],
                                                   with_coverage=False).figures}
    assert all(r["n"] == n.get(r["aor"], 0) for r in res.figures)


SWEEPS_QUESTIONS = [  # (place, from, to, measure) as analysis.sweeps asks the releases behind its figures
    (None, "2015-10-01", "2019-09-30", "at_large"),  # the /sweeps default: whole months, from the rollup
    ("LOS", "2015-10-01", "2019-09-30", "all"),
    ("NYC", "2017-01-01", "2017-03-31", "custodial"),
    (None, "2017-01-15", "2017-06-30", "at_large"),  # a partial month: the SQL
    ("CA", "2015-10-01", "2019-09-30", "at_large"),  # a state (AORs or placed rows): the SQL
]


@pytest.mark.parametrize(("place", "d0", "d1", "measure"), SWEEPS_QUESTIONS)
def test_the_releases_of_a_sweeps_question_from_the_rollup_equal_the_sql(warehouse_con, monkeypatch, place, d0, d1,
                                                                         measure):
    """sweeps' releases (rollups.releases from aor_months where it answers) are the SQL's over the count tables."""
    asked = []
    real = rollups.releases
    monkeypatch.setattr(rollups, "releases", lambda *a: asked.append(real(*a)) or asked[-1])
    rolled = sweeps(warehouse_con, place, d0, d1, measure, levels=("aor",), limit=3)
    monkeypatch.setattr(rollups, "releases", lambda *a: None)
    direct = sweeps(warehouse_con, place, d0, d1, measure, levels=("aor",), limit=3)
    assert rolled.releases == direct.releases and rolled.releases
    assert (asked[0] is not None) == (place != "CA" and d0.endswith("-01"))  # the rollup answers whole months


@pytest.mark.parametrize(("d0", "d1", "edges"), [
    (D(2017, 10, 1), D(2018, 9, 30), []),  # whole months: no day is read from the day table
    (D(2017, 10, 2), D(2018, 9, 30), [("event_date < ?", D(2017, 11, 1))]),
    (D(2017, 10, 1), D(2018, 9, 29), [("event_date >= ?", D(2018, 9, 1))]),
    (D(2017, 10, 15), D(2018, 3, 10), [("event_date < ?", D(2017, 11, 1)), ("event_date >= ?", D(2018, 3, 1))]),
    (None, D(2016, 6, 20), [("event_date >= ?", D(2016, 6, 1))]),
    (D(2015, 2, 28), None, [("event_date < ?", D(2015, 3, 1))]),
    (None, None, []),
])
def test_only_partial_months_are_read_from_the_day_tables(d0, d1, edges):
    from icemonitor.query.selection import whole_months

    assert rollups.partial_edges(d0, d1, *whole_months(d0, d1)) == edges


@pytest.mark.parametrize("f", COUNTY_PERIODS[:6], ids=repr)
def test_keyed_counts_equal_the_day_tables(warehouse_con, f):
    """keyed_counts (whole months from the month tables, partial ones from the day tables) against the day table
    summed over the whole period."""
    from icemonitor.query.sql import Where

    w = Where().add("counted")
    if f.date_from:
        w.add("event_date >= ?", f.date_from)
    if f.date_to:
        w.add("event_date <= ?", f.date_to)
    for keying, within in (("state", None), ("office", ("LOS", "SND")), ("aor_resolved", ("NYC",))):
        _, days, columns, kept = rollups.KEYINGS[keying]
        among, params = rollups.keyed_within(keying, within)
        direct: dict = {}
        for *key, release, n in warehouse_con.execute(
                f"SELECT {', '.join(columns)}, release_id, sum(n)::BIGINT FROM {days} WHERE table_name = ? AND "
                f"{kept} AND {among} AND {w.sql()} GROUP BY ALL", ["arrests", *params, *w.params]).fetchall():
            n0, rel = direct.get(tuple(key), (0, set()))
            direct[tuple(key)] = (n0 + n, rel | {release})
        assert rollups.keyed_counts(warehouse_con, "arrests", keying, w, within) == direct, keying
