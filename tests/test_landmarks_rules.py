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
    # Haskell County exists in TX and OK (both Dallas AOR); bare 'X COUNTY JAIL' is written for both: not guessed
    assert one("DAL", "HASKELL COUNTY JAIL")["rule"] == "county_name_ambiguous"
    # 'N DIST TX' is the Northern District of Texas
    r = one("DAL", "N DIST TX DALLAS DIV ELLIS CO CRIM AT LARGE")
    assert r["county_fips"] == crosswalk[("TX", "Ellis County")]
    r = one("DAL", "E DIST OK MUSKOGEE DIV CHEROKEE CO CRIM AT LARGE")
    assert r["county_fips"] == crosswalk[("OK", "Cherokee County")]
    r = one("NOL", "MORGAN COUNTY TDOC")
    assert r["county_fips"] == crosswalk[("TN", "Morgan County")]
    # writing conventions of an AOR (landmark_state_hints.csv)
    assert one("DAL", "ELLIS COUNTY SHERIFFS OFFICE")["county_fips"] == crosswalk[("TX", "Ellis County")]
    assert one("NOL", "BENTON COUNTY JAIL")["county_fips"] == crosswalk[("AR", "Benton County")]
    assert one("DET", "WAYNE COUNTY JAIL")["county_fips"] == crosswalk[("OH", "Wayne County")]
    assert one("DET", "WAYNE COUNTY JAIL, DETROIT, MI")["county_fips"] == crosswalk[("MI", "Wayne County")]
    r = one("ATL", "WAYNE COUNTY FUGITIVE OPERATIONS")
    assert (r["county_fips"], r["kind"]) == (crosswalk[("NC", "Wayne County")], "office_proxy")
    # withheld: Atlanta-AOR 'X COUNTY DETENTION CENTER' (see docs/landmarks.md)
    assert one("ATL", "BEAUFORT COUNTY DETENTION CENTER")["rule"] == "county_name_ambiguous"


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
    r = one("NYC", "CAP - PORT CHESTER VILLAGE POLICE DEPARTMENT NY STATE")  # was 'NY STATE' only
    assert (r["county_fips"], r["kind"]) == (crosswalk[("NY", "Westchester County")], "event")
    r = one("PHO", "CAP TUCSON SUB OFFICE CALL IN AZ STATE")  # an ICE sub-office: the office's county
    assert (r["county_fips"], r["kind"]) == (crosswalk[("AZ", "Pima County")], "office_proxy")
    # townships found in several New Jersey counties stay unresolved
    assert one("NEW", "FRANKLIN TWP PD")["level"] != "county"
    assert one("NEW", "HAMILTON TOWNSHIP POLICE DEPARTMENT")["level"] != "county"


# -- state hints: the writing conventions cited as evidence hold in the raw files ------------------------------------
ARRESTS = [SHARED_DATA / f"ice/uwchr-ice-enforce-fy16-19/EROArrests_FY{y}.csv.gz" for y in range(2016, 2020)]
# hint id -> number of pairs its evidence cites (pairs matching the hint that resolve to a county without any hint)
CITED_PAIRS = {"CHI-ABCD-WI": 82, "DAL-DIST-TX": 161, "DAL-DIST-OK": 59, "NOL-X-COUNTY-JAIL": 31,
               "DET-X-COUNTY-JAIL": 54, "DAL-X-COUNTY-SO": 40, "DAL-X-COUNTY-CRIM": 36, "ATL-X-COUNTY-FUGOPS": 25,
               "DEN-X-COUNTY-JAIL": 43}


