"""Outcomes within one release: arrest -> detention stay -> how the stay ended, as lower bounds.

DDP's linking rule: an arrest is linked to the same person's stay (same release: person identifiers are never
linked across releases) whose book-in is closest to the arrest, from 5 days before to 10 days after it. The stay's
release reason is the outcome ("Removed", "Bonded Out", ...); a stay without a book-out is "still detained" on the
release's last day, so every ended outcome is a lower bound that grows with later releases.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from icemonitor.analysis.common import check_table, counted_in_period, event_source, has_table, place_where
from icemonitor.analysis.result import AnalysisResult
from icemonitor.catalog.catalog import load_catalog
from icemonitor.catalog.problems import as_records, caveat, problems_for
from icemonitor.analysis.stats import wilson_interval
from icemonitor.messages import msg

DAYS_BEFORE, DAYS_AFTER = 5, 10
NO_STAY, DETAINED = "(no stay linked)", "(still detained)"


def _last_day(con: duckdb.DuckDBPyConnection, release_id: str) -> dt.date | None:
    """The release's last day: its catalog coverage, else the latest stay date it holds."""
    catalog = load_catalog()
    if release_id in {r.id for r in catalog.releases} and catalog.release(release_id).coverage:
        return catalog.release(release_id).coverage.to
    (last,) = con.execute("SELECT max(greatest(stay_book_in_at, coalesce(stay_book_out_at, stay_book_in_at))) "
                          "FROM detention_stays WHERE release_id = ?", [release_id]).fetchone()
    return last.date() if last else None


def outcomes(con: duckdb.DuckDBPyConnection, date_from: str | dt.date | None = None, date_to: str | dt.date | None = None,
             place: str | None = None, ref=None) -> AnalysisResult:
    """Counted arrests of releases that also hold detention stays, by how the linked stay ended."""
    check_table(con, "arrests")
    where, d0, d1 = counted_in_period(date_from, date_to)
    label = place_where(con, place, where, ref)
    if not has_table(con, "detention_stays"):
        releases_with_stays: list[str] = []
    else:
        releases_with_stays = [r[0] for r in con.execute("SELECT DISTINCT release_id FROM detention_stays").fetchall()]
    figures, last_days = [], {}
    if releases_with_stays:
        where.add(f"release_id IN ({', '.join('?' * len(releases_with_stays))})", *releases_with_stays)
        where.add("person_id IS NOT NULL")
        sql = f"""
        WITH a AS (SELECT release_id, source_file, source_row, person_id, event_date FROM {event_source(con, 'arrests')}
                   WHERE {where.sql()}),
        linked AS (
          SELECT a.release_id, s.stay_book_in_at, s.stay_book_out_at, s.stay_release_reason
          FROM a LEFT JOIN detention_stays s
            ON s.release_id = a.release_id AND s.person_id = a.person_id
           AND CAST(s.stay_book_in_at AS DATE) BETWEEN a.event_date - {DAYS_BEFORE} AND a.event_date + {DAYS_AFTER}
          QUALIFY row_number() OVER (
            PARTITION BY a.release_id, a.source_file, a.source_row
            ORDER BY abs(date_diff('day', a.event_date, CAST(s.stay_book_in_at AS DATE))), s.stay_book_in_at) = 1)
        SELECT release_id,
               CASE WHEN stay_book_in_at IS NULL THEN '{NO_STAY}' WHEN stay_book_out_at IS NULL THEN '{DETAINED}'
                    ELSE coalesce(stay_release_reason, '(blank)') END AS outcome,
               count(*) FROM linked GROUP BY ALL ORDER BY 1, 3 DESC"""
        rows = con.execute(sql, where.params).fetchall()
        totals: dict[str, int] = {}
        for rid, _, n in rows:
            totals[rid] = totals.get(rid, 0) + n
        for rid, outcome, n in rows:
            lo, hi = wilson_interval(n, totals[rid])
            figures.append({"release": rid, "outcome": outcome, "arrests": n, "share": n / totals[rid],
                            "share_low": lo, "share_high": hi})
        last_days = {rid: _last_day(con, rid) for rid in totals}
    days = [msg("{release}: {day}", release=r, day=d) for r, d in sorted(last_days.items())]
    caveats = [msg("Ended outcomes are lower bounds: stays still open on the release's last day ({days}) count as "
                   "'{detained}'.", days=days, detained=DETAINED)] if figures else [
        msg("No release in this warehouse holds both arrests and detention stays: outcomes cannot be linked (person "
            "identifiers are never linked across releases).")]
    # the figures are drawn from detention_stays: its documented problems (e.g. hospital stints omitted) are shown
    problems = problems_for("detention_stays", last_days, d0, d1)
    caveats.extend(caveat(p) for p in problems)
    return AnalysisResult(
        name="outcomes",
        parameters={"from": d0, "to": d1, "place": label},
        columns=["release", "outcome", "arrests", "share", "share_low", "share_high"],
        figures=figures,
        definitions={
            "outcome": msg("release reason of the same person's detention stay, in the same release, whose book-in "
                           "is closest to the arrest within {before} days before to {after} days after it "
                           "(Deportation Data Project's rule); '(no stay linked)' where none is",
                           before=DAYS_BEFORE, after=DAYS_AFTER),
            "arrests": msg("counted arrests with a person identifier, of releases that also hold detention stays"),
            "share": msg("share of the release's linked-or-not arrests"),
            "share_low/high": msg("Wilson score 95% interval"),
        },
        releases=sorted(last_days), caveats=caveats, extra={"last_recorded_day": last_days,
                                                            "known_problems": as_records(problems)},
    )
