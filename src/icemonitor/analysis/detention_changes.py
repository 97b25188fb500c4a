"""What changed in the detention records, as the detention watches ask it: the postings read (each with the people
ICE states as detained on its date and ICE's errors in it), the newest stated date, ICE's staleness errors, the days
a facility's population rose past a threshold, and how far a facility's daily records reach.

One computation for the watches and the CLI: a posting's figure is `icemonitor detention now --as-of` its date's,
a facility's day is `icemonitor detention facilities --date` that day's. Each returns an AnalysisResult."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import duckdb

from icemonitor.analysis.common import has_table
from icemonitor.analysis.detention import (
    DDP_RELEASE,
    NO_WAREHOUSE_TABLES,
    _rows,
    definitions,
    evidence_of,
    has_evidence_messages,
)
from icemonitor.analysis.result import AnalysisResult
from icemonitor.messages import msg

WATCH_TABLES = ("detention_postings", "detention_exclusions", "detention_facility_days")
STALENESS = ("unchanged_table", "stated_date_older", "stale_sheet")  # ICE's errors that make a posting stale


def has_watch_tables(con: duckdb.DuckDBPyConnection) -> bool:
    """The warehouse holds the tables these figures read (a build without the detention releases has none)."""
    return all(has_table(con, t) for t in WATCH_TABLES)


def postings(con: duckdb.DuckDBPyConnection, date_from: dt.date | None = None,
             date_to: dt.date | None = None) -> AnalysisResult:
    """Every detention-statistics posting (optionally those stating a date in [date_from, date_to]) in posting
    order: its file, ICE's file name, stated date, status (read / unreadable), the people ICE states as currently
    detained on that date (None where no figure was read, never 0) and ICE's known errors in it (reason codes;
    revised single values left out)."""
    params = {"from": date_from, "to": date_to}
    if not has_watch_tables(con):
        return AnalysisResult(name="detention_postings", parameters=params, caveats=[NO_WAREHOUSE_TABLES])
    figures = _rows(con, "SELECT p.source_file, p.ice_file_name, p.stated_as_of, p.status, p.posting_order, "
                         "p.release_id, s.value::BIGINT AS detained, coalesce(e.errors, []) AS errors "
                         "FROM detention_postings p LEFT JOIN detention_snapshots s ON s.as_of = p.stated_as_of "
                         "AND s.agency = 'total' AND s.criminality = 'total' LEFT JOIN (SELECT source_file, "
                         "list(DISTINCT reason ORDER BY reason) AS errors FROM detention_exclusions WHERE reason <> "
                         "'value_revised' GROUP BY 1) e ON e.source_file = p.source_file "
                         "WHERE (? IS NULL OR p.stated_as_of >= ?) AND (? IS NULL OR p.stated_as_of <= ?) "
                         "ORDER BY p.posting_order",
                    [date_from, date_from, date_to, date_to])
    return AnalysisResult(
        name="detention_postings", parameters=params,
        columns=["source_file", "ice_file_name", "stated_as_of", "status", "posting_order", "release_id", "detained",
                 "errors"],
        figures=figures, definitions={"detained": definitions()["currently_detained"]},
        releases=[f["release_id"] for f in figures if f["release_id"]])


def newest_posting(con: duckdb.DuckDBPyConnection) -> AnalysisResult:
    """The read posting with the newest stated date (one figure; none without such a posting)."""
    figures = [] if not has_watch_tables(con) else _rows(
        con, "SELECT source_file, ice_file_name, stated_as_of, release_id FROM detention_postings WHERE status = "
             "'read' AND stated_as_of IS NOT NULL ORDER BY posting_order DESC LIMIT 1", [])
    return AnalysisResult(name="detention_newest_posting", figures=figures,
                          definitions={"stated_as_of": definitions()["currently_detained"]},
                          releases=[f["release_id"] for f in figures])


def staleness_errors(con: duckdb.DuckDBPyConnection, files: Iterable[str]) -> AnalysisResult:
    """ICE's staleness errors (STALENESS) in the postings named by `files`: one row per posting and reason, with
    the tables or sheets concerned and the evidence (messages: dates said in the reader's language; their str is
    the English text), in posting order."""
    wanted = sorted(set(files))
    if not wanted or not has_watch_tables(con):
        return AnalysisResult(name="detention_staleness", parameters={"files": wanted})
    marks = ", ".join("?" for _ in STALENESS)
    kept = "e.evidence_message" if has_evidence_messages(con) else "NULL::VARCHAR"
    figures = _rows(
        con, "SELECT p.source_file, any_value(p.ice_file_name) AS ice_file_name, any_value(p.stated_as_of) AS "
             "stated_as_of, any_value(p.release_id) AS release_id, e.reason, list(DISTINCT coalesce(e.table_key, "
             "e.source_sheet, '') ORDER BY coalesce(e.table_key, e.source_sheet, '')) AS parts, list(e.evidence "
             f"ORDER BY e.evidence) AS evidence, list({kept} ORDER BY e.evidence) AS messages FROM "
             "detention_exclusions e JOIN detention_postings p USING "
             f"(source_file) WHERE e.reason IN ({marks}) AND list_contains(?, p.source_file) "
             "GROUP BY p.source_file, e.reason ORDER BY any_value(p.posting_order), e.reason", [*STALENESS, wanted])
    for f in figures:  # the evidence said in the reader's language (its English text stays the str value)
        f["evidence"] = [evidence_of(t, m) for t, m in zip(f["evidence"], f.pop("messages"), strict=True)]
    return AnalysisResult(name="detention_staleness", parameters={"files": wanted},
                          columns=["source_file", "ice_file_name", "stated_as_of", "release_id", "reason", "parts",
                                   "evidence"], figures=figures,
                          definitions={"reason": msg("ICE's errors that make a posting stale: tables repeated "
                                                     "unchanged under a newer date, a stated date older than the "
                                                     "previous posting's, a stale sheet (detention_exclusions)")},
                          releases=[f["release_id"] for f in figures if f["release_id"]])


def facility_days(con: duckdb.DuckDBPyConnection, facility_code: str | None = None) -> AnalysisResult:
    """How far DDP's facility daily population reaches (of one facility): extra `first`, `last` (None without
    records) and the records' `name` of the facility (None: no such code)."""
    params = {"facility_code": facility_code}
    extra: dict[str, Any] = {"first": None, "last": None, "name": None}
    if has_watch_tables(con):
        row = _rows(con, "SELECT min(date) AS first, max(date) AS last, any_value(detention_facility) AS name "
                         "FROM detention_facility_days WHERE ? IS NULL OR detention_facility_code = ?",
                    [facility_code, facility_code])[0]
        extra |= row
    return AnalysisResult(name="detention_facility_days", parameters=params,
                          definitions={"held_during_day": definitions()["held_during_day"]},
                          releases=[DDP_RELEASE] if extra["last"] else [], extra=extra,
                          coverage={"status": "full" if extra["last"] else "none", "from": extra["first"],
                                    "to": extra["last"], "releases": [DDP_RELEASE] if extra["last"] else []})


