"""`icemonitor build`: fetch what is missing, then build the warehouse atomically."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from icemonitor import config
from icemonitor.errors import IcemonitorError

console = Console(stderr=True)


def build_command(
    release: Annotated[Optional[list[str]], typer.Argument(help="Release ids (default: every event release in the catalog)")] = None,
    mirror: Annotated[Optional[Path], typer.Option(help="Local folder laid out like shared/data to take missing files from (or ICEMONITOR_MIRROR)")] = None,
    no_fetch: Annotated[bool, typer.Option("--no-fetch", help="Only use files already in the raw archive")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Parse every file again instead of using the parse cache")] = False,
) -> None:
    """Build the DuckDB warehouse from the raw archive (fetching missing files first)."""
    from icemonitor.catalog.catalog import load_catalog
    from icemonitor.catalog.fetch import fetch, reference_resolver
    from icemonitor.warehouse.build import build
    from icemonitor.places.build_step import catalog_stage
    from icemonitor.analysis.sweeps_stored import sweeps_stage
    from icemonitor.warehouse.sources import catalog_sources
    from icemonitor.lock import RefreshLock

    start = time.perf_counter()
    try:
        if not no_fetch:
            wanted = None
            if release:  # the chosen releases, and the reference data the places stage needs
                wanted = list(release) + [r.id for r in load_catalog().reference_releases() + load_catalog().aggregate_releases()]
            fetch(wanted, mirror=mirror or config.mirror())
        sources = catalog_sources(release or None)
        with RefreshLock(config.home()), Progress(
            TextColumn("[bold]build[/]"), BarColumn(), TextColumn("{task.completed}/{task.total} files"),
            TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=False,
        ) as bar:
            task = bar.add_task("", total=len(sources))

            def progress(name: str, done: int, total: int) -> None:
                bar.update(task, completed=done, description=name)

            report = build(
                sources, config.warehouse_path(), progress=progress,
                extra_tables=catalog_stage(say=lambda step: bar.update(task, description=step)),
                answer_tables=sweeps_stage(reference_resolver()),
                cache_dir=None if no_cache else config.cache_dir(),
            )
    except IcemonitorError as err:
        console.print(f"[bold red]error:[/] {escape(str(err))}", highlight=False)
        raise typer.Exit(2) from None
    table = RichTable(title="warehouse tables")
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, n in report.rows.items():
        table.add_row(name, f"{n:,}")
    Console().print(table)
    console.print(f"built {report.path} in {time.perf_counter() - start:.1f} s")
    if not release:
        from icemonitor.warehouse.sources import lacking

        for r in lacking():
            console.print(f"not in this warehouse: {escape(r.id)} ({escape(r.title)}), fetched only on request: "
                          f"`icemonitor fetch {escape(r.id)}`, then build again", highlight=False)
    _say_missing_optional(release)


def _say_missing_optional(release: Optional[list[str]]) -> None:
    """Name the optional files the build went without (no source but a mirror provides them)."""
    from icemonitor.catalog.fetch import missing_optional
    from icemonitor.catalog.catalog import load_catalog

    catalog = load_catalog()
    ids = release or [r.id for r in catalog.event_releases()]
    for r, f in missing_optional(ids, catalog=catalog):
        console.print(f"[yellow]missing (optional):[/] {escape(r.id)}/{escape(f.name)}: only a mirror provides it "
                      f"({escape(f.mirror_path)}); the warehouse has no rows from it", highlight=False)


def register(app: typer.Typer) -> None:
    logging.basicConfig(level=logging.WARNING)
    app.command("build")(build_command)
