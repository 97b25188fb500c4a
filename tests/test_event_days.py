"""The build's count table event_days (warehouse/aggregates.py) and query.Selection's routing to it: every count and
group-by read from it equals the same question asked of the event rows (random selections on the real data), the
analyses give the same figures with and without it, questions it cannot answer stay on the event rows, an
incremental refresh derives it as a full build does, and warehouse metadata is read once per file version."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icemonitor.query.selection import Selection, has_table, rollup_source, table_columns
from icemonitor.warehouse.build import build

TABLES = ("arrests", "encounters", "removals")
PLACES = (None, "LOS", "SEA", "NYC", "CA", "TX", "WA", "06037", "48201", "53033")
GROUPS = ("fy", "event_date", "aor", "state", "res_state", "res_county_fips", "office_county_fips", "res_by",
          "res_county_by", "method_class", "criminality", "criminality_field", "release_id")
DATES = st.dates(min_value=dt.date(2012, 1, 1), max_value=dt.date(2026, 3, 31))


def _rows(con, sql: str, params: list) -> list[tuple]:
    return sorted(con.execute(sql, params).fetchall(), key=repr)


def test_event_days_holds_every_row_once(warehouse_con):
    """Per table and release, event_days' counts add up to the table's rows (an independent count of each table),
    and the placement joins add no rows (what lets unplaced_source read the bare table)."""
    from icemonitor.query.selection import event_source, unplaced_source

    con = warehouse_con
    for table in TABLES:
        direct = dict(con.execute(f"SELECT release_id, count(*) FROM {table} GROUP BY 1").fetchall())  # noqa: S608
        placed = dict(con.execute(f"SELECT release_id, count(*) FROM {event_source(con, table)} GROUP BY 1"
                                  ).fetchall())
        assert placed == direct
        assert unplaced_source(table, "counted AND aor = ?", "coalesce(landmark, '(blank)')") == table
        assert unplaced_source(table, "counted AND res_state = ?") is None
        rolled = dict(con.execute("SELECT release_id, sum(n)::BIGINT FROM event_days WHERE table_name = ? GROUP BY 1",
                                  [table]).fetchall())
        assert direct and rolled == direct


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(TABLES), place=st.sampled_from(PLACES), d0=st.one_of(st.none(), DATES),
       days=st.integers(0, 2000), by=st.lists(st.sampled_from(GROUPS), max_size=3, unique=True),
       method=st.sampled_from([None, "at_large", "custodial", "at_large,other"]),
       measure=st.sampled_from(["all", "at_large"]), counted=st.booleans())
def test_rolled_up_counts_equal_the_event_rows(warehouse_con, table, place, d0, days, by, method, measure, counted):
    """Random selections (table, place, period, filters, measure, counted or every release) grouped by random
    columns: the same rows and counts from event_days as from the event rows."""
    con = warehouse_con
    d1 = d0 + dt.timedelta(days=days) if d0 else None
    sel = Selection.of(table, d0, d1, place, {"method_class": method} if method else None, measure=measure,
                       counted_only=counted)
    q = sel.compile(con)
    rolled = q.rolled_up(con, *by, "release_id")
    assert rolled.source != q.source and rolled.count_sql != "count(*)"  # routed
    keys = ", ".join(by) or "TRUE"
    direct = _rows(con, f"SELECT {keys}, count(*), list_sort(list(DISTINCT release_id)) FROM {q.source} "
                        f"WHERE {q.where.sql()} GROUP BY ALL", q.where.params)
    from_days = _rows(con, f"SELECT {keys}, {rolled.count_sql}, list_sort(list(DISTINCT release_id)) FROM "
                           f"{rolled.source} WHERE {q.where.sql()} GROUP BY ALL", q.where.params)
    assert from_days == [r for r in direct if r[len(by)]] or (not by and direct == [(True, 0, [])] == from_days)
    assert rolled.count(con) == q.count(con)
    assert rolled.office_placements(con) == q.office_placements(con)


def test_questions_event_days_cannot_answer_stay_on_the_event_rows(warehouse_con):
    con = warehouse_con
    q = Selection.of("arrests", "2018-01-01", "2018-12-31", "CA").compile(con)
    assert q.rolled_up(con, "landmark") is q  # a column event_days does not hold
    assert q.rolled_up(con, "coalesce(citizenship, '(blank)')") is q
    anyq = Selection.of("arrests", "2018-01-01", "2018-12-31", "CA", placement="any").compile(con)
    assert anyq.rolled_up(con, "fy") is anyq  # event_days places by policy `event` only
    cit = Selection.of("arrests", filters={"citizenship": "MEXICO"}).compile(con)
    assert cit.rolled_up(con, "fy") is cit  # a filter on a column it does not hold
    assert rollup_source(con, "arrests", "landmark = ?") is None
    assert rollup_source(con, "arrests", "counted AND aor = ?", "method_class") is not None


def test_aor_days_is_event_days_summed_over_placement(warehouse_con):
    """aor_days holds event_days' rows summed over the placement columns: per table, day, release, AOR, state,
    method class and criminality, the same counts (an independent GROUP BY of event_days), and a quarter or fewer
    of its rows for arrests."""
    con = warehouse_con
    keys = "table_name, event_date, fy, release_id, counted, aor, state, method_class, criminality_field, criminality"
    summed = _rows(con, f"SELECT {keys}, sum(n)::BIGINT FROM event_days GROUP BY ALL", [])
    assert summed and _rows(con, f"SELECT {keys}, n FROM aor_days", []) == summed
    n = lambda t: con.execute(f"SELECT count(*) FROM {t} WHERE table_name = 'arrests'").fetchone()[0]  # noqa: E731
    assert n("aor_days") * 3 < n("event_days")


def test_a_question_naming_no_placed_column_reads_aor_days(warehouse_con):
    con = warehouse_con
    assert "aor_days" in rollup_source(con, "arrests", "counted AND aor = ?", "method_class", "release_id")[0]
    assert "aor_days" in Selection.of("arrests", "2017-01-01", "2017-12-31", "LOS").compile(con).rolled_up(
        con, "fy").source
    for placed in ("res_state", "res_county_fips", "office_county_fips", "res_by", "res_county_by"):
        source, _ = rollup_source(con, "arrests", "counted AND aor = ?", placed)
        assert "aor_days" not in source  # a placed state column reads state_days (tests/test_state_days.py)
    county = Selection.of("arrests", "2017-01-01", "2017-12-31", "06037").compile(con)
    assert "event_days" in county.rolled_up(con, "fy").source  # a county is found by res_county_fips


@pytest.mark.parametrize("args", [
    dict(table="arrests", by=["month", "method_class"]),
    dict(table="arrests", by=["fy"], place="CA"),
    dict(table="arrests", by=["county", "criminality"], place="TX", date_from="2016-10-01", date_to="2017-09-30"),
    dict(table="arrests", by=["state"], place="06037"),
    dict(table="encounters", by=["aor", "release"], date_from="2017-01-01", date_to="2017-12-31"),
    dict(table="arrests", by=["fy", "gender"], place="WA"),  # gender: on the event rows
])
def test_summaries_are_equal_with_and_without_count_tables(warehouse_path, without_count_tables, args):
    from icemonitor.analysis.summary import summary
    from conftest import shared_ref

    def run(path: Path):
        con = duckdb.connect(str(path), read_only=True)
        try:
            return summary(con, ref=shared_ref, **args).model_dump(mode="json")
        finally:
            con.close()

    with_days, without = run(warehouse_path), run(without_count_tables)
    assert with_days["figures"] and with_days == without


@pytest.mark.parametrize("place", ["LOS", "CA"])
def test_sweeps_are_equal_with_and_without_count_tables(warehouse_path, without_count_tables, place):
    from icemonitor.analysis.sweeps import sweeps
    from conftest import shared_ref

    def run(path: Path):
        con = duckdb.connect(str(path), read_only=True)
        try:
            return sweeps(con, place=place, measure="at_large", limit=10, ref=shared_ref).model_dump(mode="json")
        finally:
            con.close()

    with_days, without = run(warehouse_path), run(without_count_tables)
    assert with_days["figures"] and with_days == without


def test_event_methods_count_each_tables_methods(warehouse_con):
    """event_methods holds, per event table, the rows of each method class and raw method (an independent count of
    each table's rows)."""
    con = warehouse_con
    for table in ("arrests", "encounters", "removals"):
        direct = _rows(con, f"SELECT method_class, method_raw, count(*) FROM {table} "  # noqa: S608
                            "WHERE method_raw IS NOT NULL GROUP BY ALL", [])
        derived = _rows(con, "SELECT method_class, method_raw, n FROM event_methods WHERE table_name = ?", [table])
        assert derived == direct
    assert _rows(con, "SELECT DISTINCT table_name FROM event_methods", []) != []


DASHBOARD = [  # (module, function, arguments): the dashboard's and place pages' figures
    ("overview", "counts", (dict(table="arrests"), ["month", "method_class"])),
    ("overview", "counts", (dict(table="arrests", aor="LOS", method_class="at_large"), ["week", "release_id"])),
    ("overview", "counts", (dict(table="encounters", date_from="2017-01-01", date_to="2017-06-30"), ["day", "state"])),
    ("overview", "counts", (dict(table="arrests", criminality="convicted"), [])),
    ("overview", "release_spans", (dict(table="arrests", aor="SEA"),)),
    ("overview", "partial_months", (dict(table="arrests"),)),
    ("overview", "criminality_fields", (dict(table="arrests", aor="SEA"),)),
    ("overview", "county_rates", (dict(table="arrests", date_from="2016-10-01", date_to="2017-09-30"),)),
    ("overview", "aor_map", (dict(table="arrests"),)),
    ("holdings", "table_coverage", ()),
    ("holdings", "aors", ("encounters",)),
    ("holdings", "method_codes", ("arrests",)),
    ("place_profile", "trend", ("LOS",)),
    ("place_profile", "method_mix", ("CA", "2016-10-01", "2019-09-30")),
    ("place_profile", "criminality", ("SEA",)),
    ("place_profile", "resolution", ("06037", "2017-01-01", "2017-12-31")),
    ("place_profile", "peers", ("LOS",)),
    ("place_profile", "peers", ("TX", "2017-01-01", "2017-12-31")),
    ("place_profile", "peers", ("06037",)),
]


@pytest.mark.parametrize("module, name, args", DASHBOARD)
def test_dashboard_figures_are_equal_with_and_without_the_derived_tables(warehouse_path, without_count_tables, module,
                                                                          name, args):
    """The dashboard's counts, the warehouse's holdings and the place profiles read event_days and event_methods
    where they answer: the same figures as from the event rows."""
    import importlib

    from conftest import shared_ref
    from icemonitor.query.filters import Filters

    fn = getattr(importlib.import_module(f"icemonitor.analysis.{module}"), name)

    def run(path: Path):
        con = duckdb.connect(str(path), read_only=True)
        try:
            if module == "overview":
                f = args[0]
                d0, d1 = (dt.date.fromisoformat(f[k]) if f.get(k) else None for k in ("date_from", "date_to"))
                res = fn(con, Filters(**{**f, "date_from": d0, "date_to": d1}), *args[1:])
            elif module == "place_profile":
                dates = [dt.date.fromisoformat(d) for d in args[1:]]
                res = fn(con, args[0], *dates, ref=shared_ref)
            else:
                res = fn(con, *args)
            return res.model_dump(mode="json") if hasattr(res, "model_dump") else res
        finally:
            con.close()

    with_days, without = run(warehouse_path), run(without_count_tables)
    assert with_days and with_days == without


def test_metadata_is_read_once_per_file_version_and_never_cached_while_writable(tmp_path):
    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    assert not has_table(con, "t")
    con.execute("CREATE TABLE t (a INTEGER)")
    assert has_table(con, "t") and table_columns(con, "t") == {"a"}  # a writable file is asked every time
    con.close()
    ro = duckdb.connect(str(path), read_only=True)
    assert table_columns(ro, "t") == {"a"}
    ro.close()
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE t ADD COLUMN b INTEGER")
    con.close()  # a new version of the file (a build swaps in a new file: new mtime)
    ro = duckdb.connect(str(path), read_only=True)
    assert table_columns(ro, "t") == {"a", "b"}
    ro.close()


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))


