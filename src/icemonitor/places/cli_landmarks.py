"""`places coverage` and `places landmarks`: the landmark resolver on the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.markup import escape
from rich.table import Table

from icemonitor.errors import IcemonitorError, InputError
from icemonitor.messages import msg
from icemonitor.messages.cli_lang import LANG_HELP, _check_lang, _lang_default, error_text
from icemonitor.places.ref import Ref

TABLE_COLUMNS = ["aor", "landmark", "county_fips", "state", "level", "kind", "rule", "confidence", "n_arrests"]
# `places coverage`: its tables' words (signal codes, AOR codes and the resolver's categories as they are)
SIGNALS_TITLE = msg("Placement signals (counted arrests)")
SIGNALS_COLUMNS = {"signal": msg("signal"), "placed by": msg("placed by"), "arrests": msg("arrests"),
                   "share": msg("share")}
FACILITY = msg("facility (first within 5 days)")
UNMAPPED_TITLE = msg("Recorded counties not mapped to a FIPS code (not guessed)")
UNMAPPED_COLUMNS = [msg("state"), msg("county as recorded"), msg("status"), msg("candidates"), msg("arrests"),
                    msg("removals")]
COVERAGE_TITLE = msg("Landmark resolution coverage (share of counted arrests)")
WORKING = msg("resolving landmarks of arrests, encounters and I-213s")
ERROR_LABEL = msg("error:")


def _ref(reference: Path | None) -> Ref:
    if reference is not None:
        if not reference.is_dir():
            raise InputError("reference directory does not exist", file=str(reference))
        return lambda p: reference / p
    from icemonitor.catalog.fetch import reference_resolver

    return reference_resolver()


def _table(warehouse: Path | None, reference: Path | None, lang: str = "en"):
    from icemonitor.places.landmarks import landmark_table
    from icemonitor.warehouse import connect

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True, console=Console(stderr=True)) as p:
        p.add_task(escape(WORKING.render(lang)), total=None)
        con = connect(warehouse)
        try:
            return landmark_table(con, _ref(reference))
        finally:
            con.close()


def _signals(warehouse: Path | None) -> tuple[dict, list[dict]]:
    """Counted arrests per placement signal, and the recorded county names no county matched."""
    from icemonitor.places.facility_signal import signal_coverage
    from icemonitor.places.recorded_counties import TABLE, unmapped
    from icemonitor.warehouse import connect

    con = connect(warehouse)
    try:
        has = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [TABLE]).fetchone()[0]
        return signal_coverage(con), (unmapped(con) if has else [])
    finally:
        con.close()


def _print_signals(signals: dict, unmapped: list[dict], lang: str = "en") -> None:
    n = signals["arrests"]
    t = Table(title=escape(SIGNALS_TITLE.render(lang)), caption=escape(_said(signals["definition"], lang)))
    for header, justify in zip(SIGNALS_COLUMNS.values(), ("left", "left", "right", "right"), strict=True):
        t.add_column(escape(header.render(lang)), justify=justify)  # type: ignore[arg-type]
    county, state, facility = msg("county"), msg("state"), FACILITY
    rows = [*((county, k, v) for k, v in signals["county"].items()),
            *((state, k, v) for k, v in signals["state"].items()),
            (facility, msg("with a county"), signals["facility"]["with_county"]),
            (facility, msg("no other county signal"), signals["facility"]["only_facility_county"]),
            (msg("unplaced"), msg("no state, county or facility county"), signals["unplaced"])]
    for signal, by, v in rows:
        t.add_row(escape(_said(signal, lang)), escape(_said(by, lang)), f"{v:,}", f"{v / n:.1%}" if n else "-")
    Console().print(t)
    if unmapped:
        u = Table(title=escape(UNMAPPED_TITLE.render(lang)))
        for col in UNMAPPED_COLUMNS:
            u.add_column(escape(col.render(lang)))
        for r in unmapped:
            u.add_row(r["state"] or "", escape(r["county_raw"]), r["status"], escape(r["candidates"] or ""),
                      f"{r['arrests']:,}", f"{r['removals']:,}")
        Console().print(u)


def add_commands(places_app: typer.Typer) -> None:
    """Add `coverage` and `landmarks` to the `places` command group."""

    @places_app.command("coverage")
    def coverage_cmd(
        as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
        warehouse: Path | None = typer.Option(None, help="Warehouse file (default: the configured one)."),
        reference: Path | None = typer.Option(
            None, help="Directory in the shared/data layout (default: the catalog's archived reference files)."
        ),
        lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
    ) -> None:
        """Share of counted arrests placed at county (event / office proxy), state, AOR or nowhere, per AOR."""
        from icemonitor.places.landmarks import CATEGORIES, coverage_of

        try:
            cov = coverage_of(_table(warehouse, reference, lang))
            cov["signals"], cov["unmapped_recorded_counties"] = _signals(warehouse)
        except IcemonitorError as err:
            Console(stderr=True).print(f"[bold red]{escape(ERROR_LABEL.render(lang))}[/] {escape(error_text(err, lang))}",
                                       highlight=False)
            raise typer.Exit(code=2) from None
        if as_json:
            typer.echo(json.dumps(cov, indent=2))
            return
        _print_signals(cov["signals"], cov["unmapped_recorded_counties"], lang)
        t = Table(title=escape(COVERAGE_TITLE.render(lang)), caption=escape(_said(cov["definition"], lang)))
        t.add_column("AOR")
        t.add_column(escape(msg("arrests").render(lang)), justify="right")
        for c in CATEGORIES:
            t.add_column(c, justify="right")
        for name, row in [*cov["per_aor"].items(), ("ALL", cov["overall"])]:
            t.add_row(name, f"{row['arrests']:,}", *(f"{row[c]:.1%}" for c in CATEGORIES))
        Console().print(t)

    @places_app.command("landmarks")
    def landmarks_cmd(
        fmt: str = typer.Option("csv", "--format", help="csv or json"),
        output: Path | None = typer.Option(None, "--output", help="File to write (default: standard output)."),
        warehouse: Path | None = typer.Option(None, help="Warehouse file (default: the configured one)."),
        reference: Path | None = typer.Option(
            None, help="Directory in the shared/data layout (default: the catalog's archived reference files)."
        ),
    ) -> None:
        """Every distinct (AOR, landmark) with its county, state, level, kind, rule, confidence and arrest count."""
        if fmt not in ("csv", "json"):
            raise typer.BadParameter(msg("use csv or json"), param_hint="--format")
        try:
            table = _table(warehouse, reference).select(TABLE_COLUMNS)
        except IcemonitorError as err:
            Console(stderr=True).print(f"[bold red]error:[/] {err}", highlight=False)
            raise typer.Exit(code=2) from None
        text = table.write_csv() if fmt == "csv" else json.dumps(table.to_dicts(), indent=1, ensure_ascii=False)
        if output is None:
            sys.stdout.write(text)
        else:
            output.write_text(text, encoding="utf-8")


def _said(text: object, lang: str) -> str:
    """A text in `lang` (a message; a code or plain text as it is)."""
    render = getattr(text, "render", None)
    return render(lang) if callable(render) else str(text)
