"""landmark_table / coverage over a DuckDB connection, and the `places coverage` / `places landmarks` commands.

The warehouse here is a small DuckDB file made in the test from the raw FY2016 arrests (table `arrests` with
aor, landmark, counted) plus an `encounters` table; the counts are checked against the raw file.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
import typer
from typer.testing import CliRunner

from icemonitor.places.cli_landmarks import TABLE_COLUMNS, add_commands
from icemonitor.places.landmarks import coverage, landmark_table

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
FY2016 = SHARED_DATA / "ice/uwchr-ice-enforce-fy16-19/EROArrests_FY2016.csv.gz"


def ref(path: str) -> Path:
    return SHARED_DATA / path


@pytest.fixture(scope="module")
def raw() -> pl.DataFrame:
    codes = pl.read_csv(SHARED_DATA / "aor/aor_codes.csv", infer_schema=False)
    name_to_code = dict(zip(codes["field_office_name"], codes["aor_code"])) | {"HQ": "HQ"}
    df = pl.read_csv(FY2016, separator="|", skip_rows=5, infer_schema=False)
    assert df.height == 110_104
    return df.select(
        pl.col("Area of Responsibility").str.replace(" Area of Responsibility$", "")
        .replace_strict(name_to_code, default=None).alias("aor"),
        pl.col("Apprehension Landmark").alias("landmark"),
        # every 10th row marked not counted, to check the filter
        (pl.int_range(pl.len()) % 10 != 0).alias("counted"),
    )


@pytest.fixture(scope="module")
def warehouse(raw, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("wh") / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.register("raw_df", raw.to_arrow())
    con.execute("CREATE TABLE arrests AS SELECT * FROM raw_df")
    con.execute("CREATE TABLE encounters (aor VARCHAR, landmark VARCHAR, counted BOOLEAN)")
    con.execute("INSERT INTO encounters VALUES ('LOS', 'SC INTEROPERABILITY LAFO', true), "
                "('LOS', 'VENTURA COUNTY JAIL, VENTURA CA', true)")
    con.close()
    return path


def test_landmark_table_counts_counted_arrests(warehouse, raw):
    con = duckdb.connect(str(warehouse), read_only=True)
    t = landmark_table(con, ref)
    con.close()
    counted = raw.filter(pl.col("counted"))
    assert t["n_arrests"].sum() == counted.height
    # pairs from encounters only appear with 0 arrests
    enc = t.filter((pl.col("aor") == "LOS") & (pl.col("landmark") == "SC INTEROPERABILITY LAFO"))
    assert enc.height == 1 and enc["n_arrests"][0] == counted.filter(
        (pl.col("aor") == "LOS") & (pl.col("landmark") == "SC INTEROPERABILITY LAFO")).height
    la = t.filter((pl.col("aor") == "LOS") & (pl.col("landmark") == "LOS ANGELES COUNTY GENERAL AREA, NON-SPECIFIC"))
    assert la["county_fips"][0] == "06037"
    assert la["n_arrests"][0] == counted.filter(
        (pl.col("aor") == "LOS") & (pl.col("landmark") == "LOS ANGELES COUNTY GENERAL AREA, NON-SPECIFIC")).height
    assert t.select("aor", "landmark").unique().height == t.height


def test_coverage_shares_sum_to_one_and_match_counts(warehouse, raw):
    con = duckdb.connect(str(warehouse), read_only=True)
    cov = coverage(con, ref)
    con.close()
    counted = raw.filter(pl.col("counted"))
    cats = ("county_event", "county_office_proxy", "state_only", "aor_only", "none")
    assert cov["overall"]["arrests"] == counted.height
    assert sum(cov["overall"][c] for c in cats) == pytest.approx(1.0)
    assert cov["overall"]["none"] == pytest.approx(counted.filter(pl.col("aor").is_null()).height / counted.height)
    los = cov["per_aor"]["LOS"]
    assert los["arrests"] == counted.filter(pl.col("aor") == "LOS").height
    assert sum(los[c] for c in cats) == pytest.approx(1.0)


def test_cli_commands(warehouse, tmp_path):
    places = typer.Typer()
    add_commands(places)
    app = typer.Typer()
    app.add_typer(places, name="places")
    runner = CliRunner()
    args = ["--warehouse", str(warehouse), "--reference", str(SHARED_DATA)]
    res = runner.invoke(app, ["places", "coverage", "--json", *args])
    assert res.exit_code == 0, res.output
    cov = json.loads(res.stdout)
    assert set(cov) == {"definition", "overall", "per_aor", "signals", "unmapped_recorded_counties"}
    # every placement signal counts the same counted arrests
    sig = cov["signals"]
    assert sig["arrests"] == cov["overall"]["arrests"] == sum(sig["county"].values()) == sum(sig["state"].values())
    out = tmp_path / "lm.csv"
    res = runner.invoke(app, ["places", "landmarks", "--format", "csv", "--output", str(out), *args])
    assert res.exit_code == 0, res.output
    t = pl.read_csv(out, infer_schema=False)
    assert t.columns == TABLE_COLUMNS
    assert t["n_arrests"].cast(pl.Int64).sum() == cov["overall"]["arrests"]
    res = runner.invoke(app, ["places", "landmarks", "--format", "xml", *args])
    assert res.exit_code != 0
    res = runner.invoke(app, ["places", "coverage", "--warehouse", str(tmp_path / "missing.duckdb"),
                              "--reference", str(SHARED_DATA)])
    assert res.exit_code == 2


def test_on_the_built_warehouse(warehouse_path):
    """The session warehouse built from ../shared/data by the warehouse stage."""
    con = duckdb.connect(str(warehouse_path), read_only=True)
    try:
        counted = con.execute("SELECT count(*) FROM arrests WHERE counted").fetchone()[0]
        t = landmark_table(con, ref)
        cov = coverage(con, ref)
    finally:
        con.close()
    assert t["n_arrests"].sum() == counted == cov["overall"]["arrests"]
    la = t.filter((pl.col("aor") == "LOS") & (pl.col("landmark") == "LOS ANGELES COUNTY GENERAL AREA, NON-SPECIFIC"))
    assert la["county_fips"].to_list() == ["06037"]
