"""`icemonitor fetch` and `icemonitor releases`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from icemonitor import config
from icemonitor.errors import IcemonitorError
from icemonitor.messages import msg
from icemonitor.messages.cli_lang import LANG_HELP, _check_lang, _lang_default, error_text

console = Console(stderr=True)
Lang = Annotated[str, typer.Option("--lang", help=LANG_HELP, default_factory=_lang_default, callback=_check_lang)]
ERROR_LABEL, FETCH_LABEL, OPTIONAL_LABEL = msg("error:"), msg("fetch"), msg("not fetched (optional):")
# the `releases` table's words (release ids, FOIA numbers, record kinds and origin classes are codes, as they are)
RELEASES_COLUMNS = {"release": msg("release"), "kind": msg("kind"), "FOIA": msg("FOIA"), "records": msg("records"),
                    "coverage": msg("coverage"), "files": msg("files"), "origin": msg("origin"), "MB": msg("MB"),
                    "archived": msg("archived"), "checksums": msg("checksums")}


def _fail(err: IcemonitorError, lang: str) -> None:
    console.print(f"[bold red]{escape(ERROR_LABEL.render(lang))}[/] {escape(error_text(err, lang))}", highlight=False)
    raise typer.Exit(2)


def fetch_command(
    release: Annotated[Optional[list[str]], typer.Argument(help="Release ids (default: every release in the catalog)")] = None,
    mirror: Annotated[Optional[Path], typer.Option(help="Folder laid out like shared/data (or shared/data/ice) to copy files from; default ICEMONITOR_MIRROR")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Hash every archived copy again and fetch a corrupt one anew")] = False,
    recheck: Annotated[bool, typer.Option("--recheck", help="Download files whose checksum was recorded at first fetch again, to see whether upstream changed them")] = False,
    accept_new_version: Annotated[bool, typer.Option("--accept-new-version", help="Archive such a changed file as a new version (otherwise it is refused)")] = False,
    lang: Lang = ...,
) -> None:
    """Archive the releases' raw files (checksum-verified) under ICEMONITOR_HOME/raw. Without ids: every release
    but the large ones marked 'on request' (name those to fetch them)."""
    from icemonitor.catalog.fetch import fetch

    try:
        with Progress(
            TextColumn(f"[bold]{escape(FETCH_LABEL.render(lang))}[/]"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), TextColumn("{task.description}"), console=console,
        ) as bar:
            task = bar.add_task("", total=None)

            def progress(event: str, name: str, n: int) -> None:
                if event == "total":
                    bar.update(task, total=n)
                elif event == "advance":
                    bar.update(task, advance=n, description=name)

            done = fetch(release or None, mirror=mirror or config.mirror(), progress=progress, verify=verify, recheck=recheck,
                         accept_new_version=accept_new_version)
    except IcemonitorError as err:
        _fail(err, lang)
    from icemonitor.catalog.fetch import missing_optional

    for r, f in missing_optional(release or None):
        console.print(f"[yellow]{escape(OPTIONAL_LABEL.render(lang))}[/] " + escape(msg(
            "{release}/{file}: no upstream address; only a mirror provides it ({path})", release=r.id, file=f.name,
            path=f.mirror_path).render(lang)), highlight=False)
    new = [a for a in done if a.new]
    console.print(escape(msg("{new} file(s) archived, {present} already present; raw archive: {path}", new=len(new),
                             present=len(done) - len(new), path=str(config.raw_dir())).render(lang)), highlight=False)


def releases_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
    lang: Lang = ...,
) -> None:
    """List the catalog's releases and which of their files are archived."""
    from icemonitor.catalog import pins
    from icemonitor.catalog.catalog import load_catalog
    from icemonitor.catalog.fetch import archived_files

    try:
        catalog = load_catalog()
        rows: dict[str, dict] = {}
        for r, f, a in archived_files(catalog=catalog):
            row = rows.setdefault(r.id, {
                "id": r.id, "kind": r.kind, "title": r.title, "foia_request": r.foia_request,
                "record_kinds": r.record_kinds, "fetch": r.fetch,
                "coverage": {"from": str(r.coverage.from_), "to": str(r.coverage.to)} if r.coverage else None,
                "files": [],
            })
            pin = pins.latest(r.id, f.name) if f.pinned_at_first_fetch else None
            row["files"].append({
                "name": f.name, "bytes": f.bytes if f.bytes is not None else (pin.bytes if pin else None),
                "sha256": f.sha256 or (pin.sha256 if pin else None), "reader": f.reader, "url": f.url,
                "checksum": ("catalog" if not f.pinned_at_first_fetch else
                             f"recorded at first fetch {pin.pinned_at[:10]}" if pin else "unknown until first fetch"),
                "origin_class": f.origin_class or "mirror only", "derive": f.derive, "inputs": f.inputs,
                "package_data": f.package_data, "optional": f.optional, "input_only": f.input_only,
                "archived": str(a.path) if a else None, "fetched_at": a.fetched_at if a else None,
            })
    except IcemonitorError as err:
        _fail(err, lang)
    if as_json:
        typer.echo(json.dumps({"catalog": catalog.path, "raw": str(config.raw_dir()), "releases": list(rows.values())}, indent=2))
        return
    table = Table(title=escape(msg("releases (raw archive: {path})", path=str(config.raw_dir())).render(lang)))
    for col, header in RELEASES_COLUMNS.items():
        table.add_column(escape(header.render(lang)), justify="right" if col in ("files", "MB", "archived") else "left")
    for row in rows.values():
        files = row["files"]
        cov = f"{row['coverage']['from']}..{row['coverage']['to']}" if row["coverage"] else ""
        n_arch = sum(1 for f in files if f["archived"])
        sizes = [f["bytes"] for f in files if f["bytes"] is not None]
        size = f"{sum(sizes) / 1e6:.1f}" + ("+?" if len(sizes) < len(files) else "")
        checksums = sorted({_checksum_said(f["checksum"], lang) for f in files})
        table.add_row(
            escape(row["id"] + (msg(" (on request)").render(lang) if row["fetch"] == "on_request" else "")),
            row["kind"], escape(row["foia_request"] or ""), ", ".join(row["record_kinds"]), cov,
            str(len(files)), escape(_origins(files, lang)), size, f"{n_arch}/{len(files)}", escape("; ".join(checksums)),
        )
    Console().print(table)


def _checksum_said(checksum: str, lang: str) -> str:
    """A file's checksum origin (the JSON's `checksum`) in `lang`."""
    if checksum.startswith("recorded at first fetch "):
        return msg("recorded at first fetch {day}", day=checksum.rsplit(" ", 1)[1]).render(lang)
    words = {"catalog": msg("catalog"), "unknown until first fetch": msg("unknown until first fetch")}
    return words[checksum].render(lang) if checksum in words else checksum


def _origins(files: list[dict], lang: str = "en") -> str:
    """How many files come from each origin class, e.g. "upstream 3, derived 2" (docs/catalog.md; the classes are
    codes; "(optional)" and "(input)" in `lang`)."""
    counts: dict[str, int] = {}
    optional, given = msg(" (optional)").render(lang), msg(" (input)").render(lang)
    for f in files:
        label = f["origin_class"] + (optional if f["optional"] else "") + (given if f["input_only"] else "")
        counts[label] = counts.get(label, 0) + 1
    return ", ".join(f"{k} {n}" for k, n in counts.items())


def register(app: typer.Typer) -> None:
    app.command("fetch")(fetch_command)
    app.command("releases")(releases_command)
