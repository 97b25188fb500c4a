"""Detention stints and stays, detainers and encounters in ICE's July 2025 workbook layouts (column lists of DDP's readers
of those workbooks), built into a warehouse: stints stacked from several sheets, stays derived, precedence applied."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from icemonitor.analysis.summary import summary
from icemonitor.warehouse.build import BuildSource, build

from conftest import ICE_DATA
from xlsx_support import write_xlsx

RELEASE = "ddp-ice-2025-07"
TITLE = [["ICE ERO LESA Statistical Tracking Unit"], [], ["FOIA 2025-ICLI-00019"], [], [], []]
STINTS = ["Stay Book In Date Time", "Book In Date Time", "Detention Facility", "Detention Facility Code",
          "Detention Book Out Date Time", "Stay Book Out Date Time", "Detention Release Reason", "Stay Book Out Date",
          "Stay Release Reason", "Religion", "Gender", "Marital Status", "Birth Date", "Birth Year", "Ethnicity",
          "Entry Status", "Felon", "Bond Posted Date", "Bond Posted Amount", "Case Status", "Case Category",
          "Final Order Yes No", "Final Order Date", "Case Threat Level", "Book In Criminality", "Final Charge",
          "Departed Date", "Departure Country", "Initial Bond Set Amount", "Citizenship Country", "Final Program",
          "Most Serious Conviction (MSC) Charge Code", "MSC Charge", "Alien File Number", "EID Case ID",
          "EID Subject ID", "Unique Identifier"]
ENCOUNTERS = ["Event Date", "Responsible AOR", "Responsible Site", "Lead Event Type", "Lead Source", "Event Type",
              "Final Program", "Final Program Group", "Encounter Criminality", "Processing Disposition", "Case Status",
              "Case Category", "Departed Date", "Departure Country", "Final Order Yes No", "Final Order Date",
              "Birth Date", "Birth Year", "Citizenship Country", "Gender", "Event Landmark", "Alien File Number",
              "EID Case ID", "EID Subject ID", "Unique Identifier"]
ARRESTS = (ICE_DATA / "nc-ddp-arrests-2023-25" / "nc_ice_arrests_raw_columns.csv").read_text().splitlines()[0].split(",")
D = dt.datetime
A, B = "a" * 40, "b" * 40


def _stint(person, stay_in, book_in, code, out, stay_out, reason, stay_reason, bond):
    row = dict.fromkeys(STINTS)
    row.update({
        "Stay Book In Date Time": stay_in, "Book In Date Time": book_in, "Detention Facility": f"FACILITY {code}",
        "Detention Facility Code": code, "Detention Book Out Date Time": out, "Stay Book Out Date Time": stay_out,
        "Detention Release Reason": reason, "Stay Release Reason": stay_reason, "Gender": "Male",
        "Book In Criminality": "1 Convicted Criminal" if person == A else "3 Other Immigration Violator",
        "Citizenship Country": "MEXICO", "Initial Bond Set Amount": bond, "Unique Identifier": person,
        "Birth Date": "(b)(6), (b)(7)(C)",
    })
    return [row[c] for c in STINTS]


def _arrest(person, when):
    row = dict.fromkeys(ARRESTS)
    row.update({"Apprehension Date": when, "Apprehension State": "TEXAS", "Apprehension AOR": "Houston Area of Responsibility",
                "Apprehension Method": "Located", "Apprehension Criminality": "3 Other Immigration Violator",
                "Unique Identifier": person})
    return [row[c] for c in ARRESTS]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp-tables")
    a1 = _stint(A, D(2025, 3, 1, 8), D(2025, 3, 1, 8), "FAC1", D(2025, 3, 5, 10), D(2025, 4, 1, 9), "Transferred", "Removed", None)
    a2 = _stint(A, D(2025, 3, 1, 8), D(2025, 3, 5, 12), "FAC2", D(2025, 4, 1, 9), D(2025, 4, 1, 9), "Removed", "Removed", 5000)
    a2_dup = _stint(A, D(2025, 3, 1, 8), D(2025, 3, 5, 12), "FAC2", D(2025, 4, 1, 9), D(2025, 4, 1, 9), "Removed", "Removed", 7500)
    b1 = _stint(B, D(2025, 7, 20, 14, 30), D(2025, 7, 20, 14, 30), "FAC1", None, None, None, None, None)
    stints = write_xlsx(tmp / "detentions.xlsx", {"Detentions 1": TITLE + [STINTS, a1, a2],
                                                  "Detentions 2": TITLE + [STINTS, a2_dup, b1]})
    enc_row = dict.fromkeys(ENCOUNTERS)
    enc_row.update({"Event Date": D(2025, 6, 6, 7, 45), "Responsible AOR": "Los Angeles Area of Responsibility",
                    "Encounter Criminality": "2 Pending Criminal Charges", "Processing Disposition": "Notice to Appear",
                    "Event Landmark": "LOS GENERAL AREA, NON-SPECIFIC", "Unique Identifier": A, "Gender": "Female"})
    encounters = write_xlsx(tmp / "encounters.xlsx", {"Encounters": TITLE + [ENCOUNTERS, [enc_row[c] for c in ENCOUNTERS]]})
    arrests = write_xlsx(tmp / "arrests.xlsx", {"Admin Arrests": TITLE + [ARRESTS] + [
        _arrest(A, D(2025, 2, 27, 6)),   # stay of A books in 2 days later: Removed
        _arrest(A, D(2025, 5, 1, 6)),    # A's stay began 61 days before: not linked
        _arrest(B, D(2025, 7, 25, 6)),   # stay of B booked in 5 days before, still open
        _arrest("c" * 40, D(2025, 7, 1, 6)),  # no stay at all
    ]})
    sources = [BuildSource(RELEASE, p.name, p, "ddp_ice", None, {"table": t})
               for p, t in ((stints, "detention_stints"), (encounters, "encounters"), (arrests, "arrests"))]
    report = build(sources, tmp / "wh.duckdb")
    assert report.rows["detention_stints"] == 4 and report.rows["detention_stays"] == 2
    c = duckdb.connect(str(tmp / "wh.duckdb"), read_only=True)
    yield c
    c.close()


def _aor(con, table: str) -> str:
    """The one AOR the synthetic rows of a table record (what their records cover)."""
    [(aor,)] = con.execute(f"SELECT DISTINCT aor FROM {table}").fetchall()  # noqa: S608 - a test's table name
    return aor


def test_stints_stacked_from_sheets_with_date_times(con):
    rows = con.execute(
        "SELECT source_sheet, source_row, book_in_at, book_out_at, facility_code, release_reason, criminality, counted "
        "FROM detention_stints ORDER BY source_sheet, source_row").fetchall()
    assert rows[0] == ("Detentions 1", 8, D(2025, 3, 1, 8), D(2025, 3, 5, 10), "FAC1", "Transferred", "convicted", True)
    assert rows[3] == ("Detentions 2", 9, D(2025, 7, 20, 14, 30), None, "FAC1", None, "no_record", True)
    assert con.execute("SELECT min(event_date), max(event_date) FROM detention_stints").fetchone() == (
        dt.date(2025, 3, 1), dt.date(2025, 7, 20))


def test_stays_derived_one_per_person_and_stay_book_in(con):
    rows = con.execute(
        "SELECT person_id, stay_book_in_at, stay_book_out_at, stay_release_reason, first_facility_code, stints, "
        "event_date, criminality, counted FROM detention_stays ORDER BY person_id").fetchall()
    assert rows == [
        (A, D(2025, 3, 1, 8), D(2025, 4, 1, 9), "Removed", "FAC1", 2, dt.date(2025, 3, 1), "convicted", True),
        (B, D(2025, 7, 20, 14, 30), None, None, "FAC1", 1, dt.date(2025, 7, 20), "no_record", True),
    ]
    # detention records name no AOR: they cover the nation (a count), never a place within it (no count)
    assert summary(con, table="detention_stays", by="criminality", place="LOS").extra["total_events"] is None
    r = summary(con, table="detention_stays", by="criminality")
    assert {f["criminality"].split(" [")[0]: f["events"] for f in r.figures} == {"convicted": 1, "no_record": 1}


def test_encounters_in_the_ddp_layout(con):
    row = con.execute("SELECT event_date, aor, landmark, criminality, disposition, method_raw, counted FROM encounters").fetchone()
    assert row == (dt.date(2025, 6, 6), "LOS", "LOS GENERAL AREA, NON-SPECIFIC", "pending_charges", "Notice to Appear",
                   None, True)


def test_documented_problems_are_data_with_catalogued_releases_and_known_tables():
    from icemonitor.catalog.catalog import load_catalog
    from icemonitor.catalog.problems import known_problems
    from icemonitor.warehouse.schema import tables

    ids = {r.id for r in load_catalog().releases}
    problems = known_problems()
    assert len(problems) >= 10
    for p in problems:
        assert (p.release_id in ids) == p.catalogued, p.release_id
        assert p.table in tables() and p.source and p.problem_es and p.date_from <= p.date_to


def test_figures_from_an_affected_release_show_its_problem(con, tmp_path):
    assert not summary(con, table="detention_stays", by="criminality").extra["known_problems"]  # July 2025: none
    row = _stint(A, D(2026, 1, 5, 9), D(2026, 1, 5, 9), "FAC3", None, None, None, None, None)
    path = write_xlsx(tmp_path / "march.xlsx", {"Detentions": TITLE + [STINTS, row]})
    build([BuildSource("ddp-ice-2026-03", path.name, path, "ddp_ice", None, {"table": "detention_stints"})],
          tmp_path / "wh.duckdb")
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as c:
        for table in ("detention_stints", "detention_stays"):
            r = summary(c, table=table, by="fy")
            assert r.figures[0]["events"] == 1
            assert any("hospitals" in text and "ddp-ice-2026-03" in text for text in r.caveats)
            assert "hospitales" in r.extra["known_problems"][0]["es"]
        # a period the problem does not cover shows no warning
        assert not summary(c, table="detention_stints", date_to="2022-09-30").extra["known_problems"]


def test_outcomes_link_arrest_to_closest_stay_within_the_release(con):
    from icemonitor.analysis.outcomes import outcomes

    r = outcomes(con)
    got = {f["outcome"]: f["arrests"] for f in r.figures}
    assert got == {"Removed": 1, "(still detained)": 1, "(no stay linked)": 2}
    assert r.releases == [RELEASE] and r.extra["last_recorded_day"][RELEASE] == "2025-07-29"  # catalog coverage
    assert "lower bounds" in r.caveats[0]
    assert {f["outcome"]: f["arrests"] for f in outcomes(con, date_to="2025-03-31").figures} == {"Removed": 1}


def test_summary_by_apprehension_type(con):
    from icemonitor.errors import InputError

    r = summary(con, by="apprehension_type", place=_aor(con, "arrests"))
    assert [(f["apprehension_type"], f["events"]) for f in r.figures] == [("(not recorded)", 4)]  # July 2025 layout
    with pytest.raises(InputError):
        summary(con, table="encounters", by="apprehension_type")


def test_spanish_pages_translate_the_problems_and_the_placement_mix():
    from icemonitor.catalog.problems import known_problems
    from icemonitor.messages import Given, msg
    from icemonitor.web.i18n import analysis_text

    for p in known_problems():
        caveat = msg("Known problem in {release}: {problem} (source: {source})", release=p.release_id,
                     problem=Given(p.problem_en, es=p.problem_es), source=p.source)
        assert caveat == f"Known problem in {p.release_id}: {p.problem_en} (source: {p.source})"
        assert analysis_text("es", caveat).startswith(f"Problema conocido en {p.release_id}: {p.problem_es}")
    text = msg("Placed in {place}: {state:,} events by the state the release records, {landmark:,} by the landmark "
               "alone.", place=Given("North Carolina", es="Carolina del Norte"), state=427, landmark=5)
    assert text == "Placed in North Carolina: 427 events by the state the release records, 5 by the landmark alone."
    assert analysis_text("es", text).startswith("Ubicados en Carolina del Norte") and \
        "427 eventos por el estado" in analysis_text("es", text)
