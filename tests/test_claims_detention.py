"""Detention claims (`table: detained`) on a warehouse built from real postings and DDP's facility daily population:
each definition's figure is compared with an independent reading of the raw files (pandas over the Parquet file,
python-calamine over the workbook cell), days without a figure are not checkable, and the CLI agrees."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from python_calamine import CalamineWorkbook
from typer.testing import CliRunner

from detention_workbooks import real_postings_warehouse
from icemonitor.analysis.claims import Claim, check_claim
from icemonitor.catalog.catalog import load_catalog
from icemonitor.cli import app

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REPO = Path(__file__).resolve().parents[1]
FILES = {"2025-06-06_FY25_detentionStats06052025.xlsx", "2025-06-21_FY25_detentionStats06202025.xlsx",
         "FY26_detentionStats_04092026.xlsx", "facilities-daily-population-latest.parquet"}


def _path(name: str) -> Path:
    (f,) = [f for r in load_catalog().aggregate_releases() for f in r.files if f.name == name]
    return SHARED / f.mirror_path


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("detention-claims")
    real_postings_warehouse(home / "warehouse.duckdb", FILES)
    return home


@pytest.fixture()
def con(home: Path):
    c = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    yield c
    c.close()


def _raw_day(day: dt.date) -> tuple[int, int]:
    df = pd.read_parquet(_path("facilities-daily-population-latest.parquet"),
                         columns=["date", "n_detained", "n_detained_at_midnight"])
    hit = df[pd.to_datetime(df["date"]).dt.date == day]
    return int(hit["n_detained"].sum()), int(hit["n_detained_at_midnight"].sum())


def _claim(day: str, value: float, comparison: str = "more_than", **filters) -> Claim:
    return Claim.model_validate({"id": "c", "metric": "count", "table": "detained", "period": {"from": day, "to": day},
                                 "comparison": comparison, "value": value, "filters": filters})


def _measure(row: dict, definition: str) -> dict:
    (m,) = [m for m in row["measures"] if m["definition"] == definition]
    return m


def test_more_than_60000_on_10_june_2025_fails_under_both_facility_measures(con) -> None:
    during, midnight = _raw_day(dt.date(2025, 6, 10))
    assert (during, midnight) == (58524, 54769)
    row = check_claim(con, _claim("2025-06-10", 60000))
    assert row["verdict"] == "inconsistent" and row["observed"] == during
    assert _measure(row, "held_during_day")["count"] == during and _measure(row, "held_at_midnight")["count"] == midnight
    ice = _measure(row, "currently_detained")
    assert ice["count"] is None and ice["verdict"] == "not checkable"
    assert "no ICE posting states a currently-detained figure for Jun 10, 2025" in ice["reason"]
    assert "51,302 stated for Jun 1, 2025" in ice["reason"] and "56,397 stated for Jun 15, 2025" in ice["reason"]
    assert "held_during_day" in row["definition"] and "currently_detained" in row["reason"]
    # named definitions: the posting's has no figure that day (not checkable, not zero)
    only_ice = check_claim(con, _claim("2025-06-10", 60000, definition="currently_detained"))
    assert only_ice["verdict"] == "not checkable" and only_ice["observed"] is None
    assert only_ice["coverage"]["status"] == "none"


def test_a_claim_between_the_two_facility_measures_depends_on_the_definition(con) -> None:
    row = check_claim(con, _claim("2025-06-10", 55000))
    assert row["verdict"] == "depends on definition"
    assert _measure(row, "held_during_day")["verdict"] == "consistent"
    assert _measure(row, "held_at_midnight")["verdict"] == "inconsistent"
    assert check_claim(con, _claim("2025-06-10", 55000, definition="held_at_midnight"))["verdict"] == "inconsistent"


def test_the_postings_own_figure_against_its_cell(con) -> None:
    wb = CalamineWorkbook.from_path(str(_path("FY26_detentionStats_04092026.xlsx")))
    rows = wb.get_sheet_by_name("Detention FY26").to_python(skip_empty_area=False)
    cell = int(rows[19][5])  # F20: currently detained, total
    row = check_claim(con, _claim("2026-04-04", 60000, definition="currently_detained"))
    assert (row["verdict"], row["observed"]) == ("consistent", cell) and cell == 60311
    m = _measure(row, "currently_detained")
    assert (m["source_file"], m["cell"]) == ("FY26_detentionStats_04092026.xlsx", "F20")
    # the facility records end on 10 Mar 2026: not checkable under their definitions, said so
    assert _measure(row, "held_during_day")["verdict"] == "not checkable"
    assert "is outside" in _measure(row, "held_during_day")["reason"]


def test_outside_every_record_and_bad_claims_are_not_checkable(con) -> None:
    row = check_claim(con, _claim("2019-01-01", 10))
    assert row["verdict"] == "not checkable" and row["observed"] is None
    span = Claim.model_validate({"id": "s", "metric": "count", "table": "detained", "comparison": "more_than",
                                 "value": 1, "period": {"from": "2025-06-01", "to": "2025-06-10"}})
    assert "one day" in check_claim(con, span)["reason"]
    assert check_claim(con, _claim("2025-06-10", 1, definition="somebody"))["verdict"] == "not checkable"


def test_cli_checks_the_example_claims(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    res = CliRunner().invoke(app, ["check", str(REPO / "examples" / "claims" / "detention-june-2025.yaml"), "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["id"]: r for r in json.loads(res.stdout)["figures"]}
    assert rows["more-than-60000-on-10-june-2025"]["verdict"] == "inconsistent"
    assert rows["more-than-55000-on-10-june-2025"]["verdict"] == "depends on definition"
    assert rows["posting-60311-on-4-april-2026"]["observed"] == 60311
