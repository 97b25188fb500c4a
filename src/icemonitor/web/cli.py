"""`icemonitor serve`: the dashboard and JSON API over the read-only warehouse."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def run(host: str = "127.0.0.1", port: int = 8000, warehouse: Path | None = None) -> None:
    """Start uvicorn with the app over `warehouse` (default: config.warehouse_path())."""
    import uvicorn

    from icemonitor.web.app import create_app

    uvicorn.run(create_app(warehouse), host=host, port=port, log_level="info")


def register(app: typer.Typer) -> None:
    """Add the `serve` command."""

    @app.command("serve")
    def serve(
        host: str = typer.Option("127.0.0.1", help="Interface to listen on (localhost by default)"),
        port: int = typer.Option(8000, min=1, max=65535, help="TCP port"),
        warehouse: Optional[Path] = typer.Option(None, help="Warehouse file (default: the configured one)"),
    ) -> None:
        """Serve the dashboard (EN/ES) and the JSON API (/api/v1, OpenAPI at /openapi.json)."""
        run(host, port, warehouse)
