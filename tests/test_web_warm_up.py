"""A server process's app moves what its warm-up loaded out of the garbage collector's full passes (gc.freeze);
an app made and dropped in one process (tests, scripts) does not, since frozen objects are never collected."""

from __future__ import annotations

import gc
import time

from fastapi.testclient import TestClient

from icemonitor.web.app import create_app


def _warmed(app) -> None:
    with TestClient(app) as client:
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
