"""CLI commands of the analysis stage: summary, outcomes, sweeps, priorities, targeting, check."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from icemonitor.messages import Message, formats, msg
from icemonitor.messages.cli_lang import LANG_HELP, _check_lang, _label, _lang_default  # noqa: F401 (used by the stages' CLIs)

if TYPE_CHECKING:  # the CLI imports an analysis's modules only when its command runs (icemonitor --help stays fast)
    from icemonitor.analysis.result import AnalysisResult

out = Console()
ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# the labels of a result's lines after its table, and how its coverage is said
RELEASES, COVERAGE, DATA_AGE, CAVEAT = msg("releases"), msg("coverage"), msg("data age"), msg("caveat")
IN_PLAIN_WORDS = msg("in plain words")
UNRESOLVED = msg("unresolved")
COVERAGE_STATUS = {"full": msg("full"), "partial": msg("PARTIAL"), "none": msg("NO RECORDS (no count)"),
                   "subset": msg("NOT COUNTABLE (a subset: lower bound)")}


def _fmt(v: Any, lang: str = "en") -> str:
    if v is None:
        return "–"
    if isinstance(v, Message):
        return v.render(lang)
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1 else formats.number(v, lang, 1)
    if isinstance(v, list):
        return ", ".join(_fmt(x, lang) for x in v[:3])
    if isinstance(v, dict):
        return ", ".join(f"{_fmt(k, lang)}: {_fmt(x, lang)}" for k, x in list(v.items())[:3])
    if isinstance(v, str) and ISO_DAY.fullmatch(v):
        return formats.day(v, lang)
    return str(v)


def show(result: AnalysisResult, as_json: bool, columns: list[str] | None = None, lang: str | None = None) -> None:
    """Print a result as JSON, or as a Rich table followed by its definitions, releases and caveats with the
    labels, analysis text, dates and numbers in `lang` (default: ICEMONITOR_LANG, else English)."""
    lang = _check_lang(lang or _lang_default())
    if as_json:
        print(result.to_json())
        return
    cols = columns or result.columns
    # source text (landmarks, criminality '[field]', citations) is escaped: Rich would read brackets as markup
    title = escape(f"{result.name}  {', '.join(f'{k}={_fmt(v, lang)}' for k, v in result.parameters.items() if v)}")
    cells = [[escape(_fmt(row.get(c), lang)) for c in cols] for row in result.figures]
    if _too_wide(cols, cells):
        _print_records(title, cols, cells)
    else:
        table = Table(title=title)
        for c in cols:
            table.add_column(c, overflow="fold")
        for row in cells:
            table.add_row(*row)
        out.print(table)
    for term, text in result.definitions.items():
        out.print(f"[bold]{escape(term)}[/]: {escape(_fmt(text, lang))}", highlight=False)
    out.print(f"{_label(RELEASES, lang)}: {escape(', '.join(result.releases) or '–')}", highlight=False)
    cov = result.coverage
    if cov:
        status = COVERAGE_STATUS.get(cov["status"])
        what = status.render(lang) if status else str(cov["status"])
        share = "" if cov.get("share") is None else " " + msg("({share:.0%} of the period and place)",
                                                              share=cov["share"]).render(lang)
        reason = _fmt(cov["reason"], lang) if cov.get("reason") else ""
        out.print(f"{_label(COVERAGE, lang)}: {escape(what + share)}{escape(': ' + reason) if reason else ''}",
                  highlight=False)
        if cov.get("records_reach"):
            out.print(f"{_label(DATA_AGE, lang)}: {escape(_fmt(cov['records_reach'], lang))}", highlight=False)
    for c in result.caveats:
        out.print(f"{_label(CAVEAT, lang, 'yellow')}: {escape(_fmt(c, lang))}", highlight=False)


def _too_wide(cols: list[str], cells: list[list[str]]) -> bool:
    """Whether a table of these cells would squeeze its columns below their longest words on this console."""
    def longest_word(text: str) -> int:
        return max((len(w) for w in text.split()), default=1)

    need = sum(max([longest_word(c)] + [longest_word(r[i]) for r in cells]) + 3 for i, c in enumerate(cols))
    return need > out.width


def _print_records(title: str, cols: list[str], cells: list[list[str]]) -> None:
    """One two-column block per row (field, value): readable on a narrow terminal."""
    out.print(f"[bold]{title}[/]", highlight=False)
    for row in cells:
        block = Table(show_header=False, box=None, padding=(0, 1))
        block.add_column("field", style="bold", no_wrap=True)
        block.add_column("value", overflow="fold")
        for c, v in zip(cols, row, strict=True):
            block.add_row(c, v)
        out.print(block)
        out.rule(style="dim")


def _sweep_row(f: dict) -> dict:
    """A compact display row for one sweep."""
    row = dict(f)
    row["excess [95%]"] = f"{f['excess']:,.0f} [{f['excess_low']:,.0f}, {f['excess_high']:,.0f}]"
    row["where"] = "; ".join(f"{c['part'][:28]} +{c['excess']:,.0f}" for c in (f.get("concentration") or [])[:2])
    row["methods"] = ", ".join(f"{k} {v}" for k, v in (f.get("method_mix") or {}).items())
    # "state UT Oct 24–26, 2015 (score x)" -> "state UT"
    seen = [_seen_where(e) for e in (f.get("also_seen_as") or [])]
    row["also_seen_as"] = ", ".join(seen[:3]) + (f" +{len(seen) - 3}" if len(seen) > 3 else "")
    return row


def _seen_where(echo: Any) -> str:
    """The level and place of an `also_seen_as` message, without its days and score ("state UT", "US")."""
    params = getattr(echo, "params", {})
    if "level" in params:
        return f"{params['level']} {params['place']}"
    return str(echo).split(" ", 1)[0]


def _working(message: str, lang: str = "en"):
    """A transient spinner on stderr while a query runs (its words in `lang`)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), transient=True, console=Console(stderr=True))
    progress.add_task(escape(_fmt(message, lang)), total=None)
    return progress


