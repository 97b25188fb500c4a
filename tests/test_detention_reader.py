"""The detention-statistics reader against ICE's real workbooks (cells cited by sheet and address, read again
here with plain python-calamine) and against synthetic workbooks with ICE's layouts and bad input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from python_calamine import CalamineWorkbook

from detention_workbooks import BOOKINS_TITLE, DETAINED_TITLE, footnote_cells, posting, write_xlsx
from icemonitor.errors import InputError
from icemonitor.readers import SourceFile, read

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
STATS = SHARED / "ice" / "ice-detention-stats"
FACILITY_DAYS = SHARED / "ice" / "ddp-facility-daily-population" / "facilities-daily-population-latest.parquet"
DETAINED = "currently_detained_by_criminality_agency"


def _read(path: Path, name: str | None = None, **options) -> dict[str, pl.DataFrame]:
    return read(SourceFile(path, name or path.name, "test", "detention_stats", options))


def _cell(path: Path, sheet: str, ref: str) -> object:
    """A cell read straight from the workbook (independent of the reader's table finding)."""
    col = ref.rstrip("0123456789")
    j = 0
    for ch in col:
        j = j * 26 + ord(ch) - 64
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    return rows[int(ref[len(col):]) - 1][j - 1]


def _value(values: pl.DataFrame, table: str, row: str, column: str, sheet: str | None = None) -> dict:
    hit = values.filter((pl.col("table_key") == table) & (pl.col("row_label") == row)
                        & (pl.col("column_label") == column) & pl.col("month").is_null())
    if sheet:
        hit = hit.filter(pl.col("source_sheet") == sheet)
    assert hit.height == 1, hit
    return hit.row(0, named=True)


# Eight postings, FY2019-FY2026: the currently-detained total and the arresting-agency split, and the first month's
# book-ins, with the cell each sits in (checked against the workbook here) and the figure read by eye.
POSTINGS = [
    ("archive/FY2019/2019-10-06_FY19-detentionstats.xlsx", "Detention FY19", 50922, 18881, 32041, 40551),
    ("archive/FY2020/2020-10-01_FY20-detentionstats.xlsx", "Detention EOFY2020", 19068, 12853, 6215, 24728),
    ("archive/FY2021/2021-01-07_FY21-detentionstats.xlsx", "Detention FY21 YTD", 15444, 10710, 4734, 9195),
    ("archive/FY2022/2022-06-10_FY22_detentionStats06092022.xlsx", "Detention FY22", 24591, 5795, 18796, 28670),
    ("archive/FY2023/2023-06-13_FY23_detentionStats06122023.xlsx", "Detention FY23", 29914, 9221, 20693, 22417),
    ("archive/FY2024/2024-06-07_FY24_detentionStats06062024.xlsx", "Detention FY24", 37360, 12479, 24881, 24113),
    ("archive/FY2025/2025-06-06_FY25_detentionStats06052025.xlsx", "Detention FY25", 51302, 33976, 17326, 23616),
    ("later/FY26_detentionStats_04092026.xlsx", "Detention FY26", 60311, 51428, 8883, 41612),
]


@pytest.mark.parametrize(("rel", "sheet", "total", "ice", "cbp", "oct_bookins"), POSTINGS)
def test_parsed_values_are_the_workbook_cells(rel, sheet, total, ice, cbp, oct_bookins) -> None:
    path = STATS / rel
    values = _read(path)["detention_values"]
    for column, expected, ref in (("Total", total, "F20"), ("ICE", ice, "B20"), ("CBP", cbp, "D20")):
        got = _value(values, DETAINED, "Total", column, sheet)
        assert (got["value"], got["cell"], got["source_sheet"]) == (expected, ref, sheet)
        assert _cell(path, sheet, ref) == expected
    oct_ = values.filter((pl.col("table_key") == "bookins_by_agency_month") & (pl.col("row_key") == "total")
                         & (pl.col("column_key") == "m10") & (pl.col("source_sheet") == sheet)).row(0, named=True)
    assert (oct_["value"], oct_["cell"]) == (oct_bookins, "J20")
    assert _cell(path, sheet, "J20") == oct_bookins
    assert oct_["month"] == dt.date(oct_["fiscal_year"] - 1, 10, 1)


def test_posting_of_9_april_2026() -> None:
    path = STATS / "later" / "FY26_detentionStats_04092026.xlsx"
    out = _read(path, fiscal_year=2026)
    v = out["detention_values"]
    expected = {("Total", "Total"): 60311, ("Total", "ICE"): 51428, ("Total", "CBP"): 8883,
                ("Convicted Criminal", "Total"): 17589, ("Pending Criminal Charges", "Total"): 18731,
                ("Other Immigration Violator", "Total"): 23991}
    cells = {("Convicted Criminal", "Total"): "F21", ("Pending Criminal Charges", "Total"): "F22",
             ("Other Immigration Violator", "Total"): "F23"}
    for (row, column), n in expected.items():
        got = _value(v, DETAINED, row, column)
        assert got["value"] == n
        assert got["stated_as_of"] == dt.date(2026, 4, 4)  # Footnotes: "snapshot as of 04/04/2026"
        if (row, column) in cells:
            assert got["cell"] == cells[(row, column)]
            assert _cell(path, "Detention FY26", got["cell"]) == n
    assert 17589 + 18731 + 23991 == 60311
    share = _value(v, DETAINED, "Total", "Percent ICE")
    assert share["unit"] == "share" and share["value"] == pytest.approx(51428 / 60311)
    # months after the stated date are ICE's zero placeholders: present in the long table, marked by month
    may = v.filter((pl.col("table_key") == "bookins_by_agency_month") & (pl.col("row_key") == "total")
                   & (pl.col("month") == dt.date(2026, 5, 1)))
    assert may["value"].to_list() == [0.0]
    tables = out["detention_tables"]
    assert tables.filter(pl.col("status") == "read").height >= 12
    assert tables.filter(pl.col("status") == "unknown_title").height == 0
    facilities = out["detention_facility_rows"]
    adams = facilities.filter(pl.col("name") == "ADAMS COUNTY CORRECTIONAL CENTER").row(0, named=True)
    assert (adams["city"], adams["state"], adams["aor"], adams["source_row"]) == ("NATCHEZ", "MS", "NOL", 11)
    assert adams["stated_as_of"] == dt.date(2026, 4, 2)  # "Data Source: ICE Integrated Decision Support (IIDS), 04/02/2026"
    level_a = v.filter((pl.col("table_key") == "facilities") & (pl.col("cell") == "J11")).row(0, named=True)
    assert level_a["value"] == _cell(path, "Facilities FY26", "J11") == pytest.approx(1709.327869)


def test_every_posting_reads_with_each_problem_named() -> None:
    """All 155 postings: every Detention and Facilities sheet gives tables; a stopped table names its cell."""
    files = sorted(STATS.rglob("*.xlsx"))
    assert len(files) == 155
    stopped = []
    for path in files:
        tables = _read(path)["detention_tables"]
        assert tables.filter((pl.col("status") == "read") & (pl.col("table_key") == DETAINED)).height >= 1, path
        stopped += tables.filter(pl.col("status") == "stopped")["message"].to_list()
    # ICE's own errors: 'null' typed into a book-out count, 'Scheduled' in a facility's number column
    assert any("cell F60: 'null' is not a number" in m and "2026-01-09_FY26" in m for m in stopped)
    assert any("cell R79: 'Scheduled' is not a number" in m and "2025-02-15_FY25" in m for m in stopped)
    # ICLOS and Detainees sheets of five postings (Nov-Dec 2022): 2023 written over October 2022 (BD4, BD16)
    year_rows = [m for m in stopped if "year 2023 over October contradicts the months before it" in m]
    assert len(year_rows) == 10 and all("_FY23_" in m and ("cell BD4" in m or "cell BD16" in m) for m in year_rows)
    # Monthly Bond Statistics: the bond-posted row labelled only 'ICE Final Book Outs' (16 and 22 Nov 2024), and
    # a bond-posted count larger than the total (9 Apr 2026)
    bond = [m for m in stopped if "sheet 'Monthly Bond Statistics'" in m]
    assert sum("row label 'ICE Final Book Outs' is not in detention_bond.csv" in m for m in bond) == 2
    assert sum("FY26_detentionStats_04092026" in m and "is more than the total" in m for m in bond) == 1
    assert len(stopped) == 2 + len(year_rows) + len(bond) == 15, stopped


def test_header_merged_over_an_empty_column_labels_the_numbers() -> None:
    """2022-01-11: 'Total' is merged over J28:L28 and the numbers sit in L."""
    path = STATS / "archive" / "FY2022" / "2022-01-11_FY22_detentionStats01102022.xlsx"
    v = _read(path)["detention_values"]
    got = _value(v, "bookouts_by_facility_type", "Total", "Total")
    assert (got["cell"], got["value"]) == ("L29", _cell(path, "Detention FY22", "L29"))


def test_facility_days_sum_on_10_june_2025() -> None:
    out = read(SourceFile(FACILITY_DAYS, FACILITY_DAYS.name, "ddp-facility-daily-population", "ddp_facility_population"))
    days = out["detention_facility_days"]
    assert days.height == 888_699 and days["detention_facility_code"].n_unique() == 707
    day = days.filter(pl.col("date") == dt.date(2025, 6, 10))
    assert (day["n_detained"].sum(), day["n_detained_at_midnight"].sum()) == (58_524, 54_769)
    raw = pq.read_table(FACILITY_DAYS).to_pandas()  # independent count with pandas
    raw_day = raw[raw["date"].astype(str) == "2025-06-10"]
    assert int(raw_day["n_detained"].sum()) == 58_524 and int(raw_day["n_detained_at_midnight"].sum()) == 54_769


# ---------------------------------------------------------------- synthetic layouts and bad input


def test_tables_are_found_anywhere_side_by_side(tmp_path: Path) -> None:
    for top, left, gap in ((17, 0, 2), (40, 5, 1), (3, 12, 4)):
        path = posting(tmp_path / f"p{top}.xlsx", dt.date(2026, 1, 3), top=top, left=left, gap=gap)
        v = _read(path, "FY26_detentionStats_01052026.xlsx")["detention_values"]
        got = _value(v, DETAINED, "Total", "Total")
        assert got["value"] == 360 and got["stated_as_of"] == dt.date(2026, 1, 3)
        nov = v.filter((pl.col("table_key") == "bookins_by_agency_month") & (pl.col("row_key") == "ice")
                       & (pl.col("column_key") == "m11"))
        assert nov["value"].to_list() == [800.0] and nov["month"].to_list() == [dt.date(2025, 11, 1)]


def test_text_in_a_number_cell_stops_the_table_naming_the_cell(tmp_path: Path) -> None:
    detained = {"Total": (300.0, 60.0), "Convicted Criminal": ("12O", 10.0)}  # letter O typed for a zero
    path = posting(tmp_path / "p.xlsx", dt.date(2026, 1, 3), detained=detained)
    out = _read(path, "FY26_x.xlsx")
    t = out["detention_tables"].filter(pl.col("table_key") == DETAINED).row(0, named=True)
    assert t["status"] == "stopped"
    assert "file FY26_x.xlsx, sheet 'Detention FY26', cell B21: '12O' is not a number" in t["message"]
    assert out["detention_values"].filter(pl.col("table_key") == DETAINED).height == 0  # nothing from that table
    assert out["detention_values"].filter(pl.col("table_key") == "bookins_by_agency_month").height == 9


def test_unknown_title_is_reported_not_guessed(tmp_path: Path) -> None:
    extra = {(60, 0): "ICE Currently Detained by Gender and Arresting Agency: FY2026", (61, 0): "Gender",
             (61, 1): "ICE", (62, 0): "Female", (62, 1): 5.0}
    path = posting(tmp_path / "p.xlsx", dt.date(2026, 1, 3))
    sheets = {"Detention FY26": {**_sheet(path, "Detention FY26"), **extra}, "Footnotes": footnote_cells(dt.date(2026, 1, 3))}
    out = _read(write_xlsx(tmp_path / "q.xlsx", sheets), "FY26_q.xlsx")
    unknown = out["detention_tables"].filter(pl.col("status") == "unknown_title").row(0, named=True)
    assert unknown["table_title"] == "ICE Currently Detained by Gender and Arresting Agency: FY2026"
    assert "A61" in unknown["message"]
    assert 5.0 not in out["detention_values"]["value"].to_list()


def _sheet(path: Path, name: str) -> dict:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(name).to_python(skip_empty_area=False)
    return {(i, j): c for i, r in enumerate(rows) for j, c in enumerate(r) if c not in (None, "")}


def test_renamed_sheet_and_missing_table(tmp_path: Path) -> None:
    path = posting(tmp_path / "p.xlsx", dt.date(2026, 1, 3), sheet="Detenciones FY26")
    out = _read(path, "FY26_x.xlsx")
    assert out["detention_values"].height == 0
    row = out["detention_tables"].filter(pl.col("source_sheet") == "Detenciones FY26").row(0, named=True)
    assert row["status"] == "sheet_not_read"
    # a Detention sheet without any known title: listed as such
    cells = {(0, 0): "ICE DETENTION DATA", (5, 0): "Something else", (6, 0): "a", (6, 1): "b"}
    out = _read(write_xlsx(tmp_path / "q.xlsx", {"Detention FY26": cells}), "FY26_q.xlsx")
    assert out["detention_tables"]["message"].to_list() == ["no known table title in this sheet"]


def test_moved_and_renamed_title(tmp_path: Path) -> None:
    """A renamed title is not a known table: reported, and the table's numbers are not taken."""
    path = posting(tmp_path / "p.xlsx", dt.date(2026, 1, 3))
    cells = _sheet(path, "Detention FY26")
    cells[(17, 0)] = "ICE Currently Held by Criminality and Arresting Agency: FY2026"
    out = _read(write_xlsx(tmp_path / "q.xlsx", {"Detention FY26": cells}), "FY26_q.xlsx")
    assert out["detention_values"].filter(pl.col("table_key") == DETAINED).height == 0
    assert "ICE Currently Held" in out["detention_tables"].filter(pl.col("status") == "unknown_title")["table_title"][0]


def test_merged_header_cells_stop_the_table(tmp_path: Path) -> None:
    """A header merged over two columns that both hold numbers labels neither: the table stops. Without the
    merge, the unlabelled column stops it too."""
    path = posting(tmp_path / "p.xlsx", dt.date(2026, 1, 3))
    cells = _sheet(path, "Detention FY26")
    del cells[(18, 2)]  # 'CBP' gone: 'ICE' merged over B19:C19
    out = _read(write_xlsx(tmp_path / "q.xlsx", {"Detention FY26": cells}, {"Detention FY26": ["B19:C19", "A18:D18"]}),
                "FY26_q.xlsx")
    t = out["detention_tables"].filter(pl.col("table_key") == DETAINED).row(0, named=True)
    assert t["status"] == "stopped" and "cell B19: header 'ICE' is merged over B19:C19" in t["message"]
    out = _read(write_xlsx(tmp_path / "r.xlsx", {"Detention FY26": cells}), "FY26_r.xlsx")
    t = out["detention_tables"].filter(pl.col("table_key") == DETAINED).row(0, named=True)
    assert t["status"] == "stopped" and "cell C20: a number under no column header" in t["message"]


def test_merged_title_is_still_found(tmp_path: Path) -> None:
    path = posting(tmp_path / "p.xlsx", dt.date(2026, 1, 3), merged={"Detention FY26": ["A18:D18", "G18:R18"]})
    v = _read(path, "FY26_x.xlsx")["detention_values"]
    assert _value(v, DETAINED, "Total", "Total")["value"] == 360
    assert DETAINED_TITLE in v["table_title"].to_list() and BOOKINS_TITLE in v["table_title"].to_list()


def test_empty_and_html_files_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "FY26_detentionStats_01012026.xlsx"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        _read(empty)
    html = tmp_path / "FY26_detentionStats_02012026.xlsx"
    html.write_text("<!DOCTYPE html><html><body><h1>Page not found</h1></body></html>")
    with pytest.raises(InputError, match="not a readable xlsx workbook") as err:
        _read(html)
    assert "FY26_detentionStats_02012026.xlsx" in str(err.value)
    blank = write_xlsx(tmp_path / "blank.xlsx", {"Sheet1": {}})
    out = _read(blank, "FY26_blank.xlsx")
    assert out["detention_values"].height == 0
    assert out["detention_tables"]["status"].to_list() == ["sheet_not_read"]
