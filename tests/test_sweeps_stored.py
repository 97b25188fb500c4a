"""The sweeps model's default answers stored by the build (analysis.sweeps_stored) against the model run on the fly,
on the warehouse built from the real data: the same figures, details, coverage, caveats and releases, at every level,
and questions the records cannot answer still say so."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from conftest import shared_ref


@pytest.fixture(scope="module")
def con(warehouse_con):
    return warehouse_con


def both(con, **question):
    """The answer read from the stored runs and the one the model computes now, as plain data."""
    from icemonitor.analysis.sweeps import sweeps

    stored = sweeps(con, ref=shared_ref, stored=True, **question)
    fresh = sweeps(con, ref=shared_ref, stored=False, **question)
    return stored.model_dump(mode="json"), fresh.model_dump(mode="json")


def test_the_build_stores_every_level_of_the_national_default(con):
    """Each level of the default national question is a stored run, and the stored sweeps (figures, AORs, daily
    counts, details) are the model's."""
    from icemonitor.analysis.sweeps import StoredSweeps, detail_rows, level_sweeps, plan
    from icemonitor.query.selection import rollup_router

    p = plan(con, None, "2015-10-01", "2019-09-30", "at_large", None, "arrests", None, 56, shared_ref, None)
    assert set(p.levels) == {"national", "aor", "state", "county"}
    store, route = StoredSweeps(con), rollup_router(con, "arrests")
    for level in p.levels:
        stored = store.level_sweeps(p, level)
        assert stored is not None, level
        fresh = level_sweeps(con, p, level, route)
        assert [{k: v for k, v in r.items() if k != "_detail"} for r in stored] == fresh, level
        detailed = [r for r in stored if r["_detail"]]
        assert detailed, level
        assert [json.loads(r["_detail"]) for r in detailed] == detail_rows(con, p.source, p.where, level, detailed, p.window,
                                                              p.table, route)
    assert sum(len(store.level_sweeps(p, lv)) for lv in p.levels) > 100  # a real comparison: the model finds many


@pytest.mark.parametrize("question", [
    {},  # the nation, FY2016-FY2019, every level, echoes folded
    {"limit": 0},  # every sweep of the period, each with its detail (most beyond the stored details)
    {"fold_echoes": False, "limit": 50},
    {"levels": ("national",), "limit": 0},
    {"levels": ("aor",), "limit": 0},
    {"levels": ("state",), "limit": 0},
    {"levels": ("county",), "limit": 0},
    {"place": "LOS", "limit": 10},
    {"place": "CA", "limit": 10},
    {"place": "TX", "date_from": "2016-03-01", "date_to": "2016-09-30", "limit": 0},  # a part of the stored series
    {"place": "06037", "limit": 10},  # a county: its own question, stored (the build's pass over every county)
    {"place": "06037", "date_from": "2017-01-01", "date_to": "2017-06-30", "limit": 0},  # a part of the series
    {"place": "17031", "limit": 0},
    {"place": "48201", "limit": 0},
    {"place": "53033", "limit": 0},
    {"place": "04013", "limit": 0},
    {"place": "06037", "levels": ("county",), "limit": 0},
])
def test_stored_answers_equal_the_model_run_now(con, question):
    stored, fresh = both(con, measure="at_large", **question)
    assert stored == fresh
    assert stored["extra"]["measurable"]


@pytest.mark.parametrize("place", [None, "53033", "06037"])
def test_recent_sweeps_equal_the_model_run_now(con, place):
    """The overview's question: the last twelve months of arrests data (and a county's, stored too)."""
    from icemonitor.analysis.overview import last_event_date
    from icemonitor.query.filters import Filters

    last = last_event_date(con, Filters("arrests"))
    stored, fresh = both(con, measure="at_large", date_from=last - dt.timedelta(days=365), date_to=last, limit=5,
                         place=place)
    assert stored == fresh