def facility_crossings(con: duckdb.DuckDBPyConnection, threshold: int, facility_code: str | None = None,
                       since: dt.date | None = None, until: dt.date | None = None) -> AnalysisResult:
    """Days on which a facility's people held during the day (DDP's facility daily population, summed over the
    facility's rows of the day) rose past `threshold`, the day before (a day of the records) at or below it;
    optionally one facility, days after `since` and up to `until`."""
    params = {"threshold": threshold, "facility_code": facility_code, "since": since, "until": until}
    figures = [] if not has_watch_tables(con) else _rows(
        con, "WITH d AS (SELECT detention_facility_code AS facility_code, any_value(detention_facility) AS name, date, "
             "sum(n_detained) AS held, any_value(release_id) AS release_id FROM detention_facility_days "
             "WHERE ? IS NULL OR detention_facility_code = ? GROUP BY 1, 3), "
             "x AS (SELECT *, lag(held) OVER (PARTITION BY facility_code ORDER BY date) AS before, "
             "lag(date) OVER (PARTITION BY facility_code ORDER BY date) AS day_before FROM d) "
             "SELECT facility_code, name, date, held, before, release_id FROM x WHERE held > ? AND before <= ? "
             "AND day_before = date - INTERVAL 1 DAY AND (? IS NULL OR date > ?) AND (? IS NULL OR date <= ?) "
             "ORDER BY date, facility_code",
        [facility_code, facility_code, threshold, threshold, since, since, until, until])
    return AnalysisResult(
        name="detention_facility_crossings", parameters=params,
        columns=["facility_code", "name", "date", "held", "before", "release_id"], figures=figures,
        definitions={"held": definitions()["held_during_day"],
                     "crossing": msg("A day on which the facility held more than the threshold, the day before at or "
                                     "below it")},
        releases=[f["release_id"] for f in figures if f["release_id"]])
