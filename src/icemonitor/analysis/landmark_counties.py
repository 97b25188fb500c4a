"""How a place's counted events are placed in counties by their landmark (the report's county breakdown): in the
county where the arrest happened, only by the arresting office's county, in a state only, or not at all. Counts
the rows `summary --place` counts (query.selection, placement 'event'); for a county, state or group the office
placements in it are not among them and are counted apart (Compiled.office_placements)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from icemonitor.analysis.common import check_table, resolution_available
from icemonitor.analysis.result import AnalysisResult
from icemonitor.messages import msg
from icemonitor.query.coverage import coverage
from icemonitor.query.selection import Selection

GROUPS = ("event", "office_proxy", "state", "unresolved")


def definitions() -> dict[str, Any]:
    return {
        "event": msg("arrests whose landmark names where the arrest happened (a jail, court, city or county); "
                     "landmark_resolution.level = 'county' and kind = 'event'"),
        "office_proxy": msg("arrests whose landmark only names the arresting office or team; the county is the "
                            "office's, not necessarily the place of arrest (kind = 'office_proxy')"),
        "state": msg("landmark resolved to a state only (level = 'state')"),
        "unresolved": msg("landmark resolved to the AOR only, blank, or not in landmark_resolution (level in ('aor', "
                          "'none') or no match)"),
        "office_placements": msg("events of the place's AORs placed in its counties only by the arresting office's "
                                 "county: not among the place's counted events, counted apart under office_proxy"),
    }


def landmark_counties(con: duckdb.DuckDBPyConnection, table: str = "arrests", place: str | None = None,
                      date_from: str | dt.date | None = None, date_to: str | dt.date | None = None,
                      ref: Any = None) -> AnalysisResult:
    """Counted events by how the landmark places them and county: figures {placed, county_fips, events,
    releases} (placed: event / office_proxy / state / unresolved; county_fips the event's county, or the office's
    for office_proxy), most first. extra: `groups` (events per kind of placement, office placements apart
    included), `office_placements` (counted apart, None where none are set apart), `available` (False without
    the places stage's landmark_resolution: no rows). Where the records do not cover the question: no rows and
    groups None, never zeros."""
    check_table(con, table)
    name, defs = "landmark_counties", definitions()
    q = Selection.of(table, date_from, date_to, place).compile(con, ref)
    params = {"table": table, "place": q.label if place else None, "from": q.selection.date_from,
              "to": q.selection.date_to}
    if not resolution_available(con):
        return AnalysisResult(name=name, parameters=params, definitions=defs, extra={"available": False},
                              caveats=[msg("County grouping needs the places stage's landmark_resolution table")])
    cov = coverage(con, q)
    if not cov.countable:
        return AnalysisResult(name=name, parameters=params, definitions=defs, caveats=[cov.no_count_caveat()],
                              extra={"available": True, "groups": None, "office_placements": None},
                              coverage=cov.to_dict())
    found = con.execute(
        "SELECT CASE WHEN res_level = 'county' THEN coalesce(res_kind, 'event') ELSE coalesce(res_level, "
        "'unmatched') END AS placed, coalesce(res_county_fips, office_county_fips) AS county_fips, count(*) AS n, "
        f"list_sort(list_distinct(list(DISTINCT release_id))) FROM {q.source} WHERE {q.where.sql()} "
        "GROUP BY 1, 2 ORDER BY 3 DESC, 2", q.where.params).fetchall()
    figures = [{"placed": p if p in GROUPS else "unresolved", "county_fips": fips, "events": n,
                "releases": [r for r in rels or [] if r]} for p, fips, n, rels in found]
    office = q.office_placements(con)
    groups = dict.fromkeys(GROUPS, 0)
    for f in figures:
        groups[f["placed"]] += f["events"]
    groups["office_proxy"] += office or 0
    caveats = [msg("Partial: {reason}.", reason=cov.reason)] if cov.status == "partial" else []
    return AnalysisResult(
        name=name, parameters=params, columns=["placed", "county_fips", "events", "releases"], figures=figures,
        definitions=defs, releases=sorted({r for f in figures for r in f["releases"]}), caveats=caveats,
        extra={"available": True, "groups": groups, "office_placements": office}, coverage=cov.to_dict())