@pytest.mark.parametrize("question", [
    {"date_from": "2005-01-01", "date_to": "2005-12-31"},  # before any record
    {"place": "SEA", "date_from": "2010-01-01", "date_to": "2010-03-31"},
    {"levels": ("county",), "date_from": "2005-01-01", "date_to": "2005-06-30"},
])
def test_periods_without_records_say_so_either_way(con, question):
    """No records is not zero: a period the records do not cover cannot be measured, stored runs or not; it never
    reads as 'no sweep'."""
    stored, fresh = both(con, measure="at_large", **question)
    assert stored == fresh
    assert stored["extra"]["measurable"] is False
    assert stored["extra"]["n_sweeps_found"] is None
    assert stored["caveats"][0].startswith("Cannot be measured")
    assert "This is not 'no sweep'" in stored["caveats"][0]


def test_partial_coverage_is_said_either_way(con):
    """A period the records cover in part: the same partial coverage and caveat from the stored runs."""
    stored, fresh = both(con, measure="at_large", date_from="2014-10-01", date_to="2019-09-30", limit=5)
    assert stored == fresh
    assert stored["coverage"]["status"] == "partial"
    assert stored["caveats"][0].startswith("Partial")


def _question(con, place, d0="2015-10-01", d1="2019-09-30"):
    from icemonitor.analysis.sweeps import plan

    return plan(con, place, d0, d1, "at_large", None, "arrests", None, 56, shared_ref, None)


def test_every_county_with_records_has_its_question_stored(con):
    """Every county the event rows place counted arrests in (counted here on the rows, not on the build's counts)
    has both levels of its default question stored; a sample of them is found under its plan's key."""
    from icemonitor.analysis.sweeps import StoredSweeps, event_source

    src = event_source(con, "arrests")
    counties = {r[0] for r in con.execute(
        f"SELECT DISTINCT res_county_fips FROM {src} WHERE counted AND res_county_fips IS NOT NULL").fetchall()}
    assert len(counties) > 1000  # the real data place arrests in most counties
    stored = {r[0] for r in con.execute("SELECT place FROM sweep_runs WHERE level = 'county'").fetchall()}
    assert counties <= stored
    store = StoredSweeps(con)
    for county in sorted(counties)[::97]:
        p = _question(con, county)
        assert p.levels == ("aor", "county")
        assert all(store.level_sweeps(p, level) is not None for level in p.levels), county


def test_a_county_question_runs_no_model(con, monkeypatch):
    """A county's default question (a county page's sweeps) is read from the stored runs: the model never runs."""
    import icemonitor.analysis.sweeps as sweeps_module

    fresh = sweeps_module.sweeps(con, place="06037", measure="at_large", ref=shared_ref, stored=False)
    assert fresh.figures  # Los Angeles County has sweeps in FY2016-FY2019

    def no_model(*args, **kwargs):
        raise AssertionError("the sweeps model ran for a stored question")

    monkeypatch.setattr(sweeps_module, "find_sweeps", no_model)
    monkeypatch.setattr(sweeps_module, "level_counts", no_model)
    stored = sweeps_module.sweeps(con, place="06037", measure="at_large", ref=shared_ref)
    assert stored.model_dump(mode="json") == fresh.model_dump(mode="json")


def test_a_county_with_few_records_gets_its_own_answer(con):
    """The county with the fewest counted at-large arrests in FY2016-FY2019 (counted on the event rows): stored,
    the model's answer (no sweep can reach the least excess), and measured: records, not none."""
    from icemonitor.analysis.sweeps import StoredSweeps, event_source

    src = event_source(con, "arrests")
    county, n = con.execute(
        f"SELECT res_county_fips, count(*) AS n FROM {src} WHERE counted AND method_class = 'at_large' AND "
        "res_county_fips IS NOT NULL AND event_date BETWEEN '2015-10-01' AND '2019-09-30' GROUP BY 1 "
        "ORDER BY n, 1 LIMIT 1").fetchone()
    assert n < 5
    p = _question(con, county)
    assert all(StoredSweeps(con).level_sweeps(p, level) == [] for level in p.levels)
    stored, fresh = both(con, measure="at_large", place=county, limit=0)
    assert stored == fresh
    assert stored["extra"]["measurable"] and stored["extra"]["n_sweeps_found"] == 0 and stored["releases"]


