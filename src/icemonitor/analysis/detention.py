"""Detention: who ICE holds now, how detention moved FY2019-FY2026, how many people were held on a day, and
ICE's known errors. One computation for the CLI (`icemonitor detention`), the API (/api/v1/detention) and pages.

Figures come from the warehouse's detention tables (warehouse/detention_step.py); each names the posting, sheet
and cell it was read from and the date ICE states for it. Where no posting or record covers a question, the
answer says so: no records is not zero."""

from __future__ import annotations

import csv
import datetime as dt
from functools import cache
from importlib import resources
from collections.abc import Sequence
from types import MappingProxyType
from typing import Any, Literal

import duckdb

from icemonitor.analysis.common import has_table
from icemonitor.analysis.result import AnalysisResult
from icemonitor.errors import InputError
from icemonitor.messages import DateSpan, Given, Message, from_json, msg
from icemonitor.query.selection import per_warehouse

Statistic = Literal["bookins", "adp", "bookouts"]
Agency = Literal["total", "ice", "cbp"]
Criminality = Literal["total", "convicted", "pending_charges", "other_immigration_violator", "non_criminal"]
STATISTICS = ("bookins", "adp", "bookouts")
AGENCIES = ("total", "ice", "cbp")
CRIMINALITIES = ("total", "convicted", "pending_charges", "other_immigration_violator", "non_criminal")
NO_WAREHOUSE_TABLES = msg("The warehouse has no detention tables: build it with the detention releases "
                          "(icemonitor build).")


@cache
def definitions(lang: str | None = None) -> dict[str, str]:
    """key -> definition (data/detention_definitions.csv keeps English and Spanish side by side): in `lang`, or as
    display text carrying both (icemonitor.messages.Given) when no language is asked, as the analyses return it."""
    text = (resources.files("icemonitor.analysis") / "data" / "detention_definitions.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    if lang is None:
        return {r["key"]: Given(r["en"], es=r["es"]) for r in rows}
    return {r["key"]: r[lang] for r in rows}


def has_detention_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse was built with the detention releases."""
    return has_table(con, "detention_snapshots")


def _require(con: duckdb.DuckDBPyConnection, *tables: str) -> None:
    for t in tables:
        if not has_table(con, t):
            raise InputError(NO_WAREHOUSE_TABLES, field="table", value=t)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def posting_errors_for(con: duckdb.DuckDBPyConnection, source_file: str) -> list[Message]:
    """ICE's known errors of one posting, as caveat lines (errors of single values, revised months and ICE's
    Semiannual 0 placeholders, left out: see `errors`)."""
    kept = has_evidence_messages(con)  # warehouses built before it: NULL
    rows = _rows(con, "SELECT reason, source_sheet, table_key, evidence, "
                      f"{'evidence_message' if kept else 'NULL AS evidence_message'} FROM detention_exclusions "
                      "WHERE source_file = ? AND reason NOT IN ('value_revised', 'zero_placeholder') "
                      "ORDER BY reason, source_sheet, table_key",
                 [source_file])
    return [_posting_error(source_file, r) for r in rows]


def evidence_of(text: str, message: str | None) -> Message:
    """An exclusion's evidence as a message, said in the reader's language: the message the warehouse kept
    (detention_exclusions.evidence_message, dates as dates), else its English text, as given (warehouses built
    before it kept one: rebuild for other languages)."""
    return from_json(message) if message else Given(text, es=text)


def has_evidence_messages(con: duckdb.DuckDBPyConnection) -> bool:
    """The warehouse's detention_exclusions keeps the evidence as messages (warehouses built before it do not)."""
    return bool(con.execute("SELECT count(*) FROM information_schema.columns WHERE table_name = "
                            "'detention_exclusions' AND column_name = 'evidence_message'").fetchone()[0])


