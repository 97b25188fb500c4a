"""Summary: counted events per table, grouped and filtered, with shares and Wilson intervals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb

from icemonitor.analysis.common import (
    check_table,
    placement_mix_applies,
    resolution_available,
    split_list,
    table_columns,
    unresolved_in_place,
)
from icemonitor.analysis.result import AnalysisResult
from icemonitor.catalog.problems import as_records, caveat, problems_for
from icemonitor.analysis.stats import wilson_interval
from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.query import vocabulary
from icemonitor.query.coverage import coverage
from icemonitor.query.selection import Selection

GROUPS: dict[str, tuple[str, str]] = {
    "fy": ("fy", msg("Federal fiscal year of event_date (1 Oct - 30 Sep)")),
    "month": ("strftime(event_date, '%Y-%m')", msg("Calendar month of event_date")),
    "week": ("strftime(date_trunc('week', event_date), '%Y-%m-%d')", msg("ISO week of event_date, labelled by its Monday")),
    "day": ("strftime(event_date, '%Y-%m-%d')", msg("event_date")),
    "aor": ("coalesce(aor, '(blank)')", msg("3-letter AOR code; '(blank)' where the release leaves it empty")),
    "state": ("coalesce(res_state, '(unresolved)')", msg("State the event is placed in: recorded by the release, else resolved "
              "from the landmark (event placements; query.selection); '(unresolved)' otherwise")),
    "recorded_state": ("coalesce(state, '(not recorded)')", msg("State as the release itself records it")),
    "county": ("coalesce(res_county_fips, '(unresolved)')", msg("County FIPS resolved from the landmark (places stage); '(unresolved)' otherwise")),
    "method_class": ("coalesce(method_class, '(not recorded)')", msg("custodial / at_large / other (codes/apprehension_methods.csv)")),
    "criminality": ("coalesce(criminality, 'unknown') || ' [' || coalesce(criminality_field, '?') || ']'",
                    msg("criminality class with the source field it comes from in brackets")),
    "apprehension_type": ("coalesce(apprehension_type, '(not recorded)')",
                          msg("targeted / collateral (arrests; ICE records it from August 2025, in the March 2026 release)")),
    "citizenship": ("coalesce(citizenship, '(blank)')", msg("Country of citizenship as written")),
    "gender": ("coalesce(gender, '(blank)')", msg("Gender as written")),
    "release": ("release_id", msg("Catalog id of the release")),
}
FILTERS = {"aor": "aor", "method_class": "method_class", "criminality": "criminality", "citizenship": "citizenship",
           "gender": "gender", "release": "release_id"}


def summary(
    con: duckdb.DuckDBPyConnection, table: str = "arrests", by: Sequence[str] | str | None = ("fy",),
    date_from: str | dt.date | None = None, date_to: str | dt.date | None = None, place: str | None = None,
    filters: dict[str, Sequence[str] | str | None] | None = None, ref: Any = None, placement: str = "event",
) -> AnalysisResult:
    """Counted events grouped by `by`; share of each group within its first-level group (or of the total).

    Where the records do not cover the period and place (or a filtered field), there is no count (None), never 0.
    """
    check_table(con, table)
    groups = split_list(by) or []
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise InputError(msg("Unknown grouping; choose from {choices}", choices=", ".join(GROUPS)), field="by",
                         value=unknown[0])
    if "county" in groups and not resolution_available(con):
        raise InputError(msg("County grouping needs the places stage's landmark_resolution table"), field="by",
                         value="county")
    if "apprehension_type" in groups and "apprehension_type" not in table_columns(con, table):
        raise InputError(msg("Table {table} has no apprehension type", table=table), field="by",
                         value="apprehension_type")
    applied: dict[str, list[str]] = {}
    for key, values in (filters or {}).items():
        vals = split_list(values)
        if not vals:
            continue
        if key not in FILTERS:
            raise InputError(msg("Unknown filter; choose from {choices}", choices=", ".join(FILTERS)), field=key,
                             value=vals)
        applied[key] = vals
    sel = Selection.of(table, date_from, date_to, place, applied, placement=placement)
    q = sel.compile(con, ref)
    cov = coverage(con, q)
    d0, d1 = sel.date_from, sel.date_to
    label = q.label if place else None
    rows: list[tuple] = []
    rolled = q
    placed = None
    if cov.countable:
        exprs = [f"{GROUPS[g][0]} AS \"{g}\"" for g in groups]
        mixed = bool(place) and placement_mix_applies(q)  # the placement mix read in the same scan
        rolled = q.rolled_up(con, *exprs, "release_id", *(["res_by"] if mixed else []),  # the count tables where
                             months=True)  # they answer (by week or day: the day tables)
        if mixed:
            rows, placed = _rows_and_placement(con, rolled, groups, exprs)
        else:
            select = ", ".join(exprs + [f"{rolled.count_sql} AS events",
                                        "list_sort(list_distinct(list(DISTINCT release_id))) AS releases"])
            group_sql = f"GROUP BY {', '.join(str(i + 1) for i in range(len(groups)))}" if groups else ""
            order_sql = f"ORDER BY {', '.join(str(i + 1) for i in range(len(groups)))}" if groups else ""
            rows = con.execute(f"SELECT {select} FROM {rolled.source} WHERE {q.where.sql()} {group_sql} {order_sql}",
                               q.where.params).fetchall()
        rows = [r for r in rows if r[len(groups)]]  # no groups: one row, empty when nothing matches
    total = sum(r[len(groups)] for r in rows) if cov.countable else None
    parent: dict[Any, int] = {}
    if len(groups) > 1:
        for r in rows:
            parent[r[0]] = parent.get(r[0], 0) + r[len(groups)]
    figures = []
    for r in rows:
        n = r[len(groups)]
        denom = parent[r[0]] if len(groups) > 1 else total
        lo, hi = wilson_interval(n, denom) if groups else (None, None)
        fig = {g: r[i] for i, g in enumerate(groups)}
        fig.update({"events": n, "share": (n / denom) if groups and denom else None, "share_low": lo,
                    "share_high": hi, "releases": list(r[len(groups) + 1])})
        figures.append(fig)
    releases = sorted({x for f in figures for x in f["releases"]})
    definitions = {g: GROUPS[g][1] for g in groups}
    definitions.update({
        "events": msg("Rows of table {table} with counted = true (the release with precedence for the table, AOR and "
                      "date)", table=table),
        "share": (msg("share of the row's events within its first grouping value") if len(groups) > 1
                  else msg("share of the row's events in the total")),
        "share_low/high": msg("Wilson score 95% interval of the share"),
        "placement": msg(vocabulary.placements()[placement]),
    })
    caveats = []
    if not cov.countable:
        caveats.append(cov.no_count_caveat())
    elif cov.status == "partial":
        caveats.append(msg("Partial: {reason}.", reason=cov.reason))
    if cov.countable and not figures:
        caveats.append(msg("The records cover this period and place, and no counted row matches these filters."))
    if "state" in groups and not resolution_available(con):
        caveats.append(msg("States come only from releases that record one; landmarks are not yet resolved to places."))
    if resolution_available(con) and {"state", "county"} & set(groups):
        caveats.append(msg("Events whose landmark could not be resolved are counted as '(unresolved)', not dropped."))
    if "criminality" in groups:
        caveats.append(msg("Criminality means different things per release; the bracket names the source field."))
    undecided = (unresolved_in_place(con, rolled.source, q.base, place, ref, rolled.count_sql,
                                     table if placement == "event" else None) if cov.countable else None)
    if undecided:
        caveats.append(msg("{text}.", text=undecided["text"]))
    office = _office_placements(con, q) if cov.countable else None
    if office:
        caveats.append(msg("{n:,} events of the same filters are placed in {place} only by the county of the "
                           "arresting office (office placements); they are not counted here (placement 'any' counts "
                           "them).", n=office, place=q.label))
    problems = problems_for(table, releases, d0, d1)
    caveats.extend(caveat(p) for p in problems)
    if placed:
        counts = {"place": label, "state": placed["recorded_state"], "landmark": placed["landmark"]}
        caveats.append(
            msg("Placed in {place}: {state:,} events by the state the release records, {landmark:,} by the landmark "
                "alone, {aor:,} by their AOR.", aor=placed["aor"], **counts) if placed.get("aor") else
            msg("Placed in {place}: {state:,} events by the state the release records, {landmark:,} by the landmark "
                "alone.", **counts))
    return AnalysisResult(
        name="summary",
        parameters={"table": table, "by": groups, "from": d0, "to": d1, "place": label, "filters": applied,
                    "placement": placement},
        columns=groups + ["events", "share", "share_low", "share_high", "releases"],
        figures=figures, definitions=definitions, releases=releases, caveats=caveats,
        extra={"total_events": total, "unresolved_in_place_aors": undecided, "office_placements": office,
               "placement": placed,
               "known_problems": as_records(problems)},
        coverage=cov.to_dict(),
    )


def _office_placements(con: duckdb.DuckDBPyConnection, q: Any) -> int | None:
    """q.office_placements (events of the place's AORs placed in its counties only by the arresting office's
    county), from analysis.rollups' month rollup where it answers (counted rows and a period, nothing else)."""
    p = q.place
    aors = tuple(a for a in p.aors if a not in p.filter_aors) if p is not None and p.level != "aor" else ()
    by = None
    if aors and q.selection.placement == "event":
        from icemonitor.analysis import rollups  # numpy: after start-up (web/app.py's warm-up)

        by = rollups.keyed_counts(con, q.selection.table, "office", q.base, aors)
    if by is None:
        return q.office_placements(con)
    fips = set(p.county_fips)
    return sum(n for (_, office), (n, _) in by.items() if office in fips)