def _event_days(path: Path, table: str = "event_days") -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
    finally:
        con.close()


def test_an_incremental_refresh_derives_event_days_as_a_full_build_does(tmp_path):
    import generate_national as gen

    main = gen.generate(tmp_path / "latest", seed=14, rows={"arrests": 3_000, "encounters": 2_000}, chunk_rows=3_000)
    added = gen.generate(tmp_path / "march", seed=15, rows={"arrests": 1_000}, chunk_rows=3_000)
    base, more = gen.build_sources(main), gen.build_sources(added, "ddp-ice-2026-03")
    cache, target = tmp_path / "cache", tmp_path / "w.duckdb"
    build(base, target, cache_dir=cache)
    before = _event_days(target)
    grown = build(base + more, target, cache_dir=cache)
    assert grown.incremental
    build(base + more, tmp_path / "full.duckdb")
    after = _event_days(target)
    assert after == _event_days(tmp_path / "full.duckdb") and after != before
    for summed in ("state_days", "aor_days"):  # summed again from event_days: the full build's too
        assert _event_days(target, summed) == _event_days(tmp_path / "full.duckdb", summed) != []
    con = duckdb.connect(str(target), read_only=True)
    counted = con.execute("SELECT count(*) FILTER (WHERE counted) FROM arrests").fetchone()[0]
    assert con.execute("SELECT sum(n) FILTER (WHERE counted) FROM event_days WHERE table_name = 'arrests'"
                       ).fetchone()[0] == counted
    con.close()


