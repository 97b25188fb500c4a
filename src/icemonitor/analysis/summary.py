"""Summary: counted events per table, grouped and filtered, with shares and Wilson intervals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb

from icemonitor.analysis.common import (
    counted_in_period,
    check_table,
    event_source,
    place_where,
    placement_mix,
    resolution_available,
    split_list,
    table_columns,
    unresolved_in_place,
    Where,
)
from icemonitor.analysis.result import AnalysisResult
from icemonitor.catalog.problems import problems_for
from icemonitor.analysis.stats import wilson_interval
from icemonitor.errors import InputError

GROUPS: dict[str, tuple[str, str]] = {
    "fy": ("fy", "Federal fiscal year of event_date (1 Oct - 30 Sep)"),
    "month": ("strftime(event_date, '%Y-%m')", "Calendar month of event_date"),
    "week": ("strftime(date_trunc('week', event_date), '%Y-%m-%d')", "ISO week of event_date, labelled by its Monday"),
    "day": ("strftime(event_date, '%Y-%m-%d')", "event_date"),
    "aor": ("coalesce(aor, '(blank)')", "3-letter AOR code; '(blank)' where the release leaves it empty"),
    "state": ("coalesce(res_state, '(unresolved)')", "State recorded by the release or resolved from the landmark; '(unresolved)' otherwise"),
    "county": ("coalesce(res_county_fips, '(unresolved)')", "County FIPS resolved from the landmark (places stage); '(unresolved)' otherwise"),
    "method_class": ("coalesce(method_class, '(not recorded)')", "custodial / at_large / other (codes/apprehension_methods.csv)"),
    "criminality": ("coalesce(criminality, 'unknown') || ' [' || coalesce(criminality_field, '?') || ']'",
                    "criminality class with the source field it comes from in brackets"),
    "apprehension_type": ("coalesce(apprehension_type, '(not recorded)')",
                          "targeted / collateral (arrests; ICE records it from August 2025, in the March 2026 release)"),
    "citizenship": ("coalesce(citizenship, '(blank)')", "Country of citizenship as written"),
    "gender": ("coalesce(gender, '(blank)')", "Gender as written"),
    "release": ("release_id", "Catalog id of the release"),
}
FILTERS = {"aor": "aor", "method_class": "method_class", "criminality": "criminality", "citizenship": "citizenship",
           "gender": "gender", "release": "release_id"}


def summary(
    con: duckdb.DuckDBPyConnection, table: str = "arrests", by: Sequence[str] | str | None = ("fy",),
    date_from: str | dt.date | None = None, date_to: str | dt.date | None = None, place: str | None = None,
    filters: dict[str, Sequence[str] | str | None] | None = None, ref: Any = None,
) -> AnalysisResult:
    """Counted events grouped by `by`; share of each group within its first-level group (or of the total)."""
    check_table(con, table)
    groups = split_list(by) or []
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise InputError(f"Unknown grouping; choose from {', '.join(GROUPS)}", field="by", value=unknown[0])
    if "county" in groups and not resolution_available(con):
        raise InputError("County grouping needs the places stage's landmark_resolution table", field="by", value="county")
    cols = table_columns(con, table)
    if "apprehension_type" in groups and "apprehension_type" not in cols:
        raise InputError(f"Table {table} has no apprehension type", field="by", value="apprehension_type")
    source = event_source(con, table)
    where, d0, d1 = counted_in_period(date_from, date_to)
    base = Where(list(where.parts), list(where.params))  # the same filters without the place
    label = place_where(con, place, where, ref)
    applied: dict[str, list[str]] = {}
    for key, values in (filters or {}).items():
        vals = split_list(values)
        if not vals:
            continue
        if key not in FILTERS:
            raise InputError(f"Unknown filter; choose from {', '.join(FILTERS)}", field=key, value=vals)
        col = FILTERS[key]
        if col not in cols and col != "release_id":
            raise InputError(f"Table {table} has no column {col}", field=key, value=vals)
        where.add(f"{col} IN ({', '.join('?' * len(vals))})", *vals)
        base.add(f"{col} IN ({', '.join('?' * len(vals))})", *vals)
        applied[key] = vals
    exprs = [f"{GROUPS[g][0]} AS \"{g}\"" for g in groups]
    select = ", ".join(exprs + ["count(*) AS events", "list_sort(list_distinct(list(release_id))) AS releases"])
    group_sql = f"GROUP BY {', '.join(str(i + 1) for i in range(len(groups)))}" if groups else ""
    order_sql = f"ORDER BY {', '.join(str(i + 1) for i in range(len(groups)))}" if groups else ""
    rows = con.execute(f"SELECT {select} FROM {source} WHERE {where.sql()} {group_sql} {order_sql}", where.params).fetchall()
    total = sum(r[len(groups)] for r in rows)
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
        "events": f"Rows of table {table} with counted = true (the release with precedence for the table, AOR and date)",
        "share": ("share of the row's events within its first grouping value" if len(groups) > 1
                  else "share of the row's events in the total"),
        "share_low/high": "Wilson score 95% interval of the share",
    })
    caveats = []
    if not figures:
        caveats.append("No counted rows match these filters (no release with precedence covers them).")
    if "state" in groups and not resolution_available(con):
        caveats.append("States come only from releases that record one; landmarks are not yet resolved to places.")
    if resolution_available(con) and {"state", "county"} & set(groups):
        caveats.append("Events whose landmark could not be resolved are counted as '(unresolved)', not dropped.")
    if "criminality" in groups:
        caveats.append("Criminality means different things per release; the bracket names the source field.")
    undecided = unresolved_in_place(con, source, base, place, ref)
    if undecided:
        caveats.append(undecided["text"] + ".")
    problems = problems_for(table, releases, d0, d1)
    caveats.extend(f"Known problem in {p.release_id}: {p.problem_en} (source: {p.source})" for p in problems)
    placed = placement_mix(con, source, where, place)
    if placed:
        caveats.append(f"Placed in {label}: {placed['recorded_state']:,} events by the state the release records, "
                       f"{placed['landmark']:,} by the landmark alone"
                       + (f", {placed['aor']:,} by their AOR" if placed.get("aor") else "") + ".")
    return AnalysisResult(
        name="summary",
        parameters={"table": table, "by": groups, "from": d0, "to": d1, "place": label, "filters": applied},
        columns=groups + ["events", "share", "share_low", "share_high", "releases"],
        figures=figures, definitions=definitions, releases=releases, caveats=caveats,
        extra={"total_events": total, "unresolved_in_place_aors": undecided, "placement": placed,
               "known_problems": [{"release_id": p.release_id, "en": p.problem_en, "es": p.problem_es,
                                   "source": p.source} for p in problems]},
    )
