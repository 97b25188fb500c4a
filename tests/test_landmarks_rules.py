"""Landmark resolver, third pass: misspelt county names, per-AOR state hints, and the hand mappings added with it."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from icemonitor.places.landmark_resolve import _within_one_edit
from icemonitor.places.landmarks import resolve_landmarks

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def ref(path: str) -> Path:
    return SHARED_DATA / path


def one(aor, landmark):
    return resolve_landmarks(pl.DataFrame({"aor": [aor], "landmark": [landmark]}), ref).row(0, named=True)


@pytest.fixture(scope="module")
def crosswalk() -> dict[tuple[str, str], str]:
    """(state, county name) -> FIPS, read straight from the crosswalk."""
    xw = pl.read_csv(SHARED_DATA / "aor/county_aor_crosswalk.csv", infer_schema=False)
    return {(s, n): f for f, s, n in xw.select("fips5", "state_abbr", "county_name").iter_rows()}


def test_one_edit():
    assert _within_one_edit("ASTABULA", "ASHTABULA")  # deletion
    assert _within_one_edit("FAIRFEILD", "FAIRFIELD")  # swap of neighbours
    assert _within_one_edit("PITTSBURGH", "PITTSBURG")  # insertion
    assert _within_one_edit("RANDELL", "RANDALL")  # substitution
    assert not _within_one_edit("FARIFEILD", "FAIRFIELD")  # two edits
    assert not _within_one_edit("ABC", "ABCDE")


@pytest.mark.parametrize(("aor", "landmark", "state", "county"), [
    ("DET", "ASTABULA COUNTY JAIL", "OH", "Ashtabula County"),
    ("SFR", "SISKYOU COUNTY JAIL", "CA", "Siskiyou County"),
    ("ATL", "FAIRFEILD COUNTY, SC", "SC", "Fairfield County"),
    ("NOL", "HUMPREYS COUNTY JAIL, TN", "TN", "Humphreys County"),  # Humphreys is also in MS: the state decides
    ("DAL", "PITTSBURGH COUNTY JAIL", "OK", "Pittsburg County"),
    ("BOS", "HAMDEN COUNTY HOUSE OF CORRECTIONS, LUDLOW, MA", "MA", "Hampden County"),
    ("SLC", "BUTTE SILVERBOW COUNTY JAIL MT", "MT", "Silver Bow County"),
])
def test_misspelt_county_names(crosswalk, aor, landmark, state, county):
    r = one(aor, landmark)
    assert (r["level"], r["kind"], r["rule"]) == ("county", "event", "county_name_fuzzy")
    assert r["county_fips"] == crosswalk[(state, county)]


def test_misspelt_county_names_are_not_guessed():
    # too short to read (MARIN/MARION...), and one edit from counties in several states of the AOR
    assert one("SFR", "MARN COUNTY JAIL")["level"] != "county"
    r = one("NOL", "HUMPREYS COUNTY JAIL")  # Humphreys County MS or TN: no state named
    assert r["level"] != "county"
    # ', CO' is Colorado, not a county word: 'CENTER, CO' is not Centre County
    assert one("DEN", "CENTER, CO POLICE DEPARTMENT")["level"] != "county"
    # an exact name wins; the fuzzy rule is only tried when nothing matches exactly
    assert one("DET", "ASHTABULA COUNTY JAIL")["rule"] == "county_name"
    # contradictory text stays at state level (Manvel is in Brazoria County)
    r = one("HOU", "MANVEL POLICE DEPT, MONTGMERY COUNTY,TX")
    assert (r["level"], r["state"]) == ("state", "TX")


def test_state_hints_choose_among_same_named_counties(crosswalk):
    # Ellis County exists in TX and OK (both Dallas AOR); 'N DIST TX' is the Northern District of Texas
    assert one("DAL", "ELLIS COUNTY SHERIFFS OFFICE")["rule"] == "county_name_ambiguous"
    r = one("DAL", "N DIST TX DALLAS DIV ELLIS CO CRIM AT LARGE")
    assert r["county_fips"] == crosswalk[("TX", "Ellis County")]
    r = one("DAL", "E DIST OK MUSKOGEE DIV CHEROKEE CO CRIM AT LARGE")
    assert r["county_fips"] == crosswalk[("OK", "Cherokee County")]
    r = one("NOL", "MORGAN COUNTY TDOC")
    assert r["county_fips"] == crosswalk[("TN", "Morgan County")]


@pytest.mark.parametrize(("aor", "landmark", "state", "county"), [
    ("CHI", "CAP-ILLINOIS RIVER CORRECTIONAL CENTER, IL STATE DOC", "IL", "Fulton County"),
    ("CHI", "UNITED STATES PRISON (BOP), INDIANA", "IN", "Vigo County"),
    ("NOL", "CAP - KILBY CORRECTIONAL FACILITY - DOC - AL STATE", "AL", "Montgomery County"),
    ("PHI", "CAP-PENNSYLVANIA STATE POLICE - CARLISLE BARRACKS", "PA", "Cumberland County"),
    ("WAS", "POCAHONTAS CORRECTIONAL CENTER-VA", "VA", "Tazewell County"),
    ("ELP", "SOUTHERN NEW MEXICO PRISON FACILITY", "NM", "Doña Ana County"),
])
def test_named_prisons_and_state_police_stations(crosswalk, aor, landmark, state, county):
    """Third-pass hand mappings: named state/federal prisons and state-police stations at their county
    (previously only the state, or nothing, was read from these strings)."""
    r = one(aor, landmark)
    assert (r["level"], r["kind"]) == ("county", "event")
    assert r["county_fips"] == crosswalk[(state, county)]
    assert r["rule"].startswith("map:")


def test_city_after_the_last_comma(crosswalk):
    r = one("DET", "36TH DISTRICT COURT PROBATION, DETROIT")
    assert (r["county_fips"], r["kind"], r["rule"]) == (crosswalk[("MI", "Wayne County")], "event", "city_after_comma")
    assert one("CHI", "CHI IDOC, JOLIET")["county_fips"] == crosswalk[("IL", "Will County")]
    # Jackson MI and Jackson OH are both in the Detroit AOR and neither dominates: not guessed
    r = one("DET", "12TH DISTRICT COURT PROBATION, JACKSON")
    assert (r["level"], r["rule"]) == ("aor", "city_ambiguous")
    # a city outside the AOR is not read
    assert one("DET", "SOME COURT, PHOENIX")["level"] != "county"


def test_township_police_and_courts(crosswalk):
    assert one("NEW", "DELRAN TOWNSHIP POLICE DEPARTMENT")["county_fips"] == crosswalk[("NJ", "Burlington County")]
    assert one("BOS", "WATERBURY JUDICIAL MARSHAL'S LOCKUP")["county_fips"] == crosswalk[("CT", "New Haven County")]
    # townships found in several New Jersey counties stay unresolved
    assert one("NEW", "FRANKLIN TWP PD")["level"] != "county"
    assert one("NEW", "HAMILTON TOWNSHIP POLICE DEPARTMENT")["level"] != "county"
