"""How `icemonitor serve` runs uvicorn: forwarded headers are resolved by the app (icemonitor.client_address),
never by uvicorn, which would trust them from loopback."""

from __future__ import annotations

from typing import Any


def uvicorn_config(app: Any, host: str, port: int, **overrides: Any):
    """The uvicorn.Config `serve` runs with."""
    import uvicorn

    options: dict[str, Any] = dict(host=host, port=port, log_level="info",
                                   proxy_headers=False)  # X-Forwarded-*: only from configured proxies, by the app
    options.update(overrides)
    return uvicorn.Config(app, **options)
