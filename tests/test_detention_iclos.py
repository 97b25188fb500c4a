"""ICE's ICLOS and Detainees sheet: every value of panel detention_iclos equal to the workbook cell it cites (read
here with python-calamine alone), named figures of two postings checked by cell, ICE's 0 placeholders after the
stated date left out, a year row contradicting its months and text in a number cell listed, never read."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from detention_workbooks import cell_at, posting_path, posting_sheet, real_postings_warehouse
from icemonitor.readers import SourceFile
from icemonitor.readers.detention_iclos import read_iclos
from icemonitor.readers.detention_stats import read

APRIL_2026 = "FY26_detentionStats_04092026.xlsx"
MARCH_2023 = "2023-04-01_FY23_detentionStats03312023.xlsx"
NOV_2022 = "2022-11-29_FY23_detentionStats112822.xlsx"
FILES = {APRIL_2026, MARCH_2023, NOV_2022}
SHEET = " ICLOS and Detainees"


def _sheet(name: str) -> list[list[object]]:
    return posting_sheet(name, SHEET)


_at = cell_at


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    path = real_postings_warehouse(tmp_path_factory.mktemp("iclos") / "w.duckdb", FILES)
    c = duckdb.connect(str(path), read_only=True)
    yield c
    c.close()


def _one(con, **match) -> dict:
    where = " AND ".join(f"{k} = ?" for k in match)
    cur = con.execute(f"SELECT * FROM detention_iclos WHERE {where}", list(match.values()))
    rows = [dict(zip([d[0] for d in cur.description], r, strict=True)) for r in cur.fetchall()]
    assert len(rows) == 1, (match, rows)
    return rows[0]


def test_every_iclos_value_is_the_cell_it_cites(con) -> None:
    rows = con.execute("SELECT source_file, source_sheet, cell, value FROM detention_iclos").fetchall()
    assert len(rows) > 1000
    books = {f: _sheet(f) for f in {r[0] for r in rows}}
    for file, sheet, ref, value in rows:
        assert sheet == SHEET and _at(books[file], ref) == value, (file, ref)
    assert {r[0] for r in rows} == {APRIL_2026, MARCH_2023}  # November 2022's tables are left out (below)


def test_named_figures_of_two_postings(con) -> None:
    april = _sheet(APRIL_2026)
    # 9 Apr 2026 (ICLOS stated through 04/07/2026): mid-March 2026 is column BZ, end of March CA
    assert (_at(april, "A4"), _at(april, "BZ5"), _at(april, "BZ6"), _at(april, "A11")) == ("Population ", "March",
                                                                                             "mid ", "Total")
    avg = _one(con, measure="average_days", population="total", stay="all", day=dt.date(2026, 3, 15))
    assert (avg["value"], avg["cell"], avg["source_file"], avg["unit"]) == (_at(april, "BZ11"), "BZ11", APRIL_2026,
                                                                            "days")
    assert (_at(april, "A44"), _at(april, "A43")) == ("0-180 Days", "Total")
    people = _one(con, measure="detainees", population="total", stay="stay_0_180", day=dt.date(2026, 3, 15))
    assert (people["value"], people["cell"]) == (_at(april, "BZ44"), "BZ44")
    over = _one(con, measure="detainees", population="adult_facility", stay="stay_over_730", day=dt.date(2026, 3, 15))
    assert (_at(april, "A19"), _at(april, "A23"), over["value"]) == ("Adult Facility Aliens", "More than 730 Days",
                                                                      _at(april, "BZ23"))
    assert con.execute("SELECT count(*) FROM detention_iclos WHERE day > DATE '2026-04-07'").fetchone() == (0,)
    # 1 Apr 2023 (stated through 03/15/2023): 2023 over January (BJ16), March in BN17; mid-March BN48 = 29,126 is
    # its last point, its end of March (BO48) a 0 placeholder
    march = _sheet(MARCH_2023)
    assert (_at(march, "BJ16"), _at(march, "BN17"), _at(march, "BN48"), _at(march, "BO48")) == (2023, "March", 29126, 0)
    # April 2026 reports mid-March 2023 too (F48, revised): its report stands, the range keeps both
    row = _one(con, measure="detainees", population="total", stay="total", day=dt.date(2023, 3, 15))
    assert (_at(april, "B4"), _at(april, "F5"), _at(april, "F18")) == (2023, "March", "mid ")
    assert (row["value"], row["cell"], row["source_file"], row["n_postings"]) == (_at(april, "F48"), "F48",
                                                                                  APRIL_2026, 2)
    assert (row["value_min"], row["value_max"]) == (min(_at(april, "F48"), 29126), max(_at(april, "F48"), 29126))
    end = _one(con, measure="detainees", population="total", stay="total", day=dt.date(2023, 3, 31))
    assert (end["source_file"], end["n_postings"], end["value"]) == (APRIL_2026, 1, _at(april, "G48"))
    assert end["value_min"] > 0  # the placeholder 0 of 1 Apr 2023 is not taken


def test_a_year_row_contradicting_its_months_is_listed_not_read(con) -> None:
    # 29 Nov 2022: 2023 written over October 2022 (BD4), after September 2022
    nov = _sheet(NOV_2022)
    assert (_at(nov, "BD4"), _at(nov, "BD5"), _at(nov, "BB5")) == (2023.0, "October", "September")
    ex = con.execute("SELECT table_key, evidence FROM detention_exclusions WHERE source_file = ? AND reason = "
                     "'table_stopped' ORDER BY table_key", [NOV_2022]).fetchall()
    assert [k for k, _ in ex] == ["iclos_average_days", "iclos_detainees_by_stay"]
    assert "cell BD4: year 2023 over October contradicts" in ex[0][1]


def _synthetic(body: list[list[object]]) -> list:
    return read_iclos([r + [""] * (7 - len(r)) for r in body], "x.xlsx", SHEET)


HEAD = [["Average In Custody Length of Stay (ICLOS)"], [], ["Population", 2025], ["", "November", "", "December", "",
                                                                                  "January"],
        ["", "mid", "end", "mid", "end", "mid", "end"]]


def test_synthetic_layouts() -> None:
    (ok,) = _synthetic([*HEAD, ["Total", 1, 2, 3, 4, 5, 6]])
    assert [(v[2], v[3], v[6]) for v in ok.values][-1] == ("January 2026 end", 6.0, dt.date(2026, 1, 1))
    assert "year taken as the previous one plus one" in ok.message
    (stopped,) = _synthetic([*HEAD, ["Total", 1, 2, "n/a?", 4, 5, 6]])
    assert isinstance(stopped, tuple) and "cell D6: 'n/a?' is not a number" in stopped[3]
    moved = [*HEAD[:4], ["", "mid", "end", "middle", "end", "mid", "end"], ["Total", 1, 2, 3, 4, 5, 6]]
    (bad,) = _synthetic(moved)
    assert isinstance(bad, tuple) and "cell D5" in bad[3]
    (no_header,) = _synthetic([HEAD[0], ["Total", 1, 2]])
    assert isinstance(no_header, tuple) and "no 'Population' header row" in no_header[3]


def test_cli_iclos(con, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from icemonitor.cli import app

    home = tmp_path / "home"
    home.mkdir()
    (home / "warehouse.duckdb").symlink_to(Path(con.execute("PRAGMA database_list").fetchall()[0][2]))
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    run = CliRunner().invoke(app, ["detention", "iclos", "--since", "2026-03-01", "--json"])
    assert run.exit_code == 0, run.output
    got = json.loads(run.stdout)
    assert [(f["day"], f["cell"]) for f in got["figures"]] == [("2026-03-15", "BZ11"), ("2026-03-31", "CA11")]
    assert got["figures"][0]["value"] == _at(_sheet(APRIL_2026), "BZ11")


def test_read_keeps_the_sheet_in_the_long_table() -> None:
    p = posting_path(APRIL_2026)
    got = read(SourceFile(p, p.name, "t", "detention_stats", {"fiscal_year": 2026}))
    t = got["detention_tables"].filter(got["detention_tables"]["table_key"].str.starts_with("iclos").fill_null(False))
    assert t["status"].to_list() == ["read", "read"] and t["stated_as_of"].to_list() == [dt.date(2026, 4, 7)] * 2
