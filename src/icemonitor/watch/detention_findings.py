"""What a detention watch looks for in the warehouse, each finding with its definition and releases:

- detention-posting: a detention-statistics posting not seen before (its stated date, the people detained then,
  the change since the date stated before, and ICE's known errors in it).
- facility-threshold: a facility whose people held during a day rose past a threshold (the day before it was at
  or below it), from DDP's facility daily population; one finding per facility and crossing day.
- stale-posting: ICE's newest stated date is more than `max_age_days` old (ICE posts about twice a month), or the
  newest posting repeats tables of an earlier one unchanged under a newer date (detention_exclusions).
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
    "stale-posting": f"ICE's newest stated date older than {STALE_AFTER_DAYS} days, or tables of the newest posting "
                     "identical to an earlier posting's under a newer date.",
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
                       facility_code: str | None = None, since: dt.date | None = None) -> list[Finding]:
    """Days on which a facility's people held during the day rose past `threshold` (optionally one facility,
    optionally only days after `since`)."""
    rows = con.execute(
        "WITH d AS (SELECT detention_facility_code AS code, any_value(detention_facility) AS name, date, "
        "sum(n_detained) AS held, any_value(release_id) AS release_id FROM detention_facility_days "
        "WHERE ? IS NULL OR detention_facility_code = ? GROUP BY 1, 3), "
        "x AS (SELECT *, lag(held) OVER (PARTITION BY code ORDER BY date) AS before, "
        "lag(date) OVER (PARTITION BY code ORDER BY date) AS day_before FROM d) "
        "SELECT code, name, date, held, before, release_id FROM x WHERE held > ? AND before <= ? "
        "AND day_before = date - INTERVAL 1 DAY AND (? IS NULL OR date > ?) ORDER BY date, code",
        [facility_code, facility_code, threshold, threshold, since, since]).fetchall()
    return [Finding(watch_id, "facility-threshold", code, str(day), f"{name} held more than {threshold:,} people",
                    f"{name} ({code}) held {held:,} people during {day} (the day before: {before:,}); threshold "
                    f"{threshold:,}.", {"facility_code": code, "date": day, "held": held, "before": before,
                                        "threshold": threshold, "releases": [release],
                                        "definition": DEFINITIONS["facility-threshold"]})
            for code, name, day, held, before, release in rows]


def stale_posting(con: duckdb.DuckDBPyConnection, watch_id: int, today: dt.date,
                  max_age_days: int = STALE_AFTER_DAYS) -> list[Finding]:
    """The newest stated date too old, or the newest posting's tables copied from an earlier one."""
    newest = con.execute("SELECT source_file, ice_file_name, stated_as_of, release_id FROM detention_postings "
                         "WHERE status = 'read' AND stated_as_of IS NOT NULL ORDER BY posting_order DESC LIMIT 1"
                         ).fetchone()
    if newest is None:
        return []
    file, ice_name, as_of, release = newest
    out = []
    age = (today - as_of).days
    if age > max_age_days:
        out.append(Finding(watch_id, "stale-posting", "US", f"{as_of}/{today}", "No new ICE detention posting",
                           f"The newest posting ({ice_name}) states {as_of}, {age} days before {today}; ICE posts "
                           f"about twice a month.", {"source_file": file, "stated_as_of": as_of, "age_days": age,
                                                    "releases": [release], "definition": DEFINITIONS["stale-posting"]}))
    copied = [r[0] for r in con.execute("SELECT DISTINCT table_key FROM detention_exclusions WHERE source_file = ? "
                                        "AND reason = 'unchanged_table' ORDER BY 1", [file]).fetchall()]
    if copied:
        out.append(Finding(watch_id, "stale-posting", "US", f"{as_of}/copied", "ICE posting repeats old tables",
                           f"{ice_name} (stating {as_of}) repeats unchanged tables of an earlier posting: "
                           f"{', '.join(copied)}.", {"source_file": file, "tables": copied, "releases": [release],
                                                     "definition": DEFINITIONS["stale-posting"]}))
    return out
