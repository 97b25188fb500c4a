"""The usual level around a period (the report's baseline): counted events on the same weekdays shifted by whole
weeks before and after it, in the windows the place's records wholly cover. Built on `summary` (per day and method
class, as `summary --place --by day,method_class` counts) and `event_span`, so its counts are the CLI's."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from icemonitor.analysis.result import AnalysisResult
from icemonitor.analysis.summary import event_span, summary
from icemonitor.messages import msg
from icemonitor.query.coverage import coverage_of
from icemonitor.query.selection import parse_date, parse_place

WEEKS = (-4, -3, -2, -1, 1, 2, 3, 4)


def same_weekdays(con: duckdb.DuckDBPyConnection, table: str = "arrests", place: str | None = None,
                  date_from: str | dt.date | None = None, date_to: str | dt.date | None = None, ref: Any = None,
                  weeks: tuple[int, ...] = WEEKS) -> AnalysisResult:
    """Counted events in each window of the period shifted by `weeks` whole weeks that the place's records wholly
    cover (between its first and last counted event, query.coverage 'full' or 'unknown') and that does not overlap
    the period: figures {weeks, from, to, events, at_large}. extra: `mean` and `at_large_mean` over the windows
    (None with no window: no baseline, never 0), `days` (summary's rows per day and method class from the first
    window's start to the last one's end) and `lo`/`hi` (that range); coverage is that range's."""
    d0, d1 = parse_date(date_from, "from"), parse_date(date_to, "to")
    lo, hi = d0 + dt.timedelta(weeks=min(weeks)), d1 + dt.timedelta(weeks=max(weeks))
    days = summary(con, table, by=["day", "method_class"], date_from=lo, date_to=hi, place=place, ref=ref)
    span = event_span(con, table, place=place, ref=ref).figures[0]
    first, last = (dt.date.fromisoformat(span[k]) if span[k] else None for k in ("first", "last"))
    parsed = parse_place(con, place, ref)
    label = parsed.label if parsed is not None else place
    figures = []
    for w in weeks:
        a, b = d0 + dt.timedelta(weeks=w), d1 + dt.timedelta(weeks=w)
        if first is None or a < first or b > last:
            continue
        if w < 0 and b >= d0 or w > 0 and a <= d1:  # long periods: shifted windows must not overlap the period
            continue
        if coverage_of(con, table, a, b, parsed, label).status not in ("full", "unknown"):
            continue  # a window the records do not wholly cover would count its days without records as zeros
        rows = [f for f in days.figures if a.isoformat() <= f["day"] <= b.isoformat()]
        figures.append({"weeks": w, "from": a, "to": b, "events": sum(f["events"] for f in rows),
                        "at_large": sum(f["events"] for f in rows if f["method_class"] == "at_large")})
    n = len(figures)
    return AnalysisResult(
        name="same_weekdays",
        parameters={"table": table, "place": days.parameters.get("place"), "from": d0, "to": d1, "weeks": weeks},
        columns=["weeks", "from", "to", "events", "at_large"], figures=figures,
        definitions={"windows": msg("The period shifted by whole weeks (the same weekdays), where the place's "
                                    "releases wholly cover the window and it does not overlap the period"),
                     "events": days.definitions["events"],
                     "at_large": msg("{definition}, with method_class = at_large",
                                     definition=days.definitions["events"])},
        releases=days.releases, caveats=[] if n else [msg("No shifted window is wholly covered by the records: no "
                                                          "baseline.")],
        extra={"mean": sum(f["events"] for f in figures) / n if n else None,
               "at_large_mean": sum(f["at_large"] for f in figures) / n if n else None,
               "days": days.figures, "lo": lo, "hi": hi},
        coverage=days.coverage)
