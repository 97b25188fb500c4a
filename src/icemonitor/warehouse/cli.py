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
from icemonitor.messages import msg
from icemonitor.messages.cli_lang import LANG_HELP, _check_lang, _lang_default, error_text

console = Console(stderr=True)
BUILD_LABEL, ERROR_LABEL, MISSING_LABEL = msg("build"), msg("error:"), msg("missing (optional):")
# the build's stages as the places step names them (places/build_step.catalog_stage's `say`), said by message id
STEPS = {str(m): m for m in (msg("places: counties, population, policies, landmark resolution"),
                             msg("detention: statistics postings, exclusions, panels"))}


def build_command(
    release: Annotated[Optional[list[str]], typer.Argument(help="Release ids (default: every event release in the catalog)")] = None,
    mirror: Annotated[Optional[Path], typer.Option(help="Local folder laid out like shared/data to take missing files from (or ICEMONITOR_MIRROR)")] = None,
    no_fetch: Annotated[bool, typer.Option("--no-fetch", help="Only use files already in the raw archive")] = False,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Parse every file again instead of using the parse cache")] = False,
    lang: Annotated[str, typer.Option("--lang", help=LANG_HELP, default_factory=_lang_default, callback=_check_lang)] = ...,
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
            TextColumn(f"[bold]{escape(BUILD_LABEL.render(lang))}[/]"), BarColumn(),
            TextColumn("{task.completed}/{task.total} " + escape(msg("files").render(lang))),
            TextColumn("{task.description}"), TimeElapsedColumn(), console=console, transient=False,
        ) as bar:
            task = bar.add_task("", total=len(sources))

            def progress(name: str, done: int, total: int) -> None:
                bar.update(task, completed=done, description=name)

            report = build(
                sources, config.warehouse_path(), progress=progress,
                extra_tables=catalog_stage(say=lambda step: bar.update(task, description=escape(
                    STEPS[step].render(lang) if step in STEPS else step))),
                answer_tables=sweeps_stage(reference_resolver()),
                cache_dir=None if no_cache else config.cache_dir(),
            )
    except IcemonitorError as err:
        console.print(f"[bold red]{escape(ERROR_LABEL.render(lang))}[/] {escape(error_text(err, lang))}",
                      highlight=False)
        raise typer.Exit(2) from None
    table = RichTable(title=escape(msg("warehouse tables").render(lang)))
    table.add_column(escape(msg("table").render(lang)))
    table.add_column(escape(msg("rows").render(lang)), justify="right")
    for name, n in report.rows.items():
        table.add_row(name, f"{n:,}")
    Console().print(table)
    console.print(escape(msg("built {path} in {seconds:.1f} s", path=str(report.path),
                             seconds=time.perf_counter() - start).render(lang)), highlight=False)
    if not release:
        from icemonitor.warehouse.sources import lacking

        for r in lacking():
            console.print(escape(msg("not in this warehouse: {release} ({title}), fetched only on request: "
                                     "`icemonitor fetch {release}`, then build again", release=r.id,
                                     title=r.title).render(lang)), highlight=False)
    _say_missing_optional(release, lang)


def _say_missing_optional(release: Optional[list[str]], lang: str = "en") -> None:
    """Name the optional files the build went without (no source but a mirror provides them)."""
    from icemonitor.catalog.fetch import missing_optional
    from icemonitor.catalog.catalog import load_catalog

    catalog = load_catalog()
    ids = release or [r.id for r in catalog.event_releases()]
    for r, f in missing_optional(ids, catalog=catalog):
        console.print(f"[yellow]{escape(MISSING_LABEL.render(lang))}[/] " + escape(msg(
            "{release}/{file}: only a mirror provides it ({path}); the warehouse has no rows from it", release=r.id,
            file=f.name, path=f.mirror_path).render(lang)), highlight=False)


def register(app: typer.Typer) -> None:
    logging.basicConfig(level=logging.WARNING)
    app.command("build")(build_command)