def _rows_and_placement(con: duckdb.DuckDBPyConnection, rolled: Any, groups: list[str], exprs: list[str]
                        ) -> tuple[list[tuple], dict[str, int]]:
    """summary's rows (the groups, events, releases; ordered by the groups) and the placement mix of the same
    events ({'recorded_state': n, 'landmark': n, 'aor': n}: event_source's res_by) from one scan: the rows grouped
    once by the groups, how they were placed and release, then summed both ways here."""
    w = rolled.where
    cur = con.execute(f"SELECT {', '.join(exprs + ['res_by', 'release_id'])}, {rolled.count_sql} AS events "
                      f"FROM {rolled.source} WHERE {w.sql()} GROUP BY ALL", w.params)
    width = len(groups)
    summed: dict[tuple, list] = {}
    placed = {"recorded_state": 0, "landmark": 0}
    for r in cur.fetchall():
        n = r[-1]
        acc = summed.setdefault(r[:width], [0, set()])
        acc[0] += n
        acc[1].add(r[width + 1])
        how = r[width] or "aor"
        placed[how] = placed.get(how, 0) + n
    rows = [(*key, n, sorted(x for x in rel if x is not None))  # ORDER BY the groups, NULLS LAST
            for key, (n, rel) in sorted(summed.items(), key=lambda kv: tuple((v is None, v) for v in kv[0]))]
    return rows, placed


