"""The build's stage log, and detention stays derived at scale: ordered by one packed number and split by person, they
equal the stays of the one aggregate ordered by the tuple (book-in, file, row) that the build used before."""

from __future__ import annotations

import logging
import shutil
import sys
from pathlib import Path

import duckdb
import pytest

from icemonitor.warehouse import stays
from icemonitor.warehouse.build import BuildSource, build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import generate_national as gen  # noqa: E402

ROWS = {"arrests": 2_000, "detainers": 500, "encounters": 1_000, "detention_stints": 6_000}
RELEASE = "ddp-ice-processed-latest"

# The stays as the build derived them before (session 6): one aggregate per build, the order a tuple with strings.
TUPLE_ORDERED = """
WITH stays AS (
  SELECT release_id,
         arg_min(rowid, (coalesce(book_in_at, 'infinity'::TIMESTAMP), source_file, source_row)) AS first_rowid,
         count(DISTINCT CASE WHEN book_in_at IS NOT NULL
                        THEN (date_trunc('second', book_in_at), coalesce(facility_code, '')) END) AS stints,
         max(stay_book_out_at) AS stay_book_out_at,
         arg_max(stay_release_reason, CASE WHEN book_in_at IS NOT NULL THEN (book_in_at, source_file, source_row) END)
           AS stay_release_reason
  FROM detention_stints
  GROUP BY release_id, coalesce(person_id, source_file || ':' || source_row), coalesce(stay_book_in_at, book_in_at)
), first_stint AS (
  SELECT f.* EXCLUDE (stay_book_out_at, stay_release_reason), coalesce(stay_book_in_at, book_in_at) AS _stay_at,
         s.stay_book_out_at, s.stay_release_reason, s.stints
  FROM stays s JOIN detention_stints f ON f.rowid = s.first_rowid
)
SELECT release_id, source_file, source_sheet, source_row, CAST(_stay_at AS DATE) AS event_date, aor, person_id,
       duplicate_group, counted, _stay_at AS stay_book_in_at, stay_book_out_at, stay_release_reason,
       facility_code AS first_facility_code, detention_facility AS first_facility, CAST(stints AS INTEGER) AS stints
FROM first_stint
"""
COLUMNS = ("release_id, source_file, source_sheet, source_row, event_date, aor, person_id, duplicate_group, counted, "
           "stay_book_in_at, stay_book_out_at, stay_release_reason, first_facility_code, first_facility, stints")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """A generated set whose processed release has two stints files sharing people (its stints file again under
    another name: every stay's stints in both files, book-in ties broken by the file), plus the workbook slice as a
    second release; built once."""
    base = tmp_path_factory.mktemp("stages")
    main = gen.generate(base / "latest", seed=14, rows=ROWS, chunk_rows=2_000, xlsx_rows=200)
    sources = gen.build_sources(main, xlsx=True) + [
        BuildSource(RELEASE, "a-more-stints.parquet", Path(main["detention_stints"]["parquet"]), "ddp_ice", None,
                    {"table": "detention_stints"})]
    target = base / "w.duckdb"
    report = build(sources, target, cache_dir=base / "cache")
    return target, report


def _same(con: duckdb.DuckDBPyConnection, a: str, b: str) -> None:
    assert con.execute(f"SELECT count(*) FROM ({a})").fetchone()[0] == con.execute(f"SELECT count(*) FROM ({b})").fetchone()[0]
    assert con.execute(f"SELECT count(*) FROM (({a}) EXCEPT ALL ({b}))").fetchone()[0] == 0
    assert con.execute(f"SELECT count(*) FROM (({b}) EXCEPT ALL ({a}))").fetchone()[0] == 0


def test_stays_equal_the_tuple_ordered_aggregate(built):
    target, _ = built
    con = duckdb.connect(str(target), read_only=True)
    # the case the file rank exists for: people whose stints of one release lie in both of its files
    assert con.execute(
        "SELECT count(*) FROM (SELECT person_id FROM detention_stints WHERE release_id = ? AND person_id IS NOT NULL "
        "GROUP BY ALL HAVING count(DISTINCT source_file) > 1)", [RELEASE]).fetchone()[0] > 0
    assert con.execute("SELECT count(DISTINCT release_id) FROM detention_stays").fetchone()[0] == 2
    _same(con, f"SELECT {COLUMNS} FROM detention_stays", f"SELECT {COLUMNS} FROM ({TUPLE_ORDERED})")
    con.close()


def test_stays_split_by_person_equal_one_aggregate(built, tmp_path, monkeypatch):
    target, _ = built
    copy = tmp_path / "split.duckdb"
    shutil.copyfile(target, copy)
    con = duckdb.connect(str(copy))
    con.execute("CREATE TABLE whole AS SELECT * FROM detention_stays")
    monkeypatch.setattr(stays, "PART_STINTS", 1_000)  # the processed release's 12,000 stints in 12 parts
    assert stays.write_stays(con) == con.execute("SELECT count(*) FROM whole").fetchone()[0]
    _same(con, "SELECT * FROM detention_stays", "SELECT * FROM whole")
    con.close()


def test_the_build_logs_each_stage_with_its_rows_and_seconds(built, tmp_path, caplog):
    target, report = built
    con = duckdb.connect(str(target), read_only=True)
    stages = {s["name"]: s for s in report.stages}
    n = lambda t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: E731
    assert stages["detention_stays"]["rows_in"] == n("detention_stints")
    assert stages["detention_stays"]["rows_out"] == n("detention_stays")
    inserted = sum(s["rows_out"] for name, s in stages.items() if name.startswith("insert "))
    assert inserted == sum(n(t) for t in ("arrests", "detainers", "encounters", "detention_stints"))
    assert stages["event_days, aor_days, event_methods"]["rows_out"] == n("event_days") + n("aor_days") + n("event_methods")
    assert all(s["wall"] >= 0 and s["cpu"] >= 0 for s in report.stages)
    con.close()
    # a build logs them as they end (here from the cache: no parse stage, the inserts and what follows)
    with caplog.at_level(logging.INFO, logger="icemonitor.warehouse.build"):
        again = build(gen.build_sources(gen_manifest(target)), tmp_path / "again.duckdb", cache_dir=target.parent / "cache")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("stage ")]
    assert any(line.startswith("stage detention_stays: ") and "rows in" in line and "s CPU" in line for line in lines)
    assert not any(line.startswith("stage parse ") for line in lines)  # every file taken from the parse cache
    assert again.parsed == []


def gen_manifest(target: Path) -> dict:
    import json

    return json.loads((target.parent / "latest" / "manifest.json").read_text())
