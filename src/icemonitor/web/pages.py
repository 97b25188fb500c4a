"""Dashboard pages (server-rendered, EN/ES): overview, place, data, and the downloads."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import duckdb
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from icemonitor.messages import msg
from icemonitor.messages import render as render_messages
from icemonitor.query.filters import GROUP_BY, Filters, ParamError, parse_by
from icemonitor.web import analyses, charts, i18n
from icemonitor.web.context import (
    aor_names, definitions, filters_from_query, provenance, release_details, warehouse_info,
)

router = APIRouter(include_in_schema=False)
PREVIEW_ROWS = 36


class Page:
    """What every template gets: language, translator, URLs with the current query."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.lang = i18n.pick_language(request.query_params.get("lang"), request.cookies.get("lang"),
                                       request.headers.get("accept-language"))
        self.wh = request.app.state.warehouse

    def t(self, key: str, **values: Any) -> str:
        return i18n.translate(self.lang, key, **values)

    def data_age(self) -> list[dict[str, Any]]:
        """How far the arrest records reach (query.coverage.records_reach), for every page's footer."""
        if not self.wh.exists() or "coverage_spans" not in self.wh.tables():
            return []
        return analyses.records_reach(self.wh)

    def url_with(self, **changes: str | None) -> str:
        """The current URL with some query parameters changed (None removes one)."""
        params = dict(self.request.query_params)
        for k, v in changes.items():
            if v is None:
                params.pop(k, None)
            else:
                params[k] = v
        query = urlencode(params)
        return self.request.url.path + (f"?{query}" if query else "")

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        env = self.request.app.state.templates
        html = env.get_template(template).render(
            lang=self.lang, t=self.t, page=self, number=lambda v, d=0: i18n.number(self.lang, v, d),
            intake_on=hasattr(self.request.app.state, "intake"), **context)
        return HTMLResponse(html, status_code=status, headers={"Vary": "Cookie, Accept-Language, HX-Request"})

    @property
    def partial(self) -> bool:
        return self.request.headers.get("hx-request") == "true"


def error_page(request: Request, status: int, key: str, **values: Any) -> HTMLResponse:
    page = Page(request)
    return page.render("error.html", status=status, message=page.t(key, **render_messages(values, page.lang)))


COUNTY_TOPOJSON = "geo/us_atlas_counties-albers-10m.topojson.json"


def topojson_path(app: FastAPI) -> Path | None:
    """The county TopoJSON from the reference resolver, if there is one and the file exists."""
    ref = app.state.ref
    if ref is None:
        return None
    try:
        path = Path(ref(COUNTY_TOPOJSON))
    except Exception:  # a resolver that cannot supply the file means: no map
        return None
    return path if path.is_file() else None


def _topo_url(request: Request) -> str | None:
    return "/geo/counties.topojson" if topojson_path(request.app) is not None else None


def _figure(key: str, spec: dict | None, rows: list[dict], columns: list[tuple[str, str]], note: str,
            releases: list[str], empty: str | None = None, spans: list[dict] | None = None) -> dict[str, Any]:
    return {"id": key, "spec": spec, "rows": rows, "columns": columns, "note": note, "releases": releases,
            "empty": empty, "spans": spans or []}


def empty_text(page: Page, res: Any) -> str:
    """What a figure without rows says: the analysis's caveats where the records do not cover the question (no
    records is not zero), else that no counted row matches."""
    return " ".join(render_messages(list(res.caveats), page.lang)) or page.t("figure.empty")


def spans_text(page: Page, f: Filters) -> list[str]:
    """'release (first – last; AORs)' for each release behind a figure, so a one-AOR release is visible as such."""
    out = []
    for s in analyses.release_spans(page.wh, f).figures:
        aors = s["aors"] or []
        where = ", ".join(aors) if len(aors) <= 3 else page.t("figure.n_aors", n=len(aors))
        out.append(page.t("figure.span", release=s["release_id"], first=s["first"], last=s["last"],
                          n=i18n.number(page.lang, s["n"]), aors=where))
    return out