@pytest.fixture(scope="module")
def raw_pairs() -> pl.DataFrame:
    """Distinct (aor, landmark) of FY2016-2019 arrests with counts, read straight from the raw files."""
    codes = pl.read_csv(SHARED_DATA / "aor/aor_codes.csv", infer_schema=False)
    name_to_code = dict(zip(codes["field_office_name"], codes["aor_code"])) | {"HQ": "HQ"}
    df = pl.concat([pl.read_csv(f, separator="|", skip_rows=5, infer_schema=False).select(
        pl.col("Area of Responsibility").str.replace(" Area of Responsibility$", "")
        .replace_strict(name_to_code, default=None).alias("aor"),
        pl.col("Apprehension Landmark").alias("landmark")) for f in ARRESTS])
    assert df.height == 544_059
    return df.group_by("aor", "landmark").agg(pl.len().alias("n"))


def test_state_hints_agree_with_every_pair_placed_without_them(raw_pairs):
    """For each hint: every pair it matches that the resolver places at a county WITHOUT any hint lies in the
    hinted state, and there are as many such pairs as the evidence column says (writing conventions of the AOR)."""
    import dataclasses

    from icemonitor.places.landmark_reference import load_reference
    from icemonitor.places.landmark_resolve import Resolver
    from icemonitor.places.landmark_rules import load_rules
    from icemonitor.places.landmark_text import normalize

    rules = load_rules()
    plain = Resolver(load_reference(ref), dataclasses.replace(rules, state_hints=()))
    seen = {}
    for hint in rules.state_hints:
        states, pairs = set(), 0
        for aor, landmark in raw_pairs.filter(pl.col("aor") == hint.aor).select("aor", "landmark").iter_rows():
            if not hint.regex.search(normalize(landmark)):
                continue
            r = plain.resolve(aor, landmark)
            if r.level == "county":
                states.add(r.state)
                pairs += 1
        assert states <= {hint.state}, (hint.id, states)
        seen[hint.id] = pairs
    for hid, cited in CITED_PAIRS.items():
        assert seen[hid] == cited, seen


def test_city_in_the_text_settles_a_shared_county_name(crosswalk):
    r = one("ATL", "WAYNE CO PROBATION 109 ORMOND AVE GOLDSBORO")  # Wayne County GA, NC or SC; Goldsboro is NC
    assert (r["county_fips"], r["rule"]) == (crosswalk[("NC", "Wayne County")], "county_name_city")
    assert one("NOL", "WHITE COUNTY PROBATION-SEARCY AREA PROBATION")["county_fips"] == crosswalk[("AR", "White County")]
    # the county name itself is never read as the city (Union is a city in Union County SC)
    assert one("ATL", "UNION COUNTY JAIL")["rule"] == "county_name_ambiguous"


@pytest.mark.parametrize(("aor", "code", "method", "n_method", "n_all", "fips"), [
    ("ATL", "DTN", "287(g) Program", 408, 408, "13313"),  # Dalton: Whitfield County GA 287(g)
    ("ATL", "GNS", "287(g) Program", 38, 40, "13139"),  # Gainesville: Hall County GA 287(g)
    ("SND", "CPT", "CAP State Incarceration", 138, 142, "06025"),  # Calipatria State Prison, Imperial County
])
def test_third_pass_office_codes(aor, code, method, n_method, n_all, fips):
    """The arrest methods cited as evidence for DTN, GNS and CPT hold in the raw files; the codes are office
    proxies (never events)."""
    codes = pl.read_csv(SHARED_DATA / "aor/aor_codes.csv", infer_schema=False)
    name = codes.filter(pl.col("aor_code") == aor)["field_office_name"][0] + " Area of Responsibility"
    df = pl.concat([pl.read_csv(f, separator="|", skip_rows=5, infer_schema=False).filter(
        (pl.col("Area of Responsibility") == name)
        & pl.col("Apprehension Landmark").str.to_uppercase().str.starts_with(f"{code} GENERAL"))
        for f in ARRESTS])
    assert df.height == n_all
    assert df.filter(pl.col("Apprehension Method") == method).height == n_method
    r = one(aor, f"{code} GENERAL AREA, NON-SPECIFIC")
    assert (r["county_fips"], r["kind"], r["rule"]) == (fips, "office_proxy", f"office:{aor}-{code}")
