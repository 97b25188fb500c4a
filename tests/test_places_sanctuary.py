"""Sanctuary status by date and definition."""

from __future__ import annotations

from pathlib import Path

import pytest

from icemonitor.errors import InputError
from icemonitor.places.sanctuary import default_definition, definitions, definitions_table, status

from conftest import SHARED_DATA  # ../shared/data beside the repo
pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")


def ref(p: str) -> Path:
    return SHARED_DATA / p


def test_california_sb54_boundary():
    after = status("CA", "2018-01-02", "state-law", ref)
    assert after.answer == "yes"
    assert any("SB 54" in (e.citation or "") for e in after.events)
    assert status("CA", "2017-12-31", "state-law", ref).answer == "no"
    # the broader definition counts the 2014 TRUST Act
    assert status("CA", "2017-12-31", "state-law-any", ref).answer == "yes"
    # a county inherits its state's law
    assert status("Los Angeles County, CA", "2018-01-02", "state-law", ref).answer == "yes"


def test_unverified_law_gives_unknown_not_yes():
    r = status("CT", "2018-06-01", "state-law-any", ref)
    assert r.answer == "unknown"
    assert {e.role for e in r.events} == {"unverified"}
    assert status("CT", "2018-06-01", "state-law-incl-unverified", ref).answer == "yes"


def test_federal_lists_by_date_and_city_rule():
    assert status("06073", "2025-08-04", "doj-2025", ref).answer == "no"
    assert status("06073", "2025-08-05", "doj-2025", ref).answer == "yes"
    # Denver city is listed by DOJ, Colorado is listed as a state; Boston's county (Suffolk, MA) only contains a city
    assert status("25025", "2025-09-01", "doj-2025", ref).answer == "no"
    r = status("25025", "2025-09-01", "doj-2025-incl-cities", ref)
    assert r.answer == "yes" and all(e.jurisdiction_level == "city" for e in r.events)


def test_no_287g():
    # Harris County, TX sheriff has a current agreement; Texas state agencies too
    r = status("48201", "2026-05-01", "no-287g", ref)
    assert r.answer == "no" and r.events
    # 2020-2024 is outside the sources' coverage
    assert status("06037", "2022-06-01", "no-287g", ref).answer == "unknown"
    assert status("06037", "2026-01-01", "no-287g", ref).answer == "yes"


def test_definitions_data_and_default():
    defs = definitions()
    assert {"state-law", "doj-2025", "dhs-2025", "no-287g"} <= set(defs)
    name, why = default_definition()
    assert name == "state-law" and "conservative" in why
    t = definitions_table()
    assert t.filter(t["is_default"])["name"].to_list() == ["state-law"]
    assert status("CA", "2018-01-02", None, ref).definition == "state-law"


def test_bad_inputs():
    with pytest.raises(InputError, match="definition"):
        status("CA", "2018-01-02", "vibes", ref)
    with pytest.raises(InputError, match="county or a state"):
        status("LOS", "2018-01-02", "state-law", ref)
    with pytest.raises(InputError, match="99999"):
        status("99999", "2018-01-02", "state-law", ref)
