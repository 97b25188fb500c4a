"""Claims about how many people ICE held on a day (`table: detained` in a claims file), checked against the same
figures as `icemonitor detention held` (analysis/detention.held_on), under a stated definition:

- currently_detained: the people ICE's own posting states as currently detained on that date (a snapshot);
- held_during_day / held_at_midnight: the sum over facilities of DDP's facility daily population (from ICE's
  individual records) for that day.
A claim may name one definition (`filters: {definition: ...}`); without one it is checked under every definition
that has a figure for the day, and the verdict says when they disagree. A day without a figure under a definition
(no posting states that date; outside the records) is not checkable under it: no figure is not zero.
Counts are exact totals, so the default tolerance is 0 (a claim file may give one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import duckdb

from icemonitor.analysis import detention
from icemonitor.analysis.common import has_table
from icemonitor.messages import msg, to_date
from icemonitor.query import vocabulary
from icemonitor.query.coverage import semicolons

Verdict = Callable[[Any, float], tuple[str, float, float, str]]  # claims._verdict: (claim, observed) -> ...

TABLE = "detained"
DEFINITIONS = ("currently_detained", "held_during_day", "held_at_midnight")
SOURCES = {"currently_detained": msg("ICE's detention-statistics posting stating that date (detention_snapshots)"),
           "held_during_day": msg("DDP facility daily population, summed over facilities (detention_facility_days)"),
           "held_at_midnight": msg("DDP facility daily population, summed over facilities (detention_facility_days)")}


def _measures(con: duckdb.DuckDBPyConnection, day: dt.date) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    """definition -> {count, source_file, ...} for the figures that count that very day; definition -> why not."""
    found, missing, nearest = {}, {}, []
    for f in detention.held_on(con, day).figures:
        if f["source"] == "ddp_records":
            for m in ("held_during_day", "held_at_midnight"):
                found[m] = {"count": f[m], "date": day.isoformat(), "source_file": f["source_file"],
                            "release_id": f["release_id"], "facilities": f["facilities"]}
        elif f["date"] == day.isoformat():
            found["currently_detained"] = {"count": f["people"], "date": f["date"], "source_file": f["source_file"],
                                           "sheet": f["source_sheet"], "cell": f["cell"], "release_id": f["release_id"]}
        else:
            nearest.append(msg("{n:,} stated for {day} ({file})", n=f["people"], day=to_date(f["date"]),
                               file=f["source_file"]))
    (first, last) = con.execute("SELECT min(date), max(date) FROM detention_facility_days").fetchone()
    for m in ("held_during_day", "held_at_midnight"):
        if m not in found:
            missing[m] = msg("DDP's facility records cover {first} to {last}; {day} is outside (no figure, not zero)",
                             first=first, last=last, day=day)
    if "currently_detained" not in found:
        missing["currently_detained"] = (
            msg("no ICE posting states a currently-detained figure for {day} (nearest: {nearest})", day=day,
                nearest=semicolons(nearest)) if nearest else
            msg("no ICE posting states a currently-detained figure for {day}", day=day))
    return found, missing


def check_detained(con: duckdb.DuckDBPyConnection, claim: Any, row: dict[str, Any], verdict_of: Verdict,
                   comparisons: dict[str, str]) -> dict[str, Any]:
    """A claim (claims.Claim) of people held on one day: observed value, verdict and definition(s) used, as the
    row of claims.check_claim; `verdict_of` and `comparisons` are the claims module's own (one rule for every
    claim)."""
    wanted = claim.filters.get("definition")
    unknown = set(claim.filters) - {"definition"}
    if not has_table(con, "detention_snapshots") or not has_table(con, "detention_facility_days"):
        return {**row, "verdict": "not checkable", "reason": msg("no detention tables in this warehouse")}
    if claim.metric != "count" or unknown or (wanted is not None and wanted not in DEFINITIONS):
        return {**row, "verdict": "not checkable",
                "reason": msg("a `{table}` claim is a count with at most the filter `definition` ({names})",
                              table=TABLE, names=" | ".join(DEFINITIONS))}
    if claim.period.from_ != claim.period.to:
        return {**row, "verdict": "not checkable", "reason": msg("a claim of people held is about one day: give "
                                                                 "the period with from = to")}
    if not vocabulary.is_nation(claim.place):
        return {**row, "verdict": "not checkable",
                "reason": msg("claims of people held are checked nationally only (place US)")}
    day = claim.period.from_
    found, missing = _measures(con, day)
    used = [wanted] if wanted else [m for m in DEFINITIONS if m in found]
    tol = claim if claim.tolerance is not None else claim.model_copy(update={"tolerance": 0.0,
                                                                             "tolerance_kind": "absolute"})
    measures = []
    for m in DEFINITIONS:
        if m in found:
            verdict, diff, slack, tol_text = verdict_of(tol, found[m]["count"])
            measures.append({"definition": m, **found[m], "verdict": verdict, "difference": diff,
                             "source": SOURCES[m], "definition_text": detention.definitions()[m]})
        else:
            measures.append({"definition": m, "count": None, "verdict": "not checkable", "reason": missing[m],
                             "source": SOURCES[m], "definition_text": detention.definitions()[m]})
    chosen = [x for x in measures if x["definition"] in used and x["count"] is not None]
    row.update(measures=measures, place=vocabulary.nation_label(), releases=sorted({x["release_id"] for x in chosen}),
               coverage={"status": "full" if chosen else "none",
                         "covered": [x["definition"] for x in measures if x["count"] is not None],
                         "not_covered": {m: r for m, r in missing.items()}})
    if not chosen:
        why = semicolons([msg("{name}: {why}", name=m, why=missing[m]) for m in (used or missing)])
        row.update(verdict="not checkable", reason=msg("not checkable: {why}", why=why))
        return row
    verdicts = {x["verdict"] for x in chosen}
    slack = verdict_of(tol, chosen[0]["count"])[2]
    detail = semicolons([msg("{name} {n:,} ({verdict})", name=x["definition"], n=x["count"],
                              verdict=x["verdict"]) for x in chosen])
    head = comparisons[claim.comparison]
    if len(verdicts) == 1:
        verdict = verdicts.pop()
        reason = (msg("holds: {comparison} under {detail}", comparison=head, detail=detail) if verdict == "consistent"
                  else msg("fails: {comparison} under {detail}", comparison=head, detail=detail))
    else:
        verdict = "depends on definition"
        reason = msg("depends on the definition: {detail}", detail=detail)
    if not wanted and missing:
        others = [msg("{name} ({why})", name=m, why=r) for m, r in missing.items()]
        reason = msg("{reason}; not checkable under {others}", reason=reason, others=semicolons(others))
    first = chosen[0]
    row.update(observed=first["count"], difference=first["difference"], verdict=verdict, tolerance=slack,
               reason=reason, definition=semicolons([msg("{name}: {text}", name=x["definition"], text=x["definition_text"])
                                                      for x in chosen]),
               sql="analysis/detention.held_on", parameters=[day.isoformat()])
    return row
