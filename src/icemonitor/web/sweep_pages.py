"""Sweep pages: /sweeps (the ranked list with filters) and /sweep/{place}/{start}/{end} (one surge).

Both call analysis.sweeps.sweeps with the CLI's parameters (cached per warehouse version), so the list, the page
and `icemonitor sweeps --json` agree. A sweep's page re-runs the list's own analysis (its parameters travel in the
link) and shows that run's row: days, excess with its interval, where it concentrated, method mix and criminal
history where recorded, plus the arrests per day around it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from icemonitor.analysis.common import MEASURES
from icemonitor.errors import InputError
from icemonitor.messages import Message, msg
from icemonitor.places.place_filter import AmbiguousPlace
from icemonitor.web import analyses, answers, charts, i18n, place_search
from icemonitor.web.api_analyses import app_ref
from icemonitor.web.context import parse_date
from icemonitor.web.pages import Page, _figure, error_page
from icemonitor.web.sweep_links import sweep_rows
from icemonitor.query.filters import ParamError, check_order


def sweep_levels() -> tuple[str, ...]:
    """analysis.sweeps.LEVELS, imported when a sweep page is asked (numpy and polars load in the server's warm-up,
    not before it answers)."""
    from icemonitor.analysis.sweeps import LEVELS

    return LEVELS


router = APIRouter(include_in_schema=False)
DEFAULT_FROM, DEFAULT_TO = dt.date(2015, 10, 1), dt.date(2019, 9, 30)
class SweepParams:
    """The list's parameters from the query string (blank = the CLI default), validated."""

    def __init__(self, q: dict[str, str], levels: list[str]) -> None:
        self.place = (q.get("place") or q.get("in") or "").strip() or None
        if self.place and len(self.place) > 80:
            raise ParamError("place", msg("at most 80 characters"), self.place)
        self.date_from = parse_date("from", q.get("from")) or DEFAULT_FROM
        self.date_to = parse_date("to", q.get("to")) or DEFAULT_TO
        check_order(self.date_from, self.date_to)
        self.measure = (q.get("measure") or "at_large").strip()
        if self.measure not in MEASURES:
            raise ParamError("measure", msg("allowed: {choices}", choices=", ".join(MEASURES)), self.measure)
        flat = [x.strip() for v in levels for x in v.split(",") if x.strip()]
        for lv in flat:
            if lv not in sweep_levels():
                raise ParamError("level", msg("allowed: {choices}", choices=", ".join(sweep_levels())), lv)
        self.levels = tuple(dict.fromkeys(flat)) or None
        try:
            self.limit = int(q.get("limit") or 20)
        except ValueError:
            raise ParamError("limit", msg("expected a whole number"), q.get("limit")) from None
        if not 1 <= self.limit <= 200:
            raise ParamError("limit", msg("between 1 and 200"), self.limit)

    def run(self, request: Request, limit: int | None = None):
        return analyses.sweeps(request.app.state.warehouse, app_ref(request), self.place, self.date_from,
                               self.date_to, self.measure, self.levels, limit or self.limit)

    def api_query(self) -> str:
        q: list[tuple[str, str]] = [("from", self.date_from.isoformat()), ("to", self.date_to.isoformat()),
                                    ("measure", self.measure), ("limit", str(self.limit))]
        if self.place:
            q.append(("place", self.place))
        q.extend(("level", lv) for lv in self.levels or ())
        return urlencode(q)


@router.get("/sweeps", response_class=HTMLResponse)
def sweeps_page(request: Request) -> HTMLResponse:
    page = Page(request)
    sp = SweepParams(dict(request.query_params), request.query_params.getlist("level"))
    try:
        res = sp.run(request)
        error = None
    except AmbiguousPlace as exc:  # 'LA': ask which place, as the place search does, keeping the other filters
        query = [(k, v) for k, v in request.query_params.multi_items() if k not in ("place", "in")]
        choices = [{"url": "/sweeps?" + urlencode([*query, ("place", value)]),
                    "label": place_search.choice_label(page, value)} for value, _ in exc.choices]
        return page.render("place_choices.html", asked=sp.place, choices=choices, active="sweeps")
    except InputError as exc:  # in the page's language when the analysis gave a message (English: field and value too)
        res, error = None, (exc.message.render(page.lang) if isinstance(exc.message, Message) and page.lang != "en"
                            else str(exc))
    rows = sweep_rows(res, sp.place) if res else []
    if rows and sp.levels:
        for r in rows:  # the run's explicit levels travel along, so the page re-runs the same analysis
            r["url"] += "&" + urlencode([("levels", ",".join(sp.levels))])
    ctx = dict(sp=sp, res=res, rows=rows, error=error, levels=sweep_levels(), measures=list(MEASURES),
               api=f"/api/v1/sweeps?{sp.api_query()}", active="sweeps")
    return page.render("sweeps.html", status=422 if error else 200, **ctx)