def overview_figures(page: Page, f: Filters) -> dict[str, Any]:
    """Everything the overview shows for the filters."""
    t, wh = page.t, page.wh
    out: dict[str, Any] = {"figures": [], "notices": []}
    if "arrests" not in wh.tables():
        out["notices"].append(t("overview.no_arrests"))
        return out
    defs = definitions(wh, f, page.lang)
    # 1. Monthly national (or one AOR) arrests by method class (the method_class filter does not apply here).
    ft = Filters("arrests", f.date_from, f.date_to, f.aor, None)
    trend = analyses.counts(wh, ft, ["month", "method_class"])
    scope = f.aor or t("overview.national")
    title = t("overview.trend_title", scope=scope)
    partial = analyses.partial_months(wh, ft).figures
    out["figures"].append(_figure(
        "trend", charts.trend(trend.figures, t, title, partial) if trend.figures else None,
        trend.figures,
        [("month", t("chart.month")), ("method_class", t("chart.method_class")), ("n", t("chart.events"))],
        defs["counted"] + " " + defs.get("method_class", ""), trend.releases, empty_text(page, trend),
        spans_text(page, ft)))
    # 2. Arrests by AOR for the period (a map through `counties` when present, and a ranked chart).
    fa = Filters("arrests", f.date_from, f.date_to, None, f.method_class)
    by_aor = analyses.counts(wh, fa, ["aor"])
    ranked = [dict(r) for r in by_aor.figures if r["aor"] is not None]
    names = aor_names()
    for r in ranked:
        r["name"] = names.get(r["aor"], r["aor"])
    mc = t(f"class.{f.method_class}") if f.method_class else t("overview.all_methods")
    aor_note = defs["counted"] + " " + t("overview.aor_note", method=mc)
    topo = _topo_url(page.request)
    county_aor = analyses.aor_map(wh, fa, by_aor)
    if county_aor.extra["map"] is not None and topo:
        out["figures"].append(_figure(
            "aor_map", charts.choropleth(county_aor.figures, t, t("overview.aor_map_title", method=mc), topo, "n",
                                         t("chart.events"), [("aor", "AOR")]),
            [], [], aor_note + " " + t("overview.aor_map_note", map=county_aor.extra["map"]), county_aor.releases))
    elif county_aor.extra["map"] is None:
        out["notices"].append(t("overview.no_counties"))
    out["figures"].append(_figure(
        "aor_bars", charts.ranked_bars(ranked, t, t("overview.aor_title", method=mc), "aor", "AOR") if ranked else None,
        ranked, [("aor", "AOR"), ("name", t("chart.field_office")), ("n", t("chart.events"))], aor_note,
        by_aor.releases, empty_text(page, by_aor), spans_text(page, fa)))
    # 3. Arrests per 10,000 non-citizen residents by county (needs landmark_resolution + population).
    rates = analyses.county_rates(wh, fa, by_aor)
    extra = rates.extra
    if not extra["available"]:
        out["figures"].append(_figure("rates", None, [], [], "", [], t("overview.rates_unavailable",
                                                                          tables=", ".join(extra["missing"]) or "—")))
    else:
        share = (100.0 * extra["resolved"] / extra["total"]) if extra["total"] else 0.0
        note = ((t("overview.rates_event_level") + " " if extra["event_level"] else "")
                + t("overview.rates_note", year=extra["year"], resolved=i18n.number(page.lang, extra["resolved"]),
                    total=i18n.number(page.lang, extra["total"]), share=f"{share:.1f}"))
        spec = None
        if topo and rates.figures:
            map_rows = [dict(r) for r in rates.figures]
            bands = charts.quantile_bands(map_rows, "rate")
            spec = charts.choropleth(map_rows, t, t("overview.rates_title", method=mc), topo, "rate",
                                     t("chart.rate"), [("n", t("chart.events")), ("noncitizen_pop", t("chart.noncitizens"))],
                                     legend_format=",.1f", bands=bands)
        out["figures"].append(_figure(
            "rates", spec, rates.figures[:25],
            [("county_fips", "FIPS"), ("n", t("chart.events")), ("noncitizen_pop", t("chart.noncitizens")),
             ("rate", t("chart.rate"))], defs["counted"] + " " + note, rates.releases, t("figure.empty")))
    return out


RECENT_SWEEPS = 5


def recent_sweeps(page: Page) -> dict[str, Any] | None:
    """The largest at-large sweeps ending in the last twelve months of arrests data (the CLI's sweeps over that
    period); when that period holds none, the CLI's default period (FY2016-FY2019). Each links to its page."""
    import datetime as dt

    from icemonitor.errors import InputError
    from icemonitor.web.api_analyses import app_ref
    from icemonitor.web.sweep_links import sweep_rows

    if "arrests" not in page.wh.tables():
        return None
    last = analyses.last_event_date(page.wh, Filters("arrests"))
    if last is None:
        return None
    periods = [(last - dt.timedelta(days=365), last), (None, None)]
    try:
        for d0, d1 in periods:
            res = analyses.sweeps(page.wh, app_ref(page.request), None, d0, d1, "at_large", None, RECENT_SWEEPS)
            if res.figures:
                break
    except (InputError, duckdb.Error):  # the overview stands without this section
        logging.getLogger(__name__).warning("recent sweeps not available", exc_info=True)
        return None
    return {"rows": sweep_rows(res, None), "from": res.parameters["from"], "to": res.parameters["to"],
            "releases": res.releases, "definition": res.definitions.get("sweep", "")}


