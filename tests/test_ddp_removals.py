"""Removals in the DDP-era layouts: ICE's July 2025 and March 2026 workbooks, DDP's processed removals and the
2012-2023 linked set's Feather file, written here from the documented column names, read into the `removals` table the
2016-2019 files feed; the problems DDP documents for a release's removals are shown beside every figure drawn from it."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from icemonitor.analysis.summary import summary
from icemonitor.codes.encoder import encode
from icemonitor.errors import InputError
from icemonitor.readers import SourceFile, read
from icemonitor.warehouse.build import BuildSource, build
from icemonitor.warehouse.schema import table

from xlsx_support import write_xlsx

TITLE = [["ICE ERO LESA Statistical Tracking Unit"], [], ["FOIA 2025-ICLI-00019"], [], [], []]
# ICE's removals workbook of the late-July 2025 release, in order (deportationdata/ice code/removals-7-25.R col_types)
JULY = ["Departed Date", "Port of Departure", "Departure Country", "Docket AOR", "Apprehension State",
        "Apprehension County", "Case Status", "Gender", "Birth Country", "Citizenship Country", "Birth Date",
        "Birth Year", "Entry Date", "Entry Status", "MSC NCIC Charge", "MSC NCIC Charge Code", "MSC Charge Date",
        "MSC Criminal Charge Status", "MSC Criminal Charge Status Code", "MSC Conviction Date", "Case Threat Level",
        "Case Criminality", "Felon", "Processing Disposition", "Case Category", "Final Program", "Final Program Code",
        "Case Category Time of Arrest", "Latest Arrest Program Current", "Latest Arrest Program Current Code",
        "Latest Person Apprehension Date", "Final Order Yes No", "Final Order Date", "Final Charge Code",
        "Final Charge Section Code", "Prior Deport Yes No", "Latest Person Departed Date", "Alien File Number",
        "EID Case ID", "EID Subject ID", "Unique Identifier"]
# March 2026 (FOIA 2026-ICLI-00005): the 39 titles, in order, of DDP's reader of these workbooks (deportationdata/ice,
# branch cpang, code/removals-latest.R at 2875c3c, col_types: readxl takes exactly one type per column)
MARCH = ["Departed Date", "Port of Departure", "Departure Country", "Case AOR", "State", "County", "Case Status", "Gender",
         "Birth Country", "Citizenship Country", "Birth Date", "Birth Year", "Entry Date", "Entry Status",
         "Known Terrorist Yes No", "Suspected Gang Yes No", "MSC Charge", "MSC Charge Date", "MSC Criminal Charge Status",
         "MSC Charge Code", "MSC Conviction Date", "Case Criminality", "Case Threat Level", "Aggravated Felon Yes No",
         "Processing Disposition", "Case Category", "Final Program", "Final Program Code", "Arresting Agency",
         "TOA Case Category", "Latest Apprehension Final Program", "Latest Arresting Agency", "Latest Apprehension Date",
         "Final Order Yes No", "Final Order Date", "Final Charge Code", "Final Charge Section", "Prior Deport Yes No",
         "Anonymized Identifier"]
# DDP's 2012-2023 removals Feather (code/removals-2012-2023.R: janitor names of the FY2012-2023 titles, file/sheet/row)
LINKED = ["departure_date", "port_of_departure", "departure_country", "case_status", "case_category",
          "final_order_yes_no", "final_order_date", "case_id", "gender", "birth_country", "citizenship_country",
          "birth_date", "birth_year", "alien_file_number", "entry_status", "entry_date", "msc_charge", "msc_charge_date",
          "msc_charge_code", "msc_conviction_date", "msc_criminal_charge_status", "case_threat_level",
          "processing_disposition_code", "processing_disposition", "current_program", "apprehension_date",
          "charge_section_code", "charge_code", "anonymized_identifer", "file", "sheet", "row"]
D = dt.datetime
CRIMES = ["1 Convicted Criminal", "2 Pending Criminal Charges", "3 Other Immigration Violator"]


def _row(columns: list[str], i: int, departed: dt.datetime) -> list[object]:
    values = {
        "Departed Date": departed, "Docket AOR": "Houston Area of Responsibility", "Case AOR": "Houston Area of Responsibility",
        "Apprehension State": "TEXAS", "State": "TEXAS", "Apprehension County": "HARRIS", "County": "HARRIS",
        "Case Criminality": CRIMES[i % 3], "Processing Disposition": "REINSTATEMENT OF DEPORT ORDER I-871",
        "Case Category": "[16] Reinstated Final Order", "Latest Person Apprehension Date": D(2025, 1, 2, 7, 30),
        "Latest Apprehension Date": D(2025, 1, 2, 7, 30), "Final Charge Section Code": "212a6Ai",
        "Final Charge Section": "212a6Ai", "MSC NCIC Charge": "Illegal Entry", "MSC Charge": "Illegal Entry",
        "Gender": "Male", "Citizenship Country": "MEXICO", "Birth Year": 1990,
        "Unique Identifier": f"{i:040x}", "Anonymized Identifier": f"{i:040x}",
    }
    return [values.get(c, "(b)(6), (b)(7)(C)" if c in ("Birth Date", "Alien File Number", "EID Case ID",
                                                       "EID Subject ID") else None) for c in columns]


def _read(path) -> pl.DataFrame:
    return read(SourceFile(path, path.name, "test", "ddp_ice", {"table": "removals"}))["removals"]


@pytest.mark.parametrize("columns", [JULY, MARCH], ids=["2025-07", "2026-03"])
def test_removals_workbook_several_sheets_header_on_row_7(tmp_path, columns):
    sheets = {"Removals": TITLE + [columns] + [_row(columns, i, D(2025, 6, 1 + i, 12)) for i in range(3)],
              "Removals (2)": TITLE + [columns] + [_row(columns, 3, D(2025, 7, 1, 9))]}
    frame = _read(write_xlsx(tmp_path / "removals.xlsx", sheets))
    assert frame["source_sheet"].to_list() == ["Removals"] * 3 + ["Removals (2)"]
    assert frame["source_row"].to_list() == [8, 9, 10, 8]
    assert frame["event_date"].to_list() == [dt.date(2025, 6, 1), dt.date(2025, 6, 2), dt.date(2025, 6, 3), dt.date(2025, 7, 1)]
    assert frame["removal_date"].to_list() == frame["event_date"].to_list() == frame["departed_date"].to_list()
    assert set(frame["apprehension_date"]) == {dt.date(2025, 1, 2)}
    assert set(frame["state"]) == {"TX"} and set(frame["county_raw"]) == {"HARRIS"}
    assert set(frame["final_charge"]) == {"212a6Ai"} and set(frame["most_serious_conviction"]) == {"Illegal Entry"}
    assert frame["person_id"][3] == f"{3:040x}"
    coded = encode(frame, table("removals"))
    assert coded["criminality"].to_list() == ["convicted", "pending_charges", "no_record", "convicted"]
    assert set(coded["criminality_field"]) == {"ddp_case_criminality"} and set(coded["aor"]) == {"HOU"}


def test_unknown_removals_column_stops_naming_file_sheet_row_and_field(tmp_path):
    path = write_xlsx(tmp_path / "removals.xlsx", {"Removals": TITLE + [JULY + ["Removal Flight"]] + [
        _row(JULY, 0, D(2025, 6, 1)) + ["X"]]})
    with pytest.raises(InputError) as err:
        _read(path)
    assert (err.value.file, err.value.row, err.value.field) == ("removals.xlsx", 7, "Removal Flight")
    assert "'Removals'" in str(err.value)


def test_processed_removals_feather(tmp_path):
    """DDP's removals-latest.feather: janitor names of the July titles, DDP's flag and the row of origin."""
    names = {c: c.lower().replace(" ", "_") for c in JULY}
    rows = [_row(JULY, i, D(2025, 5, 10 + i)) for i in range(2)]
    frame = pl.DataFrame({names[c]: [r[j] for r in rows] for j, c in enumerate(JULY)}, strict=False).with_columns(
        pl.Series("duplicate_likely", [False, True]), pl.Series("file_original", ["x.xlsx"] * 2),
        pl.Series("sheet_original", ["Removals"] * 2), pl.Series("row_original", [8, 9]),
        pl.col("departed_date").cast(pl.Date))
    path = tmp_path / "removals-latest.feather"
    frame.write_ipc(path)
    got = _read(path)
    assert got["event_date"].to_list() == [dt.date(2025, 5, 10), dt.date(2025, 5, 11)]
    assert got["duplicate_likely"].to_list() == [False, True] and got["source_row"].to_list() == [1, 2]
    assert got["apprehension_date"].to_list() == [dt.date(2025, 1, 2)] * 2


def _linked_removals(path) -> None:
    values = {"departure_date": [dt.date(2013, 1, 22), dt.date(2019, 11, 5)], "departure_country": ["MEXICO"] * 2,
              "case_category": ["[16] Reinstated Final Order"] * 2, "gender": ["Male", "Female"],
              "citizenship_country": ["MEXICO", "GUATEMALA"], "birth_year": [1970.0, 1988.0],
              "apprehension_date": [dt.date(2007, 7, 20), None], "charge_section_code": ["212a9Aii", "212a6Ai"],
              "processing_disposition": ["REINSTATEMENT OF DEPORT ORDER I-871"] * 2, "case_threat_level": [1.0, None],
              "anonymized_identifer": ["d" * 40, None], "file": ["ICE_Removals_FY2012-FY2014-REDACTED_raw.xlsx"] * 2,
              "sheet": ["FY2013"] * 2, "row": [7, 8]}
    pl.DataFrame({c: values.get(c, [None, None]) for c in LINKED}, strict=False).write_ipc(path)


def test_linked_set_removals_feather_records_no_criminality(tmp_path):
    path = tmp_path / "ice-removals-2012-2023.feather"
    _linked_removals(path)
    got = encode(_read(path), table("removals"))
    assert got["event_date"].to_list() == [dt.date(2013, 1, 22), dt.date(2019, 11, 5)]
    assert got["apprehension_date"].to_list() == [dt.date(2007, 7, 20), None]
    assert got["final_charge"].to_list() == ["212a9Aii", "212a6Ai"] and got["person_id"].to_list() == ["d" * 40, None]
    assert set(got["criminality_field"]) == {"not_recorded"} and set(got["criminality"]) == {"unknown"}
    pl.read_ipc(path).with_columns(pl.lit("x").alias("removal_flight")).write_ipc(path)
    with pytest.raises(InputError) as err:
        _read(path)
    assert (err.value.file, err.value.field) == ("ice-removals-2012-2023.feather", "removal_flight")


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp-removals")
    july = write_xlsx(tmp / "july.xlsx", {"Removals": TITLE + [JULY] + [_row(JULY, i, D(2025, 6, 1 + i)) for i in range(3)]})
    march = write_xlsx(tmp / "march.xlsx", {"Removals": TITLE + [MARCH] + [_row(MARCH, i, D(2025, 6, 2 + i)) for i in range(4)]})
    linked = tmp / "ice-removals-2012-2023.feather"
    _linked_removals(linked)
    sources = [BuildSource("ddp-ice-2025-07", july.name, july, "ddp_ice", None, {"table": "removals"}),
               BuildSource("ddp-ice-2026-03", march.name, march, "ddp_ice", None, {"table": "removals"}),
               BuildSource("ddp-ice-2012-2023", linked.name, linked, "ddp_ice", None, {"table": "removals"})]
    report = build(sources, tmp / "wh.duckdb")
    assert report.rows["removals"] == 9
    with duckdb.connect(str(tmp / "wh.duckdb"), read_only=True) as con:
        yield con


def test_later_release_supersedes_for_the_days_both_cover(wh):
    rows = dict(wh.execute("SELECT release_id, count(*) FILTER (WHERE counted) FROM removals GROUP BY 1").fetchall())
    assert rows == {"ddp-ice-2025-07": 0, "ddp-ice-2026-03": 4, "ddp-ice-2012-2023": 2}


def test_october_2025_removals_supersede_july_and_carry_ddps_warning(tmp_path):
    """The 15 Oct 2025 release (its removals taken to have the July titles) counts instead of the late-July one for the
    days both cover, and every figure drawn from it shows DDP's warning."""
    july = write_xlsx(tmp_path / "july.xlsx", {"Removals": TITLE + [JULY] + [_row(JULY, i, D(2025, 6, 1 + i)) for i in range(3)]})
    october = write_xlsx(tmp_path / "8sf3s6hqfdcko9hngnl7mg6dabt0boy8.xlsx",
                         {"Removals": TITLE + [JULY] + [_row(JULY, i, D(2025, 6, 1 + i)) for i in range(5)]})
    build([BuildSource("ddp-ice-2025-07", july.name, july, "ddp_ice", None, {"table": "removals"}),
           BuildSource("ddp-ice-2025-10", october.name, october, "ddp_ice", None, {"table": "removals"})],
          tmp_path / "wh.duckdb")
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        rows = dict(con.execute("SELECT release_id, count(*) FILTER (WHERE counted) FROM removals GROUP BY 1").fetchall())
        assert rows == {"ddp-ice-2025-07": 0, "ddp-ice-2025-10": 5}
        r = summary(con, table="removals", by="criminality", date_from="2025-06-01", date_to="2025-06-30")
    assert sum(f["events"] for f in r.figures) == 5 and r.releases == ["ddp-ice-2025-10"]
    assert any("ddp-ice-2025-10" in c and "significant errors" in c for c in r.caveats)


