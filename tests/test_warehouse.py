"""The warehouse against independent counts from the raw files, and the guarantees of the build."""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from conftest import ICE_DATA, REPO, SHARED_DATA
from icemonitor import config
from icemonitor.errors import InputError
from icemonitor.warehouse import connect
from icemonitor.warehouse.build import BuildSource, build

NATIONWIDE = ICE_DATA / "uwchr-ice-enforce-fy16-19"
AOR_CODES = {
    "Atlanta": "ATL", "Baltimore": "BAL", "Boston": "BOS", "Buffalo": "BUF", "Chicago": "CHI",
    "Dallas": "DAL", "Denver": "DEN", "Detroit": "DET", "El Paso": "ELP", "Houston": "HOU",
    "Los Angeles": "LOS", "Miami": "MIA", "New Orleans": "NOL", "New York City": "NYC",
    "Newark": "NEW", "Philadelphia": "PHI", "Phoenix": "PHO", "Salt Lake City": "SLC",
    "San Antonio": "SNA", "San Diego": "SND", "San Francisco": "SFR", "Seattle": "SEA",
    "St. Paul": "SPM", "Washington": "WAS", "HQ": "HQ",
}


def raw_counts(pattern: str, aor_col: str) -> pd.Series:
    """Rows per AOR code straight from the raw files, read with the SOURCE.md recipe (pandas)."""
    frames = [
        pd.read_csv(f, sep="|", skiprows=5, dtype=str, keep_default_na=False)
        for f in sorted(NATIONWIDE.glob(pattern))
    ]
    df = pd.concat(frames)
    code = df[aor_col].str.replace(" Area of Responsibility", "", regex=False).map(AOR_CODES)
    return code.fillna("(blank)").value_counts().sort_index()


def data_lines(path: Path, preamble: int) -> int:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip()) - preamble - 1


@pytest.mark.parametrize("path", sorted(NATIONWIDE.glob("*.csv.gz")), ids=lambda p: p.name)
def test_rows_per_file_equal_data_lines(warehouse_path, path):
    preamble = 5  # five title lines (one only pipes), then the header
    expected = data_lines(path, preamble)
    with connect(warehouse_path) as con:
        (loaded,) = con.execute(
            "SELECT sum(rows_loaded) FROM releases WHERE file_name = ?", [path.name]
        ).fetchone()
    assert loaded == expected


@pytest.mark.parametrize(
    "table,pattern,aor_col",
    [
        ("arrests", "EROArrests_*.csv.gz", "Area of Responsibility"),
        ("encounters", "EROEncounters_*.csv.gz", "Event Area of Responsibility"),
        ("removals", "ICERemovals_*.csv.gz", "Area of Responsibility"),
    ],
)
def test_counts_per_aor_match_raw(warehouse_path, table, pattern, aor_col):
    expected = raw_counts(pattern, aor_col)
    with connect(warehouse_path) as con:
        got = con.execute(
            f"SELECT coalesce(aor, '(blank)') AS aor, count(*) FROM {table} "
            "WHERE release_id = 'uwchr-ice-enforce-fy16-19' GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert dict(got) == expected.to_dict()


def test_arrests_per_fiscal_year_match_raw(warehouse_path):
    expected = {}
    for f in sorted(NATIONWIDE.glob("EROArrests_*.csv.gz")):
        df = pd.read_csv(f, sep="|", skiprows=5, dtype=str, keep_default_na=False)
        d = pd.to_datetime(df["Apprehension Date"], format="%m/%d/%Y")
        fy = d.dt.year + (d.dt.month >= 10)
        for k, v in fy.value_counts().items():
            expected[int(k)] = expected.get(int(k), 0) + int(v)
    with connect(warehouse_path) as con:
        got = dict(
            con.execute(
                "SELECT fy, count(*) FROM arrests WHERE release_id = 'uwchr-ice-enforce-fy16-19' "
                "GROUP BY fy ORDER BY fy"
            ).fetchall()
        )
    assert got == expected
    assert got[2017] == 143_470  # SOURCE.md's measured count


def test_safe_city_days_as_measured_in_source_md(warehouse_path):
    with connect(warehouse_path) as con:
        total, los, at_large, marked = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE aor = 'LOS'), "
            "count(*) FILTER (WHERE method_class = 'at_large'), "
            "count(*) FILTER (WHERE method_class = 'at_large' AND list_contains(redacted, 'operation')) "
            "FROM arrests WHERE counted AND event_date BETWEEN DATE '2017-09-24' AND DATE '2017-09-27'"
        ).fetchone()
    assert (total, los, at_large, marked) == (2304, 260, 869, 475)


