"""`icemonitor places ...`: sanctuary status on a date, counties and their AOR, population denominators."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from icemonitor.errors import IcemonitorError, InputError
from icemonitor.messages import Message, msg
from icemonitor.messages.cli_lang import LANG_HELP, _check_lang, _label, _lang_default, error_text
from icemonitor.places.ref import Ref, dir_ref

places_app = typer.Typer(help="Places: counties, AORs by date, population, policies and sanctuary status.",
                         no_args_is_help=True)
out = Console()
err = Console(stderr=True)

DATA_ROOT_HELP = "Folder laid out like shared/data holding the reference files (default: the catalog, else ICEMONITOR_MIRROR)."


def _catalog_resolver() -> Ref | None:
    from icemonitor.catalog.fetch import reference_resolver

    return reference_resolver()


def resolve_ref(data_root: Optional[Path]) -> Ref:
    """--data-root, else the catalog's archived copies (falling back to ICEMONITOR_MIRROR for files not fetched)."""
    if data_root is not None:
        return dir_ref(data_root)
    mirror = os.environ.get("ICEMONITOR_MIRROR")
    mirror_ref = dir_ref(Path(mirror).expanduser()) if mirror else None
    catalog_ref = _catalog_resolver()
    if catalog_ref is None:
        if mirror_ref is None:
            raise InputError("no reference data: pass --data-root DIR or set ICEMONITOR_MIRROR", field="data_root")
        return mirror_ref
    if mirror_ref is None:
        return catalog_ref

    def resolve(path: str) -> Path:
        try:
            return catalog_ref(path)
        except InputError:
            return mirror_ref(path)

    return resolve


ERROR_LABEL, HINT_LABEL = msg("error:"), msg("hint:")


def _fail(e: IcemonitorError, lang: str = "en") -> None:
    """The error (and its hint) on one line each, in `lang` where they have that language; exit 2."""
    if getattr(e, "choices", None):  # an ambiguous place: the program's main() asks which one (icemonitor.cli)
        raise e
    err.print(f"[bold red]{escape(ERROR_LABEL.render(lang))}[/] {escape(' '.join(error_text(e, lang).split()))}",
              highlight=False, soft_wrap=True)
    if e.hint:
        err.print(f"[bold]{escape(HINT_LABEL.render(lang))}[/] {escape(_said(e.hint, lang))}", highlight=False,
                  soft_wrap=True)
    raise typer.Exit(code=2)


def _print_df(df, title: str, caption: str = "") -> None:
    table = Table(title=escape(title), caption=escape(caption))
    for c in df.columns:
        table.add_column(c)
    for row in df.iter_rows():
        table.add_row(*(escape("" if v is None else f"{v:,.0f}" if isinstance(v, float) else str(v)) for v in row))
    out.print(table)


# what `places status` says around the analysis's text (its reason, definition and caveats are messages)
ANSWERS = {"yes": msg("YES"), "no": msg("NO"), "unknown": msg("UNKNOWN")}
DEFINITION, REASON, CAVEAT = msg("Definition"), msg("Reason"), msg("Caveat")
EVENTS_TITLE = msg("Policy events behind the answer")