def _posting_error(source_file: str, r: dict[str, Any]) -> Message:
    """One caveat line: posting, reason code, sheet and table, and the evidence (evidence_of)."""
    evidence = evidence_of(r["evidence"], r["evidence_message"])
    base = dict(file=source_file, reason=r["reason"], evidence=evidence)
    if r["source_sheet"] and r["table_key"]:
        return msg("{file}: {reason} ({sheet}, {table}): {evidence}", sheet=r["source_sheet"], table=r["table_key"],
                   **base)
    if r["source_sheet"]:
        return msg("{file}: {reason} ({sheet}): {evidence}", sheet=r["source_sheet"], **base)
    return msg("{file}: {reason}: {evidence}", **base)


def detained_now(con: duckdb.DuckDBPyConnection, as_of: dt.date | None = None) -> AnalysisResult:
    """People ICE held on the latest date it states on or before `as_of`, by arresting agency and criminality."""
    _require(con, "detention_snapshots")
    (day,) = con.execute("SELECT max(as_of) FROM detention_snapshots WHERE ? IS NULL OR as_of <= ?",
                         [as_of, as_of]).fetchone()
    params = {"as_of": as_of}
    defs = {k: definitions()[k] for k in ("currently_detained", "agency", "convicted", "pending_charges",
                                            "other_immigration_violator", "last_reported")}
    if day is None:
        return AnalysisResult(name="detention_now", parameters=params, definitions=defs, caveats=[
            msg("No ICE detention-statistics posting states a date on or before {day}: no figure (not zero).",
                day=as_of)])
    figures = _rows(con, "SELECT agency, criminality, value::BIGINT AS people, as_of, value_min::BIGINT AS value_min, "
                         "value_max::BIGINT AS value_max, n_postings, source_file, source_sheet, cell, release_id "
                         "FROM detention_snapshots WHERE as_of = ? ORDER BY "
                         "list_position(['total','ice','cbp'], agency), "
                         "list_position(['total','convicted','pending_charges','other_immigration_violator'], criminality)",
                    [day])
    total = next((f["people"] for f in figures if f["agency"] == "total" and f["criminality"] == "total"), None)
    for f in figures:
        f["share_of_all"] = f["people"] / total if total else None
    no_record = next((f for f in figures if f["agency"] == "total" and f["criminality"] == "other_immigration_violator"),
                     None)
    files = sorted({f["source_file"] for f in figures})
    caveats = [c for file in files for c in posting_errors_for(con, file)]
    extra = {"as_of": day, "total": total,
             "share_no_conviction_no_pending_charge": (no_record["people"] / total) if no_record and total else None,
             "postings": files}
    return AnalysisResult(name="detention_now", parameters=params, figures=figures, definitions=defs,
                          releases=[f["release_id"] for f in figures], caveats=caveats, extra=extra)


def detention_trend(con: duckdb.DuckDBPyConnection, statistic: Statistic = "adp", agency: Agency = "total",
                    criminality: Criminality = "total", date_from: dt.date | None = None,
                    date_to: dt.date | None = None) -> AnalysisResult:
    """One value per month FY2019-FY2026 as last reported, with the range across postings."""
    _require(con, "detention_monthly")
    for name, value, allowed in (("statistic", statistic, STATISTICS), ("agency", agency, AGENCIES),
                                 ("criminality", criminality, CRIMINALITIES)):
        if value not in allowed:
            raise InputError(msg("unknown {name}; choose one of {choices}", name=name, choices=", ".join(allowed)),
                             field=name, value=value)
    figures = _rows(con, "SELECT month, value, complete, value_min, value_max, n_postings, stated_as_of, source_file, "
                         "source_sheet, cell, release_id FROM detention_monthly WHERE statistic = ? AND agency = ? "
                         "AND criminality = ? AND (? IS NULL OR month >= ?) AND (? IS NULL OR month <= ?) ORDER BY month",
                    [statistic, agency, criminality, date_from, date_from, date_to, date_to])
    defs = {k: definitions()[k] for k in (statistic, "agency", "last_reported")}
    if criminality != "total":
        defs[criminality] = definitions()[criminality]
    caveats = []
    if not figures:
        caveats.append(msg("No posting reports this statistic for these months: no figure (not zero)."))
    elif any(not f["complete"] for f in figures):
        caveats.append(msg("Months marked complete=false were reported only before they ended (partial month)."))
    if statistic == "bookouts":
        caveats.append(msg("Monthly book-outs are published from FY2021 on; FY2019-FY2020 postings give only year "
                           "totals."))
    if criminality in ("pending_charges", "other_immigration_violator"):
        caveats.append(msg("FY2019-FY2020 average daily population tables split criminality into Convicted and "
                           "Non-Criminal only: those months are under criminality=non_criminal."))
    params = {"statistic": statistic, "agency": agency, "criminality": criminality, "from": date_from, "to": date_to}
    return AnalysisResult(name="detention_trend", parameters=params, figures=figures, definitions=defs,
                          releases=[f["release_id"] for f in figures], caveats=caveats)


