"""ICE's Monthly Bond Statistics: every value of panel detention_bond equal to the workbook cell it cites (read here
with python-calamine alone), named figures of two postings checked by cell, ICE's 0 placeholder months left out, and
the postings whose count rows contradict ICE's definition or carry an unknown label listed, never read."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest

from detention_workbooks import cell_at, posting_sheet, real_postings_warehouse
from icemonitor.readers.detention_bond import read_bond

SHEET = "Monthly Bond Statistics"
FEB_2026 = "2026-02-13_FY26_detentionStats_02122026.xlsx"
JUNE_2022 = "2022-06-10_FY22_detentionStats06092022.xlsx"
APRIL_2026 = "FY26_detentionStats_04092026.xlsx"
NOV_2024 = "2024-11-22_FY25_detentionStats11212024.xlsx"
FILES = {FEB_2026, JUNE_2022, APRIL_2026, NOV_2024}


def _sheet(name: str) -> list[list[object]]:
    return posting_sheet(name, SHEET)


_at = cell_at


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    path = real_postings_warehouse(tmp_path_factory.mktemp("bond") / "w.duckdb", FILES)
    c = duckdb.connect(str(path), read_only=True)
    yield c
    c.close()


def _one(con, measure: str, month: dt.date) -> dict:
    cur = con.execute("SELECT * FROM detention_bond WHERE measure = ? AND month = ?", [measure, month])
    rows = [dict(zip([d[0] for d in cur.description], r, strict=True)) for r in cur.fetchall()]
    assert len(rows) == 1, (measure, month, rows)
    return rows[0]


def test_every_bond_value_is_the_cell_it_cites(con) -> None:
    rows = con.execute("SELECT source_file, source_sheet, cell, value FROM detention_bond").fetchall()
    assert len(rows) > 50
    books = {f: _sheet(f) for f in {r[0] for r in rows}}
    for file, sheet, ref, value in rows:
        assert sheet == SHEET and _at(books[file], ref) == value, (file, ref)
    assert {r[0] for r in rows} == {FEB_2026, JUNE_2022}  # April 2026 and November 2024 are left out (below)


def test_named_figures_of_two_postings(con) -> None:
    feb = _sheet(FEB_2026)
    # 13 Feb 2026: October 2025 in K3; 37,541 final book-outs (K4), 1,033 with a bond posted (K5), ALOS K8
    assert (_at(feb, "K3"), _at(feb, "A4"), _at(feb, "A5")) == (dt.date(2025, 10, 1), "Total ICE Final Book Outs",
                                                                "ICE Final Book Outs with Bond Posted")
    for measure, ref in (("total_final_bookouts", "K4"), ("bond_posted_final_bookouts", "K5"),
                         ("bond_posted_share", "K6"), ("average_bond_amount", "K7"), ("alos_days", "K8")):
        row = _one(con, measure, dt.date(2025, 10, 1))
        assert (row["value"], row["cell"], row["source_file"], row["complete"]) == (_at(feb, ref), ref, FEB_2026, True)
    assert _one(con, "total_final_bookouts", dt.date(2025, 10, 1))["value"] == 37541
    # its January-September 2025 columns are 0 placeholders (B4:J4): no figure, not zero
    assert _at(feb, "B4") == 0
    assert con.execute("SELECT count(*) FROM detention_bond WHERE month BETWEEN DATE '2025-01-01' AND "
                       "DATE '2025-09-01'").fetchone() == (0,)
    # February 2026 (O): the posting's stated date does not cover the month: kept, marked incomplete
    assert _one(con, "total_final_bookouts", dt.date(2026, 2, 1))["complete"] is False
    # 10 Jun 2022: June 2021 in B3; 20,603 final releases (B4), 1,799 with a bond posted (B5)
    june = _sheet(JUNE_2022)
    assert (_at(june, "B3"), _at(june, "A4")) == (dt.date(2021, 6, 1), "Total ICE Final Releases")
    total = _one(con, "total_final_releases", dt.date(2021, 6, 1))
    posted = _one(con, "bond_posted_final_releases", dt.date(2021, 6, 1))
    assert (total["value"], total["cell"], posted["value"], posted["cell"]) == (_at(june, "B4"), "B4",
                                                                                _at(june, "B5"), "B5")
    assert (total["value"], posted["value"]) == (20603, 1799)
    # releases (FY2022) and book-outs (FY2026) are different counts: never the same measure
    assert con.execute("SELECT count(*) FROM detention_bond WHERE measure = 'total_final_bookouts' AND "
                       "month < DATE '2025-01-01'").fetchone() == (0,)


def test_count_rows_that_contradict_ices_definition_are_listed_not_read(con) -> None:
    # 9 Apr 2026: 'with Bond Posted' (J5 = 37,537) larger than 'Total' (J4 = 1,124) for October 2025, where the
    # posting of 13 Feb 2026 had 37,541 and 1,033: the rows hold each other's figures; neither is read
    april, feb = _sheet(APRIL_2026), _sheet(FEB_2026)
    assert (_at(april, "J3"), _at(april, "J4"), _at(april, "J5")) == (dt.date(2025, 10, 1), 1124, 37537)
    assert (_at(april, "A4"), _at(april, "A5")) == (_at(feb, "A4"), _at(feb, "A5"))
    ex = con.execute("SELECT source_file, evidence FROM detention_exclusions WHERE table_key = 'bond_by_month' AND "
                     "reason = 'table_stopped' ORDER BY source_file").fetchall()
    assert [f for f, _ in ex] == sorted([NOV_2024, APRIL_2026])
    by_file = dict(ex)
    assert "cell J5: 37537 with a bond posted is more than the total 1124 (J4)" in by_file[APRIL_2026]
    # 22 Nov 2024: the bond-posted row labelled only 'ICE Final Book Outs' (A5): which count it is, is not said
    assert _at(_sheet(NOV_2024), "A5") == "ICE Final Book Outs"
    assert "cell A5: row label 'ICE Final Book Outs' is not in detention_bond.csv" in by_file[NOV_2024]


def _table(body: list[list[object]]) -> list:
    return read_bond([r + [""] * (4 - len(r)) for r in body], "x.xlsx", SHEET)


TITLE = ["FY2026 Bonded Out Book Outs Count and ALOS - Prior 12 months plus Current Month"]


def test_synthetic_layouts() -> None:
    head = [TITLE, [], ["", dt.date(2025, 10, 1), dt.date(2025, 11, 1), "Dec-2025 (Thru 12/9)"]]
    (ok,) = _table([*head, ["Total ICE Final Book Outs", 10, 20, 5], ["ICE Final Book Outs with Bond Posted", 1, 2, 0]])
    assert [(v[2], v[3], v[6], v[7]) for v in ok.values][2] == ("Dec-2025 (Thru 12/9)", 5.0, dt.date(2025, 12, 1),
                                                                "total_final_bookouts")
    (text,) = _table([*head, ["Total ICE Final Book Outs", 10, "ten", 5]])
    assert isinstance(text, tuple) and "cell C4: 'ten' is not a number" in text[3]
    (header,) = _table([TITLE, [], ["", dt.date(2025, 10, 1), "Total", ""], ["ALOS (Days)", 1, 2]])
    assert isinstance(header, tuple) and "cell C3: 'Total' is not a month" in header[3]
    (swapped,) = _table([*head, ["Total ICE Final Book Outs", 1, 2, 0],
                         ["ICE Final Book Outs with Bond Posted", 10, 1, 0]])
    assert isinstance(swapped, tuple) and "cell B5: 10 with a bond posted is more than the total 1 (B4)" in swapped[3]


def test_cli_bond(con, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from icemonitor.cli import app

    home = tmp_path / "home"
    home.mkdir()
    (home / "warehouse.duckdb").symlink_to(Path(con.execute("PRAGMA database_list").fetchall()[0][2]))
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    run = CliRunner().invoke(app, ["detention", "bond", "--measure", "total_final_bookouts", "--since", "2025-10-01",
                                   "--until", "2025-10-31", "--json"])
    assert run.exit_code == 0, run.output
    got = json.loads(run.stdout)
    assert [(f["month"], f["value"], f["cell"]) for f in got["figures"]] == [("2025-10-01", 37541, "K4")]
