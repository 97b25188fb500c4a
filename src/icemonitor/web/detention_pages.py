"""The Detention page (/detention, English and Spanish): detained now with the posting's known errors, the trend
FY2019-FY2026, the largest changes since the previous posting, the largest facilities. Figures come from
analysis/detention.py, the same computation as `icemonitor detention` and /api/v1/detention."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from icemonitor.analysis import detention
from icemonitor.web import charts
from icemonitor.web.pages import Page

router = APIRouter(include_in_schema=False)
AGENCY_COLOURS = {"total": "#333333", "ice": "#2f5d8a", "cbp": "#e07b00"}


def agency_lines(rows: list[dict], t, title: str, y_title: str) -> dict:  # noqa: ANN001 - translator
    """One line per arresting agency over months (gaps where no posting reports a month)."""
    data = [{"month": r["month"], "value": r["value"], "label": t(f"detention.agency_{r['agency']}")} for r in rows]
    keys = [k for k in AGENCY_COLOURS if any(r["agency"] == k for r in rows)]
    scale = {"domain": [t(f"detention.agency_{k}") for k in keys], "range": [AGENCY_COLOURS[k] for k in keys]}
    spec = charts._base(title, t("detention.chart_desc"))
    spec.update({
        "height": 260, "data": {"values": data},
        "mark": {"type": "line", "point": False, "strokeWidth": 2},
        "encoding": {
            "x": {"field": "month", "type": "temporal", "timeUnit": "utcyearmonth", "title": t("chart.month")},
            "y": {"field": "value", "type": "quantitative", "title": y_title},
            "color": {"field": "label", "type": "nominal", "title": t("detention.agency"), "scale": scale},
            "strokeDash": {"field": "label", "type": "nominal", "title": t("detention.agency")},
            "tooltip": [{"field": "month", "type": "temporal", "timeUnit": "utcyearmonth", "title": t("chart.month")},
                        {"field": "label", "title": t("detention.agency")},
                        {"field": "value", "type": "quantitative", "format": ",.0f", "title": y_title}],
        },
    })
    return spec


@router.get("/detention", response_class=HTMLResponse)
def detention_page(request: Request) -> HTMLResponse:
    page = Page(request)
    t = page.t
    con = page.wh.cursor()
    if not detention.has_detention_tables(con):  # a warehouse built without the detention releases
        return page.render("detention.html", now=None, changes=None, biggest=None, unlisted=None, adp_spec=None,
                           defs=detention.definitions(page.lang), active="detention", api="/api/v1/detention/now")
    now = detention.detained_now(con)
    adp = [f | {"agency": a} for a in ("total", "ice", "cbp")
           for f in detention.detention_trend(con, "adp", a, "total").figures]
    changes = detention.changes_since_previous(con)
    biggest = detention.facilities(con, limit=15)
    unlisted = detention.facilities(con, not_in_ice_list=True, limit=10)
    return page.render(
        "detention.html", now=now, changes=changes, biggest=biggest, unlisted=unlisted,
        adp_spec=agency_lines(adp, t, t("detention.adp_title"), t("detention.adp_axis")) if adp else None,
        defs=detention.definitions(page.lang), active="detention", api="/api/v1/detention/now")
