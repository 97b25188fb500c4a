"""The local enforcement context of one place (shown to intake staff beside a request): how far the counted arrest
records of the place's AOR(s) reach, the sanctuary status today and on that last covered day (the default
definition, named), and the most recent sweeps in the place and its AOR(s) over the last 90 covered days
(analysis.sweeps, the same sizes as `icemonitor sweeps`). Every count selects events through query.Selection."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from icemonitor.analysis.common import resolution_available
from icemonitor.analysis.result import AnalysisResult
from icemonitor.analysis.sweeps import SWEEP_DEFINITIONS, sweeps
from icemonitor.errors import IcemonitorError
from icemonitor.messages import msg
from icemonitor.query.coverage import coverage
from icemonitor.query.selection import Compiled, Selection

SWEEP_DAYS = 90
TOP_SWEEPS = 3


def _arrests(con: duckdb.DuckDBPyConnection, aors: tuple[str, ...] = (), d0: dt.date | None = None,
             d1: dt.date | None = None, place: Any = None, ref: Any = None) -> Compiled:
    """Counted arrests (in these AORs, this period, this place) as every interface selects them (query.Selection)."""
    return Selection.of("arrests", d0, d1, place, {"aor": list(aors)} if aors else None).compile(con, ref)


def last_counted(con: duckdb.DuckDBPyConnection, aors: tuple[str, ...] = ()) -> dt.date | None:
    """The latest event_date of counted arrests (in these AORs when given)."""
    q = _arrests(con, aors)
    row = con.execute(f"SELECT max(event_date) FROM {q.source} WHERE {q.where.sql()}", q.where.params).fetchone()
    return row[0] if row else None


def sanctuary(place: Any, day: dt.date, ref: Any) -> dict[str, Any]:
    """The place's sanctuary status on `day` under the default definition (places.sanctuary.status), or the error
    that says why there is none."""
    from icemonitor.places.sanctuary import status

    try:
        s = status(place, day, None, ref)
    except IcemonitorError as err:
        return {"day": day, "error": str(err)}
    return {"day": day, "answer": s.answer, "reason": s.reason, "definition": s.definition,
            "definition_text": " ".join(s.definition_text.split())}


def _sweep_targets(place: Any, resolved: bool) -> list[tuple[str, tuple[str, ...]]]:
    if place.level == "county":
        own = [(place.code, ("county",))] if resolved else []
        return own + [(a, ("aor",)) for a in place.aors]
    if place.level == "aor":
        return [(place.code, ("aor",))]
    if place.level == "state":
        return [(place.code, ("state",))] if resolved else []
    return [(place.code, ("aor",))]


def _sweep_releases(con: duckdb.DuckDBPyConnection, sweep: dict, ref: Any) -> list[str]:
    if sweep["level"] not in ("county", "aor", "state") or str(sweep["place"]).startswith("unresolved:"):
        return []
    q = _arrests(con, (), sweep["start"], sweep["end"], str(sweep["place"]), ref)
    rows = con.execute(f"SELECT DISTINCT release_id FROM {q.source} WHERE {q.where.sql()}", q.where.params).fetchall()
    return sorted(r[0] for r in rows if r[0])


def recent_sweeps(con: duckdb.DuckDBPyConnection, place: Any, start: dt.date, end: dt.date, ref: Any,
                  top: int = TOP_SWEEPS) -> tuple[list[dict], list[dict]]:
    """The most recent sweeps (newest first, at most `top`) in the place and its AORs, and what was searched:
    [{target, level, label, error, not_measurable}] (error: the exception's type where a search could not be
    computed; not_measurable: why sweeps cannot be measured there, e.g. too few days with records for a baseline)."""
    found: dict[tuple, dict] = {}
    searched = []
    for target, levels in _sweep_targets(place, resolution_available(con)):
        try:
            result = sweeps(con, place=target, date_from=start, date_to=end, levels=levels, limit=10, ref=ref)
        except (IcemonitorError, ValueError) as err:  # e.g. no events at all at that level in the window
            searched.append({"target": target, "level": levels[0], "label": None, "error": type(err).__name__,
                             "not_measurable": None})
            continue
        searched.append({"target": target, "level": levels[0], "label": result.parameters["place"], "error": None,
                         "not_measurable": result.extra.get("not_measurable_because")})
        for r in result.figures:
            key = (r["level"], r["place"], str(r["start"]))
            found.setdefault(key, {**r, "releases": result.releases})
    rows = sorted(found.values(), key=lambda r: (str(r["end"]), float(r["score"])), reverse=True)[:top]
    for r in rows:
        r["releases"] = _sweep_releases(con, r, ref) or r["releases"]
    return rows, searched


def local_context(con: duckdb.DuckDBPyConnection, place: Any, today: dt.date, ref: Any,
                  days: int = SWEEP_DAYS, top: int = TOP_SWEEPS) -> AnalysisResult:
    """The place's context (module docstring). Figures: the recent sweeps; extra: last_everywhere, last_here (the
    last counted arrest in the warehouse and in the place's AORs), status_today, status_last, window {from, to},
    days_with_records (in the window, in the place's AORs), searched, resolved (landmark resolution present)."""
    everywhere = last_counted(con)
    here = last_counted(con, tuple(place.aors)) if place.aors else everywhere
    extra: dict[str, Any] = {"last_everywhere": everywhere, "last_here": here, "aors": list(place.aors),
                             "status_today": sanctuary(place, today, ref), "status_last": None, "window": None,
                             "days_with_records": None, "searched": [], "resolved": resolution_available(con)}
    rows: list[dict] = []
    cov = None
    if here is not None:
        extra["status_last"] = sanctuary(place, here, ref)
        start = here - dt.timedelta(days=days - 1)
        extra["window"] = {"from": start, "to": here, "days": days}
        rows, extra["searched"] = recent_sweeps(con, place, start, here, ref, top)
        q = _arrests(con, tuple(place.aors), start, here)
        extra["days_with_records"] = con.execute(f"SELECT count(DISTINCT event_date) FROM {q.source} "
                                                 f"WHERE {q.where.sql()}", q.where.params).fetchone()[0]
        cov = coverage(con, _arrests(con, (), start, here, place, ref)).to_dict()
    caveats = [] if here is not None else [msg("The warehouse holds no counted arrests for this place's AOR(s).")]
    return AnalysisResult(
        name="local_context", parameters={"place": place.label, "level": place.level, "code": place.code,
                                          "today": today, "days": days},
        columns=["level", "place", "start", "end", "days", "observed", "expected", "ratio", "score", "releases"],
        figures=rows, definitions={**SWEEP_DEFINITIONS,
                                   "last_here": msg("The last event_date of counted arrests in the place's AOR(s)")},
        releases=sorted({x for r in rows for x in r["releases"]}), caveats=caveats, extra=extra, coverage=cov)
