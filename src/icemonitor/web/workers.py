"""`icemonitor serve --workers N`: N uvicorn worker processes over the same read-only warehouse file.

uvicorn starts its workers as fresh processes (spawn) that import the app by name, so what `serve` was told (the
warehouse, trusted proxies, request time limits) travels to them in one environment variable, SETTINGS_ENV, set
by the parent before it starts them: `app` is the factory each worker calls, `Protocol` the guarded h11 protocol
(web/server.py) with the limits the parent was given. The parent opens no warehouse; every worker opens it
read-only (DuckDB lets several processes read one file) and keeps its own caches.

The intake is never mounted in a multi-worker serve: its abuse limits are kept per client in one process's memory
(intake/limits.py; by design nothing about a client is written anywhere), so N workers would each keep their own
count and give every client N times its budget. `serve --workers N` refuses to start when the intake key is set
(web/cli.py); run the intake in its own single-worker `serve` and route /intake and /staff to it (docs/scale.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from icemonitor.web.server import guarded_protocol

SETTINGS_ENV = "ICEMONITOR_SERVE_WORKER_SETTINGS"
APP = f"{__name__}:app"
PROTOCOL = f"{__name__}:Protocol"


def export_settings(warehouse: Path, trusted_proxies: list[str] | None, limits: dict[str, float]) -> None:
    """Put what the workers need into this process's environment, which they inherit."""
    os.environ[SETTINGS_ENV] = json.dumps({"warehouse": str(warehouse), "trusted_proxies": trusted_proxies or [],
                                           "limits": limits})


def _settings() -> dict[str, Any]:
    raw = os.environ.get(SETTINGS_ENV)
    return json.loads(raw) if raw else {}


def app():  # noqa: ANN201 - fastapi.FastAPI; the factory uvicorn calls in each worker
    """The dashboard app over the parent's warehouse (no intake: the module's docstring)."""
    from icemonitor.web.app import create_app

    settings = _settings()
    return create_app(settings["warehouse"], trusted_proxies=settings["trusted_proxies"] or None, long_lived=True)


Protocol = guarded_protocol(**_settings().get("limits", {}))