DDP_RELEASE = "ddp-facility-daily-population"


def reach(first: dt.date | None, last: dt.date | None) -> Message:
    """How far the facility records reach (a message: its dates in the reader's language)."""
    if first is None or last is None:
        return msg("{table} records: none loaded", table="detention_facility_days")
    return msg("detention facility records reach: {span} ({release})", span=DateSpan(first, last),
               release=DDP_RELEASE)


def held_on(con: duckdb.DuckDBPyConnection, day: dt.date) -> AnalysisResult:
    """How many people ICE held on one day: DDP's facility-day counts from ICE's individual records, and ICE's own
    currently-detained snapshots stated nearest before and after."""
    _require(con, "detention_facility_days", "detention_snapshots")
    (first, last) = con.execute("SELECT min(date), max(date) FROM detention_facility_days").fetchone()
    figures: list[dict[str, Any]] = []
    caveats: list[str] = []
    releases: list[str] = []
    if first is not None and first <= day <= last:
        row = _rows(con, "SELECT sum(n_detained)::BIGINT AS held_during_day, sum(n_detained_at_midnight)::BIGINT "
                         "AS held_at_midnight, count(*) AS facilities, any_value(release_id) AS release_id, "
                         "any_value(source_file) AS source_file FROM detention_facility_days WHERE date = ?", [day])[0]
        figures.append({"source": "ddp_records", "date": day, "held_during_day": row["held_during_day"],
                        "held_at_midnight": row["held_at_midnight"], "facilities": row["facilities"],
                        "source_file": row["source_file"], "release_id": row["release_id"]})
        releases.append(row["release_id"])
    else:
        caveats.append(msg("DDP's facility records cover {first} to {last}; {day} is outside: no figure (not zero).",
                           first=first, last=last, day=day))
    for side, op, order in (("ice_snapshot_before", "<=", "DESC"), ("ice_snapshot_after", ">", "ASC")):
        snap = _rows(con, f"SELECT as_of, value::BIGINT AS people, source_file, source_sheet, cell, release_id "
                          f"FROM detention_snapshots WHERE agency = 'total' AND criminality = 'total' AND as_of {op} ? "
                          f"ORDER BY as_of {order} LIMIT 1", [day])
        if snap:
            figures.append({"source": side, "date": snap[0]["as_of"], "held_during_day": None,
                            "held_at_midnight": None, "people": snap[0]["people"], **{
                                k: snap[0][k] for k in ("source_file", "source_sheet", "cell", "release_id")}})
            releases.append(snap[0]["release_id"])
    defs = {k: definitions()[k] for k in ("held_during_day", "held_at_midnight", "currently_detained")}
    return AnalysisResult(name="detention_held_on", parameters={"date": day}, figures=figures, definitions=defs,
                          releases=releases, caveats=caveats)


