"""The `icemonitor` command line: one sub-command per pipeline stage."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape
from rich.console import Console

from icemonitor.errors import IcemonitorError

app = typer.Typer(
    name="icemonitor",
    help="ICE enforcement records, ingested, placed and analysed, with their definitions and sources.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(stderr=True)


def fail(err: Exception) -> None:
    """Print a user-facing error and exit non-zero."""
    console.print(f"[bold red]error:[/] {escape(str(err))}", markup=True, highlight=False)
    raise typer.Exit(code=2)


def _register() -> None:
    """Attach each stage's commands. Stages own their CLI modules (icemonitor/<stage>/cli.py)."""
    import importlib

    for module in (
        "icemonitor.catalog.cli",
        "icemonitor.warehouse.cli",
        "icemonitor.places.cli",
        "icemonitor.analysis.cli",
        "icemonitor.web.cli",
        "icemonitor.watch.cli",
        "icemonitor.intake.cli",
        "icemonitor.present.cli",
    ):
        importlib.import_module(module).register(app)


_register()


def main() -> None:  # pragma: no cover - thin wrapper
    try:
        app()
    except IcemonitorError as err:
        console.print(f"error: {escape(str(err))}", highlight=False)
        sys.exit(2)