def test_every_event_file_under_shared_data_is_loaded(warehouse_path):
    from icemonitor.catalog.catalog import load_catalog

    with connect(warehouse_path) as con:
        loaded = {r[0] for r in con.execute("SELECT DISTINCT file_name FROM releases").fetchall()}
    catalog_files = {f.name for r in load_catalog().event_releases() if r.fetch == "always" for f in r.files if f.reader}
    assert catalog_files <= loaded
    assert {p.name for p in NATIONWIDE.glob("*.csv.gz")} <= loaded


def test_duplicates_are_kept_and_flagged(warehouse_path):
    df = pd.read_csv(NATIONWIDE / "EROArrests_FY2016.csv.gz", sep="|", skiprows=5, dtype=str, keep_default_na=False)
    extra_copies = int(df.duplicated().sum())  # SOURCE.md: 16,739 exact duplicate rows in FY2016
    with connect(warehouse_path) as con:
        rows, groups = con.execute(
            "SELECT count(*), count(DISTINCT duplicate_group) FROM arrests "
            "WHERE source_file = 'EROArrests_FY2016.csv.gz'"
        ).fetchone()
    assert rows == len(df)
    assert rows - groups == extra_copies == 16_739


def test_overlap_is_counted_once(warehouse_path):
    """Seattle AOR arrests appear in the nationwide file and the Seattle production: counted once."""
    with connect(warehouse_path) as con:
        rows = con.execute(
            "SELECT fy, count(*) FILTER (WHERE counted), count(*) FROM arrests "
            "WHERE aor = 'SEA' AND fy BETWEEN 2016 AND 2018 GROUP BY fy ORDER BY fy"
        ).fetchall()
        by_release = con.execute(
            "SELECT release_id, count(*) FROM arrests WHERE aor = 'SEA' AND counted AND fy = 2017 GROUP BY 1"
        ).fetchall()
    assert [(fy, c) for fy, c, _ in rows] == [(2016, 2698), (2017, 3376), (2018, 3067)]
    assert all(total > counted for _, counted, total in rows)
    assert by_release == [("uwchr-ice-enforce-fy16-19", 3376)]


def test_provenance_points_at_the_physical_line(warehouse_path):
    with connect(warehouse_path) as con:
        row, landmark = con.execute(
            "SELECT source_row, landmark FROM arrests WHERE source_file = 'EROArrests_FY2017.csv.gz' "
            "AND landmark IS NOT NULL ORDER BY hash(source_row) LIMIT 1"
        ).fetchone()
    with gzip.open(NATIONWIDE / "EROArrests_FY2017.csv.gz", "rt", encoding="utf-8") as fh:
        for n, line in enumerate(fh, start=1):
            if n == row:
                break
    assert line.split("|")[3].strip('"') == landmark


def _sources(*names: str) -> list[BuildSource]:
    return [
        BuildSource("uwchr-ice-enforce-fy16-19", n, NATIONWIDE / n, "lesa_nationwide", None, {})
        for n in names
    ]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_rebuild_is_identical_and_atomic(tmp_path):
    target = tmp_path / "w.duckdb"
    build(_sources("EROArrests_FY2019.csv.gz"), target)
    con = duckdb.connect(str(target), read_only=True)
    first = con.execute("SELECT * FROM arrests ORDER BY source_row").fetchall()
    # a reader holding the old file keeps working while a rebuild swaps a new one in
    build(_sources("EROArrests_FY2019.csv.gz"), target)
    assert con.execute("SELECT count(*) FROM arrests").fetchone()[0] == len(first)
    con.close()
    with connect(target) as con2:
        assert con2.execute("SELECT * FROM arrests ORDER BY source_row").fetchall() == first
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_failed_build_leaves_previous_warehouse(tmp_path):
    target = tmp_path / "w.duckdb"
    build(_sources("EROArrests_FY2019.csv.gz"), target)
    before = _digest(target)
    bad = tmp_path / "EROArrests_FY2018.csv.gz"
    with gzip.open(NATIONWIDE / "EROArrests_FY2018.csv.gz", "rt", encoding="utf-8") as src:
        text = src.read().replace("Non-Custodial Arrest", "Teleportation", 1)
    with gzip.open(bad, "wt", encoding="utf-8") as out:
        out.write(text)
    srcs = _sources("EROArrests_FY2019.csv.gz") + [
        BuildSource("uwchr-ice-enforce-fy16-19", bad.name, bad, "lesa_nationwide", None, {})
    ]
    with pytest.raises(InputError) as exc:
        build(srcs, target)
    msg = str(exc.value)
    assert bad.name in msg and "row" in msg and "method_raw" in msg and "Teleportation" in msg
    assert _digest(target) == before
    with connect(target) as con:
        assert con.execute("SELECT count(*) FROM arrests").fetchone()[0] == 131_904


