"""What a detention watch looks for in the warehouse, each finding with its definition and releases:

- detention-posting: a detention-statistics posting not seen before (its stated date, the people detained then,
  the change since the date stated before, and ICE's known errors in it).
- facility-threshold: a facility whose people held during a day rose past a threshold (the day before it was at
  or below it), from DDP's facility daily population; one finding per facility and crossing day.
- stale-posting: ICE's newest stated date is more than `max_age_days` old (ICE posts about twice a month; one
  finding per newest stated date), or a posting carries one of ICE's staleness errors (detention_exclusions):
  tables repeated unchanged under a newer date, a stated date older than the previous posting's, a stale sheet.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from icemonitor.watch.findings import Finding

KINDS = ("detention-posting", "facility-threshold", "stale-posting")
STALE_AFTER_DAYS = 21

DEFINITIONS = {
    "detention-posting": "A detention-statistics posting (release file) of ICE's not among those already seen.",
    "facility-threshold": "People held during the day at a facility (DDP facility daily population, from ICE's "
                          "records) above the threshold, the day before at or below it.",
    "stale-posting": f"ICE's newest stated date older than {STALE_AFTER_DAYS} days (or the watch's own limit), or a "
                     "posting whose tables repeat an earlier posting's unchanged under a newer date, whose stated date "
                     "is older than the previous posting's, or which carries a stale sheet (detention_exclusions).",
}
# ICE's errors that make a posting stale, with what the alert says of each
STALE_REASONS = {
    "unchanged_table": "repeats unchanged tables of an earlier posting under a newer date",
    "stated_date_older": "states a date older than the previous posting's",
    "stale_sheet": "carries a stale sheet of an earlier year",
}


def new_postings(con: duckdb.DuckDBPyConnection, watch_id: int, seen: set[str]) -> list[Finding]:
    """One finding per posting read into the warehouse that is not in `seen` (file names)."""
    rows = con.execute(
        "SELECT p.source_file, p.ice_file_name, p.stated_as_of, p.release_id, s.value::BIGINT AS detained "
        "FROM detention_postings p LEFT JOIN detention_snapshots s ON s.as_of = p.stated_as_of "
        "AND s.agency = 'total' AND s.criminality = 'total' WHERE p.status = 'read' ORDER BY p.posting_order"
    ).fetchall()
    out = []
    for file, ice_name, as_of, release, detained in rows:
        if file in seen:
            continue
        errors = [r[0] for r in con.execute(
            "SELECT DISTINCT reason FROM detention_exclusions WHERE source_file = ? AND reason <> 'value_revised' "
            "ORDER BY 1", [file]).fetchall()]
        body = (f"ICE posted {ice_name}, stating {as_of or 'no date'}: "
                + (f"{detained:,} people detained." if detained is not None else "no currently-detained figure read.")
                + (f" Known errors: {', '.join(errors)}." if errors else ""))
        out.append(Finding(watch_id, "detention-posting", "US", str(as_of or file), f"New ICE detention posting: "
                           f"{ice_name}", body, {"source_file": file, "stated_as_of": as_of, "detained": detained,
                                                 "errors": errors, "releases": [release],
                                                 "definition": DEFINITIONS["detention-posting"]}))
    return out


def facility_threshold(con: duckdb.DuckDBPyConnection, watch_id: int, threshold: int, *,
                       facility_code: str | None = None, since: dt.date | None = None,
                       until: dt.date | None = None) -> list[Finding]:
    """Days on which a facility's people held during the day rose past `threshold` (optionally one facility,
    optionally only days after `since` and up to `until`)."""
    rows = con.execute(
        "WITH d AS (SELECT detention_facility_code AS code, any_value(detention_facility) AS name, date, "
        "sum(n_detained) AS held, any_value(release_id) AS release_id FROM detention_facility_days "
        "WHERE ? IS NULL OR detention_facility_code = ? GROUP BY 1, 3), "
        "x AS (SELECT *, lag(held) OVER (PARTITION BY code ORDER BY date) AS before, "
        "lag(date) OVER (PARTITION BY code ORDER BY date) AS day_before FROM d) "
        "SELECT code, name, date, held, before, release_id FROM x WHERE held > ? AND before <= ? "
        "AND day_before = date - INTERVAL 1 DAY AND (? IS NULL OR date > ?) AND (? IS NULL OR date <= ?) "
        "ORDER BY date, code",
        [facility_code, facility_code, threshold, threshold, since, since, until, until]).fetchall()
    return [Finding(watch_id, "facility-threshold", code, str(day), f"{name} held more than {threshold:,} people",
                    f"{name} ({code}) held {held:,} people during {day} (the day before: {before:,}); threshold "
                    f"{threshold:,}.", {"facility_code": code, "date": day, "held": held, "before": before,
                                        "threshold": threshold, "releases": [release],
                                        "definition": DEFINITIONS["facility-threshold"]})
            for code, name, day, held, before, release in rows]


def stale_posting(con: duckdb.DuckDBPyConnection, watch_id: int, today: dt.date,
                  max_age_days: int = STALE_AFTER_DAYS, files: set[str] | None = None) -> list[Finding]:
    """The newest stated date too old on `today`; and ICE's staleness errors in the postings named by `files`
    (default: the newest posting)."""
    newest = con.execute("SELECT source_file, ice_file_name, stated_as_of, release_id FROM detention_postings "
                         "WHERE status = 'read' AND stated_as_of IS NOT NULL ORDER BY posting_order DESC LIMIT 1"
                         ).fetchone()
    if newest is None:
        return []
    file, ice_name, as_of, release = newest
    out = []
    age = (today - as_of).days
    if age > max_age_days:
        out.append(Finding(watch_id, "stale-posting", "US", f"{as_of}/late", "No new ICE detention posting",
                           f"The newest posting ({ice_name}) states {as_of}, {age} days before {today}; ICE posts "
                           f"about twice a month.", {"source_file": file, "stated_as_of": as_of, "age_days": age,
                                                    "max_age_days": max_age_days, "releases": [release],
                                                    "definition": DEFINITIONS["stale-posting"]}))
    return out + posting_errors(con, watch_id, {file} if files is None else files)


def posting_errors(con: duckdb.DuckDBPyConnection, watch_id: int, files: set[str]) -> list[Finding]:
    """One finding per posting in `files` and kind of staleness error ICE made in it, with the evidence."""
    if not files:
        return []
    marks = ", ".join("?" for _ in STALE_REASONS)
    rows = con.execute(
        "SELECT p.source_file, any_value(p.ice_file_name), any_value(p.stated_as_of), any_value(p.release_id), "
        "e.reason, list(DISTINCT coalesce(e.table_key, e.source_sheet, '') ORDER BY coalesce(e.table_key, "
        "e.source_sheet, '')), list(e.evidence ORDER BY e.evidence) FROM detention_exclusions e JOIN "
        f"detention_postings p USING (source_file) WHERE e.reason IN ({marks}) GROUP BY p.source_file, e.reason "
        "ORDER BY any_value(p.posting_order), e.reason", list(STALE_REASONS)).fetchall()
    out = []
    for file, ice_name, as_of, release, reason, parts, evidence in rows:
        if file not in files:
            continue
        where = ", ".join(p for p in parts if p)
        out.append(Finding(watch_id, "stale-posting", "US", f"{as_of or file}/{reason}",
                           f"ICE detention posting {ice_name} {STALE_REASONS[reason]}",
                           f"{ice_name} (stating {as_of or 'no date'}) {STALE_REASONS[reason]}"
                           + (f": {where}." if where else ".") + f" Evidence: {evidence[0]}"
                           + (f" (and {len(evidence) - 1} more)" if len(evidence) > 1 else ""),
                           {"source_file": file, "stated_as_of": as_of, "reason": reason, "tables": [p for p in parts if p],
                            "evidence": evidence[:20], "releases": [release],
                            "definition": DEFINITIONS["stale-posting"]}))
    return out


def postings(con: duckdb.DuckDBPyConnection, date_from: dt.date | None = None,
             date_to: dt.date | None = None) -> set[str]:
    """Every posting read into the warehouse (optionally those stating a date in the period)."""
    if not has_detention(con):
        return set()
    return {r[0] for r in con.execute(
        "SELECT source_file FROM detention_postings WHERE (? IS NULL OR stated_as_of >= ?) "
        "AND (? IS NULL OR stated_as_of <= ?)", [date_from, date_from, date_to, date_to]).fetchall()}


def has_detention(con: duckdb.DuckDBPyConnection) -> bool:
    """The warehouse holds the detention tables (a build without the detention releases has none)."""
    return con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name IN "
                       "('detention_postings', 'detention_exclusions', 'detention_facility_days')").fetchone()[0] == 3


def last_facility_day(con: duckdb.DuckDBPyConnection, facility_code: str | None = None) -> dt.date | None:
    """The last day of DDP's facility daily population (of one facility)."""
    if not has_detention(con):
        return None
    return con.execute("SELECT max(date) FROM detention_facility_days WHERE ? IS NULL OR detention_facility_code = ?",
                       [facility_code, facility_code]).fetchone()[0]


def facility_name(con: duckdb.DuckDBPyConnection, facility_code: str) -> str | None:
    """The records' name of a facility code (None: no such code in DDP's facility daily population)."""
    if not has_detention(con):
        return None
    row = con.execute("SELECT any_value(detention_facility) FROM detention_facility_days "
                      "WHERE detention_facility_code = ?", [facility_code]).fetchone()
    return row[0] if row else None