def check_held(con: duckdb.DuckDBPyConnection, day: dt.date, people: int,
               comparison: Literal["more", "fewer"] = "more") -> AnalysisResult:
    """Check a claim "ICE held more (fewer) than N people on DAY" against every count that covers the day."""
    base = held_on(con, day)
    verdicts = []
    for f in base.figures:
        counts = {"held_during_day": f.get("held_during_day"), "held_at_midnight": f.get("held_at_midnight")} \
            if f["source"] == "ddp_records" else {"currently_detained": f.get("people")}
        for measure, n in counts.items():
            if n is None:
                continue
            holds = n > people if comparison == "more" else n < people
            exact_day = f["date"] == day.isoformat()  # figures are plain (ISO dates)
            verdicts.append({"source": f["source"], "measure": measure, "date": f["date"], "count": n,
                             "claim_holds": holds if exact_day else None, "source_file": f["source_file"],
                             "release_id": f["release_id"]})
    exact = [v["claim_holds"] for v in verdicts if v["claim_holds"] is not None]
    answer = "no_records" if not exact else "supported" if all(exact) else "not_supported" if not any(exact) \
        else "depends_on_measure"
    caveats = list(base.caveats)
    if any(v["claim_holds"] is None for v in verdicts):
        caveats.append(msg("ICE's own snapshots nearest the day are shown for context; they do not count that day."))
    return AnalysisResult(
        name="detention_check", parameters={"date": day, "people": people, "comparison": comparison},
        figures=verdicts, definitions=base.definitions, releases=base.releases, caveats=caveats,
        extra={"answer": answer, "claim": (msg("ICE held more than {n:,} people on {day}", n=people, day=day)
                                           if comparison == "more" else
                                           msg("ICE held fewer than {n:,} people on {day}", n=people, day=day))})


def posting_errors(con: duckdb.DuckDBPyConnection, reason: str | None = None,
                   source_file: str | None = None, limit: int = 200) -> AnalysisResult:
    """ICE's errors found in its postings (detention_exclusions), newest postings first; the evidence a message
    (evidence_of: said in the reader's language, its str the English text)."""
    _require(con, "detention_exclusions", "detention_postings")
    kept = "e.evidence_message" if has_evidence_messages(con) else "NULL::VARCHAR AS evidence_message"
    figures = _rows(con, "SELECT e.source_file, p.ice_file_name, p.archived_on, p.stated_as_of, e.source_sheet, "
                         f"e.table_key, e.reason, e.excluded, e.evidence, {kept}, e.release_id FROM "
                         "detention_exclusions e "
                         "LEFT JOIN detention_postings p USING (source_file) WHERE (? IS NULL OR e.reason = ?) "
                         "AND (? IS NULL OR e.source_file = ?) ORDER BY p.posting_order DESC NULLS FIRST, e.reason, "
                         "e.source_sheet, e.table_key LIMIT ?",
                    [reason, reason, source_file, source_file, limit])
    for f in figures:
        f["evidence"] = evidence_of(f["evidence"], f.pop("evidence_message"))
    counts = dict(con.execute("SELECT reason, count(*) FROM detention_exclusions GROUP BY reason ORDER BY reason").fetchall())
    return AnalysisResult(name="detention_errors", parameters={"reason": reason, "source_file": source_file,
                                                               "limit": limit},
                          figures=figures, definitions={"last_reported": definitions()["last_reported"]},
                          releases=[f["release_id"] for f in figures], extra={"counts_by_reason": counts})