def test_removals_figures_show_the_documented_problem(wh):
    r = summary(wh, table="removals", by="criminality", date_from="2025-06-01", date_to="2025-06-30")
    got = {f["criminality"].split(" [")[0]: f["events"] for f in r.figures}
    assert got == {"convicted": 2, "pending_charges": 1, "no_record": 1}  # the four March 2026 rows
    assert any("ddp-ice-2026-03" in c and "significant errors" in c for c in r.caveats)
    assert "expulsiones" in r.extra["known_problems"][0]["es"]
    # the 2012-2023 rows: no documented problem, and no criminality recorded
    old = summary(wh, table="removals", by="criminality", date_from="2012-10-01", date_to="2013-09-30")
    assert not old.extra["known_problems"] and old.figures[0]["events"] == 1


def test_documented_removals_problems_are_data():
    from icemonitor.catalog.problems import problems_for

    june = problems_for("removals", ["ddp-ice-2025-06"], dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    assert june and "fiscal year 2024" in june[0].problem_en
    late = problems_for("removals", ["ddp-ice-2025-06-late"], dt.date(2025, 6, 1), dt.date(2025, 6, 30))
    assert late and "CBP" in late[0].problem_en
    for rid in ("ddp-ice-2025-10", "ddp-ice-2026-03"):
        assert problems_for("removals", [rid], dt.date(2025, 1, 1), dt.date(2025, 1, 31))
    assert not problems_for("removals", ["ddp-ice-2025-07"])


def test_priorities_on_removals_show_the_documented_problem(wh):
    from icemonitor.analysis.priorities import priorities

    r = priorities(wh, table="removals", date_from="2025-06-01", date_to="2025-06-30", period="all", by_method=False)
    [fig] = [f for f in r.figures if f["criminality_field"] == "ddp_case_criminality"]
    assert fig["events"] == 4 and fig["convicted_share"] == 0.5
    assert r.releases == ["ddp-ice-2026-03"] and r.extra["known_problems"][0]["release_id"] == "ddp-ice-2026-03"
    assert any("significant errors" in c for c in r.caveats)