@places_app.command("status")
def status_cmd(
    place: str = typer.Argument(..., help="A place as people name it: a state, a county (FIPS or name), a city, a field office"),
    date: str = typer.Option(..., "--date", help="YYYY-MM-DD"),
    definition: Optional[str] = typer.Option(None, "--definition", help="Definition short name (default: state-law)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help=DATA_ROOT_HELP),
    lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
) -> None:
    """Was this place a sanctuary jurisdiction on that date under that definition? With the events behind the answer."""
    from icemonitor.places.sanctuary import status

    try:
        result = status(place, date, definition, resolve_ref(data_root))
    except IcemonitorError as e:
        _fail(e, lang)
        return
    if as_json:
        print(result.model_dump_json(indent=2))
        return
    said = msg("{place} on {day} under {definition}: {answer}", place=result.place_label, day=result.date,
               definition=result.definition, answer=ANSWERS[result.answer])
    out.print(f"[bold]{escape(said.render(lang))}[/]", highlight=False)
    out.print(f"{_label(DEFINITION, lang, 'default')}: {escape(_said(result.definition_text, lang))}", highlight=False)
    out.print(f"{_label(REASON, lang, 'default')}: {escape(_said(result.reason, lang))}", highlight=False)
    if result.events:
        t = Table(title=EVENTS_TITLE.render(lang))
        for c in ("role", "kind", "jurisdiction", "start", "end", "citation", "source", "row"):
            t.add_column(c)
        for e in result.events[:50]:
            t.add_row(*(escape(v) for v in (e.role, e.kind, e.jurisdiction, str(e.start or ""), str(e.end or ""),
                                            e.citation or "", e.source, str(e.source_row or ""))))
        out.print(t)
        if len(result.events) > 50:
            out.print(escape(msg("... {n} more (use --json)", n=len(result.events) - 50).render(lang)))
    for c in result.caveats:
        out.print(f"{_label(CAVEAT, lang, 'default')}: {escape(_said(c, lang))}", highlight=False)


def _said(text: str, lang: str) -> str:
    """A text of the analysis in `lang` (a message; plain text as it is)."""
    return text.render(lang) if isinstance(text, Message) else str(text)


@places_app.command("counties")
def counties_cmd(
    aor: Optional[str] = typer.Option(None, "--aor", help="Only counties of this AOR code"),
    date: Optional[str] = typer.Option(None, "--date", help="AOR map as of this date (default: today)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help=DATA_ROOT_HELP),
    lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
) -> None:
    """Counties with their state and AOR (on --date)."""
    import polars as pl

    from icemonitor.places.counties import as_date, county_aors_on, load_counties

    try:
        ref = resolve_ref(data_root)
        day = as_date(date) if date else dt.date.today()
        periods = county_aors_on(day, ref)
        df = load_counties(ref).select("county_fips", "county_name", "state").join(
            periods.rename({"vintage": "aor_map"}), on="county_fips", how="left")
        if aor:
            code = aor.strip().upper()
            if code not in set(periods["aor"].drop_nulls().to_list()):
                raise InputError(msg("unknown AOR code on {day}", day=day), field="aor", value=aor)
            df = df.filter(pl.col("aor") == code)
    except IcemonitorError as e:
        _fail(e, lang)
        return
    if as_json:
        print(json.dumps({"date": day.isoformat(), "source": "geo/counties_fips.csv + aor/county_aor_crosswalk.csv",
                          "counties": df.to_dicts()}, indent=2, default=str))
        return
    title = (msg("Counties in {aor} (AOR map on {day})", aor=aor.strip().upper(), day=day) if aor else
             msg("Counties (AOR map on {day})", day=day))
    _print_df(df, title.render(lang), msg("{n:,} counties", n=df.height).render(lang))


@places_app.command("population")
def population_cmd(
    level: str = typer.Option("aor", "--level", help="county, aor or state"),
    year: int = typer.Option(..., "--year", help="Year (nearest ACS 5-year vintage used; flagged)"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help=DATA_ROOT_HELP),
    lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
) -> None:
    """Total and non-citizen population by county, AOR or state, with vintage, imputation and clipping flags."""
    from icemonitor.places.population import DEFINITION, population

    try:
        df = population(level, year, resolve_ref(data_root))  # type: ignore[arg-type]
    except IcemonitorError as e:
        _fail(e, lang)
        return
    if as_json:
        print(json.dumps({"level": level, "year": year, "definition": DEFINITION, "rows": df.to_dicts()}, indent=2,
                         default=str))
        return
    show = [c for c in df.columns if c not in ("definition", "vintage", "source_file", "aor_map")]
    vint = "; ".join(sorted(set(df["vintage"].to_list())))
    _print_df(df.select(show), msg("Population by {level}, {year}", level=LEVELS.get(level, level), year=year).render(lang),
              msg("{definition}. ACS vintage: {vintage}", definition=DEFINITION, vintage=vint).render(lang))


LEVELS = {"county": msg("county"), "aor": msg("AOR"), "state": msg("state")}  # `places population --level`


def register(app: typer.Typer) -> None:
    """Attach the `places` group and its landmark commands."""
    from icemonitor.places import cli_landmarks

    cli_landmarks.add_commands(places_app)
    app.add_typer(places_app, name="places")


@places_app.command("find")
def find_cmd(
    words: str = typer.Argument(..., help="A place as people name it, in English or Spanish ('LA', 'condado de Los Ángeles')"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON"),
    data_root: Optional[Path] = typer.Option(None, "--data-root", help=DATA_ROOT_HELP),
    lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
) -> None:
    """How the words are read as a place (or which places they may mean), and place names that start like them."""
    from icemonitor.places.place_filter import AmbiguousPlace, UnknownPlace
    from icemonitor.places.place_names import parse_place, place_label
    from icemonitor.places.place_names import reading_note, suggest

    ref = resolve_ref(data_root)
    found: dict = {"words": words, "place": None, "choices": [], "suggestions": []}
    try:
        place = parse_place(words, ref)
        found["place"] = {"level": place.level, "code": place.code, "label": place.label, "note": reading_note(place, ref)}
    except AmbiguousPlace as e:
        found["choices"] = [{"value": v, "label": label} for v, label in e.choices]
    except UnknownPlace:
        pass
    found["suggestions"] = [{"value": v, "label": label} for v, label in suggest(words, ref)]
    if as_json:
        print(json.dumps(found, ensure_ascii=False, indent=2))
        return
    if found["place"]:
        p = found["place"]
        out.print(f"[bold]{escape(place_label(place).render(lang))}[/] ({p['level']} {escape(p['code'])}) "
                  f"{escape(_said(p['note'], lang))}", highlight=False)
    elif found["choices"]:
        out.print(escape(msg("{words} can mean:", words=words).render(lang)), highlight=False)
        for c in found["choices"]:
            out.print(f"  {escape(_said(c['label'], lang))}: --place {escape(c['value'])!r}", highlight=False)
    else:
        out.print(escape(msg("no place is named {words!r}", words=words).render(lang)), highlight=False)
    if found["suggestions"]:
        names = "; ".join(s["value"] for s in found["suggestions"])
        out.print(escape(msg("names starting like it: {names}", names=names).render(lang)), highlight=False)
