"""The days around one sweep (a sweep page's daily chart): counted events per day in the sweep's place, named as
analysis.sweeps names places at the sweep's level, from 4 weeks before to 2 weeks after. Days the records do not
cover (query.coverage) have no count (None), never 0."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from icemonitor.analysis.common import MEASURES
from icemonitor.analysis.result import AnalysisResult
from icemonitor.analysis.sweeps import LEVELS, SWEEP_DEFINITIONS, place_expr
from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.query.coverage import coverage
from icemonitor.query.selection import Columns, Selection, event_source

BEFORE, AFTER = dt.timedelta(days=28), dt.timedelta(days=14)


def coverage_place(level: str, place: str) -> str | None:
    """The place whose records coverage a sweep's days are read against: the nation, the AOR, the state or county
    (an unresolved or landmark place: its AOR)."""
    if level == "national":
        return None
    if place.startswith("unresolved:"):
        return place.split(":", 1)[1]
    return place.split(" | ", 1)[0] if level == "landmark" else place


def fill_days(counts: dict[str, int], d0: dt.date, d1: dt.date, covered_spans: list[dict] | None) -> list[dict]:
    """One row per day of [d0, d1]: the count, 0 on a day the records cover without a matching event, None (a gap,
    no bar) on a day no covered span reaches (query.coverage's covered_spans). Spans None: every day covered."""
    spans = [(dt.date.fromisoformat(str(s["from"])), dt.date.fromisoformat(str(s["to"]))) for s in covered_spans or []]
    out, day = [], d0
    while day <= d1:
        covered = covered_spans is None or any(a <= day <= b for a, b in spans)
        out.append({"day": day.isoformat(), "n": counts.get(day.isoformat(), 0) if covered else None})
        day += dt.timedelta(days=1)
    return out


def sweep_days(con: duckdb.DuckDBPyConnection, level: str, place: str, measure: str, start: dt.date, end: dt.date,
               ref: Any = None, columns: Columns | None = None) -> AnalysisResult:
    """Counted events of `measure` per day in the sweep's place (`level`'s naming, as in analysis.sweeps), 4 weeks
    before `start` to 2 weeks after `end`; `in_sweep` marks the sweep's days."""
    if level not in LEVELS:
        raise InputError(f"Unknown level; choose from {', '.join(LEVELS)}", field="level", value=level)
    if measure not in MEASURES:
        raise InputError(f"Unknown measure; choose one of {', '.join(MEASURES)}", field="measure", value=measure)
    d0, d1 = start - BEFORE, end + AFTER
    src = event_source(con, "arrests", columns=columns)
    cond, params = ("TRUE", []) if level == "national" else (f"{place_expr(level)} = ?", [place])
    rows = con.execute(
        f"SELECT strftime(event_date, '%Y-%m-%d'), count(*) FROM {src} WHERE counted AND ({MEASURES[measure][0]}) "
        f"AND {cond} AND event_date BETWEEN ? AND ? GROUP BY 1", [*params, d0, d1]).fetchall()
    releases = con.execute(
        f"SELECT DISTINCT release_id FROM {src} WHERE counted AND ({MEASURES[measure][0]}) AND {cond} "
        "AND event_date BETWEEN ? AND ?", [*params, d0, d1]).fetchall()
    cov = coverage(con, Selection.of("arrests", d0, d1, coverage_place(level, place)).compile(con, ref, columns))
    spans = None if cov.status == "unknown" else cov.to_dict()["covered_spans"]
    days = [{**r, "in_sweep": start.isoformat() <= r["day"] <= end.isoformat()}
            for r in fill_days(dict(rows), d0, d1, spans)]
    caveats = [] if cov.status in ("full", "unknown") else [
        msg("Days without records have no count (not zero): {reason}.", reason=cov.reason)]
    return AnalysisResult(
        name="sweep_days", parameters={"level": level, "place": place, "measure": measure, "from": d0, "to": d1,
                                       "sweep_start": start, "sweep_end": end},
        columns=["day", "n", "in_sweep"], figures=days,
        definitions={"n": msg("Counted arrests of the measure on the day in the sweep's place; empty on a day the "
                              "records do not cover"),
                     "measure": MEASURES[measure][1], "counted": SWEEP_DEFINITIONS.get("counted", "")},
        releases=sorted(r[0] for r in releases if r[0]), caveats=caveats, coverage=cov.to_dict())
