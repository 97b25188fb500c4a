"""ICE's DDP-era workbook layouts (July 2025, October 2025, March 2026, the Aug 2026 `Event Landmark` rename) and DDP's
processed Parquet, written here from the documented column names, read by the ddp_ice reader."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from icemonitor.codes.encoder import encode
from icemonitor.errors import InputError
from icemonitor.readers import SourceFile, read
from icemonitor.warehouse.schema import table

from conftest import ICE_DATA
from xlsx_support import write_xlsx

# ICE's 23 columns of the late-July 2025 release, as in the North Carolina file's header (SOURCE.md)
JULY = (ICE_DATA / "nc-ddp-arrests-2023-25" / "nc_ice_arrests_raw_columns.csv").read_text().splitlines()[0].split(",")
OCTOBER = JULY
# March 2026 (FOIA 2026-ICLI-00005): the 25 titles, in order, of DDP's reader of these workbooks (deportationdata/ice
# code/arrests-latest.R at 71fb6ae, col_types: readxl takes exactly one type per column)
MARCH = ["Apprehension Date", "Apprehension Type", "State", "County", "TOA Current Duty AOR", "Apprehension Final Program",
         "Arresting Agency", "Apprehension Method", "Apprehension Criminality", "Case Status", "Case Category",
         "Departure Country", "Final Order Yes No", "Birth Date", "Birth Year", "Citizenship Country", "Gender",
         "Departed Date", "Final Order Date", "Apprehension Site Landmark", "Operation", "TOA Current Duty Site",
         "Case Criminality", "Case Threat Level", "Anonymized Identifier"]
AUGUST = [("Event Landmark" if c == "Apprehension Site Landmark" else c) for c in MARCH]
REDACTED = "(b)(6), (b)(7)(C)"


def _value(col: str, i: int) -> object:
    values = {
        "Apprehension Date": dt.datetime(2025, 8, 3 + i, 10, 15), "Apprehension State": "NORTH CAROLINA",
        "State": "TEXAS", "County": "HARRIS", "Apprehension AOR": "Atlanta Area of Responsibility",
        "TOA Current Duty AOR": "Houston Area of Responsibility", "Apprehension Method": "Custodial Arrest",
        "Apprehension Type": ["Targeted", "Collateral"][i % 2], "Operation": ["ICE Wall FY26", "(B)(7)(E)"][i % 2],
        "Apprehension Criminality": "2 Pending Criminal Charges", "Apprehension Site Landmark": "HARRIS COUNTY JAIL",
        "Event Landmark": "HARRIS COUNTY JAIL", "Citizenship Country": "MEXICO", "Gender": "Male",
        "Unique Identifier": f"{i:040x}", "Anonymized Identifier": f"{i:040x}", "Birth Year": 1990, "Case Threat Level": 3,
        "Departed Date": dt.datetime(2025, 9, 1), "Final Order Date": dt.datetime(2025, 8, 20),
    }
    if col in values:
        return values[col]
    return REDACTED if col in ("Birth Date", "Alien File Number", "EID Case ID", "EID Subject ID",
                               "Arrest Created By") else f"{col} value"


def _workbook(path: Path, columns: list[str], sheets: dict[str, int]) -> Path:
    title = [["U.S. Immigration and Customs Enforcement"], ["ERO Administrative Arrests"], [], ["FOIA"], [], []]
    content, n = {}, 0
    for sheet, rows in sheets.items():
        content[sheet] = title + [list(columns)] + [[_value(c, n + i) for c in columns] for i in range(rows)]
        n += rows
    return write_xlsx(path, content)


def _read(path: Path) -> pl.DataFrame:
    return read(SourceFile(path, path.name, "test", "ddp_ice", {"table": "arrests"}))["arrests"]


@pytest.mark.parametrize("layout,columns", [("2025-07", JULY), ("2025-10", OCTOBER)])
def test_2025_layouts_several_sheets_header_on_row_7(tmp_path, layout, columns):
    frame = _read(_workbook(tmp_path / f"arrests-{layout}.xlsx", columns, {"Sheet1": 3, "Sheet2": 2}))
    assert frame.height == 5
    assert frame["source_sheet"].to_list() == ["Sheet1"] * 3 + ["Sheet2"] * 2
    assert frame["source_row"].to_list() == [8, 9, 10, 8, 9]  # header on row 7
    assert frame["event_date"].to_list() == [dt.date(2025, 8, 3 + i) for i in range(5)]
    assert set(frame["state"]) == {"NC"} and set(frame["aor_raw"]) == {"Atlanta Area of Responsibility"}
    assert set(frame["landmark"]) == {"HARRIS COUNTY JAIL"} and frame["person_id"][4] == f"{4:040x}"
    assert frame["apprehension_type_raw"].is_null().all() and frame["operation_raw"].is_null().all()


@pytest.mark.parametrize("layout,columns", [("2026-03", MARCH), ("2026-08", AUGUST)])
def test_2026_layouts_type_operation_state_county(tmp_path, layout, columns):
    frame = _read(_workbook(tmp_path / f"arrests-{layout}.xlsx", columns, {"FY23-24": 2, "FY25": 1, "FY26": 2}))
    assert frame.height == 5 and frame["source_sheet"].unique(maintain_order=True).to_list() == ["FY23-24", "FY25", "FY26"]
    assert set(frame["state"]) == {"TX"} and set(frame["county_raw"]) == {"HARRIS"}
    assert set(frame["landmark"]) == {"HARRIS COUNTY JAIL"}  # Event Landmark in the Aug 2026 layout
    assert frame["person_id"][4] == f"{4:040x}"  # Anonymized Identifier (March 2026), Unique Identifier (Aug 2026)
    coded = encode(frame, table("arrests"))
    assert coded["apprehension_type"].to_list() == ["targeted", "collateral"] * 2 + ["targeted"]
    assert coded["operation"].to_list() == ["ICE Wall FY26", None, "ICE Wall FY26", None, "ICE Wall FY26"]
    assert set(coded["aor"]) == {"HOU"} and set(coded["method_class"]) == {"custodial"}
    assert set(coded["criminality"]) == {"pending_charges"}


def test_unknown_column_stops_naming_file_sheet_row_and_field(tmp_path):
    path = _workbook(tmp_path / "arrests.xlsx", MARCH + ["Mystery Column"], {"Sheet1": 1, "Sheet2": 1})
    with pytest.raises(InputError) as err:
        _read(path)
    assert (err.value.file, err.value.row, err.value.field) == ("arrests.xlsx", 7, "Mystery Column")
    assert "'Sheet1'" in str(err.value)


def test_unknown_sheet_stops_naming_it(tmp_path):
    path = tmp_path / "arrests.xlsx"
    rows = [["U.S. Immigration and Customs Enforcement"]] + [[]] * 5 + [MARCH] + [[_value(c, 0) for c in MARCH]]
    write_xlsx(path, {"Sheet1": rows, "Notes": [["Data as of 11 March 2026"], ["Redactions under (b)(6)"]]})
    with pytest.raises(InputError, match="Notes"):
        _read(path)


def test_ddp_processed_parquet(tmp_path):
    stamp = [dt.datetime(2025, 6, 7, 9, 30), dt.datetime(2025, 6, 7, 11, 0), dt.datetime(2026, 1, 2, 8, 0)]
    frame = pl.DataFrame({
        "apprehension_date": [s.date() for s in stamp], "apprehension_date_time": stamp,
        "state": ["CALIFORNIA", "CALIFORNIA", None], "county": ["LOS ANGELES", None, None],
        "apprehension_aor": ["Los Angeles Area of Responsibility"] * 2 + [None],
        "apprehension_method": ["Located", "Non-Custodial Arrest", "Custodial Arrest"],
        "apprehension_type": [None, "Collateral", "Targeted"], "operation": [None, "NA", "ICE Wall FY26"],
        "apprehension_criminality": ["3 Other Immigration Violator", "1 Convicted Criminal", "NA"],
        "apprehension_site_landmark": ["LOS GENERAL AREA, NON-SPECIFIC", None, "HARRIS COUNTY JAIL"],
        "citizenship_country": ["MEXICO", "GUATEMALA", "HONDURAS"], "gender": ["Male", "Female", "Male"],
        "birth_year": [1990, 1985, None], "unique_identifier": ["a" * 40, "a" * 40, None],
        "duplicate_likely": [False, True, False],
        "file_original": ["x.xlsx"] * 3, "sheet_original": ["Sheet1"] * 3, "row_original": [8, 9, 10],
    })
    path = tmp_path / "arrests-latest.parquet"
    frame.write_parquet(path)
    got = _read(path)
    assert got["source_row"].to_list() == [1, 2, 3]
    assert got["event_date"].to_list() == [dt.date(2025, 6, 7), dt.date(2025, 6, 7), dt.date(2026, 1, 2)]
    assert got["state"].to_list() == ["CA", "CA", None] and got["county_raw"].to_list() == ["LOS ANGELES", None, None]
    assert got["duplicate_likely"].to_list() == [False, True, False]
    coded = encode(got, table("arrests"))
    assert coded["criminality"].to_list() == ["no_record", "convicted", "unknown"]
    assert coded["method_class"].to_list() == ["at_large", "at_large", "custodial"]
    assert coded["apprehension_type"].to_list() == [None, "collateral", "targeted"]
    assert coded["operation"].to_list() == [None, None, "ICE Wall FY26"]
    frame.with_columns(pl.lit("?").alias("new_column")).write_parquet(path)
    with pytest.raises(InputError) as err:
        _read(path)
    assert err.value.field == "new_column"


def test_ddp_processed_parquet_of_march_2026_renames(tmp_path):
    """DDP's processed March 2026 arrests (code/arrests-latest.R at 71fb6ae, 'Rename to match Oct 2025 release'):
    State kept as apprehension_state_original (the recorded state), DDP's duty-site guess apprehension_state_filled_in
    not taken for it, the identifier renamed unique_identifier, DDP's duplicate-episode columns."""
    frame = pl.DataFrame({
        "apprehension_date": [dt.date(2025, 9, 2), dt.date(2025, 9, 3)], "apprehension_type": ["Targeted", None],
        "apprehension_state_filled_in": ["TEXAS", "FLORIDA"], "apprehension_state_original": ["TEXAS", None],
        "county": ["HARRIS", None], "apprehension_aor": ["Houston Area of Responsibility"] * 2,
        "final_program": ["ERO Criminal Alien Program"] * 2, "apprehension_method": ["Custodial Arrest"] * 2,
        "apprehension_criminality": ["1 Convicted Criminal"] * 2, "toa_current_duty_site": ["ERO - Miami, FL"] * 2,
        "unique_identifier": ["b" * 40, "c" * 40],
        "apprehension_date_time": [dt.datetime(2025, 9, 2, 8), dt.datetime(2025, 9, 3, 9)],
        "duplicate_episode_identifier": [1, 1], "duplicate_episode_first": [True, True],
        "duplicate_likely": [False, False], "duplicate_drop_row": [False, False],
        "file_original": ["2026-ICLI-00005_Arrests_FY23..FY26_20260311_Redacted.xlsx"] * 2,
        "sheet_original": ["FY26"] * 2, "row_original": [8, 9],
    })
    path = tmp_path / "arrests-latest.parquet"
    frame.write_parquet(path)
    got = _read(path)
    assert got["state"].to_list() == ["TX", None]  # the recorded state only, never DDP's guess
    assert got["person_id"].to_list() == ["b" * 40, "c" * 40]


def test_unknown_redaction_marker_in_operation_stops(tmp_path):
    frame = _read(_workbook(tmp_path / "arrests.xlsx", MARCH, {"Sheet1": 1}))
    with pytest.raises(InputError) as err:
        encode(frame.with_columns(pl.lit("(b)(7)(e)").alias("operation_raw")), table("arrests"))
    assert (err.value.row, err.value.field, err.value.value) == (8, "operation_raw", "(b)(7)(e)")