def _resolution(fixed: bool):
    """A places stage for the test: landmark_resolution placing landmarks in counties; `fixed`: the same rows
    whatever the warehouse holds (a refresh keeps the placement), else one row per landmark held (a new release's
    landmarks change the table)."""

    def stage(con: duckdb.DuckDBPyConnection) -> None:
        rows = ("SELECT DISTINCT aor, landmark FROM arrests WHERE landmark IS NOT NULL"
                if not fixed else "SELECT DISTINCT aor, landmark FROM arrests WHERE release_id = "
                "'ddp-ice-processed-latest' AND landmark IS NOT NULL")
        con.execute(f"""CREATE TABLE landmark_resolution AS SELECT aor, landmark, 'TX' AS state,
            '48' || lpad(CAST(hash(landmark) % 200 AS VARCHAR), 3, '0') AS county_fips,
            CASE WHEN hash(landmark) % 7 = 0 THEN 'office_proxy' ELSE 'landmark' END AS kind,
            'county' AS level FROM ({rows})""")

    return stage


@pytest.mark.parametrize("fixed", [True, False])
def test_a_refresh_counts_again_only_what_changed_unless_placement_changed(tmp_path, caplog, fixed):
    """Where the placement tables are unchanged, a refresh counts again only the changed tables and releases (and
    what it keeps equals a full build); where they changed, also the tables and releases holding rows whose
    landmark's resolution changed (aggregates.placed_again), also equal."""
    import logging

    import generate_national as gen

    main = gen.generate(tmp_path / "latest", seed=14, rows={"arrests": 3_000, "encounters": 2_000}, chunk_rows=3_000)
    added = gen.generate(tmp_path / "march", seed=15, rows={"arrests": 1_000}, chunk_rows=3_000)
    # the July 2025 release ranks after the processed files: it supersedes none of their rows
    base, more = gen.build_sources(main), gen.build_sources(added, "ddp-ice-2025-07")
    cache, target, stage = tmp_path / "cache", tmp_path / "w.duckdb", _resolution(fixed)
    build(base, target, cache_dir=cache, extra_tables=stage)
    before = _event_days(target)
    with caplog.at_level(logging.INFO, logger="icemonitor.warehouse.aggregates"):
        assert build(base + more, target, cache_dir=cache, extra_tables=stage).incremental
    build(base + more, tmp_path / "full.duckdb", extra_tables=stage)
    after = _event_days(target)
    assert after == _event_days(tmp_path / "full.duckdb") and after != before
    assert _event_days(target, "state_days") == _event_days(tmp_path / "full.duckdb", "state_days")
    assert any(r[9] is not None for r in after)  # rows placed in a county through the landmark
    again = [r.getMessage() for r in caplog.records if "table-releases again" in r.getMessage()]
    # only the new release's arrests counted again, and where the placement changed, the pairs holding rows of a
    # landmark the new release brought into landmark_resolution (the processed encounters'); the others were kept
    con = duckdb.connect(str(target), read_only=True)
    new = ("SELECT aor, landmark FROM arrests WHERE release_id = 'ddp-ice-2025-07' EXCEPT "
           "SELECT aor, landmark FROM arrests WHERE release_id = 'ddp-ice-processed-latest'")
    placed = con.execute(f"SELECT count(DISTINCT release_id) FROM encounters SEMI JOIN ({new}) USING (aor, landmark)"
                         ).fetchone()[0]
    con.close()
    assert fixed or placed  # the case is one of a changed placement
    assert again and f"({1 + (0 if fixed else placed)} table-releases again)" in again[0]


