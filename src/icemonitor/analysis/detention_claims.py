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
from icemonitor.query import vocabulary

Verdict = Callable[[Any, float], tuple[str, float, float, str]]  # claims._verdict: (claim, observed) -> ...

TABLE = "detained"
DEFINITIONS = ("currently_detained", "held_during_day", "held_at_midnight")
SOURCES = {"currently_detained": "ICE's detention-statistics posting stating that date (detention_snapshots)",
           "held_during_day": "DDP facility daily population, summed over facilities (detention_facility_days)",
           "held_at_midnight": "DDP facility daily population, summed over facilities (detention_facility_days)"}


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
            nearest.append(f"{f['people']:,} stated for {f['date']} ({f['source_file']})")
    (first, last) = con.execute("SELECT min(date), max(date) FROM detention_facility_days").fetchone()
    for m in ("held_during_day", "held_at_midnight"):
        if m not in found:
            missing[m] = f"DDP's facility records cover {first} to {last}; {day} is outside (no figure, not zero)"
    if "currently_detained" not in found:
        missing["currently_detained"] = f"no ICE posting states a currently-detained figure for {day}" + (
            f" (nearest: {'; '.join(nearest)})" if nearest else "")
    return found, missing


def check_detained(con: duckdb.DuckDBPyConnection, claim: Any, row: dict[str, Any], verdict_of: Verdict,
                   comparisons: dict[str, str]) -> dict[str, Any]:
    """A claim (claims.Claim) of people held on one day: observed value, verdict and definition(s) used, as the
    row of claims.check_claim; `verdict_of` and `comparisons` are the claims module's own (one rule for every
    claim)."""
    wanted = claim.filters.get("definition")
    unknown = set(claim.filters) - {"definition"}
    if not has_table(con, "detention_snapshots") or not has_table(con, "detention_facility_days"):
        return {**row, "verdict": "not checkable", "reason": "no detention tables in this warehouse"}
    if claim.metric != "count" or unknown or (wanted is not None and wanted not in DEFINITIONS):
        return {**row, "verdict": "not checkable",
                "reason": f"a `{TABLE}` claim is a count with at most the filter `definition` "
                          f"({' | '.join(DEFINITIONS)})"}
    if claim.period.from_ != claim.period.to:
        return {**row, "verdict": "not checkable", "reason": "a claim of people held is about one day: give the "
                                                             "period with from = to"}
    if not vocabulary.is_nation(claim.place):
        return {**row, "verdict": "not checkable",
                "reason": "claims of people held are checked nationally only (place US)"}
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
        why = "; ".join(f"{m}: {missing[m]}" for m in used) if used else "; ".join(f"{m}: {r}" for m, r in
                                                                                    missing.items())
        row.update(verdict="not checkable", reason=f"not checkable: {why}")
        return row
    verdicts = {x["verdict"] for x in chosen}
    slack = verdict_of(tol, chosen[0]["count"])[2]
    detail = "; ".join(f"{x['definition']} {x['count']:,} ({x['verdict']})" for x in chosen)
    head = comparisons[claim.comparison]
    if len(verdicts) == 1:
        verdict = verdicts.pop()
        reason = f"{'holds' if verdict == 'consistent' else 'fails'}: {head} under {detail}"
    else:
        verdict = "depends on definition"
        reason = f"depends on the definition: {detail}"
    if not wanted and missing:
        reason += "; not checkable under " + "; ".join(f"{m} ({r})" for m, r in missing.items())
    first = chosen[0]
    row.update(observed=first["count"], difference=first["difference"], verdict=verdict, tolerance=slack,
               reason=reason, definition=", ".join(f"{x['definition']}: {x['definition_text']}" for x in chosen),
               sql="analysis/detention.held_on", parameters=[day.isoformat()])
    return row
