"""Recorded county -> FIPS (by name within the recorded state; unmapped names reported, never guessed), placement by
the recorded county before the landmark, and the first-detention-facility county as a separate signal, on synthetic
DDP-layout arrests and stints built into a warehouse with the places stage."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from icemonitor.places.counties import load_counties
from icemonitor.places.facility_signal import SIGNAL, facility_signal_table, signal_coverage, write_facility_signal
from icemonitor.places.recorded_counties import AMBIGUOUS, MAPPED, NO_STATE, UNKNOWN, county_index, map_county, unmapped
from icemonitor.places.ref import dir_ref
from icemonitor.warehouse.build import BuildSource, build

from conftest import SHARED_DATA

REF = dir_ref(SHARED_DATA)
D = dt.datetime


@pytest.fixture(scope="module")
def index():
    return county_index(load_counties(REF))


@pytest.mark.parametrize("state,county,fips,status", [
    ("TX", "HARRIS", "48201", MAPPED),
    ("TX", "Harris County", "48201", MAPPED),
    ("TX", "HARRIS CO", "48201", MAPPED),
    ("CA", "LOS ANGELES", "06037", MAPPED),
    ("GA", "DE KALB", "13089", MAPPED),          # Census: DeKalb County
    ("NM", "DONA ANA", "35013", MAPPED),         # Census: Doña Ana County
    ("LA", "ORLEANS PARISH", "22071", MAPPED),
    ("MO", "ST LOUIS CITY", "29510", MAPPED),
    ("MO", "ST. LOUIS COUNTY", "29189", MAPPED),
    ("MO", "ST LOUIS", None, AMBIGUOUS),         # the county or the independent city: not guessed
    ("MD", "BALTIMORE", None, AMBIGUOUS),
    ("VA", "JAMES CITY", "51095", MAPPED),       # Census: James City County
    ("NC", "HARRIS", None, UNKNOWN),             # no such county in North Carolina
    (None, "HARRIS", None, NO_STATE),
])
def test_map_county_by_name_within_the_state(index, state, county, fips, status):
    got = map_county(state, county, index)
    assert (got[0], got[2]) == (fips, status)
    if status == AMBIGUOUS:
        assert got[3].count("(") == 2  # both candidates named


ARRESTS = ["Apprehension Date", "State", "County", "TOA Current Duty AOR", "Apprehension Method", "Apprehension Type",
           "Apprehension Criminality", "Apprehension Site Landmark", "Unique Identifier"]
STINTS = ["Stay Book In Date Time", "Book In Date Time", "Detention Facility", "Detention Facility Code",
          "Book Out Date Time", "Stay Book Out Date Time", "Detention Release Reason", "Stay Release Reason",
          "Book In Criminality", "Anonymized Identifier"]


def _arrest(day, state, county, landmark, person):
    return [D(2025, 9, day, 10), state, county, "Houston Area of Responsibility", "Located", "Targeted",
            "3 Other Immigration Violator", landmark, person]


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    from icemonitor.places.build_step import place_stage
    from icemonitor.places.detention_facilities import gazetteer
    from xlsx_support import write_xlsx

    tmp = tmp_path_factory.mktemp("recorded-county")
    title = [["ICE"], [], [], [], [], []]
    arrests = write_xlsx(tmp / "arrests.xlsx", {"Arrests": title + [ARRESTS] + [
        _arrest(1, "TEXAS", "HARRIS", "HOUSTON GENERAL AREA", "a" * 40),     # recorded county
        _arrest(2, "TEXAS", "HARRIS", "HOUSTON GENERAL AREA", "b" * 40),     # recorded county; book-in 7 days later
        _arrest(3, "TEXAS", "NOWHERE", "HOUSTON GENERAL AREA", "c" * 40),    # unmapped name: reported
        _arrest(4, None, None, None, "d" * 40),                              # nothing: facility signal only
        _arrest(5, None, None, None, "e" * 40),                              # unplaced
    ]})
    gaz = gazetteer(REF).filter(pl.col("county_fips").is_not_null())
    code, fips = gaz["facility_code"][0], gaz["county_fips"][0]
    stint = lambda person, when: [when, when, "SOME FACILITY", code, None, None, None, None,  # noqa: E731
                                  "3 Other Immigration Violator", person]
    stints = write_xlsx(tmp / "detentions.xlsx", {"Detentions": title + [STINTS] + [
        stint("a" * 40, D(2025, 9, 3, 8)), stint("a" * 40, D(2025, 9, 5, 8)),  # first of two within 5 days
        stint("b" * 40, D(2025, 9, 9, 8)),                                      # 7 days after: no signal
        stint("d" * 40, D(2025, 9, 4, 23)),
    ]})
    sources = [BuildSource("ddp-ice-2026-03", p.name, p, "ddp_ice", None, {"table": t})
               for p, t in ((arrests, "arrests"), (stints, "detention_stints"))]
    path = tmp / "wh.duckdb"
    build(sources, path, extra_tables=place_stage(REF))
    with duckdb.connect(str(path)) as con:
        # the place stage wrote the signal (facilities by the gazetteer); `build` writes it again after detention
        assert con.execute("SELECT count(*) FROM arrest_facility_counties").fetchone()[0] == 2
        assert write_facility_signal(con, gaz.select("facility_code", "county_fips")) == 2
    with duckdb.connect(str(path), read_only=True) as con:
        yield con, fips


def test_recorded_counties_table_reports_unmapped_names(wh):
    con, _ = wh
    rows = con.execute("SELECT state, county_raw, county_fips, status, arrests FROM recorded_counties ORDER BY 2").fetchall()
    assert rows == [("TX", "HARRIS", "48201", MAPPED, 2), ("TX", "NOWHERE", None, UNKNOWN, 1)]
    assert [(u["county_raw"], u["status"], u["arrests"]) for u in unmapped(con)] == [("NOWHERE", UNKNOWN, 1)]


def test_recorded_county_places_before_the_landmark(wh):
    from icemonitor.query.selection import event_source

    con, _ = wh
    rows = con.execute(f"SELECT county_raw, res_county_fips, res_county_by, res_state FROM {event_source(con, 'arrests')} "
                       "ORDER BY event_date").fetchall()
    assert rows[0] == ("HARRIS", "48201", "recorded_county", "TX")
    assert rows[2][0] == "NOWHERE" and rows[2][2] != "recorded_county"  # an unmapped name never places
    assert rows[3][1:] == (None, None, None)


def test_facility_signal_is_separate_and_labelled(wh):
    con, fips = wh
    rows = con.execute("SELECT s.signal, a.person_id, s.days_after_arrest, s.county_fips, s.placed_by FROM "
                       "arrest_facility_counties s JOIN arrests a USING (release_id, source_file, source_row) "
                       "ORDER BY a.person_id").fetchall()
    assert rows == [(SIGNAL, "a" * 40, 2, fips, "gazetteer"), (SIGNAL, "d" * 40, 0, fips, "gazetteer")]
    # never mixed into the arrest's own county
    from icemonitor.query.selection import event_source
    (placed,) = con.execute(f"SELECT res_county_fips FROM {event_source(con, 'arrests')} WHERE person_id = ?",
                            ["d" * 40]).fetchone()
    assert placed is None


def test_places_coverage_reports_each_signal(wh):
    con, _ = wh
    cov = signal_coverage(con)
    assert cov["arrests"] == 5
    assert cov["county"] == {"recorded_county": 2, "landmark": 1, "none": 2}  # NOWHERE: by its landmark
    assert cov["state"] == {"recorded_state": 3, "landmark": 0, "none": 2}
    assert cov["facility"] == {"with_county": 2, "only_facility_county": 1}
    assert cov["unplaced"] == 1


def test_no_stints_no_signal(tmp_path):
    with duckdb.connect(str(tmp_path / "x.duckdb")) as con:
        con.execute("CREATE TABLE arrests (release_id VARCHAR)")
        assert facility_signal_table(con).height == 0
