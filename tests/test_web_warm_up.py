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
