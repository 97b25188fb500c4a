"""A server process's app moves what its warm-up loaded out of the garbage collector's full passes (gc.freeze);
an app made and dropped in one process (tests, scripts) does not, since frozen objects are never collected."""

from __future__ import annotations

import gc
import time

from fastapi.testclient import TestClient

from icemonitor.web.app import create_app


def _warmed(app) -> None:
    with TestClient(app) as client:
        _wait_warm(client)


def _wait_warm(client) -> None:
    deadline = time.monotonic() + 120
    while not client.get("/healthz").json().get("warm") and time.monotonic() < deadline:
        time.sleep(0.05)


def test_only_a_long_lived_app_freezes_what_it_loaded(tmp_path):
    gc.unfreeze()
    try:
        _warmed(create_app(tmp_path / "none.duckdb"))
        assert gc.get_freeze_count() == 0
        _warmed(create_app(tmp_path / "none.duckdb", long_lived=True))
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_the_server_answers_before_loading_numpy_polars_pyarrow(tmp_path):
    """`icemonitor serve` imports its app without numpy, polars or pyarrow (a third of its start-up); the warm-up
    loads them (app.DEFERRED_IMPORTS) before /healthz says warm, so no visitor waits for an import."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import icemonitor

    env = {**os.environ, "PYTHONPATH": str(Path(icemonitor.__file__).parents[1])}  # this tree's code
    code = ("import sys, time\n"
            "from icemonitor.web.cli import run\n"
            "from icemonitor.web.app import create_app, warm_up\n"
            f"app = create_app({str(tmp_path / 'none.duckdb')!r})\n"
            "heavy = ('numpy', 'polars', 'pyarrow')\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n"
            "warm_up(app).join()\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=env).stdout.split("\n")
    assert out[0] == "[]"
    assert out[1] == "['numpy', 'polars', 'pyarrow']"


class _Recording:
    """A warehouse cursor that notes the SQL it runs."""

    def __init__(self, con, seen: list[str]) -> None:
        self.con, self.seen = con, seen

    def execute(self, sql, *args, **kwargs):
        self.seen.append(sql)
        return self.con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.con, name)


FIRST_VISITS = ["/?aor=LOS", "/api/v1/summary?place=CA&by=fy", "/place/CA", "/place/06037", "/place/LOS"]
# what the first visitors of a worker paid ~100-350 ms of CPU for at 1x: the rollups of the count tables
# (analysis.rollups) and the detention facility days by county and month (analysis.detention)
SHARED_READS = ("FROM aor_days WHERE table_name = ? AND counted GROUP BY ALL",
                "FROM event_days WHERE table_name = ? AND counted AND res_county_fips IS NOT NULL GROUP BY ALL",
                "bit_or(CASE WHEN d.n_detained IS NOT NULL")


def _sql_of_visits(path, long_lived: bool) -> tuple[set[str], set[str]]:
    """The SQL the FIRST_VISITS run in a fresh app over `path` (warm-up finished), first and then again."""
    from conftest import shared_ref

    app = create_app(path, ref=shared_ref, long_lived=long_lived)
    seen: list[str] = []
    try:
        with TestClient(app) as client:
            _wait_warm(client)
            wh = app.state.warehouse
            cursor = wh._cursor
            wh._cursor = lambda: _Recording(cursor(), seen)
            for url in FIRST_VISITS:
                assert client.get(url).status_code == 200, url
            first, seen[:] = set(seen), []
            for url in FIRST_VISITS:
                client.get(url)
            return first, set(seen)
    finally:
        gc.unfreeze()


def test_a_server_process_reads_what_every_visitor_shares_before_the_first_one(warehouse_path, tmp_path, monkeypatch):
    """With answers not cached (ICEMONITOR_CACHE=off, as bench_serve runs), a first visit reads what the warehouse
    holds for every request once (SHARED_READS among them), then never again; a server process's warm-up
    (long_lived) has read it before /healthz says warm: its first visitors run only their own places' reads.
    Each app reads its own copy of the warehouse (readers are kept per file)."""
    import shutil

    monkeypatch.setenv("ICEMONITOR_CACHE", "off")
    cold, warm = tmp_path / "cold.duckdb", tmp_path / "warm.duckdb"
    shutil.copyfile(warehouse_path, cold)
    shutil.copyfile(warehouse_path, warm)
    first, again = _sql_of_visits(cold, long_lived=False)
    once = first - again
    assert all(any(part in sql for sql in once) for part in SHARED_READS), sorted(once)
    warmed_first, _ = _sql_of_visits(warm, long_lived=True)
    assert not any(part in sql for sql in warmed_first for part in SHARED_READS)
    still = warmed_first & once  # a place's own reads (its AORs' or state's rows, its stored sweeps)
    assert len(still) <= len(once) // 4, sorted(still)
