"""The refresh's recount steps on generated national-format records (bench/generate_national.py), checked against
independent computations in Polars: after a superseding release is added in place, every stay's `counted` is its
first stint's, and event_days (whose recounted counts are updated, not counted again) holds, per table, release and
flag, the rows of the tables; the count tables (kept by the refresh, each pair's sums derived again) and the stored
sweeps equal a full build's; removing the release again brings the counts back. A release adding no counted arrests
keeps the stored sweeps (the model does not run)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from icemonitor.analysis.sweeps_stored import sweeps_stage
from icemonitor.warehouse.build import build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import generate_national as gen  # noqa: E402

ROWS = {"arrests": 3_000, "detainers": 1_000, "encounters": 1_000, "detention_stints": 6_000}
ADDED = {"arrests": 800, "detention_stints": 1_500}
TABLES = ("arrests", "detention_stints", "detention_stays")
MONTHS = ("event_months", "state_months", "aor_months")  # the count tables summed per month
COUNTS = ("event_days", "state_days", "aor_days", *MONTHS, "event_methods")
SWEEPS = ("sweep_runs", "sweep_findings", "sweep_inputs")  # the stored sweeps (without places: nation, AORs)


def _added(folder: Path) -> list:
    """The superseding release (as March 2026)."""
    return gen.build_sources(gen.generate(folder, seed=22, rows=ADDED, chunk_rows=2_000), "ddp-ice-2026-03")


@pytest.fixture(scope="module")
def refreshed(tmp_path_factory):
    base = tmp_path_factory.mktemp("recount")
    main = gen.build_sources(gen.generate(base / "latest", seed=21, rows=ROWS, chunk_rows=2_000))
    added = _added(base / "march")
    cache, target = base / "cache", base / "w.duckdb"
    build(main, target, cache_dir=cache, answer_tables=sweeps_stage())
    before = _frames(target)
    report = build(main + added, target, cache_dir=cache, answer_tables=sweeps_stage())
    return main, cache, target, before, report


@pytest.fixture(scope="module")
def full(refreshed, tmp_path_factory):
    """A full build of what the refresh holds (from an empty cache)."""
    base = tmp_path_factory.mktemp("full")
    report = build(refreshed[0] + _added(base / "march"), base / "full.duckdb", cache_dir=base / "cache",
                   answer_tables=sweeps_stage())
    assert not report.incremental
    return base / "full.duckdb"


def _same_rows(a: Path, b: Path, names: tuple[str, ...]) -> None:
    got, want = (duckdb.connect(str(p), read_only=True) for p in (a, b))
    try:
        for name in names:
            sql = f"SELECT * FROM {name} ORDER BY ALL"  # noqa: S608
            rows = got.execute(sql).fetchall()
            assert rows == want.execute(sql).fetchall(), name
            assert rows or name == "sweep_findings", name
    finally:
        got.close()
        want.close()


def _frames(path: Path) -> dict[str, pl.DataFrame]:
    con = duckdb.connect(str(path), read_only=True)
    out = {t: con.sql(f"SELECT release_id, source_file, source_sheet, source_row, counted FROM {t}").pl()  # noqa: S608
           for t in TABLES}
    for rollup in ("event_days", "state_days", "aor_days", *MONTHS, "sweep_inputs"):
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


def test_the_refreshed_coverage_equals_a_full_builds(refreshed, full):
    """The recounted releases' spans, derived from event_days in the refresh, equal those a full build derives from
    the rows (and so do every other release's)."""
    target = refreshed[2]
    sql = "SELECT * FROM coverage_spans ORDER BY ALL"
    got, want = (duckdb.connect(str(p), read_only=True) for p in (target, full))
    try:
        spans = got.execute(sql).fetchall()
        assert spans == want.execute(sql).fetchall()
        assert any(not counted for _, r, counted, *_ in spans if r == "ddp-ice-processed-latest")  # recounted
    finally:
        got.close()
        want.close()


def test_the_refreshed_count_tables_equal_a_full_builds(refreshed, full):
    """Every count table the refresh kept (only the changed pairs' counts and sums derived again) holds a full
    build's rows."""
    _same_rows(refreshed[2], full, COUNTS)


def test_the_refreshed_stored_sweeps_equal_a_full_builds(refreshed, full):
    """The superseding release changes the counted arrests: the stored sweeps are derived again, and equal a full
    build's (their inputs' digest too)."""
    _same_rows(refreshed[2], full, SWEEPS)
    con = duckdb.connect(str(refreshed[2]), read_only=True)
    try:
        assert con.execute("SELECT digest FROM sweep_inputs").fetchall() != refreshed[3]["sweep_inputs"].rows()
    finally:
        con.close()


def test_a_release_without_counted_arrests_keeps_the_stored_sweeps(refreshed, tmp_path, monkeypatch):
    """A release of detention stints only, ranking after the processed files, leaves the counted arrests as they
    were: the refresh keeps the stored sweeps (the model does not run), which equal a full build's of the same
    files (the model's runs there)."""
    import icemonitor.analysis.sweeps_stored as stored

    main = refreshed[0]
    stints = gen.build_sources(gen.generate(tmp_path / "stints", seed=23, rows={"detention_stints": 1_500},
                                            chunk_rows=2_000), "ddp-ice-2025-07")  # ranks after the processed
    target, cache = tmp_path / "w.duckdb", tmp_path / "cache"
    build(main, target, cache_dir=cache, answer_tables=sweeps_stage())

    def no_model(*args, **kwargs):
        raise AssertionError("the model ran")

    with monkeypatch.context() as m:
        m.setattr(stored, "level_sweeps", no_model)
        report = build(main + stints, target, cache_dir=cache, answer_tables=sweeps_stage())
    assert report.incremental
    full = tmp_path / "full.duckdb"
    build(main + stints, full, cache_dir=tmp_path / "cache-full", answer_tables=sweeps_stage())
    _same_rows(target, full, SWEEPS + COUNTS)


def test_removing_the_release_brings_the_counts_back(refreshed):
    main, cache, target, before, _ = refreshed
    shrunk = build(main, target, cache_dir=cache, answer_tables=sweeps_stage())
    assert shrunk.incremental
    again = _frames(target)
    assert again["sweep_inputs"].equals(before["sweep_inputs"])  # the stored sweeps' inputs are the first build's
    for table in TABLES:
        assert _flags(again[table]) == _flags(before[table])
    for rollup in ("event_days", "state_days", "aor_days", *MONTHS):  # each kept, its pairs' sums derived again
        cols = list(before[rollup].columns)
        assert again[rollup].sort(cols, nulls_last=True).equals(before[rollup].sort(cols, nulls_last=True)), rollup


def test_with_places_only_the_rows_placed_anew_are_counted_again(tmp_path, monkeypatch):
    """With the places stage: the superseding release leaves landmarks that only the superseded (no longer
    counted) arrests carry without a resolution row (landmark_resolution reads counted arrests), so those rows are
    placed anew; the refresh counts again only the pairs holding such rows (not every pair), and its count tables
    and stored sweeps equal a full build's."""
    from conftest import SHARED_DATA

    from icemonitor.catalog.fetch import fetch, reference_resolver
    from icemonitor.places.build_step import place_stage
    from icemonitor.warehouse import aggregates

    home = tmp_path / "home"
    fetch(None, home=home, mirror=SHARED_DATA)
    stage = lambda: dict(extra_tables=place_stage(reference_resolver(home)), answer_tables=sweeps_stage())  # noqa: E731
    main = gen.build_sources(gen.generate(tmp_path / "latest", seed=21, rows=ROWS, chunk_rows=2_000))
    added = _added(tmp_path / "march")
    target, cache = tmp_path / "w.duckdb", tmp_path / "cache"
    build(main, target, cache_dir=cache, **stage())
    seen = []
    placed_again = aggregates.placed_again
    monkeypatch.setattr(aggregates, "placed_again", lambda con, before: seen.append(placed_again(con, before))
                        or seen[-1])
    assert build(main + added, target, cache_dir=cache, **stage()).incremental
    monkeypatch.undo()
    assert seen and seen[0] and ("arrests", "ddp-ice-processed-latest") in seen[0]
    assert not any(t == "encounters" for t, _ in seen[0])  # their landmarks keep their resolution
    full = tmp_path / "full.duckdb"
    build(main + added, full, cache_dir=tmp_path / "cache-full", **stage())
    _same_rows(target, full, COUNTS + SWEEPS + ("landmark_resolution",))
