"""What a detention watch looks for in the warehouse, each finding with its definition and releases:

- detention-posting: a detention-statistics posting not seen before (its stated date, the people detained then,
  the change since the date stated before, and ICE's known errors in it).
- facility-threshold: a facility whose people held during a day rose past a threshold (the day before it was at
  or below it), from DDP's facility daily population; one finding per facility and crossing day.
- stale-posting: ICE's newest stated date is more than `max_age_days` old (ICE posts about twice a month; one
  finding per newest stated date), or a posting carries one of ICE's staleness errors (detention_exclusions):
  tables repeated unchanged under a newer date, a stated date older than the previous posting's, a stale sheet.
The figures come from analysis.detention_changes (a posting's people detained is `icemonitor detention now --as-of`
its date's; a crossing day's people held is `icemonitor detention facilities --date` that day's); this module only
words them.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from icemonitor.analysis import detention_changes as figures
from icemonitor.messages import Message, msg
from icemonitor.watch.findings import Finding

KINDS = ("detention-posting", "facility-threshold", "stale-posting")
STALE_AFTER_DAYS = 21

DEFINITIONS = {
    "detention-posting": msg("A detention-statistics posting (release file) of ICE's not among those already seen."),
    "facility-threshold": msg("People held during the day at a facility (DDP facility daily population, from ICE's "
                              "records) above the threshold, the day before at or below it."),
    "stale-posting": msg("ICE's newest stated date older than {days} days (or the watch's own limit), or a posting "
                         "whose tables repeat an earlier posting's unchanged under a newer date, whose stated date is "
                         "older than the previous posting's, or which carries a stale sheet (detention_exclusions).",
                         days=STALE_AFTER_DAYS),
}
# what the alert says of each of ICE's errors that make a posting stale; the codes are the analysis's
# (analysis.detention_changes.STALENESS): a code without words fails here, on import
_STALE_WORDS = {
    "unchanged_table": msg("repeats unchanged tables of an earlier posting under a newer date"),
    "stated_date_older": msg("states a date older than the previous posting's"),
    "stale_sheet": msg("carries a stale sheet of an earlier year"),
}
STALE_REASONS: dict[str, Message] = {code: _STALE_WORDS[code] for code in figures.STALENESS}
NO_DATE = msg("no date")


def _day(value: str | None) -> dt.date | None:
    """A date of an analysis's figures (ISO text) as a date, as the findings have always carried it."""
    return dt.date.fromisoformat(value) if value else None


def new_postings(con: duckdb.DuckDBPyConnection, watch_id: int, seen: set[str]) -> list[Finding]:
    """One finding per posting read into the warehouse that is not in `seen` (file names)."""
    out = []
    for p in figures.postings(con).figures:
        if p["status"] != "read" or p["source_file"] in seen:
            continue
        file, ice_name, as_of, detained, errors = (p["source_file"], p["ice_file_name"], _day(p["stated_as_of"]),
                                                   p["detained"], p["errors"])
        stated = msg("ICE posted {name}, stating {day}:", name=ice_name, day=as_of or NO_DATE)
        said = (msg("{n:,} people detained.", n=detained) if detained is not None
                else msg("no currently-detained figure read."))
        body = msg("{a} {b}", a=stated, b=said)
        if errors:
            body = msg("{a} {b}", a=body, b=msg("Known errors: {errors}.", errors=", ".join(errors)))
        out.append(Finding(watch_id, "detention-posting", "US", str(as_of or file),
                           msg("New ICE detention posting: {name}", name=ice_name), body,
                           {"source_file": file, "stated_as_of": as_of, "detained": detained, "errors": errors,
                            "releases": [p["release_id"]], "definition": DEFINITIONS["detention-posting"]}))
    return out


