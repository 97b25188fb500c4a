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
    got = [i for i, _, _, _ in build_mod.iter_sources(sources, tmp_path, duckdb.connect(), workers=1)]
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
