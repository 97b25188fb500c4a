"""Month-by-month figures of a selection, as the watches test them (a rise of at-large arrests, of the share with no
criminal record): counted events per month, months with enough days of records, each month with its coverage.

Built on query.Selection (a watch's place compiled as every interface compiles it) and returning AnalysisResult, so a
watch's monthly figure is the figure `icemonitor summary` gives for the same place, month and filters. A month the
records do not cover for the place has no figure (None), never 0."""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb

from icemonitor.analysis.overview import counted, rows
from icemonitor.analysis.result import AnalysisResult
from icemonitor.messages import Month, msg
from icemonitor.query.coverage import coverage_of
from icemonitor.query.selection import Compiled, Selection, parse_place

MONTH = "strftime(event_date, '%Y-%m')"
KNOWN_CRIMINALITY = ("convicted", "pending_charges", "no_record")
# the watch's fields: which rows record them (a month counts as covered by its days with such rows)
RECORDED = {
    "method": "method_class IS NOT NULL",
    "criminality": "criminality IS NOT NULL AND criminality <> 'unknown'",
}


def month_list(d0: dt.date, d1: dt.date) -> list[str]:
    """Every month 'YYYY-MM' from d0's to d1's."""
    out, y, m = [], d0.year, d0.month
    while (y, m) <= (d1.year, d1.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _month_span(month: str) -> tuple[dt.date, dt.date]:
    y, m = int(month[:4]), int(month[5:7])
    return dt.date(y, m, 1), dt.date(y, m, calendar.monthrange(y, m)[1])


def days_with_records(con: duckdb.DuckDBPyConnection, d0: dt.date, d1: dt.date, recorded: str,
                      min_days: int = 20) -> AnalysisResult:
    """Per month of [d0, d1]: the distinct days with counted arrests (nationally) whose `recorded` field (RECORDED:
    method or criminality) is recorded; extra `covered`: the months with at least `min_days` such days."""
    q = Selection.of("arrests", d0, d1).compile(con)
    w = q.where.copy().add(RECORDED[recorded])
    found = {r["month"]: r["days"] for r in rows(
        con, f"SELECT {MONTH} AS month, count(DISTINCT event_date) AS days FROM {q.selection.table} WHERE {w.sql()} "
             "GROUP BY 1", w.params)}
    figures = [{"month": m, "days": int(found.get(m, 0))} for m in month_list(d0, d1)]
    return AnalysisResult(
        name="days_with_records", parameters={"from": d0, "to": d1, "recorded": recorded, "min_days": min_days},
        columns=["month", "days"], figures=figures,
        definitions={"days": msg("Distinct days of the month with counted arrests nationwide whose {field} is "
                                 "recorded", field=recorded),
                     "covered": msg("A month with at least {n} such days", n=min_days)},
        extra={"covered": [f["month"] for f in figures if f["days"] >= min_days]})


def _places(con: duckdb.DuckDBPyConnection, q: Compiled, places: Sequence[Any] | None) -> list[Any]:
    """The places whose coverage the figure needs: given, else the selection's place, else its AORs (an AOR filter),
    else the nation (None)."""
    if places:
        return list(places)
    if q.place is not None:
        return [q.place]
    aors = dict(q.selection.filters).get("aor")
    return [parse_place(con, a) for a in aors] if aors else [None]


def month_coverage(con: duckdb.DuckDBPyConnection, q: Compiled, month: str,
                   places: Sequence[Any] | None = None) -> dict[str, Any]:
    """What the records cover of one month of the selection's place (several places: all of them; query.coverage):
    {status, share, reason}. Status `none` or `subset`: the month has no count."""
    d0, d1 = _month_span(month)
    sel = q.selection
    fields = tuple(f for f in q.fields if f != "aor")
    each = [coverage_of(con, sel.table, d0, d1, p, q.label if p is None else p.label, fields, sel.release,
                        dict(sel.filters).get("release")) for p in _places(con, q, places)]
    statuses = {c.status for c in each}
    if "unknown" in statuses:
        return {"status": "unknown", "share": None, "reason": each[0].reason}
    shares = [c.share or 0.0 for c in each]
    countable = [c for c in each if c.countable]
    status = ("full" if statuses == {"full"} else "none" if not countable else "partial")
    if status == "none" and "subset" in statuses:
        status = "subset"
    reasons = [c.reason for c in each if c.reason]
    return {"status": status, "share": round(sum(shares) / len(shares), 4), "reason": reasons[0] if reasons else ""}


def monthly(con: duckdb.DuckDBPyConnection, q: Compiled, share_of: str | None = None,
            places: Sequence[Any] | None = None) -> AnalysisResult:
    """Counted events of a compiled selection per month of its period (rows {month, n, releases, coverage,
    coverage_share}); with share_of='no_record', also the no_record count among them and the criminality source
    fields. A month whose place the records do not cover has n None (no records, never 0); one they cover with no
    matching row has n 0. `places`: the places to take coverage for when the selection's own place does not say
    (a set of counties filtered by hand)."""
    sel = q.selection
    if sel.date_from is None or sel.date_to is None:
        raise ValueError("monthly figures need a period")
    extra_cols = ""
    if share_of == "no_record":
        extra_cols = (", count(*) FILTER (WHERE criminality = 'no_record') AS no_record, "
                      "list(DISTINCT criminality_field ORDER BY criminality_field) AS fields")
    found = {x["month"]: x for x in rows(  # the event rows (not the build's event_days: a watch runs once a refresh)
        con, f"SELECT {MONTH} AS month, count(*) AS n, list(DISTINCT release_id ORDER BY release_id) AS releases"
             f"{extra_cols} FROM {q.source} WHERE {q.where.sql()} GROUP BY 1", q.where.params)}
    figures, caveats = [], []
    places = _places(con, q, places)
    label = "; ".join(str(p.label) for p in places if p is not None) or q.label
    for month in month_list(sel.date_from, sel.date_to):
        cover = month_coverage(con, q, month, places)
        row = found.get(month, {"n": 0, "releases": [], "no_record": 0, "fields": []})
        countable = cover["status"] not in ("none", "subset")
        fig = {"month": month, "n": int(row["n"]) if countable else None,
               "releases": [x for x in row["releases"] if x] if countable else [],
               "coverage": cover["status"], "coverage_share": cover["share"]}
        if share_of == "no_record":
            fig["no_record"] = int(row["no_record"]) if countable else None
            fig["fields"] = [x for x in row["fields"] if x] if countable else []
        figures.append(fig)
        if not countable:
            caveats.append(msg("{month}: no records ({why}); no count, not zero.", month=Month(month), why=cover["reason"]))
        elif cover["status"] == "partial":
            caveats.append(msg("{month}: partial ({why}).", month=Month(month), why=cover["reason"]))
    definitions = {"n": counted(sel.table), "month": msg("Calendar month of event_date")}
    if share_of == "no_record":
        definitions["no_record"] = msg("Counted events coded no_record (codes/criminality.csv) among those counted")
    return AnalysisResult(
        name="monthly", parameters={"table": sel.table, "from": sel.date_from, "to": sel.date_to, "place": label,
                                    "filters": {k: list(v) for k, v in sel.filters}, "measure": sel.measure},
        columns=list(figures[0]) if figures else ["month", "n"], figures=figures, definitions=definitions,
        releases=sorted({x for f in figures for x in f["releases"]}), caveats=caveats)