def _filters_or_default(page: Page) -> Filters:
    return filters_from_query(dict(page.request.query_params))


@router.get("/", response_class=HTMLResponse)
def overview(request: Request) -> HTMLResponse:
    page = Page(request)
    f = _filters_or_default(page)
    ctx = overview_figures(page, f)
    ctx["recent_sweeps"] = recent_sweeps(page)
    ctx.update(filters=f, aors=analyses.aors(page.wh), names=aor_names(),
               coverage=analyses.table_coverage(page.wh).figures if page.wh.exists() else [],
               releases=analyses.loaded_releases(page.wh),
               warehouse=warehouse_info(page.wh))
    if page.partial:
        return page.render("_overview_results.html", **ctx)
    return page.render("overview.html", **ctx)


@router.get("/data", response_class=HTMLResponse)
def data_page(request: Request) -> HTMLResponse:
    from icemonitor.web import export  # pyarrow: loaded by the warm-up, not before the server answers

    page = Page(request)
    q = dict(request.query_params)
    f = filters_from_query(q)
    by = parse_by(q.get("by", "month"))
    level = q.get("level") or "summary"
    if level not in export.LEVELS:
        raise ParamError("level", msg("allowed: {choices}", choices=", ".join(export.LEVELS)), level)
    res = analyses.counts(page.wh, f, by)
    result = {"rows": res.figures, "total": res.extra["total"], "releases": res.releases, "caveats": res.caveats}
    params = {**f.as_params(), "by": ",".join(by), "level": level}
    links = {fmt: f"/data/export.{fmt}?{urlencode(params)}" for fmt in ("csv", "parquet", "provenance.json")}
    ctx = dict(filters=f, by=by, level=level, result=result, preview=result["rows"][:PREVIEW_ROWS], links=links,
               tables=analyses.event_tables(page.wh), aors=analyses.aors(page.wh, f.table),
               group_keys=list(GROUP_BY), defs=definitions(page.wh, f, page.lang),
               releases=release_details(page.wh, result["releases"], f.table))
    if page.partial:
        return page.render("_data_results.html", **ctx)
    return page.render("data.html", **ctx)


@router.get("/data/export.{fmt}")
def download(request: Request, fmt: str) -> Response:
    from icemonitor.web import export

    page = Page(request)
    if fmt not in ("csv", "parquet", "provenance.json"):
        return error_page(request, 404, "error.not_found")
    q = dict(request.query_params)
    f = filters_from_query(q)
    by = parse_by(q.get("by", ""))
    level = q.get("level") or "summary"
    if level not in export.LEVELS:
        raise ParamError("level", msg("allowed: {choices}", choices=", ".join(export.LEVELS)), level)
    if level == "summary":
        table, release_ids = export.summary_table(page.wh, f, by)
        schema, source = table.schema, table
    else:
        sql, params, release_ids = export.events_query(page.wh, f)
        source = None
    prov = provenance(page.wh, f, by, level, release_ids, page.lang)
    stem = "_".join(["icemonitor", f.table, level] + by)
    if fmt == "provenance.json":
        return Response(json.dumps(prov, indent=2, ensure_ascii=False), media_type="application/json",
                        headers={"Content-Disposition": f'attachment; filename="{stem}.provenance.json"'})
    if source is None:  # events: DuckDB streams record batches; each is written out and sent before the next
        source = export.event_batches(page.wh, sql, params)
        schema = source.schema
    if fmt == "csv":
        return StreamingResponse(close_after(export.csv_chunks(source, schema, prov), source),
                                 media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'})
    return StreamingResponse(close_after(export.parquet_chunks(source, schema, prov), source),
                             media_type="application/vnd.apache.parquet",
                             headers={"Content-Disposition": f'attachment; filename="{stem}.parquet"'})


def close_after(chunks, source):
    """The chunks, then the batch reader closed (also when the client goes away mid-download)."""
    try:
        yield from chunks
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
