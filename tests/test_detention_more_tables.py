"""The ATD and Semiannual sheets of ICE's detention-statistics postings: panels (detention_atd,
detention_semiannual) built from real postings, every panel value equal to the workbook cell it cites (read here
with python-calamine alone), named figures checked by sheet and cell in at least two postings each, ICE's 0
placeholders and unplaceable labels listed as exclusions, never read as numbers."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
from python_calamine import CalamineWorkbook

from detention_workbooks import footnote_cells, real_postings_warehouse, write_xlsx
from icemonitor.catalog.catalog import load_catalog
from icemonitor.readers import SourceFile
from icemonitor.readers.detention_stats import read
from icemonitor.warehouse.build import BuildSource
from icemonitor.warehouse.detention_step import read_all

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
APRIL_2026 = "FY26_detentionStats_04092026.xlsx"
JUNE_2025 = "2025-06-21_FY25_detentionStats06202025.xlsx"
APRIL_2021 = "2021-04-15_FY21_detention-stats_0414.xlsx"
APRIL_2022 = "2022-04-29_FY22_detentionStats04282022.xlsx"
FEB_2023 = "2023-03-01_FY23_detentionStats02282023.xlsx"
JUNE_2022 = "2022-06-17_FY22_detentionStats06162022.xlsx"
FILES = {APRIL_2026, JUNE_2025, APRIL_2021, APRIL_2022, FEB_2023, JUNE_2022}


def _file(name: str):
    (hit,) = [(r, f) for r in load_catalog().aggregate_releases() for f in r.files if f.name == name]
    return hit


def _path(name: str) -> Path:
    return SHARED / _file(name)[1].mirror_path


def cell(name: str, sheet: str, ref: str) -> object:
    """One cell of a posting, read with python-calamine alone (A1 reference)."""
    col = "".join(c for c in ref if c.isalpha())
    row = int(ref[len(col):]) - 1
    j = 0
    for c in col:
        j = j * 26 + ord(c) - 64
    rows = CalamineWorkbook.from_path(str(_path(name))).get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    return rows[row][j - 1]


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    path = real_postings_warehouse(tmp_path_factory.mktemp("more-tables") / "w.duckdb", FILES)
    c = duckdb.connect(str(path), read_only=True)
    yield c
    c.close()


def _panel(con, table: str, **match) -> dict:
    where = " AND ".join(f"{k} = ?" for k in match)
    cur = con.execute(f"SELECT * FROM {table} WHERE {where}", list(match.values()))
    rows = [dict(zip([d[0] for d in cur.description], r, strict=True)) for r in cur.fetchall()]
    assert len(rows) == 1, (match, rows)
    return rows[0]


@pytest.mark.parametrize("table", ["detention_atd", "detention_semiannual", "detention_segregation"])
def test_every_panel_value_is_the_cell_it_cites(con, table: str) -> None:
    rows = con.execute(f"SELECT source_file, source_sheet, cell, value FROM {table}").fetchall()
    assert len(rows) > 200
    books: dict[tuple[str, str], list[list[object]]] = {}
    for file, sheet, ref, value in rows:
        if (file, sheet) not in books:
            books[(file, sheet)] = CalamineWorkbook.from_path(str(_path(file))).get_sheet_by_name(sheet).to_python(
                skip_empty_area=False)
        col = "".join(c for c in ref if c.isalpha())
        j = 0
        for c in col:
            j = j * 26 + ord(c) - 64
        assert books[(file, sheet)][int(ref[len(col):]) - 1][j - 1] == value, (file, sheet, ref)
    assert len({f for f, _, _, _ in rows}) >= 2  # values come from more than one posting


def test_atd_by_technology_status_and_aor_in_two_postings(con) -> None:
    # April 2026: 180,701 active participants (B13), SmartLINK 131,643 (B9) costing $126,377.28 a day (C9)
    total = _panel(con, "detention_atd", statistic="by_technology", aor="total", category="total", measure="count",
                   as_of=dt.date(2026, 4, 4))
    assert (total["value"], total["cell"], total["source_sheet"]) == (180701, "B13", "ATD FY26 YTD")
    assert total["value"] == cell(APRIL_2026, "ATD FY26 YTD", "B13")
    cost = _panel(con, "detention_atd", statistic="by_technology", aor="total", category="tech_smartlink",
                  measure="daily_tech_cost", as_of=dt.date(2026, 4, 4))
    assert (cost["value"], cost["unit"]) == (cell(APRIL_2026, "ATD FY26 YTD", "C9"), "usd_per_day")
    # by AOR and technology: Los Angeles 18,746 (B80), of them 15,691 on SmartLINK (B81)
    los = _panel(con, "detention_atd", statistic="by_aor_technology", aor="LOS", category="total", measure="count",
                 as_of=dt.date(2026, 4, 4))
    assert (los["value"], los["cell"]) == (18746, "B80") and cell(APRIL_2026, "ATD FY26 YTD", "B80") == 18746
    assert _panel(con, "detention_atd", statistic="by_aor_technology", aor="LOS", category="tech_smartlink",
                  measure="count", as_of=dt.date(2026, 4, 4))["value"] == cell(APRIL_2026, "ATD FY26 YTD", "B81")
    # April 2021 (stated in the AOR table's title, 4/10/2021, and in the note 'Report, 04.10.2021'):
    # 93,733 participants by status (B11) and by AOR (B18); Los Angeles 10,477 (B59)
    for stat, ref in (("by_status", "B11"), ("by_aor_technology", "B18")):
        row = _panel(con, "detention_atd", statistic=stat, aor="total", category="total", measure="count",
                     as_of=dt.date(2021, 4, 10))
        assert (row["value"], row["cell"], row["source_file"]) == (93733, ref, APRIL_2021)
        assert cell(APRIL_2021, "ATD FY21 YTD", ref) == 93733
    assert _panel(con, "detention_atd", statistic="by_aor_technology", aor="LOS", category="total", measure="count",
                  as_of=dt.date(2021, 4, 10))["value"] == cell(APRIL_2021, "ATD FY21 YTD", "B59") == 10477
    famu = _panel(con, "detention_atd", statistic="by_status", aor="total", category="status_famu", measure="alip",
                  as_of=dt.date(2021, 4, 10))
    assert (famu["value"], famu["unit"]) == (cell(APRIL_2021, "ATD FY21 YTD", "C7"), "days")
    # February 2023: the by-technology table beside the court-appearance table (E8) is read up to its own columns
    tech = _panel(con, "detention_atd", statistic="by_technology", aor="total", category="total", measure="count",
                  as_of=dt.date(2023, 2, 11))
    assert (tech["value"], tech["cell"]) == (305992, "B13") and cell(FEB_2023, "ATD FY23 YTD", "B13") == 305992


def test_semiannual_by_fiscal_year_in_two_postings(con) -> None:
    # parents of U.S. citizens arrested: FY2024 9,739 (April 2026, B77); FY2022 up to March 2022: 3,225 in
    # April 2022 (B55), 5,977 for the whole year in April 2026 (B75): the last reported stands, with the range
    fy24 = _panel(con, "detention_semiannual", population="parents_of_us_citizens", event="arrests", country="all",
                  fiscal_year=2024)
    assert (fy24["value"], fy24["cell"], fy24["source_file"]) == (9739, "B77", APRIL_2026)
    assert cell(APRIL_2026, "Semiannual", "B77") == 9739
    fy22 = _panel(con, "detention_semiannual", population="parents_of_us_citizens", event="arrests", country="all",
                  fiscal_year=2022)
    assert (fy22["value"], fy22["value_min"], fy22["value_max"]) == (5977, 3225, 5977)
    assert cell(APRIL_2022, "Semiannual", "B55") == 3225 and cell(APRIL_2026, "Semiannual", "B75") == 5977
    assert fy22["partial_year"] is False
    # U.S. citizens arrested: FY2021 255 in April 2022 (B30), 6 in April 2026 (B41): ICE's revision is kept as ICE
    # last reported it, with the range
    usc = _panel(con, "detention_semiannual", population="us_citizens", event="arrests", country="all",
                 fiscal_year=2021)
    assert (usc["value"], usc["value_min"], usc["value_max"]) == (6, 6, 255)
    assert cell(APRIL_2022, "Semiannual", "B30") == 255 and cell(APRIL_2026, "Semiannual", "B41") == 6
    # TPS countries: Honduras arrests FY2024, 12,273 in April 2026 (H110)
    hnd = _panel(con, "detention_semiannual", population="tps_countries", event="arrests", country="Honduras",
                 fiscal_year=2024)
    assert (hnd["value"], hnd["cell"]) == (12273, "H110") and cell(APRIL_2026, "Semiannual", "H110") == 12273


def test_ices_zero_placeholders_are_listed_and_left_out(con) -> None:
    """April 2026 shows 0 armed-forces arrests for FY2025 (B12) where June 2025 reported 16 (B12): the 0 is a
    placeholder (ICE: 'not updated until after March 31, 2026'), listed, and the 16 stands as a partial year."""
    assert cell(APRIL_2026, "Semiannual", "B12") == 0 and cell(JUNE_2025, "Semiannual", "B12") == 16
    row = _panel(con, "detention_semiannual", population="armed_forces", event="arrests", country="all",
                 fiscal_year=2025)
    assert (row["value"], row["source_file"], row["partial_year"]) == (16, JUNE_2025, True)
    (evidence,) = con.execute("SELECT evidence FROM detention_exclusions WHERE reason = 'zero_placeholder' AND "
                              "source_file = ? AND table_key = 'semiannual_armed_forces_arrests'",
                              [APRIL_2026]).fetchone()
    assert "FY2025 all: 0 at B12" in evidence and JUNE_2025 in evidence
    # a 0 nobody contradicts stays a 0 (U.S. citizens removed in FY2021: 0 in both postings)
    assert _panel(con, "detention_semiannual", population="us_citizens", event="removals", country="all",
                  fiscal_year=2021)["value"] == 0


def test_segregation_of_vulnerable_populations_by_quarter_in_two_postings(con) -> None:
    """FY2022 Q2: 296 placements (Grand Total) in June 2022 (B22) and April 2026 (B12); Medical/Mental Health 231
    with 10.48 consecutive days on average (B19, C19 in June 2022)."""
    assert cell(JUNE_2022, "Vulnerable & Special Population", "B22") == 296
    assert cell(APRIL_2026, "Vulnerable & Special Population", "B12") == 296
    total = _panel(con, "detention_segregation", fiscal_year=2022, quarter=2, reason="total", measure="placements")
    assert (total["value"], total["source_file"], total["cell"], total["n_postings"]) == (296, APRIL_2026, "B12", 4)
    seen = con.execute("SELECT source_file, cell, value FROM detention_values WHERE table_key = "
                       "'segregation_vulnerable_by_reason' AND table_title LIKE '%2022 Quarter 2%' AND row_key = 'total' "
                       "AND column_key = 'placements' ORDER BY source_file").fetchall()
    assert {(JUNE_2022, "B22", 296.0), (APRIL_2026, "B12", 296.0)} <= set(seen) and {v for _, _, v in seen} == {296.0}
    medical = _panel(con, "detention_segregation", fiscal_year=2022, quarter=2, reason="reason_medical_mental_health",
                     measure="avg_consecutive_days")
    assert (medical["value"], medical["unit"]) == (10.48, "days") == (cell(JUNE_2022, "Vulnerable & Special Population", "C19"), "days")
    # FY2022 Q1 is in June 2022's sheet (B11: 313) and February 2023's, no longer in April 2026's: the last posting
    # showing it stands
    q1 = _panel(con, "detention_segregation", fiscal_year=2022, quarter=1, reason="total", measure="placements")
    assert (q1["value"], q1["source_file"], q1["cell"]) == (313, FEB_2023, "B11")
    assert cell(JUNE_2022, "Vulnerable & Special Population", "B11") == 313 == cell(
        FEB_2023, "Vulnerable & Special Population", "B11")


def _atd_posting(path: Path, rows: list[tuple[str, float, float]]) -> Path:
    cells = {(3, 0): "ICE ALTERNATIVES TO DETENTION DATA, FY26",
             (5, 0): "Active ATD Participants and Average Length in Program, FY26, as of 04/04/2026, by AOR and Technology",
             (6, 0): "AOR/Technology", (6, 1): "Count", (6, 2): "Average Length in Program"}
    for k, (label, n, days) in enumerate(rows):
        cells[(7 + k, 0)], cells[(7 + k, 1)], cells[(7 + k, 2)] = label, n, days
    return write_xlsx(path, {"ATD FY26 YTD": cells, "Footnotes": footnote_cells(dt.date(2026, 4, 4))})


def test_an_unknown_technology_under_an_aor_leaves_the_table_out(tmp_path: Path) -> None:
    good = [("Total", 30.0, 100.0), ("Atlanta", 30.0, 100.0), ("SmartLINK", 20.0, 90.0), ("Ankle Monitor", 10.0, 120.0)]
    bad = good[:3] + [("HoloTracker", 10.0, 120.0)]  # a new technology: not to be read as anything else
    out = {}
    for name, rows in (("FY26_detentionStats_04092026.xlsx", good), ("FY26_detentionStats_04102026.xlsx", bad)):
        path = _atd_posting(tmp_path / name, rows)
        out[name] = BuildSource("test", name, path, "detention_stats", None, {"fiscal_year": 2026})
    ok = read_all([out["FY26_detentionStats_04092026.xlsx"]])
    assert ok["detention_atd"].filter((pl.col("aor") == "ATL") & (pl.col("measure") == "count")).sort(
        "category")["value"].to_list() == [10.0, 20.0, 30.0]
    tables = read_all([out["FY26_detentionStats_04102026.xlsx"]])
    assert tables["detention_atd"].height == 0
    (ex,) = tables["detention_exclusions"].filter(pl.col("reason") == "unknown_label").to_dicts()
    assert ex["table_key"] == "atd_by_aor_technology" and "B11 (Atlanta / HoloTracker | Count)" in ex["evidence"]


def test_an_atd_table_without_a_date_is_listed_not_dated(tmp_path: Path) -> None:
    cells = {(5, 0): "Active ATD Participants and Average Length in Program, FY26", (6, 0): "AOR/Technology",
             (6, 1): "Count", (6, 2): "Average Length in Program", (7, 0): "Total", (7, 1): 5.0, (7, 2): 9.0}
    path = write_xlsx(tmp_path / "FY26_detentionStats_x.xlsx", {"ATD FY26 YTD": cells})
    got = read(SourceFile(path, path.name, "test", "detention_stats", {"fiscal_year": 2026}))
    assert got["detention_tables"].filter(pl.col("table_key") == "atd_by_aor_technology")["stated_as_of"].to_list() == [None]
    tables = read_all([BuildSource("test", path.name, path, "detention_stats", None, {"fiscal_year": 2026})])
    assert tables["detention_atd"].height == 0
    assert tables["detention_exclusions"].filter(pl.col("reason") == "no_stated_date").height == 1


def test_an_unknown_segregation_reason_leaves_the_table_out(tmp_path: Path) -> None:
    head = ["Placement Reason", "Number of Placements", "Average Number of Consecutive Days in Segregation",
            "Average Number of Cumulative Days in Segregation"]
    cells = {(3, 0): "Fiscal Year (FY) 2026 Quarter 1 Data", **{(4, k): h for k, h in enumerate(head)}}
    for i, (label, n) in enumerate((("Disciplinary", 5.0), ("Hunger Strike", 2.0), ("Grand Total", 7.0))):
        cells[(5 + i, 0)], cells[(5 + i, 1)], cells[(5 + i, 2)], cells[(5 + i, 3)] = label, n, 3.0, 4.0
    path = write_xlsx(tmp_path / "FY26_detentionStats_x.xlsx", {"Vulnerable & Special Population": cells})
    tables = read_all([BuildSource("test", path.name, path, "detention_stats", None, {"fiscal_year": 2026})])
    assert tables["detention_segregation"].height == 0
    (ex,) = tables["detention_exclusions"].filter(pl.col("reason") == "unknown_label").to_dicts()
    assert "B7 (Hunger Strike | Number of Placements)" in ex["evidence"]


def test_cli_gives_the_panels(con, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from icemonitor.cli import app

    home = tmp_path / "home"
    home.mkdir()
    (home / "warehouse.duckdb").symlink_to(Path(con.execute("PRAGMA database_list").fetchall()[0][2]))
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    run = CliRunner()
    atd = json.loads(run.invoke(app, ["detention", "atd", "--aor", "los", "--json"]).stdout)
    assert [(f["category"], f["value"], f["cell"]) for f in atd["figures"]][0] == ("tech_ankle_monitor", 2908, "B82")
    assert {f["as_of"] for f in atd["figures"]} == {"2026-04-04"}
    early = json.loads(run.invoke(app, ["detention", "atd", "--aor", "LOS", "--as-of", "2021-05-01", "--json"]).stdout)
    assert {f["as_of"] for f in early["figures"]} == {"2021-04-10"}
    none = json.loads(run.invoke(app, ["detention", "atd", "--as-of", "2015-01-01", "--json"]).stdout)
    assert none["figures"] == [] and "no figure (not zero)" in none["caveats"][0]
    semi = json.loads(run.invoke(app, ["detention", "semiannual", "--population", "us_citizens", "--event", "arrests",
                                       "--json"]).stdout)
    assert {f["fiscal_year"]: f["value"] for f in semi["figures"]}[2024] == cell(APRIL_2026, "Semiannual", "B44") == 13
    seg = json.loads(run.invoke(app, ["detention", "segregation", "--fiscal-year", "2022", "--json"]).stdout)
    assert any(f["quarter"] == 2 and f["reason"] == "total" and f["value"] == 296 for f in seg["figures"])
