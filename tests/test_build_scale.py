"""The streaming build on generated national-format records (bench/generate_national.py, distributions from the real
files): counts equal an independent count of the generated Parquet, chunked reading equals whole-file reading, and
adding or removing a release refreshes the warehouse in place (only the new file parsed) with the same result as a
full build."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from icemonitor.readers import SourceFile, read, read_chunks
from icemonitor.warehouse.build import build

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import generate_national as gen  # noqa: E402

ROWS = {"arrests": 4_000, "detainers": 2_000, "encounters": 4_000, "detention_stints": 10_000}
ADDED = {"arrests": 1_500, "detention_stints": 2_500}
AOR_COLUMN = {"arrests": "apprehension_aor", "detainers": "facility_aor", "encounters": "responsible_aor"}


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    base = tmp_path_factory.mktemp("national")
    main = gen.generate(base / "latest", seed=14, rows=ROWS, chunk_rows=3_000, xlsx_rows=300)
    added = gen.generate(base / "march", seed=15, rows=ADDED, chunk_rows=3_000)
    return base, main, added


def _sources(generated):
    _, main, added = generated
    return gen.build_sources(main, xlsx=True), gen.build_sources(added, "ddp-ice-2026-03")


def test_generation_is_deterministic(generated, tmp_path):
    again = gen.generate(tmp_path, seed=14, rows={"arrests": ROWS["arrests"]}, chunk_rows=3_000)
    assert pl.read_parquet(again["arrests"]["parquet"]).equals(pl.read_parquet(generated[1]["arrests"]["parquet"]))


def test_counts_equal_an_independent_count_of_the_parquet(generated, tmp_path):
    base, main = _sources(generated)[0], generated[1]
    report = build(base, tmp_path / "w.duckdb")
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    for table, m in main.items():
        truth = gen.independent_counts(Path(m["parquet"]), table)
        assert truth["rows"] == ROWS[table]
        got = dict(((a, y), n) for a, y, n in con.execute(
            f"SELECT aor_raw, year(event_date), count(*) FROM {table} WHERE release_id = 'ddp-ice-processed-latest' "  # noqa: S608
            "GROUP BY ALL").fetchall())
        assert got == truth["by_aor_year"], table
        # and the workbook slice of each table, in ICE's raw layout
        assert con.execute(f"SELECT count(*) FROM {table} WHERE release_id = 'ddp-ice-2025-07'").fetchone()[0] == 300  # noqa: S608
    assert report.rows["detention_stints"] == ROWS["detention_stints"] + 300
    con.close()


def test_chunked_reading_gives_the_rows_of_whole_file_reading(generated):
    m = generated[1]["detention_stints"]
    src = SourceFile(Path(m["parquet"]), Path(m["parquet"]).name, "ddp-ice-processed-latest", "ddp_ice",
                     {"table": "detention_stints"})
    chunks = [c["detention_stints"] for c in read_chunks(src, 1_234)]
    assert len(chunks) == -(-ROWS["detention_stints"] // 1_234)
    assert max(c.height for c in chunks) == 1_234
    assert pl.concat(chunks).equals(read(src)["detention_stints"])


def _contents(path: Path) -> dict[str, list]:
    con = duckdb.connect(str(path), read_only=True)
    out = {}
    for t in ("arrests", "detainers", "encounters", "detention_stints", "detention_stays", "coverage_spans",
              "coverage_fields", "event_days"):
        out[t] = sorted(con.execute(f"SELECT * FROM {t}").fetchall(), key=repr)  # noqa: S608
    out["releases"] = sorted(con.execute("SELECT * EXCLUDE (rows_counted) FROM releases").fetchall(), key=repr)
    con.close()
    return out


def test_adding_and_removing_a_release_refreshes_in_place(generated, tmp_path):
    base, added = _sources(generated)
    cache, target = tmp_path / "cache", tmp_path / "w.duckdb"
    first = build(base, target, cache_dir=cache)
    assert not first.incremental and len(first.parsed) == len(base)
    # a new release (the March 2026 release ranks before the processed files): only its files are parsed, the
    # rows it supersedes are counted no more, and the result is what a full build gives
    grown = build(base + added, target, cache_dir=cache)
    assert grown.incremental and sorted(grown.parsed) == sorted(s.name for s in added)
    full = build(base + added, tmp_path / "full.duckdb")
    assert _contents(target) == _contents(tmp_path / "full.duckdb")
    con = duckdb.connect(str(target), read_only=True)
    superseded = con.execute("SELECT count(*) FILTER (WHERE counted) FROM arrests "
                             "WHERE release_id = 'ddp-ice-processed-latest'").fetchone()[0]
    con.close()
    assert superseded < ROWS["arrests"] and full.rows == grown.rows
    # removing it again: nothing parsed, the earlier warehouse's contents back
    shrunk = build(base, target, cache_dir=cache)
    assert shrunk.incremental and shrunk.parsed == []
    build(base, tmp_path / "base.duckdb")
    assert _contents(target) == _contents(tmp_path / "base.duckdb")


def test_a_release_adding_rows_leaves_the_others_counted_as_they_were(generated, tmp_path):
    _, main, added = generated
    base = gen.build_sources(main)  # the processed files only
    later = gen.build_sources(added, "ddp-ice-2025-07")  # ranks after them: supersedes none of their rows
    cache, target = tmp_path / "cache", tmp_path / "w.duckdb"
    build(base, target, cache_dir=cache)
    before = _contents(target)
    grown = build(base + later, target, cache_dir=cache)
    assert grown.incremental and sorted(grown.parsed) == sorted(s.name for s in later)
    build(base + later, tmp_path / "full.duckdb")
    after = _contents(target)
    assert after == _contents(tmp_path / "full.duckdb")
    for t in ("arrests", "detention_stints", "detention_stays", "encounters", "detainers"):
        kept = [r for r in after[t] if r[0] != "ddp-ice-2025-07"]
        assert kept == before[t]  # every earlier row as it was, counted included
    assert {r[1] for r in after["coverage_fields"]} - {r[1] for r in before["coverage_fields"]} == {"ddp-ice-2025-07"}


@pytest.mark.parametrize("table", ["arrests", "detainers", "detention_stints"])
def test_typed_dates_give_the_rows_and_duplicate_groups_of_their_text(generated, tmp_path, table):
    """A processed file's dates and date-times are kept typed (readers/ddp_ice.py); the same file with them written
    as text (as the reader used to turn them) gives the same rows, and the same groups of identical records: values
    differing below the second are identical in both, a date before 1970 and a missing one read alike."""
    import datetime as dt

    m = generated[1][table]
    typed = pl.read_parquet(m["parquet"]).head(600)
    temporal = [c for c, t in typed.schema.items() if t.is_temporal()]
    assert temporal
    first = temporal[0]
    base = typed.get_column(first)
    if base.dtype == pl.Date:
        special = [dt.date(1969, 7, 20), None]
    else:
        special = [dt.datetime(1969, 7, 20, 20, 17, 40, 250_000), None]
    # rows 0/1: a pre-1970 value (it is the event date where it is the first column: keep it in range elsewhere)
    typed = typed.with_columns(pl.Series(first, special + base.to_list()[2:], dtype=base.dtype))
    later = [c for c in temporal if isinstance(typed.schema[c], pl.Datetime)]
    if later:  # rows 10 and 11: identical but for microseconds
        c = later[-1]
        vals = typed.get_column(c).to_list()
        vals[10] = dt.datetime(2024, 3, 1, 8, 30, 15, 1)
        vals[11] = dt.datetime(2024, 3, 1, 8, 30, 15, 999_999)
        typed = typed.with_columns(pl.Series(c, vals, dtype=typed.schema[c]))
        row11 = typed.slice(10, 1).with_columns(pl.lit(vals[11], dtype=typed.schema[c]).alias(c))
        typed = pl.concat([typed.head(11), row11, typed.slice(12)])  # row 11: row 10 but for the microseconds
    text = typed.with_columns(
        pl.col(c).dt.strftime("%Y-%m-%d %H:%M:%S") if isinstance(typed.schema[c], pl.Datetime)
        else pl.col(c).cast(pl.String) for c in temporal)
    read_back = {}
    for name, frame in (("typed", typed), ("text", text)):
        path = tmp_path / f"{name}.parquet"
        frame.write_parquet(path)
        src = SourceFile(path, "same.parquet", "ddp-ice-processed-latest", "ddp_ice", {"table": table})
        read_back[name] = read(src)[table]
    a, b = read_back["typed"], read_back["text"]
    hash_col = "_record_hash"
    assert a.drop(hash_col).equals(b.drop(hash_col))
    groups = []  # each row's group of identical records, named by its first row
    for f in (a, b):
        first_of: dict[int, int] = {}
        groups.append([first_of.setdefault(h, i) for i, h in enumerate(f.get_column(hash_col).to_list())])
    assert groups[0] == groups[1]
    if later:
        assert groups[0][10] == groups[0][11]
