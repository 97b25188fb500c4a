"""Refresh on real rebuilds: the release diff, the suspect path with exclusions, the lock, the state database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from test_watch_support import LESA_ID, Archive, lesa_file, raw_lesa_arrests, rewrite_lesa, run_refresh

pytestmark = pytest.mark.skipif(not lesa_file(2016).exists(), reason="../shared/data is not beside the repo")

REPO = Path(__file__).absolute().parents[1]  # not resolved: the repo the test runs in


def diff_rows(home: Path, refresh_id: int) -> list[sqlite3.Row]:
    con = sqlite3.connect(home / "state.sqlite")
    con.row_factory = sqlite3.Row
    rows = con.execute("SELECT * FROM release_diff WHERE refresh_id = ?", [refresh_id]).fetchall()
    con.close()
    return rows


def by_month_sorted(pairs) -> dict[str, list[int]]:
    """month -> the sorted per-AOR counts (compares AOR groupings without relying on the AOR name map)."""
    out: dict[str, list[int]] = {}
    for month, n in pairs:
        out.setdefault(month, []).append(int(n))
    return {m: sorted(v) for m, v in out.items()}


def test_release_diff_matches_raw_files_when_a_file_is_added_and_removed(tmp_path):
    home = tmp_path / "home"
    archive = Archive()
    archive.add_lesa(2016)
    first = run_refresh(home, archive)
    assert first.status == "updated" and first.added == [(LESA_ID, "EROArrests_FY2016.csv.gz")]

    archive.add_lesa(2017)
    second = run_refresh(home, archive)
    assert second.status == "updated" and second.added == [(LESA_ID, "EROArrests_FY2017.csv.gz")]
    raw17 = raw_lesa_arrests(lesa_file(2017))
    rows = diff_rows(home, second.refresh_id)
    assert rows and all(r["rows_before"] == 0 and r["table_name"] == "arrests" for r in rows)
    # month x AOR cells added by the refresh = the raw FY2017 file's month x AOR counts
    expected = by_month_sorted(raw17.groupby(["month", "aor_name"]).size().reset_index().iloc[:, [0, 2]].itertuples(index=False))
    got = by_month_sorted((r["month"], r["rows_after"]) for r in rows)
    assert got == expected
    assert sum(r["rows_after"] for r in rows) == len(raw17)

    archive.drop("EROArrests_FY2016.csv.gz")
    third = run_refresh(home, archive, allow_removal=True)  # asked: without it the removal is refused
    assert third.removed == [(LESA_ID, "EROArrests_FY2016.csv.gz")]
    raw16 = raw_lesa_arrests(lesa_file(2016))
    rows = diff_rows(home, third.refresh_id)
    assert all(r["rows_after"] == 0 for r in rows)
    expected = by_month_sorted(raw16.groupby(["month", "aor_name"]).size().reset_index().iloc[:, [0, 2]].itertuples(index=False))
    assert by_month_sorted((r["month"], r["rows_before"]) for r in rows) == expected
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM arrests").fetchone()[0] == len(raw17)
    con.close()

    fourth = run_refresh(home, archive)
    assert fourth.status == "unchanged" and not fourth.changes


def _los_rows(home: Path, month: str) -> int:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    n = con.execute(
        "SELECT count(*) FROM arrests WHERE aor = 'LOS' AND strftime(event_date, '%Y-%m') = ?", [month]
    ).fetchone()[0]
    con.close()
    return n


def test_disagreeing_new_version_is_held_back_and_recorded(tmp_path):
    from icemonitor.watch import exclusions

    home = tmp_path / "home"
    archive = Archive()
    archive.add_lesa(2017)
    run_refresh(home, archive)
    raw = raw_lesa_arrests(lesa_file(2017))
    los_may = int(((raw.aor_name == "Los Angeles Area of Responsibility") & (raw.month == "2017-05")).sum())
    assert _los_rows(home, "2017-05") == los_may

    # a "new version" of the release that lost every third Los Angeles arrest of May 2017
    seen = {"n": 0}

    def drop_third(aor, date, method):
        if aor == "Los Angeles Area of Responsibility" and date.startswith("5/") and date.endswith("/2017"):
            seen["n"] += 1
            return seen["n"] % 3 == 0
        return False

    revised = tmp_path / "v2" / "EROArrests_FY2017.csv.gz"
    revised.parent.mkdir()
    dropped = rewrite_lesa(lesa_file(2017), revised, drop_third)
    assert dropped == los_may // 3
    archive.set_path("EROArrests_FY2017.csv.gz", revised)
    held = run_refresh(home, archive)
    assert held.status == "held_back"
    assert _los_rows(home, "2017-05") == los_may  # the old version stays in use
    ex = exclusions.load(home)
    assert len(ex) == 1
    (rid, name, sha), row = next(iter(ex.items()))
    assert (rid, name, row.decision) == (LESA_ID, "EROArrests_FY2017.csv.gz", "suspect")
    assert f"arrests 2017-05 LOS {los_may} -> {los_may - dropped} rows" in row.reason
    assert row.recorded_on and any("suspect" in m for m in held.messages)

    again = run_refresh(home, archive)  # still excluded: nothing new to load
    assert again.status == "unchanged" and _los_rows(home, "2017-05") == los_may

    # the user accepts the version by editing the data file
    path = exclusions.exclusions_path(home)
    path.write_text(path.read_text().replace(",suspect,", ",accepted,"))
    accepted = run_refresh(home, archive)
    assert accepted.status == "updated" and accepted.changed == [(LESA_ID, "EROArrests_FY2017.csv.gz")]
    assert _los_rows(home, "2017-05") == los_may - dropped


def test_small_revision_is_taken_into_use_with_its_diff(tmp_path):
    home = tmp_path / "home"
    archive = Archive()
    archive.add_lesa(2017)
    run_refresh(home, archive)
    revised = tmp_path / "v2" / "EROArrests_FY2017.csv.gz"
    revised.parent.mkdir()
    gone = {"n": 0}

    def drop_one(aor, date, method):
        if gone["n"] == 0 and aor == "Seattle Area of Responsibility" and date == "3/15/2017":
            gone["n"] = 1
            return True
        return False

    assert rewrite_lesa(lesa_file(2017), revised, drop_one) == 1
    archive.set_path("EROArrests_FY2017.csv.gz", revised)
    res = run_refresh(home, archive)
    assert res.status == "updated"
    assert [(c.month, c.aor, c.rows_before - c.rows_after) for c in res.changes] == [("2017-03", "SEA", 1)]


def test_second_refresh_is_refused_while_the_first_holds_the_lock(tmp_path):
    from icemonitor.watch.lock import LockHeld, RefreshLock

    home = tmp_path / "home"
    holder = RefreshLock(home)
    holder.acquire()
    try:
        with pytest.raises(LockHeld, match="another refresh is running"):
            run_refresh(home, Archive())
        env = {**os.environ, "ICEMONITOR_HOME": str(home), "PYTHONPATH": str(REPO / "src")}
        proc = subprocess.run([sys.executable, "-m", "icemonitor", "refresh"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 75, proc.stderr
        assert "another refresh is running" in proc.stderr
    finally:
        holder.release()
    con = sqlite3.connect(home / "state.sqlite") if (home / "state.sqlite").exists() else None
    assert con is None or con.execute("SELECT count(*) FROM refreshes").fetchone()[0] == 0


def test_state_database_is_migrated_and_survives_a_rebuild(tmp_path):
    from icemonitor.watch import state

    home = tmp_path / "home"
    con = state.connect(home)
    assert state.schema_version(con) == len(state.MIGRATIONS)
    con.execute("INSERT INTO watches (place, place_label, kind, channel, target, created_at) "
                "VALUES ('LOS', 'AOR LOS', 'at-large-rise', 'email', 'a@example.org', '2026-01-01T00:00:00Z')")
    con.close()
    archive = Archive()
    archive.add_lesa(2016)
    run_refresh(home, archive, run_watches=False)
    con = state.connect(home)  # reopening does not migrate again or lose rows
    assert con.execute("SELECT count(*) FROM watches").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM release_files WHERE status = 'in_use'").fetchone()[0] == 1
    con.close()


def test_bad_exclusions_file_names_file_row_and_field(tmp_path):
    from icemonitor.errors import InputError
    from icemonitor.watch import exclusions

    path = exclusions.exclusions_path(tmp_path)
    path.write_text("release_id,file_name,sha256,decision,reason,recorded_on,refresh_id\nr,f,abc,maybe,x,2026-01-01,1\n")
    with pytest.raises(InputError) as err:
        exclusions.load(tmp_path)
    assert "row 2" in str(err.value) and "decision" in str(err.value) and str(path) in str(err.value)


def test_file_whose_fetch_failed_stays_in_use(tmp_path):
    home = tmp_path / "home"
    archive = Archive()
    archive.add_lesa(2016)
    archive.add_lesa(2017)
    run_refresh(home, archive)
    archive.drop("EROArrests_FY2017.csv.gz")  # e.g. its new version could not be downloaded
    res = run_refresh(home, archive, fetch=lambda h, m: ["EROArrests_FY2017.csv.gz: connection refused"])
    assert res.fetch_errors and res.removed == [] and res.status == "unchanged"
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM arrests WHERE fy = 2017").fetchone()[0] == len(raw_lesa_arrests(lesa_file(2017)))
    con.close()


def test_first_refresh_never_swaps_in_a_warehouse_missing_a_file(tmp_path):
    """Issue 15 item 22: a warehouse built by `icemonitor build` (no refresh state yet), then a refresh where one
    file cannot be fetched: the warehouse in use stays whole unless removal is asked for."""
    from icemonitor.watch.refresh import RemovalRefused, plain_build

    home = tmp_path / "home"
    archive = Archive()
    archive.add_lesa(2016)
    archive.add_lesa(2017)
    plain_build(archive.list_sources(home), home / "warehouse.duckdb")  # as `icemonitor build` leaves it
    n17 = len(raw_lesa_arrests(lesa_file(2017)))
    archive.drop("EROArrests_FY2017.csv.gz")
    failed = ["EROArrests_FY2017.csv.gz: connection refused"]
    with pytest.raises(RemovalRefused) as err:
        run_refresh(home, archive, fetch=lambda h, m: failed)
    assert "EROArrests_FY2017.csv.gz" in str(err.value) and f"{n17:,} rows" in str(err.value)
    assert "--allow-removal" in str(err.value) and "connection refused" in str(err.value)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM arrests WHERE fy = 2017").fetchone()[0] == n17
    con.close()
    asked = run_refresh(home, archive, fetch=lambda h, m: failed, allow_removal=True)
    assert asked.status == "updated"
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM arrests WHERE fy = 2017").fetchone()[0] == 0
    con.close()


def test_first_refresh_keeps_an_unfetchable_file_from_the_raw_archive(tmp_path):
    """The same first refresh, when the raw archive still holds the version the warehouse was built from: that
    version is kept and the warehouse stays whole without --allow-removal."""
    from test_watch_support import SHARED_DATA

    from icemonitor.catalog.fetch import fetch
    from icemonitor.warehouse.sources import catalog_sources
    from icemonitor.watch.refresh import plain_build, refresh

    home, rid = tmp_path / "home", "uwchr-seattle-cap-fy17-18"
    fetch([rid], home=home, mirror=SHARED_DATA)
    sources = catalog_sources([rid], home=home)
    plain_build(sources, home / "warehouse.duckdb")
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    before = con.execute("SELECT source_file, count(*) FROM arrests GROUP BY ALL ORDER BY 1").fetchall()
    con.close()
    gone = sources[0].name  # e.g. its catalog checksum changed and the new version cannot be fetched
    res = refresh(home, fetch=lambda h, m: [f"{gone}: connection refused"], build=plain_build,
                  list_sources=lambda h: [s for s in sources if s.name != gone])
    assert res.removed == [] and res.status == "updated"  # first refresh: every file is new to the state
    assert any(f"{rid}/{gone}: kept the version in the warehouse" in m for m in res.messages)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT source_file, count(*) FROM arrests GROUP BY ALL ORDER BY 1").fetchall() == before
    con.close()


def test_catalog_sources_come_from_the_raw_archive(tmp_path):
    from test_watch_support import SHARED_DATA

    from icemonitor.catalog.fetch import fetch
    from icemonitor.watch.refresh import catalog_list

    home = tmp_path / "home"
    fetch([LESA_ID], home=home, mirror=SHARED_DATA)
    sources = catalog_list(home)
    assert {s.release_id for s in sources} == {LESA_ID}
    names = sorted(p.name for p in (SHARED_DATA / "ice" / LESA_ID).glob("*.csv.gz"))
    assert sorted(s.name for s in sources) == names
    for s in sources:
        assert (home / "raw") in s.path.parents and s.reader == "lesa_nationwide"
        assert s.path.read_bytes() == (SHARED_DATA / "ice" / LESA_ID / s.name).read_bytes()


def test_crash_before_the_state_commit_leaves_old_warehouse_and_state(tmp_path, monkeypatch):
    from icemonitor.watch import refresh as refresh_mod

    home = tmp_path / "home"
    archive = Archive()
    archive.add_lesa(2016)
    run_refresh(home, archive)
    archive.add_lesa(2017)

    class Crash(BaseException):
        pass

    real_replace = refresh_mod.os.replace
    swaps = []

    def crash(src, dst):
        if Path(dst).name == "warehouse.duckdb":  # dies as the new warehouse is swapped in
            swaps.append(dst)
            raise Crash()
        real_replace(src, dst)

    monkeypatch.setattr(refresh_mod.os, "replace", crash)
    with pytest.raises(Crash):
        run_refresh(home, archive)
    monkeypatch.setattr(refresh_mod.os, "replace", real_replace)
    assert len(swaps) == 1
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM arrests WHERE fy = 2017").fetchone()[0] == 0
    con.close()
    assert [p.name for p in home.iterdir() if "candidate" in p.name] == []
    again = run_refresh(home, archive)  # the same change is seen and done again, diff included
    assert again.added == [(LESA_ID, "EROArrests_FY2017.csv.gz")]
    assert sum(c.added for c in again.changes) == len(raw_lesa_arrests(lesa_file(2017)))