WORKING = {"counting": msg("counting"), "linking": msg("linking arrests to stays"),
           "scanning": msg("scanning places and days"), "fitting": msg("fitting count models"),
           "checking": msg("checking claims")}  # the spinners' words


def _connect():
    from icemonitor.analysis.common import open_warehouse

    return open_warehouse()


PLACE_HELP = ("a place as people name it: US, a state (CA, California), a county (Los Angeles County, 06037), "
              "a city (Pomona, CA), a field office (Los Angeles field office, LOS) or a region (Southern California)")


def _say_how_place_was_read(con, place: Optional[str], lang: str = "en") -> None:
    """Parse the place before the work starts (an unknown or ambiguous place stops here) and say on stderr how
    words that were not a literal place were read (a city as its county, a short name)."""
    from icemonitor.analysis.common import NATION, reference_for

    if not place or place.strip().upper() in NATION:
        return
    from icemonitor.places.place_names import parse_place, reading_note  # polars: only when a place is given

    ref = reference_for(con)
    note = reading_note(parse_place(place, ref), ref)
    if note:
        Console(stderr=True).print(f"[dim]{escape(_fmt(note, lang))}[/]", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the analysis commands to the main app."""

    @app.command("summary")
    def summary_cmd(
        table: str = typer.Option("arrests", "--table", help="arrests|encounters|removals|bookins|detainers|i213"),
        by: list[str] = typer.Option(["fy"], "--by", help="fy|month|week|day|aor|state|county|method_class|criminality|apprehension_type|citizenship|gender|release (repeat or comma list)"),
        date_from: Optional[str] = typer.Option(None, "--from", help="YYYY-MM-DD"),
        date_to: Optional[str] = typer.Option(None, "--to", help="YYYY-MM-DD"),
        place: Optional[str] = typer.Option(None, "--place", help=PLACE_HELP),
        aor: list[str] = typer.Option([], "--aor"),
        method_class: list[str] = typer.Option([], "--method-class"),
        criminality: list[str] = typer.Option([], "--criminality"),
        citizenship: list[str] = typer.Option([], "--citizenship"),
        gender: list[str] = typer.Option([], "--gender"),
        release: list[str] = typer.Option([], "--release"),
        placement: str = typer.Option("event", "--placement", help="event (default): places of the events only; any: office placements too"),
        as_json: bool = typer.Option(False, "--json"),
        lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
    ) -> None:
        """Counted events per group, with shares, Wilson intervals and releases."""
        from icemonitor.analysis.summary import summary

        con = _connect()
        _say_how_place_was_read(con, place, lang)
        with _working(WORKING["counting"], lang):
            res = summary(con, table=table, by=by, date_from=date_from, date_to=date_to, place=place,
                          filters={"aor": aor, "method_class": method_class, "criminality": criminality,
                                   "citizenship": citizenship, "gender": gender, "release": release},
                          placement=placement)
        show(res, as_json, lang=lang)

    @app.command("outcomes")
    def outcomes_cmd(
        date_from: Optional[str] = typer.Option(None, "--from", help="YYYY-MM-DD (arrest date)"),
        date_to: Optional[str] = typer.Option(None, "--to", help="YYYY-MM-DD (arrest date)"),
        place: Optional[str] = typer.Option(None, "--place", help="US, an AOR code, a state or a county FIPS"),
        as_json: bool = typer.Option(False, "--json"),
        lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
    ) -> None:
        """Arrests by how the linked detention stay ended (same release; lower bounds)."""
        from icemonitor.analysis.outcomes import outcomes

        with _working(WORKING["linking"], lang):
            res = outcomes(_connect(), date_from=date_from, date_to=date_to, place=place)
        show(res, as_json, lang=lang)

    @app.command("sweeps")
    def sweeps_cmd(
        place: Optional[str] = typer.Option(None, "--place", help=PLACE_HELP + "; default US"),
        date_from: str = typer.Option("2015-10-01", "--from"),
        date_to: str = typer.Option("2019-09-30", "--to"),
        measure: str = typer.Option("at_large", "--measure", help="all|at_large|custodial"),
        level: list[str] = typer.Option([], "--level", help="national|aor|state|county|landmark (default: all available)"),
        limit: int = typer.Option(20, "--limit"),
        release: Optional[str] = typer.Option(None, "--release", help="count only this release's rows (its own series)"),
        no_fold: bool = typer.Option(False, "--no-fold", help="rank echoes of AOR sweeps (national, state, county) separately"),
        as_json: bool = typer.Option(False, "--json"),
        lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
    ) -> None:
        """Multi-day surges of arrests above the expected daily count, ranked (echoes folded into AOR sweeps)."""
        from icemonitor.analysis.sweeps import sweeps
        from icemonitor.analysis.validation import explain

        con = _connect()
        _say_how_place_was_read(con, place, lang)
        with _working(WORKING["scanning"], lang):
            res = sweeps(con, place=place, date_from=date_from, date_to=date_to, measure=measure,
                         levels=tuple(level) if level else None, limit=limit, release=release,
                         fold_echoes=not no_fold)
        for f in res.figures:
            f["known_as"] = explain(f)
        res.columns = res.columns + ["known_as"]
        if as_json:
            show(res, True)
            return
        view = res.model_copy(deep=True)
        view.figures = [_sweep_row(f) for f in res.figures]
        show(view, False, ["level", "place", "start", "end", "observed", "expected", "excess [95%]", "score",
                           "where", "methods", "also_seen_as", "known_as"], lang=lang)

    @app.command("priorities")
    def priorities_cmd(
        place: Optional[str] = typer.Option(None, "--place", help=PLACE_HELP),
        date_from: Optional[str] = typer.Option(None, "--from"),
        date_to: Optional[str] = typer.Option(None, "--to"),
        table: str = typer.Option("arrests", "--table", help="arrests|bookins|removals|i213"),
        by: str = typer.Option("fy", "--by", help="fy|month|all"),
        as_json: bool = typer.Option(False, "--json"),
        lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
    ) -> None:
        """Shares convicted / pending charges only / no record, per the release's own field."""
        from icemonitor.analysis.priorities import priorities

        con = _connect()
        _say_how_place_was_read(con, place, lang)
        with _working(WORKING["counting"], lang):
            res = priorities(con, table=table, place=place, date_from=date_from, date_to=date_to, period=by)
        show(res, as_json, None if as_json else ["period", "criminality_field", "method_class", "events",
                                                  "convicted_share", "pending_charges_share", "no_record_share",
                                                  "no_record_low", "no_record_high", "note"], lang=lang)

    @app.command("targeting")
    def targeting_cmd(
        definition: Optional[str] = typer.Option(None, "--definition", help="sanctuary definition (see `icemonitor places definitions`); default state-law"),
        date_from: str = typer.Option("2015-10-01", "--from"),
        date_to: str = typer.Option("2019-09-30", "--to"),
        level: str = typer.Option("aor", "--level", help="aor|county (county needs resolved landmarks)"),
        period: str = typer.Option("month", "--period", help="month|fy (period fixed effects)"),
        as_json: bool = typer.Option(False, "--json"),
        lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
    ) -> None:
        """Arrest rates per 10,000 non-citizens in sanctuary vs other places, rate ratios and DiD estimates."""
        from icemonitor.analysis.targeting import targeting

        with _working(WORKING["fitting"], lang):
            res = targeting(_connect(), definition=definition, date_from=date_from, date_to=date_to, level=level,
                            period=period)
        if as_json:
            show(res, True)
            return
        show(res, False, ["group", "places", "place_periods", "arrests", "rate_per_10k", "at_large_rate_per_10k",
                          "at_large_share", "at_large_share_low", "at_large_share_high"], lang=lang)
        _estimates(msg("Rate ratios (sanctuary_share 1 vs 0)").render(lang), res.extra.get("models", []), ["outcome"],
                   lang)
        _estimates(msg("Difference-in-differences (places whose status changed vs places without a change)").render(lang),
                   res.extra.get("did", []), ["event", "states", "treated", "outcome"], lang)
        unresolved = res.extra.get("unresolved") or []
        if unresolved:
            total = sum(u["arrests"] for u in unresolved)
            placed = sum(u["resolved"] for u in unresolved)
            by_aor = ", ".join(f"{u['aor']} {u['unresolved_share']:.0%}" for u in unresolved
                               if u["unresolved_share"] is not None)
            said = msg("{n:,} of {total:,} arrests ({share:.1%}) are not resolved to a county; by AOR: {by_aor}",
                       n=total - placed, total=total, share=(total - placed) / total, by_aor=by_aor)
            out.print(f"{_label(UNRESOLVED, lang)}: {escape(said.render(lang))}", highlight=False)
        for line in res.extra.get("plain_words", []):
            out.print(f"{_label(IN_PLAIN_WORDS, lang)}: {escape(_fmt(line, lang))}", highlight=False)

    @app.command("check")
    def check_cmd(
        claims_file: str = typer.Argument(..., help="YAML file of claims (see examples/claims/)"),
        data_root: Optional[str] = typer.Option(None, "--data-root", help="reference data folder (default: catalog / ICEMONITOR_MIRROR)"),
        as_json: bool = typer.Option(False, "--json"),
        lang: str = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang),
    ) -> None:
        """Check published figures against the records: value, difference, verdict and the query behind it."""
        from pathlib import Path

        from icemonitor.analysis.claims import check

        ref = None
        try:
            from icemonitor.places.cli import resolve_ref

            ref = resolve_ref(Path(data_root) if data_root else None)
        except Exception:  # places without reference data: only US and AOR places are checkable
            ref = None
        with _working(WORKING["checking"], lang):
            res = check(_connect(), claims_file, ref=ref)
        show(res, as_json, lang=lang)
        if not as_json:
            for f in res.figures:
                if f.get("sql"):
                    out.print(f"[bold]{escape(str(f['id']))}[/]: {escape(f['sql'])}  params={escape(str(f['parameters']))}",
                              highlight=False)


def _estimates(title: str, rows: list[dict], keys: list[str], lang: str = "en") -> None:
    if not rows:
        return
    table = Table(title=title)
    for c in keys + ["ratio [95% CI]", "p", "places", "note"]:
        table.add_column(c, overflow="fold")
    for r in rows:
        ci = "–" if r.get("ratio") is None else f"{r['ratio']:.2f} [{r['low']:.2f}, {r['high']:.2f}]"
        p = "–" if r.get("p_value") is None else f"{r['p_value']:.3g}"
        table.add_row(*(escape(_fmt(r.get(k), lang)) for k in keys), ci, p, str(r.get("n_clusters", "")),
                      escape(_fmt(r.get("note") or "", lang)))
    out.print(table)