def test_a_county_without_records_says_so(con, warehouse_client):
    """No records is not zero: a county no counted arrest is placed in (Kalawao County, HI) is not measured, and
    says why, in English and Spanish, stored runs or not."""
    from icemonitor.analysis.sweeps import StoredSweeps, event_source

    src = event_source(con, "arrests")
    assert con.execute(f"SELECT count(*) FROM {src} WHERE counted AND res_county_fips = '15005'").fetchone()[0] == 0
    p = _question(con, "15005")  # stored too (every county of the places stage): no model, no count
    assert p.levels and all(StoredSweeps(con).level_sweeps(p, level) == [] for level in p.levels)
    stored, fresh = both(con, measure="at_large", place="15005")
    assert stored == fresh
    assert stored["extra"]["measurable"] is False and stored["extra"]["n_sweeps_found"] is None
    assert stored["coverage"]["status"] in ("full", "partial")  # its AOR's records cover the period: it has none
    assert stored["caveats"][0].startswith("Cannot be measured: no records: no counted rows of arrests")
    assert "Kalawao" in stored["caveats"][0] and stored["releases"] == []
    es = warehouse_client.get("/place/15005?lang=es").text
    assert "sin registros: ninguna fila contabilizada de arrests" in es
    en = warehouse_client.get("/api/v1/sweeps?place=15005").json()
    assert en["extra"]["not_measurable_because"].startswith("no records")


def test_county_runs_follow_the_counts_they_read(warehouse_path, tmp_path):
    """The stage (run on every build and refresh, after the count tables) re-derives each county's runs from the
    counts as they stand: a surge written into Los Angeles County's counts (what a refresh that recounts them
    changes) becomes a stored county sweep, equal to the model's on the changed counts."""
    import shutil

    import duckdb

    from icemonitor.analysis.sweeps import StoredSweeps, level_sweeps
    from icemonitor.analysis.sweeps_stored import write_stored_sweeps
    from icemonitor.query.selection import rollup_router

    copy = tmp_path / warehouse_path.name
    shutil.copy(warehouse_path, copy)
    con = duckdb.connect(str(copy))
    try:
        days = ("2018-03-13", "2018-03-15")  # Tuesday to Thursday, about 3 at-large arrests a day there
        p = _question(con, "06037")
        hit = lambda rows: [r for r in rows if str(r["start"]) <= days[1] and str(r["end"]) >= days[0]]  # noqa: E731
        assert not hit(StoredSweeps(con).level_sweeps(p, "county"))
        con.execute("UPDATE event_days SET n = n * 10 WHERE table_name = 'arrests' AND counted AND "
                    "res_county_fips = '06037' AND method_class = 'at_large' AND event_date BETWEEN ? AND ?", days)
        write_stored_sweeps(con, shared_ref)
        route = rollup_router(con, "arrests")
        for level in p.levels:
            stored = StoredSweeps(con).level_sweeps(p, level)
            assert [{k: v for k, v in r.items() if k != "_detail"} for r in stored] == level_sweeps(con, p, level, route)
            assert hit(stored), level
    finally:
        con.close()


@pytest.mark.parametrize("place", ["LOS", "SEA", "NYC", "TX", "WA", "CA", "GA"])
def test_aor_and_state_questions_are_stored(con, place):
    """AOR and state questions (one grouped pass per kind; CA, read by its state and the AORs inside it, on its
    own) are stored runs, each the model's."""
    from icemonitor.analysis.sweeps import StoredSweeps, level_sweeps
    from icemonitor.query.selection import rollup_router

    p = _question(con, place)
    assert p.levels == ("aor", "county")
    for level in p.levels:
        stored = StoredSweeps(con).level_sweeps(p, level)
        assert stored is not None, level
        fresh = level_sweeps(con, p, level, rollup_router(con, "arrests"))
        assert [{k: v for k, v in r.items() if k != "_detail"} for r in stored] == fresh