def facility_threshold(con: duckdb.DuckDBPyConnection, watch_id: int, threshold: int, *,
                       facility_code: str | None = None, since: dt.date | None = None,
                       until: dt.date | None = None) -> list[Finding]:
    """Days on which a facility's people held during the day rose past `threshold` (optionally one facility,
    optionally only days after `since` and up to `until`)."""
    rows = figures.facility_crossings(con, threshold, facility_code, since, until).figures
    return [Finding(watch_id, "facility-threshold", r["facility_code"], str(day),
                    msg("{name} held more than {threshold:,} people", name=r["name"], threshold=threshold),
                    msg("{name} ({code}) held {held:,} people during {day} (the day before: {before:,}); threshold "
                        "{threshold:,}.", name=r["name"], code=r["facility_code"], held=r["held"], day=day,
                        before=r["before"], threshold=threshold),
                    {"facility_code": r["facility_code"], "date": day, "held": r["held"], "before": r["before"],
                     "threshold": threshold, "releases": [r["release_id"]],
                     "definition": DEFINITIONS["facility-threshold"]})
            for r in rows if (day := _day(r["date"]))]


def stale_posting(con: duckdb.DuckDBPyConnection, watch_id: int, today: dt.date,
                  max_age_days: int = STALE_AFTER_DAYS, files: set[str] | None = None) -> list[Finding]:
    """The newest stated date too old on `today`; and ICE's staleness errors in the postings named by `files`
    (default: the newest posting)."""
    newest = figures.newest_posting(con).figures
    if not newest:
        return []
    file, ice_name, release = (newest[0][k] for k in ("source_file", "ice_file_name", "release_id"))
    as_of = _day(newest[0]["stated_as_of"])
    out = []
    age = (today - as_of).days
    if age > max_age_days:
        out.append(Finding(watch_id, "stale-posting", "US", f"{as_of}/late", msg("No new ICE detention posting"),
                           msg("The newest posting ({name}) states {day}, {age} days before {today}; ICE posts about "
                               "twice a month.", name=ice_name, day=as_of, age=age, today=today),
                           {"source_file": file, "stated_as_of": as_of, "age_days": age,
                            "max_age_days": max_age_days, "releases": [release],
                            "definition": DEFINITIONS["stale-posting"]}))
    return out + posting_errors(con, watch_id, {file} if files is None else files)


def posting_errors(con: duckdb.DuckDBPyConnection, watch_id: int, files: set[str]) -> list[Finding]:
    """One finding per posting in `files` and kind of staleness error ICE made in it, with the evidence."""
    out = []
    for r in figures.staleness_errors(con, files).figures:
        file, ice_name, as_of, reason, evidence = (r["source_file"], r["ice_file_name"], _day(r["stated_as_of"]),
                                                   r["reason"], r["evidence"])
        parts = [p for p in r["parts"] if p]
        where = ", ".join(parts)
        said = msg("{name} (stating {day}) {reason}", name=ice_name, day=as_of or NO_DATE,
                   reason=STALE_REASONS[reason])
        said = msg("{said}: {where}.", said=said, where=where) if where else msg("{said}.", said=said)
        shown = msg("Evidence: {evidence}", evidence=evidence[0])
        if len(evidence) > 1:
            shown = msg("{evidence} (and {n} more)", evidence=shown, n=len(evidence) - 1)
        out.append(Finding(watch_id, "stale-posting", "US", f"{as_of or file}/{reason}",
                           msg("ICE detention posting {name} {reason}", name=ice_name, reason=STALE_REASONS[reason]),
                           msg("{a} {b}", a=said, b=shown),
                           {"source_file": file, "stated_as_of": as_of, "reason": reason, "tables": parts,
                            "evidence": evidence[:20], "releases": [r["release_id"]],
                            "definition": DEFINITIONS["stale-posting"]}))
    return out


def postings(con: duckdb.DuckDBPyConnection, date_from: dt.date | None = None,
             date_to: dt.date | None = None) -> set[str]:
    """Every posting read into the warehouse (optionally those stating a date in the period)."""
    return {p["source_file"] for p in figures.postings(con, date_from, date_to).figures}


def has_detention(con: duckdb.DuckDBPyConnection) -> bool:
    """The warehouse holds the detention tables (a build without the detention releases has none)."""
    return figures.has_watch_tables(con)


def last_facility_day(con: duckdb.DuckDBPyConnection, facility_code: str | None = None) -> dt.date | None:
    """The last day of DDP's facility daily population (of one facility)."""
    return _day(figures.facility_days(con, facility_code).extra["last"])


def facility_name(con: duckdb.DuckDBPyConnection, facility_code: str) -> str | None:
    """The records' name of a facility code (None: no such code in DDP's facility daily population)."""
    return figures.facility_days(con, facility_code).extra["name"]