@pytest.mark.parametrize("level", ["aor", "county"])
def test_targeting_counts_are_equal_with_and_without_count_tables(warehouse_path, without_count_tables, level):
    """targeting reads its monthly counts, its per-AOR resolved counts and its covered days from event_days where
    the warehouse has it: the same numbers as on the event rows."""
    from icemonitor.analysis.targeting import _counts, _covered_months

    d0, d1 = dt.date(2015, 10, 1), dt.date(2019, 9, 30)

    def run(path: Path):
        con = duckdb.connect(str(path), read_only=True)
        try:
            counts, left, releases = _counts(con, level, d0, d1)
            months, dropped = _covered_months(con, d0, d1)
            return counts.sort("place", "month").to_dicts(), left, releases, months, [str(d) for d in dropped]
        finally:
            con.close()

    with_days, without = run(warehouse_path), run(without_count_tables)
    assert with_days[0] and with_days == without


def test_sweep_grids_are_equal_with_and_without_count_tables(warehouse_path, without_count_tables):
    """level_counts (the grid sweeps() and bench_sweeps read) is the same grid on event_days and on the event rows."""
    import numpy as np

    from icemonitor.analysis.common import Where
    from icemonitor.analysis.sweeps import level_counts

    def run(path: Path, level: str):
        con = duckdb.connect(str(path), read_only=True)
        try:
            return level_counts(con, "arrests", Where().add("counted").add("method_class = 'at_large'"), level,
                                dt.date(2016, 10, 1), dt.date(2017, 9, 30))
        finally:
            con.close()

    for level in ("national", "aor", "county"):
        a, b = run(warehouse_path, level), run(without_count_tables, level)
        assert a.places and a.places == b.places and a.aors == b.aors
        assert np.array_equal(a.days, b.days) and np.array_equal(a.counts, b.counts)
        assert np.array_equal(a.covered, b.covered)