def daily(wh, level: str, place: str, measure: str, start: dt.date, end: dt.date,
          ref: Any = None) -> list[dict[str, Any]]:
    """Counted arrests per day in the sweep's place, 4 weeks before to 2 weeks after (analysis.sweep_days, cached);
    days the records do not cover are None, a gap in the chart, never 0."""
    return analyses.sweep_days(wh, ref, level, place, measure, start, end).figures


def daily_chart(rows: list[dict], t, title: str, start: str, end: str, expected_per_day: float) -> dict:
    spec = charts._base(title, t("chart.bars_desc"))
    band = [{"from": start, "to": end, "e": expected_per_day}]
    gaps = [{**g, "label": t("chart.no_records")} for g in charts.gap_bands(rows)]
    spec.update({
        "height": 220,
        "layer": [
            {"data": {"values": band}, "mark": {"type": "rect", "color": "#e07b00", "opacity": 0.15},
             "encoding": {"x": {"field": "from", "type": "temporal", "timeUnit": "utcyearmonthdate"},
                          "x2": {"field": "to"}}},
            {"data": {"values": rows}, "mark": {"type": "bar", "color": "#4c6a92"},
             "encoding": {"x": {"field": "day", "type": "temporal", "timeUnit": "utcyearmonthdate", "title": t("chart.day")},
                          "y": {"field": "n", "type": "quantitative", "title": t("sweep.n")},
                          "tooltip": [{"field": "day", "title": t("chart.day")},
                                      {"field": "n", "type": "quantitative", "title": t("sweep.n")}]}},
            {"data": {"values": band}, "mark": {"type": "rule", "strokeDash": [6, 4], "color": "#222"},
             "encoding": {"x": {"field": "from", "type": "temporal", "timeUnit": "utcyearmonthdate"},
                          "x2": {"field": "to"}, "y": {"field": "e", "type": "quantitative"},
                          "tooltip": [{"field": "e", "type": "quantitative", "format": ",.1f",
                                       "title": t("chart.expected_per_day")}]}},
            # days without records: a band, drawn last so the layers before keep their places
            {"data": {"values": gaps}, "mark": {"type": "rect", "color": "#bbbbbb", "opacity": 0.35},
             "encoding": {"x": {"field": "from", "type": "temporal"}, "x2": {"field": "to"},
                          "tooltip": [{"field": "label", "title": t("chart.day")}]}},
        ],
    })
    return spec


@router.get("/sweep/{place:path}/{start}/{end}", response_class=HTMLResponse)
def sweep_page(request: Request, place: str, start: str, end: str) -> HTMLResponse:
    page = Page(request)
    t, wh = page.t, page.wh
    q = dict(request.query_params)
    s, e = parse_date("start", start), parse_date("end", end)
    if s is None or e is None:
        return error_page(request, 404, "error.not_found")
    level = q.get("level") or ("national" if place == "US" else "aor" if len(place) == 3 and place.isalpha()
                               else "state" if len(place) == 2 and place.isalpha() else "county")
    if level not in sweep_levels():
        raise ParamError("level", msg("allowed: {choices}", choices=", ".join(sweep_levels())), level)
    sp = SweepParams(q, request.query_params.getlist("levels"))
    res, row = None, None
    for limit in (sp.limit, 200):
        res = sp.run(request, limit)
        row = next((f for f in res.figures if f["level"] == level and f["place"] == place
                    and str(f["start"]) == s.isoformat() and str(f["end"]) == e.isoformat()), None)
        if row is not None or limit >= 200:
            break
    if row is None:
        return error_page(request, 404, "sweep.not_found", place=place, start=s, end=e)
    days = daily(wh, level, place, sp.measure, s, e, app_ref(request))
    measure = t(f"measure.{sp.measure}")
    fig = _figure("daily", daily_chart(days, t, t("sweep.daily_title", place=place, measure=measure), s.isoformat(),
                                       e.isoformat(), row["expected"] / max(row["days"], 1)),
                  days, [("day", t("chart.day")), ("n", t("sweep.n"))],
                  " ".join([t("sweep.daily_note"), i18n.analysis_text(page.lang, res.definitions.get("measure", "")),
                            i18n.analysis_text(page.lang, res.definitions.get("counted", ""))]),
                  res.releases)
    mix = [{"method_class": k if k != "not recorded" else None, "n": v} for k, v in (row.get("method_mix") or {}).items()]
    crim = row.get("criminality")
    answer = answers.sweep_answer(t, lambda v, d=0: i18n.number(page.lang, v, d), place_search.place_name(page, place),
                                  measure, row, crim if isinstance(crim, dict) else None, lang=page.lang)
    return page.render("sweep.html", row=row, level=level, place=place, sp=sp, res=res, fig=fig, mix=mix, answer=answer,
                       crim=crim if isinstance(crim, dict) else None, measure=measure,
                       api=f"/api/v1/sweeps?{sp.api_query()}", active="sweeps")
