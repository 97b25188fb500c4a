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
    {"place": "06037", "limit": 10},  # a county: not stored, run on the fly either way
])
def test_stored_answers_equal_the_model_run_now(con, question):
    stored, fresh = both(con, measure="at_large", **question)
    assert stored == fresh
    assert stored["extra"]["measurable"]


def test_recent_national_sweeps_equal_the_model_run_now(con):
    """The overview's question: the last twelve months of arrests data."""
    from icemonitor.analysis.overview import last_event_date
    from icemonitor.query.filters import Filters

    last = last_event_date(con, Filters("arrests"))
    stored, fresh = both(con, measure="at_large", date_from=last - dt.timedelta(days=365), date_to=last, limit=5)
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
