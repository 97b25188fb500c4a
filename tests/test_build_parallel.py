"""The build's parallel parts: small files parsed in a thread of their own beside the large ones (never two large
files at once: the memory bound), coverage derived in a second connection beside the places stage, and rows from
Python written in one statement."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import duckdb
import pytest

from conftest import ICE_DATA
from icemonitor.warehouse import build as build_mod
from icemonitor.warehouse.build import BuildSource, build
from icemonitor.warehouse.values import insert_values

NATIONWIDE = ICE_DATA / "uwchr-ice-enforce-fy16-19"


def _sized(tmp_path: Path, sizes: list[int]) -> list[BuildSource]:
    out = []
    for i, size in enumerate(sizes):
        path = tmp_path / f"f{i}.csv"
        with path.open("wb") as fh:
            fh.truncate(size)
        out.append(BuildSource("r", path.name, path, "lesa_nationwide"))
    return out


def test_small_files_parse_beside_the_large_ones_never_two_large(tmp_path, monkeypatch):
    big, small = build_mod.SMALL_FILE + 1, build_mod.SMALL_FILE
    sources = _sized(tmp_path, [big, small, big * 3, 10, big * 2, 1_000, small // 2, big])
    lock = threading.Lock()
    running: dict[str, int] = {"large": 0, "small": 0, "all": 0}
    most = dict(running)
    parsed: list[str] = []

    def fake_parsed(src, parse_dir, con, stages=None):
        kind = "large" if src.path.stat().st_size > build_mod.SMALL_FILE else "small"
        with lock:
            for k in (kind, "all"):
                running[k] += 1
                most[k] = max(most[k], running[k])
            parsed.append(src.name)
        time.sleep(0.05)
        with lock:
            running[kind] -= 1
            running["all"] -= 1
        return parse_dir / src.name, [{"name": src.name}], True

    monkeypatch.setattr(build_mod, "_parsed", fake_parsed)
    got = [i for batch in build_mod.iter_source_batches(sources, tmp_path, duckdb.connect(), workers=1)
           for i, _, _, _ in batch]
    assert sorted(got) == list(range(len(sources)))  # every file once
    assert sorted(parsed) == sorted(s.name for s in sources)
    assert most["large"] == 1  # one large file in memory at a time
    assert most["small"] == 1 and most["all"] == 2  # and a small one beside it
    large_order = [n for n in parsed if (tmp_path / n).stat().st_size > build_mod.SMALL_FILE]
    assert large_order[0] == "f2.csv"  # the largest first


def _coverage(path: Path) -> tuple[list, list]:
    with duckdb.connect(str(path), read_only=True) as con:
        return (con.execute("SELECT * FROM coverage_spans ORDER BY ALL").fetchall(),
                con.execute("SELECT * FROM coverage_fields ORDER BY ALL").fetchall())


def test_coverage_beside_the_extra_stages_equals_coverage_alone(tmp_path):
    sources = [BuildSource("uwchr-ice-enforce-fy16-19", n, NATIONWIDE / n, "lesa_nationwide")
               for n in ("EROArrests_FY2016.csv.gz", "ICERemovals_FY2016.csv.gz")]
    seen = []

    def extra(con: duckdb.DuckDBPyConnection) -> None:
        time.sleep(0.2)  # coverage runs meanwhile, in its own connection
        con.execute("CREATE TABLE extra_done AS SELECT count(*) AS n FROM arrests")
        seen.append(con.execute("SELECT n FROM extra_done").fetchone()[0])

    build(sources, tmp_path / "alone.duckdb")
    report = build(sources, tmp_path / "beside.duckdb", extra_tables=extra)
    assert _coverage(tmp_path / "alone.duckdb") == _coverage(tmp_path / "beside.duckdb")
    assert _coverage(tmp_path / "beside.duckdb")[0]  # spans were written
    assert seen == [report.rows["arrests"]]
    names = [s["name"] for s in report.stages]
    assert "coverage (beside the extra stages)" in names


def test_a_large_build_derives_coverage_before_the_extra_stages(tmp_path, monkeypatch):
    monkeypatch.setattr(build_mod, "BESIDE_ROWS", 1000)
    sources = [BuildSource("uwchr-ice-enforce-fy16-19", "EROArrests_FY2016.csv.gz",
                           NATIONWIDE / "EROArrests_FY2016.csv.gz", "lesa_nationwide")]
    order = []

    def extra(con: duckdb.DuckDBPyConnection) -> None:
        order.append(con.execute("SELECT count(*) FROM coverage_fields").fetchone()[0] > 0)

    report = build(sources, tmp_path / "w.duckdb", extra_tables=extra)
    assert order == [True]  # coverage fields were written when the extra stage began
    names = [s["name"] for s in report.stages]
    assert names.index("coverage") < names.index("extra stages (places, detention)")
    # the spans are derived from event_days, after it
    assert names.index("event_days, aor_days, event_methods") < names.index("coverage spans (from event_days)")


def test_a_failing_extra_stage_fails_the_build_after_coverage_ends(tmp_path):
    sources = [BuildSource("uwchr-ice-enforce-fy16-19", "EROArrests_FY2016.csv.gz",
                           NATIONWIDE / "EROArrests_FY2016.csv.gz", "lesa_nationwide")]

    def extra(con: duckdb.DuckDBPyConnection) -> None:
        raise RuntimeError("places failed")

    target = tmp_path / "w.duckdb"
    with pytest.raises(RuntimeError, match="places failed"):
        build(sources, target, extra_tables=extra)
    assert not target.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_insert_values_writes_every_row_in_one_statement(tmp_path):
    con = duckdb.connect(str(tmp_path / "v.duckdb"))
    con.execute("CREATE TABLE t (a VARCHAR, b BIGINT, c BOOLEAN)")
    rows = [("x", 1, True), ("it's", None, False), ("z", 2**40, None)]
    insert_values(con, "t", rows)
    insert_values(con, "t", [])
    assert con.execute("SELECT * FROM t ORDER BY b NULLS LAST").fetchall() == [
        ("x", 1, True), ("z", 2**40, None), ("it's", None, False)]
    with pytest.raises(ValueError, match="widths"):
        insert_values(con, "t", [("a", 1, True), ("b", 2)])


def test_small_files_are_inserted_together(tmp_path, monkeypatch):
    big, small = build_mod.SMALL_FILE + 1, build_mod.SMALL_FILE
    sources = _sized(tmp_path, [big * 2, 10, small, 1_000, big, small // 2])

    def fake_parsed(src, parse_dir, con, stages=None):
        time.sleep(0.5 if src.path.stat().st_size > build_mod.SMALL_FILE else 0.01)
        return parse_dir / src.name, [{"name": src.name}], True

    monkeypatch.setattr(build_mod, "_parsed", fake_parsed)
    batches = [[sources[i].name for i, _, _, _ in b]
               for b in build_mod.iter_source_batches(sources, tmp_path, duckdb.connect(), workers=1)]
    # the four small files, parsed while the largest one is, held until the last of them is done: one batch
    assert sorted(batches[0]) == ["f1.csv", "f2.csv", "f3.csv", "f5.csv"]
    assert batches[1:] == [["f0.csv"], ["f4.csv"]]


def test_many_files_in_one_insert_equal_one_insert_per_file(tmp_path):
    """insert_parsed_many (one statement, each file's own counted flag and duplicate groups) against insert_parsed
    file by file, over the parse cache of three real files of two releases; the rows against the cached Parquet."""
    import json

    import pyarrow.parquet as pq

    from icemonitor.schema import tables
    from icemonitor.warehouse import precedence

    aor = ICE_DATA / "uwchr-seattle-aor-fy12-19"
    sources = [BuildSource("uwchr-seattle-aor-fy12-19", "expedited-removals.csv.gz",
                           aor / "expedited-removals.csv.gz", "seattle_aor_csv"),
               *(BuildSource("uwchr-seattle-cap-fy17-18", n, aor / n, "seattle_cap_csv", options={"table": "removals"})
                 for n in ("CAP-FY2017-removals.csv.gz", "CAP-FY2018-removals.csv.gz"))]
    build(sources, tmp_path / "w.duckdb", cache_dir=tmp_path / "cache")
    folders = [p for p in (tmp_path / "cache").iterdir() if (p / "files.json").exists()]
    assert len(folders) == 3
    table, rules = tables()["removals"], precedence.load_rules()
    loaded = {s.release_id for s in sources}
    parts = [(f, precedence.counted("removals", json.loads((f / "files.json").read_text())[0]["release_id"],
                                    loaded, rules), None) for f in folders]
    one, many = duckdb.connect(str(tmp_path / "one.duckdb")), duckdb.connect(str(tmp_path / "many.duckdb"))
    for con in (one, many):
        con.execute(table.ddl())
    assert sum(build_mod.insert_parsed(one, table, f, counted) for f, counted, _ in parts) == \
        build_mod.insert_parsed_many(many, table, parts)
    cached = sum(pq.read_metadata(f / "removals.parquet").num_rows for f in folders)
    one.close()
    many.execute(f"ATTACH '{tmp_path / 'one.duckdb'}' AS one (READ_ONLY)")
    assert many.execute("SELECT count(*) FROM removals").fetchone()[0] == cached
    assert many.execute("SELECT count(*) FROM (SELECT * FROM removals EXCEPT ALL SELECT * FROM one.removals)"
                        ).fetchone()[0] == 0
    assert many.execute("SELECT count(*) FROM (SELECT * FROM one.removals EXCEPT ALL SELECT * FROM removals)"
                        ).fetchone()[0] == 0
    # each file's duplicate groups are its own (a group's rows all in one file, as many as it says)
    assert many.execute("SELECT count(*) FROM (SELECT duplicate_group, source_file FROM removals "
                        "GROUP BY ALL HAVING count(*) <> any_value(duplicate_count))").fetchone()[0] == 0
    assert many.execute("SELECT count(*) FROM removals WHERE duplicate_count > 1").fetchone()[0] > 0
    many.close()
