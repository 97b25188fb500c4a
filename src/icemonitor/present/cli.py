"""The `icemonitor report` command: an article on a place and period, every figure footnoted."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.console import Console

from icemonitor.errors import IcemonitorError
from icemonitor.messages import msg
from icemonitor.messages.cli_lang import LANG_HELP, _check_lang, _lang_default, error_text

err = Console(stderr=True)
ERROR_LABEL = msg("error:")


def register(app: typer.Typer) -> None:
    """Add `report` to the main app."""

    @app.command("report")
    def report_cmd(
        place: str = typer.Option(..., "--place", help="a place as people name it: a state, a county, a city, a field office or a region (Southern California)"),
        date_from: str = typer.Option(..., "--from", help="YYYY-MM-DD"),
        date_to: str = typer.Option(..., "--to", help="YYYY-MM-DD"),
        lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
        fmt: str = typer.Option("html", "--format", help="html|pdf|md"),
        paper: str = typer.Option("letter", "--paper", help="letter (US Letter, the default) or a4 (pdf and html)"),
        output: Path = typer.Option(..., "--output", help="File to write (md also writes one SVG per chart beside it)"),
        facts_json: Optional[Path] = typer.Option(None, "--facts", help="Also write the report facts (every figure "
                                                  "with its definition, releases and query) as JSON"),
        warehouse: Optional[Path] = typer.Option(None, "--warehouse", help="Warehouse file (default: the configured one)"),
        data_root: Optional[Path] = typer.Option(None, "--data-root", help="Reference files in the shared/data layout"),
    ) -> None:
        """Write a report on PLACE for --from..--to in English or Spanish (html, pdf or md)."""
        from rich.progress import Progress, SpinnerColumn, TextColumn

        from icemonitor.analysis.common import open_warehouse
        from icemonitor.places.cli import resolve_ref
        from icemonitor.present.facts import build_facts
        from icemonitor.present.report import FORMATS, write_report

        try:
            if fmt not in FORMATS:
                raise typer.BadParameter(msg("choose one of {choices}", choices=", ".join(FORMATS)),
                                         param_hint="--format")
            with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True, console=err) as progress:
                task = progress.add_task(escape(msg("Computing the figures").render(lang)), total=None)
                con = open_warehouse(warehouse)
                facts = build_facts(con, place, date_from, date_to, resolve_ref(data_root))
                progress.update(task, description=escape(msg("Writing the {format} report", format=fmt).render(lang)))
                written = write_report(facts, lang, fmt, output, paper=paper)
            if facts_json:
                facts_json.write_text(facts.model_dump_json(indent=2), encoding="utf-8")
                written.append(facts_json)
        except IcemonitorError as exc:
            if getattr(exc, "choices", None):  # an ambiguous place: the program's main() asks which one
                raise
            err.print(f"[bold red]{escape(ERROR_LABEL.render(lang))}[/] {escape(error_text(exc, lang))}",
                      highlight=False)
            raise typer.Exit(code=2) from None
        for path in written:
            print(path)
