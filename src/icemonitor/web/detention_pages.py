"""The Detention page (/detention, English and Spanish): detained now with the posting's known errors, the trend
FY2019-FY2026, the largest changes since the previous posting, the largest facilities. Figures come from
analysis/detention.py, the same computation as `icemonitor detention` and /api/v1/detention."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from icemonitor.analysis import detention
from icemonitor.analysis.common import has_table
from icemonitor.messages import formats
from icemonitor.web import analyses, api_detention, charts, i18n
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


# Where a county has no state of the 50 and DC, the Albers USA projection has no place for it (Puerto Rico, Guam,
# the Northern Mariana Islands, the Virgin Islands, American Samoa): those facilities are counted, not drawn.
OFF_MAP_STATE_FIPS = ("60", "66", "69", "72", "78")
LONLAT_TOPOJSON = "geo/us_atlas_counties-10m.topojson.json"  # us-atlas, unprojected (longitude, latitude)


@router.get("/geo/states-lonlat.topojson", include_in_schema=False)
def lonlat_topojson(request: Request) -> Response:
    """us-atlas in longitude/latitude (its states draw the facility map's background under the Albers USA
    projection, so facility coordinates need no projecting of our own)."""
    path = _lonlat_path(request)
    if path is None:
        return JSONResponse(status_code=404, content={"detail": "TopoJSON not available"})
    return Response(path.read_bytes(), media_type="application/json", headers={"Cache-Control": "public, max-age=86400"})


def _lonlat_path(request: Request) -> Path | None:
    ref = request.app.state.ref
    try:
        path = Path(ref(LONLAT_TOPOJSON)) if ref is not None else None
    except Exception:  # a resolver that cannot supply the file means: no map
        return None
    return path if path is not None and path.is_file() else None


def map_points(figures: list[dict]) -> tuple[list[dict], dict]:
    """Facilities holding people that day, with coordinates, largest first (drawn first, so small circles stay
    on top); and what is not drawn: facilities (people) with no coordinates or outside the 50 states and DC."""
    held = [f for f in figures if f["held_during_day"]]
    drawn = [f for f in held if f["located_by"] and f["latitude"] is not None and f["longitude"] is not None
             and not (f["county_fips"] or "").startswith(OFF_MAP_STATE_FIPS)]
    codes = {f["facility_code"] for f in drawn}
    left = [f for f in held if f["facility_code"] not in codes]
    return (sorted(drawn, key=lambda f: -f["held_during_day"]),
            {"facilities": len(left), "people": sum(f["held_during_day"] for f in left)})


def facility_map(points: list[dict], t, topo_url: str, day: str) -> dict:  # noqa: ANN001 - translator
    """Circles at the facilities, area by people held during the day, colour by how the place is known."""
    located = {k: t(f"detention.located_{k}") for k in ("address", "city_centre")}
    values = [{"name": f["ice_names"] or f["ddp_name"], "code": f["facility_code"], "lon": f["longitude"],
               "lat": f["latitude"], "held": f["held_during_day"], "located": located[f["located_by"]],
               "place": ", ".join(x for x in (f["county_name"], f["state"]) if x)} for f in points]
    size_title = t("detention.map_size", date=day)
    spec = charts._base(t("detention.map_title", date=day), t("detention.map_desc"))
    spec.update({
        "height": 420,
        "projection": {"type": "albersUsa"},
        "layer": [
            {"data": {"url": topo_url, "format": {"type": "topojson", "feature": "states"}},
             "mark": {"type": "geoshape", "fill": "#eef0f3", "stroke": "#9aa3ad", "strokeWidth": 0.5}},
            {"data": {"values": values},
             "mark": {"type": "circle", "opacity": 0.55, "stroke": "#1d1d1f", "strokeWidth": 0.4},
             "encoding": {
                 "longitude": {"field": "lon", "type": "quantitative"},
                 "latitude": {"field": "lat", "type": "quantitative"},
                 "size": {"field": "held", "type": "quantitative", "title": size_title,
                          "scale": {"range": [6, 1200]},
                          "legend": {"format": ",.0f", "titleLimit": 320, "orient": "top", "direction": "horizontal"}},
                 "color": {"field": "located", "type": "nominal", "title": t("detention.map_located"),
                           "scale": {"domain": list(located.values()), "range": ["#2f5d8a", "#e07b00"]},
                           "legend": {"titleLimit": 320, "labelLimit": 320, "orient": "bottom", "direction": "vertical"}},
                 "tooltip": [{"field": "name", "title": t("detention.facility")},
                             {"field": "place", "title": t("detention.place")},
                             {"field": "held", "type": "quantitative", "format": ",", "title": size_title},
                             {"field": "located", "title": t("detention.map_located")}],
             }},
        ],
    })
    return spec


def answer(t, number, now, held, day=str) -> str | None:  # noqa: ANN001 - translator, formatters, results
    """One or two plain sentences from the page's own figures: ICE's latest count with the share with no
    conviction and no pending charge, and the records' count of people held on their last day (`day` says a date
    in the page's language)."""
    parts = []
    if now is not None and now.figures and now.extra["total"]:
        no_record = next((f["people"] for f in now.figures if f["agency"] == "total"
                          and f["criminality"] == "other_immigration_violator"), None)
        key = "detention.answer_now" if no_record is not None else "detention.answer_now_total"
        parts.append(t(key, total=number(now.extra["total"]), date=day(now.extra["as_of"]), none=number(no_record),
                       pct=number(100 * (now.extra["share_no_conviction_no_pending_charge"] or 0), 0)))
    if held is not None and held.figures:
        people = sum(f["held_during_day"] for f in held.figures)
        n = sum(1 for f in held.figures if f["held_during_day"])
        parts.append(t("detention.answer_records", people=number(people), facilities=number(n),
                       date=day(held.parameters["date"])))
    return " ".join(parts) or None


