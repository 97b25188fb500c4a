"""The refresh's recount steps on generated national-format records (bench/generate_national.py), checked against
independent computations in Polars: after a superseding release is added in place, every stay's `counted` is its
first stint's, and event_days (whose recounted counts are updated, not counted again) holds, per table, release and
flag, the rows of the tables; removing the release again brings the counts back."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from icemonitor.warehouse.build import build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import generate_national as gen  # noqa: E402

ROWS = {"arrests": 3_000, "detainers": 1_000, "encounters": 1_000, "detention_stints": 6_000}
ADDED = {"arrests": 800, "detention_stints": 1_500}
TABLES = ("arrests", "detention_stints", "detention_stays")
MONTHS = ("event_months", "state_months", "aor_months")  # the count tables summed per month


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    base = tmp_path_factory.mktemp("recount")
    main = gen.build_sources(gen.generate(base / "latest", seed=21, rows=ROWS, chunk_rows=2_000))
    added = gen.build_sources(gen.generate(base / "march", seed=22, rows=ADDED, chunk_rows=2_000), "ddp-ice-2026-03")
    cache, target = base / "cache", base / "w.duckdb"
    build(main, target, cache_dir=cache)
    before = _frames(target)
    report = build(main + added, target, cache_dir=cache)
    return main, cache, target, before, report


def _frames(path: Path) -> dict[str, pl.DataFrame]:
    con = duckdb.connect(str(path), read_only=True)
    out = {t: con.sql(f"SELECT release_id, source_file, source_sheet, source_row, counted FROM {t}").pl()  # noqa: S608
           for t in TABLES}
    for rollup in ("event_days", "state_days", "aor_days", *MONTHS):
        out[rollup] = con.sql(f"SELECT * FROM {rollup}").pl()  # noqa: S608
    con.close()
    return out


def _flags(frame: pl.DataFrame, weight: str | None = None) -> dict[tuple, int]:
    n = pl.col(weight).sum() if weight else pl.len()
    return {(r, c): int(k) for r, c, k in frame.group_by("release_id", "counted").agg(n.alias("k")).iter_rows()}


def test_the_superseded_rows_are_recounted_in_place(refreshed):
    _, _, target, before, report = refreshed
    after = _frames(target)
    assert report.incremental
    names = [s["name"] for s in report.stages]
    assert "event_days' counted again" in names and "stays' counted again" in names
    old = _flags(before["arrests"])
    new = _flags(after["arrests"])
    # the March 2026 release covers the processed files' days: their rows counted before are counted no more
    assert old[("ddp-ice-processed-latest", True)] > 0
    assert new.get(("ddp-ice-processed-latest", True), 0) < old[("ddp-ice-processed-latest", True)]


def test_every_stay_is_counted_as_its_first_stint(refreshed):
    after = _frames(refreshed[2])
    keys = ["release_id", "source_file", "source_sheet", "source_row"]
    joined = after["detention_stays"].join(after["detention_stints"], on=keys, how="left", suffix="_stint",
                                           nulls_equal=True)
    assert joined.height == after["detention_stays"].height
    assert joined["counted_stint"].null_count() == 0
    assert (joined["counted"] == joined["counted_stint"]).all()


@pytest.mark.parametrize("table", TABLES)
def test_event_days_hold_the_rows_per_release_and_flag(refreshed, table):
    after = _frames(refreshed[2])
    days = after["event_days"].filter(pl.col("table_name") == table)
    assert _flags(days, "n") == _flags(after[table])


@pytest.mark.parametrize("rollup", ["state_days", "aor_days", *MONTHS])
def test_the_summed_count_tables_follow_the_recounted_event_days(refreshed, rollup):
    """state_days, aor_days and the month tables, sums of event_days, carry its recounted flags too (not the flags
    before the add)."""
    after = _frames(refreshed[2])
    for table in TABLES:
        days = after["event_days"].filter(pl.col("table_name") == table)
        summed = after[rollup].filter(pl.col("table_name") == table)
        assert _flags(summed, "n") == _flags(days, "n")


@pytest.mark.parametrize("months", MONTHS)
def test_the_month_tables_are_the_refreshed_event_days_per_month(refreshed, months):
    """Each month table after the superseding add holds event_days' refreshed counts summed per month over the
    columns it keeps, row for row (an independent Polars sum of the refreshed event_days)."""
    after = _frames(refreshed[2])
    keys = [c for c in after[months].columns if c not in ("event_date", "n")]
    want = (after["event_days"].with_columns(pl.col("event_date").dt.truncate("1mo"))
            .group_by([*keys, "event_date"]).agg(pl.col("n").sum()))
    got = after[months].select([*keys, "event_date", "n"])
    assert got.height == want.height > 0
    order = [*keys, "event_date"]
    assert got.sort(order, nulls_last=True).equals(want.select(got.columns).cast(got.schema).sort(order, nulls_last=True))
    assert after[months].filter(pl.col("event_date").dt.day() != 1).height == 0


def test_the_refreshed_coverage_equals_a_full_builds(refreshed, tmp_path):
    """The recounted releases' spans, derived from event_days in the refresh, equal those a full build derives from
    the rows (and so do every other release's)."""
    main, cache, target, _, _ = refreshed
    added = gen.build_sources(gen.generate(tmp_path / "march", seed=22, rows=ADDED, chunk_rows=2_000),
                              "ddp-ice-2026-03")
    full = tmp_path / "full.duckdb"
    report = build(main + added, full, cache_dir=tmp_path / "cache")
    assert not report.incremental
    sql = "SELECT * FROM coverage_spans ORDER BY ALL"
    got, want = (duckdb.connect(str(p), read_only=True) for p in (target, full))
    try:
        spans = got.execute(sql).fetchall()
        assert spans == want.execute(sql).fetchall()
        assert any(not counted for _, r, counted, *_ in spans if r == "ddp-ice-processed-latest")  # recounted
    finally:
        got.close()
        want.close()


def test_removing_the_release_brings_the_counts_back(refreshed):
    main, cache, target, before, _ = refreshed
    shrunk = build(main, target, cache_dir=cache)
    assert shrunk.incremental
    again = _frames(target)
    for table in TABLES:
        assert _flags(again[table]) == _flags(before[table])
    cols = list(before["event_days"].columns)
    assert again["event_days"].sort(cols).equals(before["event_days"].sort(cols))
