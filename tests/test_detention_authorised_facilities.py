"""ICE's authorised over-72-hour facility list (facilities/Over72HourFacilities.xlsx): read by AOR, compared with
python-calamine alone; joined to the records' facility codes; the facilities holding people in the records that
neither ICE's published lists nor this list show, reported by the analysis and the CLI; bad layouts stop the read
with the row named."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from detention_workbooks import real_postings_warehouse, write_xlsx
from icemonitor.analysis import detention
from icemonitor.cli import app
from icemonitor.errors import InputError
from icemonitor.places.detention_facilities import authorised_facilities, facility_tables
from icemonitor.readers.over72_facilities import read_over72

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
OVER72 = SHARED / "facilities" / "Over72HourFacilities.xlsx"
FILES = {"FY26_detentionStats_04092026.xlsx", "facilities-daily-population-latest.parquet"}
DAY = dt.date(2026, 3, 10)


def _raw_list() -> list[tuple[str, str, str, str, int]]:
    """(AOR title, name, city, state, row) of every facility row, straight from the sheet with calamine."""
    rows = CalamineWorkbook.from_path(str(OVER72)).get_sheet_by_name("By AOR").to_python(skip_empty_area=False)
    out, aor = [], None
    for i, r in enumerate(rows, start=1):
        a = str(r[0]).strip() if r and r[0] else ""
        if a.endswith(" AOR") and not any(str(c).strip() for c in r[1:4]):
            aor = a[:-4]
        elif aor and len(r) > 2 and isinstance(r[2], str) and len(r[2].strip()) == 2 and a != "Facility Name":
            out.append((aor, " ".join(a.split()), " ".join(str(r[1]).split()), r[2].strip(), i))
    return out


def test_the_list_read_by_aor_equals_the_sheet() -> None:
    df = read_over72(OVER72)
    raw = _raw_list()
    assert df.height == len(raw) == 165
    assert list(zip(df["aor_name"], df["name"], df["city"], df["state"], df["source_row"], strict=True)) == raw
    stewart = df.filter(df["name"] == "STEWART DETENTION CENTER").row(0, named=True)
    assert (stewart["aor_name"], stewart["city"], stewart["state"], stewart["source_row"]) == ("Atlanta", "LUMPKIN", "GA", 11)
    assert df["aor_name"].n_unique() == 24


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory):
    path = real_postings_warehouse(tmp_path_factory.mktemp("over72") / "w.duckdb", FILES, with_facilities=True)
    c = duckdb.connect(str(path), read_only=True)
    yield c
    c.close()


def test_authorised_list_in_the_warehouse_by_aor_and_joined(con) -> None:
    rows = con.execute("SELECT aor_name, aor, name, facility_code, match_rule FROM detention_authorised_facilities").fetchall()
    assert len(rows) == 165 and all(aor for _, aor, _, _, _ in rows)  # every AOR title mapped to a code
    by_aor = dict(con.execute("SELECT aor, count(*) FROM detention_authorised_facilities GROUP BY 1").fetchall())
    assert by_aor["ATL"] == sum(1 for a, *_ in _raw_list() if a == "Atlanta") == 7
    # Stewart: the records' code whose name is Stewart's, in Georgia
    code = con.execute("SELECT facility_code FROM detention_authorised_facilities WHERE name = 'STEWART DETENTION CENTER'"
                       ).fetchone()[0]
    assert code is not None and "STEWART" in con.execute(
        "SELECT any_value(detention_facility) FROM detention_facility_days WHERE detention_facility_code = ?",
        [code]).fetchone()[0].upper()
    assert con.execute("SELECT in_authorised_list, authorised_aor FROM detention_facility_places WHERE facility_code = ?",
                       [code]).fetchone() == (True, "ATL")
    # Tacoma: listed as 'TACOMA ICE PROCESSING CENTER (NORTHWEST DET CTR)', the records' CSCNWWA by the name in brackets
    assert con.execute("SELECT facility_code, match_rule FROM detention_authorised_facilities WHERE name LIKE "
                       "'TACOMA ICE PROCESSING CENTER%'").fetchone() == ("CSCNWWA", "gazetteer_aside_name_state")
    matched = sum(1 for *_, c, _ in rows if c is not None)
    assert matched > 120  # most listed facilities are found in the records


def test_facilities_in_neither_list(con) -> None:
    res = detention.facilities(con, DAY, not_in_any_list=True, limit=2000)
    listed = {r[0] for r in con.execute("SELECT facility_code FROM detention_facility_list WHERE facility_code IS NOT NULL "
                                        "UNION SELECT facility_code FROM detention_authorised_facilities "
                                        "WHERE facility_code IS NOT NULL").fetchall()}
    held = dict(con.execute("SELECT detention_facility_code, n_detained FROM detention_facility_days WHERE date = ?",
                            [DAY]).fetchall())
    expected = {c for c in held if c not in listed and held[c] > 0}
    assert {f["facility_code"] for f in res.figures} == expected and expected
    assert all(f["matched_to_ice_list"] is False and f["in_authorised_list"] is False for f in res.figures)
    assert res.extra["facilities_in_neither_list"] == len(expected)
    assert res.extra["held_in_facilities_in_neither_list"] == sum(held[c] for c in expected)
    assert res.extra["facilities_in_neither_list"] <= res.extra["facilities_not_in_ice_list"]
    assert "ref-ice-facilities-over72" in res.releases


def test_cli_reports_the_same(con, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "warehouse.duckdb").symlink_to(Path(con.execute("PRAGMA database_list").fetchall()[0][2]))
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    res = CliRunner().invoke(app, ["detention", "facilities", "--date", str(DAY), "--not-in-any-list", "--limit", "2000",
                                   "--json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    assert got["extra"]["facilities_in_neither_list"] == detention.facilities(con, DAY, not_in_any_list=True).extra[
        "facilities_in_neither_list"]


def test_without_the_list_nothing_is_called_unlisted(con, tmp_path: Path) -> None:
    def no_list(path: str) -> Path:
        return tmp_path / "missing.xlsx" if path.startswith("facilities/") else SHARED / path

    cur = con.cursor()  # a connection of its own (earlier tests' results stay open on the module's)
    assert authorised_facilities(cur, no_list) is None
    tables = facility_tables(cur, no_list)
    assert "detention_authorised_facilities" not in tables
    assert tables["detention_facility_places"]["in_authorised_list"].null_count() == tables["detention_facility_places"].height


@pytest.mark.parametrize("cells, message", [
    ({(0, 0): "Facility Name", (0, 1): "City", (0, 2): "State", (0, 3): "Facility Type - Detailed",
      (1, 0): "A JAIL", (1, 1): "X", (1, 2): "TX", (1, 3): "IGSA", (3, 0): "Dallas AOR", (4, 0): "Facility Name",
      (4, 1): "City", (4, 2): "State", (4, 3): "Facility Type - Detailed", (5, 0): "B JAIL", (5, 1): "Y", (5, 2): "TX"},
     "row 2"),
    ({(0, 0): "Dallas AOR", (1, 0): "Facility Name", (1, 1): "Town", (1, 2): "State", (1, 3): "Type"}, "header"),
    ({(0, 0): "Dallas AOR", (1, 0): "Facility Name", (1, 1): "City", (1, 2): "State",
      (1, 3): "Facility Type - Detailed", (2, 0): "A JAIL", (2, 1): "X", (2, 2): 7.0}, "two-letter state"),
])
def test_bad_layouts_stop_with_the_row(tmp_path: Path, cells: dict, message: str) -> None:
    path = write_xlsx(tmp_path / "Over72HourFacilities.xlsx", {"By AOR": cells})
    with pytest.raises(InputError, match=message):
        read_over72(path)