def held_by_month(rows: list[dict], t, label: str) -> dict:  # noqa: ANN001 - translator
    """The place's people held per day, averaged over each month, one line."""
    y = t("place.detention_axis")
    spec = charts._base(t("place.detention_chart", place=label), t("place.detention_chart_desc"))
    spec.update({
        "height": 200, "data": {"values": [{"month": r["month"], "value": round(r["held_per_day"], 1)} for r in rows]},
        "mark": {"type": "line", "point": False, "strokeWidth": 2, "color": AGENCY_COLOURS["ice"]},
        "encoding": {
            "x": {"field": "month", "type": "temporal", "timeUnit": "utcyearmonth", "title": t("chart.month")},
            "y": {"field": "value", "type": "quantitative", "title": y},
            "tooltip": [{"field": "month", "type": "temporal", "timeUnit": "utcyearmonth", "title": t("chart.month")},
                        {"field": "value", "type": "quantitative", "format": ",.1f", "title": y}],
        },
    })
    return spec


def in_place(page: Page, place, label: str) -> dict | None:  # noqa: ANN001 - places.Place
    """The place page's detention section: analysis.detention.in_place (as /api/v1/detention/place), its
    facilities split into those that held someone on either day and the rest, and the place's monthly chart."""
    con = page.wh.cursor()
    if not detention.has_detention_tables(con) or not has_table(con, "detention_facility_places"):
        return None
    res = analyses.detention_in_place(page.wh, label, place.county_fips)
    busy = [f for f in res.figures if f["held_during_day"] or f["held_before"]]
    spec = held_by_month(res.extra["monthly"], page.t, label) if len(res.extra["monthly"]) > 1 else None
    return {"result": res, "busy": busy, "idle": len(res.figures) - len(busy), "spec": spec,
            "defs": detention.definitions(page.lang)}


@router.get("/detention", response_class=HTMLResponse)
def detention_page(request: Request) -> HTMLResponse:
    page = Page(request)
    t = page.t
    con = page.wh.cursor()
    common = dict(defs=detention.definitions(page.lang), active="detention", api="/api/v1/detention/now",
                  downloads=tuple(d for d, name in api_detention.DOWNLOADS.items() if name in page.wh.tables()))
    if not detention.has_detention_tables(con):  # a warehouse built without the detention releases
        return page.render("detention.html", now=None, changes=None, biggest=None, unlisted=None, adp_spec=None,
                           map_spec=None, off_map=None, answer=None, **common)
    now = detention.detained_now(con)
    adp = [f | {"agency": a} for a in ("total", "ice", "cbp")
           for f in detention.detention_trend(con, "adp", a, "total").figures]
    changes = detention.changes_since_previous(con)
    every = detention.facilities(con, limit=5000)
    biggest = every.model_copy(update={"figures": every.figures[:15]})
    unlisted = detention.facilities(con, not_in_ice_list=True, limit=10)
    points, off_map = map_points(every.figures)
    topo = "/geo/states-lonlat.topojson" if _lonlat_path(request) is not None else None
    day = every.parameters["date"]
    return page.render(
        "detention.html", now=now, changes=changes, biggest=biggest, unlisted=unlisted,
        adp_spec=agency_lines(adp, t, t("detention.adp_title"), t("detention.adp_axis")) if adp else None,
        map_spec=facility_map(points, t, topo, formats.day(day, page.lang)) if points and topo else None,
        off_map=off_map,
        answer=answer(t, lambda v, d=0: i18n.number(page.lang, v, d), now, every,
                      lambda v: formats.day(v, page.lang)), **common)