def event_span(con: duckdb.DuckDBPyConnection, table: str = "arrests", place: str | None = None,
               ref: Any = None) -> AnalysisResult:
    """The first and last day with counted events in the place, whichever release holds them (one row {first,
    last, events}; first and last None where the place has no counted event). The place is read and its events
    placed as `summary --place` does (query.selection, placement 'event')."""
    check_table(con, table)
    q = Selection.of(table, place=place).compile(con, ref)
    r = q.rolled_up(con, "event_date", "release_id")  # the build's event_days where it serves
    first, last, n, rels = con.execute(
        f"SELECT min(event_date), max(event_date), {r.count_sql}, list_sort(list_distinct(list(release_id))) "
        f"FROM {r.source} WHERE {q.where.sql()}", q.where.params).fetchone()
    releases = [x for x in rels or [] if x]
    return AnalysisResult(
        name="event_span", parameters={"table": table, "place": q.label if place else None},
        columns=["first", "last", "events"], figures=[{"first": first, "last": last, "events": int(n or 0)}],
        definitions={"first/last": msg("First and last event_date of the place's counted {table} rows, any release",
                                       table=table),
                     "events": msg("Rows of table {table} with counted = true (the release with precedence for the "
                                   "table, AOR and date)", table=table)},
        releases=releases, coverage=coverage(con, q).to_dict())