def test_cli_build_fails_cleanly_and_keeps_old_warehouse(tmp_path, built_home):
    home = tmp_path / "home"
    shutil.copytree(built_home, home)
    os.chmod(home, 0o755)
    for p in (home / "raw").rglob("*"):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    before = _digest(config.warehouse_path(home))
    victim = next((home / "raw").rglob("EROArrests_FY2017.csv.gz"))
    victim.write_bytes(victim.read_bytes()[:-1000])
    env = {**os.environ, "ICEMONITOR_HOME": str(home), "PYTHONPATH": str(REPO / "src")}
    env.pop("ICEMONITOR_MIRROR", None)
    proc = subprocess.run(
        [sys.executable, "-m", "icemonitor", "build", "--no-fetch"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode != 0
    assert "EROArrests_FY2017.csv.gz" in proc.stderr
    assert _digest(config.warehouse_path(home)) == before


def test_place_tables_are_in_the_warehouse(warehouse_path):
    counties = pd.read_csv(SHARED_DATA / "geo" / "counties_fips.csv", dtype=str)
    with connect(warehouse_path) as con:
        n_counties = con.execute("SELECT count(*) FROM counties").fetchone()[0]
        la = con.execute(
            "SELECT noncitizen_pop FROM population WHERE county_fips = '06037' AND year = 2017"
        ).fetchone()
        ca = con.execute(
            "SELECT count(*) FROM policies WHERE jurisdiction = 'CA' AND kind = 'state_law_restricts'"
        ).fetchone()[0]
    assert n_counties >= len(counties) - 5
    assert la is not None and la[0] > 1_000_000
    assert ca >= 1


def test_parse_cache_gives_the_same_warehouse(tmp_path):
    srcs = _sources("EROArrests_FY2019.csv.gz", "EROEncounters_FY2019.csv.gz")
    cache = tmp_path / "cache"
    build(srcs, tmp_path / "plain.duckdb")
    build(srcs, tmp_path / "cold.duckdb", cache_dir=cache)
    assert len(list(cache.iterdir())) == 2  # one entry per file, keyed by checksum and code version
    build(srcs, tmp_path / "warm.duckdb", cache_dir=cache)
    query = "SELECT * FROM {} ORDER BY source_file, source_row"
    results = []
    for name in ("plain", "cold", "warm"):
        with connect(tmp_path / f"{name}.duckdb") as con:
            results.append([con.execute(query.format(t)).fetchall() for t in ("arrests", "encounters")])
    assert results[0] == results[1] == results[2]


def test_duplicates_compare_every_source_field(warehouse_path):
    """The I-213 extract has 39 columns, of which the warehouse keeps a few: rows are duplicates only when every
    field is identical (SOURCE.md: 27 exact duplicate rows), not when the kept columns happen to agree."""
    path = ICE_DATA / "uwchr-i213-sea-22-25" / "sea-i213s-2026-02-13.csv.gz"
    raw = pd.read_csv(path, sep="|", dtype=str, keep_default_na=False)
    with connect(warehouse_path) as con:
        rows, groups = con.execute(
            "SELECT count(*), count(DISTINCT duplicate_group) FROM i213 WHERE source_file = ?", [path.name]
        ).fetchone()
    assert rows == len(raw)
    assert rows - groups == int(raw.duplicated().sum())