def facilities(con: duckdb.DuckDBPyConnection, day: dt.date | None = None, state: str | None = None,
               not_in_ice_list: bool = False, limit: int = 100, not_in_any_list: bool = False) -> AnalysisResult:
    """People held per facility on a day (DDP's records; default: their last day), with the facility's county and
    whether ICE's published lists and its authorised over-72-hour list show it; largest first. `not_in_any_list`:
    only facilities holding people that day that neither list shows."""
    _require(con, "detention_facility_places", "detention_facility_days")
    authorised = "in_authorised_list" in {r[0] for r in con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'detention_facility_places'").fetchall()}
    in_over72 = "p.in_authorised_list" if authorised else "NULL::BOOLEAN"
    (last,) = con.execute("SELECT max(date) FROM detention_facility_days").fetchone()
    day = day or last
    # county names from the places stage's counties table when the warehouse has it
    county = ("LEFT JOIN counties c ON c.county_fips = p.county_fips", "c.county_name", "c.state") \
        if has_table(con, "counties") else ("", "NULL", "NULL")
    figures = _rows(con, f"SELECT p.facility_code, p.ddp_name, p.ice_names, p.ice_city, coalesce(p.ice_state, "
                         f"{county[2]}) AS state, p.county_fips, {county[1]} AS county_name, p.placed_by, "
                         f"p.matched_to_ice_list, {in_over72} AS in_authorised_list, p.latitude, p.longitude, "
                         f"p.located_by, d.n_detained AS held_during_day, "
                         f"d.n_detained_at_midnight AS held_at_midnight, p.release_id FROM detention_facility_days d "
                         f"JOIN detention_facility_places p ON p.facility_code = d.detention_facility_code {county[0]} "
                         f"WHERE d.date = ? AND (? IS NULL OR coalesce(p.ice_state, {county[2]}) = ?) AND "
                         f"(NOT ? OR NOT p.matched_to_ice_list) AND (NOT ? OR (NOT p.matched_to_ice_list AND "
                         f"{in_over72} = FALSE AND d.n_detained > 0)) ORDER BY d.n_detained DESC, p.facility_code LIMIT ?",
                    [day, state, state, not_in_ice_list, not_in_any_list, limit])
    unmatched = con.execute("SELECT count(*), coalesce(sum(d.n_detained), 0) FROM detention_facility_days d JOIN "
                            "detention_facility_places p ON p.facility_code = d.detention_facility_code "
                            "WHERE d.date = ? AND NOT p.matched_to_ice_list", [day]).fetchone()
    neither = con.execute("SELECT count(*), coalesce(sum(d.n_detained), 0) FROM detention_facility_days d JOIN "
                          "detention_facility_places p ON p.facility_code = d.detention_facility_code WHERE d.date = ? "
                          f"AND NOT p.matched_to_ice_list AND {in_over72} = FALSE AND d.n_detained > 0",
                          [day]).fetchone()
    caveats = [] if figures else [msg("No facility records for {day} with these filters: no figure (not zero).",
                                      day=day)]
    caveats.append(msg("matched_to_ice_list=false: the records hold people there but no facility of ICE's published "
                       "lists matched it by name, city and state (it may be listed under another name)."))
    if not authorised or con.execute("SELECT count(*) FROM detention_facility_places WHERE in_authorised_list IS NULL"
                                     ).fetchone()[0]:
        caveats.append(msg("ICE's authorised over-72-hour facility list was not available to this build: whether it "
                           "shows a facility is unknown (no facility is counted as in neither list)."))
    else:
        caveats.append(msg("in_authorised_list=false: ICE's authorised over-72-hour list (adult facilities only; no "
                           "juvenile or family facilities, none holding people 72 hours or less) does not show it."))
    return AnalysisResult(
        name="detention_facilities",
        parameters={"date": day, "state": state, "not_in_ice_list": not_in_ice_list,
                    "not_in_any_list": not_in_any_list, "limit": limit},
        figures=figures, definitions={k: definitions()[k] for k in ("held_during_day", "held_at_midnight")},
        releases=sorted({f["release_id"] for f in figures} | ({"ref-ice-facilities-over72"} if authorised else set())),
        caveats=caveats,
        extra={"facilities_not_in_ice_list": unmatched[0], "held_in_facilities_not_in_ice_list": unmatched[1],
               "facilities_in_neither_list": neither[0] if authorised else None,
               "held_in_facilities_in_neither_list": neither[1] if authorised else None})


def changes_since_previous(con: duckdb.DuckDBPyConnection) -> AnalysisResult:
    """People currently detained on ICE's latest stated date against the date stated before it, by arresting
    agency and criminality, largest change first."""
    _require(con, "detention_snapshots")
    dates = [r[0] for r in con.execute("SELECT DISTINCT as_of FROM detention_snapshots ORDER BY as_of DESC LIMIT 2")
             .fetchall()]
    if len(dates) < 2:
        return AnalysisResult(name="detention_changes", caveats=[msg("Fewer than two stated dates: no change to show.")])
    figures = _rows(con, "SELECT n.agency, n.criminality, o.value::BIGINT AS before, n.value::BIGINT AS after, "
                         "(n.value - o.value)::BIGINT AS change, o.as_of AS before_as_of, n.as_of AS after_as_of, "
                         "o.source_file AS before_file, n.source_file AS after_file, n.release_id "
                         "FROM detention_snapshots n JOIN detention_snapshots o USING (statistic, agency, criminality) "
                         "WHERE n.as_of = ? AND o.as_of = ? ORDER BY abs(n.value - o.value) DESC, n.agency, n.criminality",
                    [dates[0], dates[1]])
    return AnalysisResult(name="detention_changes", parameters={"after": dates[0], "before": dates[1]},
                          figures=figures, definitions={"currently_detained": definitions()["currently_detained"]},
                          releases=[f["release_id"] for f in figures])


TREND_DAYS = 30  # a facility's trend: people held on the day against this many days before


@per_warehouse(frozen=True)
def facility_days_span(con: duckdb.DuckDBPyConnection) -> tuple[dt.date | None, dt.date | None]:
    """The first and last day of DDP's facility records (detention_facility_days)."""
    return con.execute("SELECT min(date), max(date) FROM detention_facility_days").fetchone()


@per_warehouse(frozen=True)
def facilities_on(con: duckdb.DuckDBPyConnection, day: dt.date | None,
                  before: dt.date | None) -> tuple[tuple[str, ...], tuple[tuple, ...], tuple[tuple[str, Any], ...]]:
    """Every facility with its county and the people it held on `day` and on `before` (in_place's figures of all
    places, in their order: in_place keeps a place's counties' rows), and the facilities holding people on `day`
    that have no county: (column names, rows, the unplaced count as (name, value) pairs)."""
    county = ("LEFT JOIN counties c ON c.county_fips = p.county_fips", "c.county_name") \
        if has_table(con, "counties") else ("", "NULL")
    cur = con.execute(f"SELECT p.facility_code, coalesce(p.ice_names, p.ddp_name) AS name, p.county_fips, "
                      f"{county[1]} AS county_name, p.matched_to_ice_list, p.first_day, "
                      f"d.n_detained AS held_during_day, d.n_detained_at_midnight AS held_at_midnight, "
                      f"b.n_detained AS held_before, (d.n_detained - b.n_detained) AS change, p.release_id "
                      f"FROM detention_facility_places p {county[0]} "
                      f"LEFT JOIN detention_facility_days d ON d.detention_facility_code = p.facility_code "
                      f"AND d.date = ? LEFT JOIN detention_facility_days b ON b.detention_facility_code = "
                      f"p.facility_code AND b.date = ? "
                      f"ORDER BY d.n_detained DESC NULLS LAST, p.max_held DESC, p.facility_code", [day, before])
    names = tuple(d[0] for d in cur.description)
    rows = tuple(cur.fetchall())
    unplaced = _rows(con, "SELECT count(*) AS facilities, coalesce(sum(d.n_detained), 0)::BIGINT AS people "
                          "FROM detention_facility_places p JOIN detention_facility_days d ON "
                          "d.detention_facility_code = p.facility_code AND d.date = ? WHERE p.county_fips IS NULL "
                          "AND d.n_detained > 0", [day])[0]
    return names, rows, tuple(unplaced.items())


@per_warehouse(frozen=True)
def county_month_held(con: duckdb.DuckDBPyConnection) -> MappingProxyType:
    """county_fips -> ((month, people held summed over the county's facilities and days, the days of the month with
    a count as bits: bit d-1 for day d, None for none), ...) by month, over DDP's facility records: what
    monthly_held sums for a place."""
    found: dict[str, list] = {}
    for fips, month, held, days in con.execute(
            "SELECT p.county_fips, date_trunc('month', d.date)::DATE AS month, sum(d.n_detained) AS held, "
            "bit_or(CASE WHEN d.n_detained IS NOT NULL THEN 1::BIGINT << (day(d.date) - 1) END) AS days "
            "FROM detention_facility_days d JOIN detention_facility_places p ON "
            "d.detention_facility_code = p.facility_code WHERE p.county_fips IS NOT NULL "
            "GROUP BY ALL ORDER BY 1, 2").fetchall():
        found.setdefault(fips, []).append((month, held, days))
    return MappingProxyType({k: tuple(v) for k, v in found.items()})


def monthly_held(con: duckdb.DuckDBPyConnection, counties: frozenset[str]) -> list[dict[str, Any]]:
    """The place's (its counties') people held per day, averaged over the days of each month with a count
    ({month, held_per_day}, by month; held_per_day None for a month whose records hold no count): the SQL
    `avg(held)` over the month's days of `held`, the day's sum over the place's facilities, taken as DuckDB takes
    it (the integer sum over the count of days, divided in extended precision)."""
    import numpy as np  # after start-up (web.app.DEFERRED_IMPORTS)

    held: dict[dt.date, list] = {}
    by_county = county_month_held(con)
    for fips in counties:
        for month, n, days in by_county.get(fips, ()):
            seen = held.setdefault(month, [0, 0, False])
            if n is not None:
                seen[0] += n
                seen[1] |= days
                seen[2] = True
    return [{"month": m, "held_per_day": float(np.longdouble(n) / np.longdouble(days.bit_count())) if any_count
             else None} for m, (n, days, any_count) in sorted(held.items())]


def in_place(con: duckdb.DuckDBPyConnection, label: str, counties: Sequence[str],
             day: dt.date | None = None) -> AnalysisResult:
    """People held in ICE detention facilities in a place (an AOR, state or county, given by its counties) on a
    day of DDP's records (default: their last day): each facility with the day's count and its trend over
    TREND_DAYS days, the place's total, and the place's monthly average held per day. A place with no facility in
    the records gets no count (not zero).

    What every place shares is read once per warehouse version (facility_days_span, facilities_on,
    county_month_held: a place page asked ~18 ms of CPU of SQL over the 0.9 million facility days at 1x), and cut
    to the place's counties here."""
    _require(con, "detention_facility_places", "detention_facility_days")
    (first, last) = facility_days_span(con)
    day = day or last
    params = {"place": label, "date": day}
    defs = {k: definitions()[k] for k in ("facility_in_place", "held_during_day", "held_at_midnight")}
    fips = frozenset(counties)
    before = day - dt.timedelta(days=TREND_DAYS) if day else None
    # the records' last day (every place page's) is read once; another day (the API's `date`) each time it is asked
    names, every, unplaced = (facilities_on if day == last else facilities_on.__wrapped__)(con, day, before)
    at = names.index("county_fips")
    figures = [dict(zip(names, r)) for r in every if r[at] in fips]
    unplaced = dict(unplaced)
    coverage = {"status": "full", "share": 1.0, "from": first, "to": last, "releases": [DDP_RELEASE],
                "reason": "", "records_reach": reach(first, last)}
    caveats = []
    extra: dict[str, Any] = {"facilities": len(figures), "held_during_day": None, "held_at_midnight": None,
                             "held_before": None, "before": before, "monthly": [], "unplaced": unplaced}
    if first is None or not (first <= day <= last):
        coverage |= {"status": "none", "share": 0.0,
                     "reason": msg("DDP's facility records cover {first} to {last}; {day} is outside: no figure (not "
                                   "zero).", first=first, last=last, day=day)}
        caveats.append(coverage["reason"])
    elif not figures:
        coverage |= {"status": "none", "share": 0.0,
                     "reason": msg("No ICE detention facility in the records for {place}: no figure (not zero).",
                                   place=label)}
        caveats.append(coverage["reason"])
    else:
        extra |= {k: sum(f[k] for f in figures if f[k] is not None)
                  for k in ("held_during_day", "held_at_midnight", "held_before")}
        extra["monthly"] = monthly_held(con, fips)
    if unplaced["facilities"]:
        caveats.append(msg("{n} facilities holding {people:,} people on {day} could not be placed in any county; some "
                           "of them may be in {place}.", n=unplaced["facilities"], people=unplaced["people"], day=day,
                           place=label))
    return AnalysisResult(name="detention_in_place", parameters=params, figures=figures, definitions=defs,
                          releases=sorted({f["release_id"] for f in figures}), caveats=caveats, extra=extra,
                          coverage=coverage)
