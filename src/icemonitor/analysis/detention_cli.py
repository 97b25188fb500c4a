"""`icemonitor detention`: detained now, monthly trend, people held on a day, a claim check, ICE's errors."""

from __future__ import annotations

import datetime as dt
from typing import Optional

import typer

from icemonitor.analysis.cli import LANG_HELP, _check_lang, _lang_default, show

detention_app = typer.Typer(help="ICE detention statistics (every posting FY2019-FY2026) and facility populations.",
                            no_args_is_help=True)


LANG_OPTION = typer.Option(_lang_default, "--lang", help=LANG_HELP, callback=_check_lang)


def open_warehouse():  # noqa: ANN201 - duckdb connection; imported when a command runs, not at --help
    from icemonitor.analysis.common import open_warehouse as open_

    return open_()


def parse_date(value: str | None, name: str) -> dt.date | None:
    from icemonitor.analysis.common import parse_date as parse

    return parse(value, name)


def _day(value: str, name: str) -> dt.date:
    day = parse_date(value, name)
    assert day is not None
    return day


@detention_app.command("now")
def now_cmd(
    as_of: Optional[str] = typer.Option(None, "--as-of", help="YYYY-MM-DD: the snapshot ICE states on or before it"),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """People ICE held on its latest stated date, by arresting agency and criminality, with the posting's errors."""
    from icemonitor.analysis.detention import detained_now

    show(detained_now(open_warehouse(), parse_date(as_of, "as_of")), as_json,
         ["agency", "criminality", "people", "share_of_all", "as_of", "value_min", "value_max", "source_file", "cell"],
         lang=lang)


@detention_app.command("trend")
def trend_cmd(
    statistic: str = typer.Option("adp", "--statistic", help="bookins | adp | bookouts"),
    agency: str = typer.Option("total", "--agency", help="total | ice | cbp"),
    criminality: str = typer.Option("total", "--criminality",
                                    help="total | convicted | pending_charges | other_immigration_violator | non_criminal"),
    date_from: Optional[str] = typer.Option(None, "--from", help="YYYY-MM-DD"),
    date_to: Optional[str] = typer.Option(None, "--to", help="YYYY-MM-DD"),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """One value per month, FY2019-FY2026, as last reported, with the range across postings."""
    from icemonitor.analysis.detention import detention_trend

    res = detention_trend(open_warehouse(), statistic, agency, criminality,  # type: ignore[arg-type]
                          parse_date(date_from, "from"), parse_date(date_to, "to"))
    show(res, as_json, ["month", "value", "complete", "value_min", "value_max", "n_postings", "stated_as_of",
                        "source_file", "cell"], lang=lang)


@detention_app.command("held")
def held_cmd(
    day: str = typer.Argument(..., help="YYYY-MM-DD"),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """People held on a day: DDP's facility-day counts and ICE's snapshots nearest the day."""
    from icemonitor.analysis.detention import held_on

    show(held_on(open_warehouse(), _day(day, "date")), as_json, lang=lang)


@detention_app.command("check")
def check_cmd(
    day: str = typer.Argument(..., help="YYYY-MM-DD"),
    people: int = typer.Argument(..., help="The number claimed"),
    fewer: bool = typer.Option(False, "--fewer", help="The claim is 'fewer than' (default: 'more than')"),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """Check "ICE held more (fewer) than N people on DAY" against every count of that day."""
    from icemonitor.analysis.detention import check_held

    from icemonitor.messages import msg

    res = check_held(open_warehouse(), _day(day, "date"), people, "fewer" if fewer else "more")
    show(res, as_json, lang=lang)
    if not as_json:
        answers = {"supported": msg("supported by every count of the day"),
                   "not_supported": msg("not supported by any count of the day"),
                   "depends_on_measure": msg("supported by some counts of the day and not by others (see the measures)"),
                   "no_records": msg("no records count that day: no answer (not zero)")}
        answer = res.extra["answer"]
        said = msg("{claim}: {answer}", claim=res.extra["claim"], answer=answers.get(answer, answer))
        print(said.render(lang))


@detention_app.command("errors")
def errors_cmd(
    reason: Optional[str] = typer.Option(None, "--reason", help="e.g. stale_sheet, unchanged_table, stated_date_older"),
    posting: Optional[str] = typer.Option(None, "--posting", help="A posting's file name"),
    limit: int = typer.Option(50, "--limit", min=1, max=10000),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """ICE's errors found in its postings, with the evidence."""
    from icemonitor.analysis.detention import posting_errors

    show(posting_errors(open_warehouse(), reason, posting, limit), as_json,
         ["source_file", "source_sheet", "table_key", "reason", "excluded", "evidence"], lang=lang)


@detention_app.command("facilities")
def facilities_cmd(
    day: Optional[str] = typer.Option(None, "--date", help="YYYY-MM-DD (default: the records' last day)"),
    state: Optional[str] = typer.Option(None, "--state", help="Two-letter state"),
    not_in_ice_list: bool = typer.Option(False, "--not-in-ice-list", help="Only facilities ICE's lists do not show"),
    limit: int = typer.Option(30, "--limit", min=1, max=2000),
    as_json: bool = typer.Option(False, "--json"),
    not_in_any_list: bool = typer.Option(False, "--not-in-any-list",
                                         help="Only facilities neither ICE's published lists nor its over-72-hour list show"),
    lang: str = LANG_OPTION,
) -> None:
    """People held per facility on a day, with county and whether ICE's published lists and its authorised
    over-72-hour list show the facility."""
    from icemonitor.analysis.detention import facilities

    res = facilities(open_warehouse(), parse_date(day, "date"), state.upper() if state else None, not_in_ice_list,
                     limit, not_in_any_list=not_in_any_list)
    show(res, as_json, ["facility_code", "ddp_name", "state", "county_name", "held_during_day", "held_at_midnight",
                        "matched_to_ice_list", "in_authorised_list"], lang=lang)


@detention_app.command("place")
def place_cmd(
    place: str = typer.Argument(..., help="An AOR (LOS), a state (CA) or a county (06037, 'Cook County, IL')"),
    day: Optional[str] = typer.Option(None, "--date", help="YYYY-MM-DD (default: the records' last day)"),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """People held in the ICE detention facilities of a place on a day, each facility with its 30-day trend (as
    /api/v1/detention/place and the place pages); a place with no facility in the records has no count."""
    from icemonitor.analysis.common import reference_for
    from icemonitor.analysis.detention import in_place
    from icemonitor.places.place_names import parse_place, place_label

    con = open_warehouse()
    found = parse_place(place, reference_for(con))
    res = in_place(con, place_label(found), found.county_fips, parse_date(day, "date"))
    show(res, as_json, ["facility_code", "name", "county_name", "held_during_day", "held_before", "change",
                        "matched_to_ice_list"], lang=lang)
    if not as_json and res.extra["held_during_day"] is not None:
        from icemonitor.analysis.cli import out
        from icemonitor.messages import msg, to_date
        from icemonitor.places.place_names import place_label

        said = msg("held in {place} on {day}: {n:,} in {facilities} facilities ({before_n:,} on {before})",
                   place=place_label(found), day=to_date(res.parameters["date"]), n=res.extra["held_during_day"],
                   facilities=res.extra["facilities"], before_n=res.extra["held_before"],
                   before=to_date(res.extra["before"]))
        out.print(said.render(lang), highlight=False, markup=False)


@detention_app.command("discover")
def discover_cmd(
    url: str = typer.Option("https://www.ice.gov/detain/detention-management", "--url",
                            help="The Detention Management page (or a copy of it)"),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """Look at ICE's Detention Management page and archive every posting not archived yet (every version kept);
    run `icemonitor build` afterwards to read them."""
    import json

    from rich.markup import escape

    from icemonitor.catalog.detention_discovery import discover
    from icemonitor.messages import msg, render

    found = discover(url)
    report = {"page": found.page_url, "new": [{"name": e.name, "sha256": e.sha256, "seen": e.fetched_at,
                                                "url": e.origin} for e in found.new],
              "unchanged": found.unchanged, "rejected": [{"url": u, "reason": r} for u, r in found.rejected]}
    if as_json:
        print(json.dumps(report, indent=2))
        return
    from icemonitor.analysis.cli import out

    for e in report["new"]:
        out.print(escape(msg("new posting: {name} ({sha}...)", name=e["name"], sha=e["sha256"][:12]).render(lang)),
                  highlight=False)
    out.print(escape(msg("already archived: {n}", n=len(found.unchanged)).render(lang)), highlight=False)
    for r in report["rejected"]:
        rejected = msg("rejected:")
        out.print(f"[yellow]{escape(rejected.render(lang))}[/] {escape(r['url'])}: {escape(render(r['reason'], lang))}",
                  highlight=False)


@detention_app.command("atd")
def atd_cmd(
    statistic: str = typer.Option("by_aor_technology", "--statistic", help="by_technology | by_status | by_aor_technology"),
    aor: Optional[str] = typer.Option(None, "--aor", help="AOR code, or total"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="YYYY-MM-DD: ICE's latest stated date on or before it"),
    measure: str = typer.Option("count", "--measure", help="count | daily_tech_cost | alip"),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """Alternatives to Detention: active participants by technology, status, or AOR and technology."""
    from icemonitor.analysis.detention_tables import atd

    show(atd(open_warehouse(), statistic, aor.upper() if aor and aor != "total" else aor, parse_date(as_of, "as_of"),
             measure), as_json, ["as_of", "aor", "category", "measure", "value", "unit", "value_min", "value_max",
                                 "source_file", "source_sheet", "cell"], lang=lang)


@detention_app.command("semiannual")
def semiannual_cmd(
    population: Optional[str] = typer.Option(None, "--population",
                                             help="armed_forces | us_citizens | parents_of_us_citizens | tps_countries"),
    event: Optional[str] = typer.Option(None, "--event", help="arrests | bookins | removals"),
    country: str = typer.Option("all", "--country", help="TPS tables: the citizenship country as ICE writes it"),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """Arrests, book-ins and removals of U.S. citizens, armed-forces members, parents of U.S. citizens and TPS
    nationals per fiscal year, as last reported."""
    from icemonitor.analysis.detention_tables import semiannual

    show(semiannual(open_warehouse(), population, event, country), as_json,
         ["population", "event", "country", "fiscal_year", "value", "partial_year", "value_min", "value_max",
          "source_file", "source_sheet", "cell"], lang=lang)


@detention_app.command("segregation")
def segregation_cmd(
    fiscal_year: Optional[int] = typer.Option(None, "--fiscal-year"),
    measure: str = typer.Option("placements", "--measure", help="placements | avg_consecutive_days | avg_cumulative_days"),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """Segregation placements of vulnerable and special populations by quarter and placement reason."""
    from icemonitor.analysis.detention_tables import segregation

    show(segregation(open_warehouse(), fiscal_year, measure), as_json,
         ["fiscal_year", "quarter", "reason", "measure", "value", "unit", "source_file", "source_sheet", "cell"],
         lang=lang)


@detention_app.command("iclos")
def iclos_cmd(
    measure: str = typer.Option("average_days", "--measure", help="average_days | detainees"),
    population: str = typer.Option(
        "total", "--population",
        help="total | adult_facility | fsc_facility | single_adults_positive_fear_in_custody | ..."),
    stay: Optional[str] = typer.Option(None, "--stay", help="detainees: stay_0_180 | stay_181_365 | stay_366_730 | "
                                                             "stay_over_730 | total"),
    since: Optional[str] = typer.Option(None, "--since", help="YYYY-MM-DD"),
    until: Optional[str] = typer.Option(None, "--until", help="YYYY-MM-DD"),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """In-custody length of stay (ICLOS): average days in custody, or people in custody by length of stay, on the
    15th and the last day of each month, as last reported."""
    from icemonitor.analysis.detention_tables import iclos

    show(iclos(open_warehouse(), measure, population, stay, parse_date(since, "since"), parse_date(until, "until")),
         as_json, ["day", "population", "stay", "value", "unit", "value_min", "value_max", "source_file",
                   "source_sheet", "cell"], lang=lang)


@detention_app.command("bond")
def bond_cmd(
    measure: Optional[str] = typer.Option(
        None, "--measure", help="total_final_bookouts | bond_posted_final_bookouts | bond_posted_share | "
                                "average_bond_amount | alos_days | total_final_releases | ..."),
    since: Optional[str] = typer.Option(None, "--since", help="YYYY-MM-DD"),
    until: Optional[str] = typer.Option(None, "--until", help="YYYY-MM-DD"),
    as_json: bool = typer.Option(False, "--json"),
    lang: str = LANG_OPTION,
) -> None:
    """Monthly bond statistics: final releases / book-outs, those with a bond posted, average bond, length of stay."""
    from icemonitor.analysis.detention_tables import bond

    show(bond(open_warehouse(), measure, parse_date(since, "since"), parse_date(until, "until")), as_json,
         ["month", "measure", "value", "unit", "complete", "value_min", "value_max", "source_file", "source_sheet",
          "cell"], lang=lang)


def register(app: typer.Typer) -> None:
    app.add_typer(detention_app, name="detention")
