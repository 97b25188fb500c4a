"""Targeting page (/targeting) and claim-check page (/check: paste or upload a claims file)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.web import analyses, answers, charts, i18n
from icemonitor.web.api_analyses import app_ref
from icemonitor.web.api_claims import CLAIMS_EXAMPLE, run_targeting
from icemonitor.web.context import parse_date
from icemonitor.web.pages import Page
from icemonitor.query.filters import ParamError, check_order

router = APIRouter(include_in_schema=False)


def ratio_chart(rows: list[dict], t, title: str, label_key: str) -> dict:
    """Rate ratios with 95% intervals on a log axis, a rule at 1 (no difference)."""
    data = [{**r, "label": r[label_key]} for r in rows if r.get("ratio") and r.get("low") and r.get("high")]
    spec = charts._base(title, t("targeting.chart_desc"))
    spec.update({
        "height": {"step": 28},
        "layer": [
            {"data": {"values": [{"one": 1}]}, "mark": {"type": "rule", "strokeDash": [4, 3], "color": "#555"},
             "encoding": {"x": {"field": "one", "type": "quantitative"}}},
            {"data": {"values": data}, "mark": {"type": "rule", "strokeWidth": 2, "color": "#2f5d8a"},
             "encoding": {"y": {"field": "label", "type": "nominal", "title": None, "sort": None},
                          "x": {"field": "low", "type": "quantitative", "scale": {"type": "log"},
                                "title": t("targeting.ratio")},
                          "x2": {"field": "high"}}},
            {"data": {"values": data}, "mark": {"type": "point", "filled": True, "size": 70, "shape": "diamond",
                                                "color": "#2f5d8a"},
             "encoding": {"y": {"field": "label", "type": "nominal", "sort": None},
                          "x": {"field": "ratio", "type": "quantitative"},
                          "tooltip": [{"field": "label", "title": t("targeting.comparison")},
                                      {"field": "ratio", "type": "quantitative", "format": ".3f", "title": t("targeting.ratio")},
                                      {"field": "low", "type": "quantitative", "format": ".3f", "title": t("targeting.low")},
                                      {"field": "high", "type": "quantitative", "format": ".3f", "title": t("targeting.high")}]}},
        ],
    })
    return spec


@router.get("/targeting", response_class=HTMLResponse)
def targeting_page(request: Request) -> HTMLResponse:
    from icemonitor.places.sanctuary import definitions

    page = Page(request)
    t = page.t
    q = request.query_params
    defs = definitions()
    definition = (q.get("definition") or "").strip() or None
    if definition is not None and definition not in defs:
        raise ParamError("definition", msg("allowed: {choices}", choices=", ".join(defs)), definition)
    level = q.get("level") or "aor"
    if level not in ("aor", "county"):
        raise ParamError("level", msg("allowed: aor, county"), level)
    period = q.get("period") or "month"
    if period not in ("month", "fy"):
        raise ParamError("period", msg("allowed: month, fy"), period)
    d0 = parse_date("from", q.get("from"))
    d1 = parse_date("to", q.get("to"))
    import datetime as dt

    d0, d1 = d0 or dt.date(2015, 10, 1), d1 or dt.date(2019, 9, 30)
    check_order(d0, d1)
    res = run_targeting(request, definition, d0, d1, level, period)
    models = res.extra.get("models", [])
    did = res.extra.get("did", [])
    for m in models:
        known = m["outcome"] in ("arrests", "at_large", "at_large_share")
        m["label"] = t(f"targeting.outcome_{m['outcome']}") if known else m["outcome"]
    for m in did:
        outcome = m["outcome"]
        if page.lang != "en" and outcome in ("arrests", "at_large"):  # English pages keep the field name
            outcome = t(f"targeting.outcome_{outcome}")
        event = i18n.analysis_text(page.lang, m["event"])
        m["label"] = f"{event} {', '.join(m.get('states') or [])} · {outcome}"
    spec = ratio_chart(models, t, t("targeting.models_title"), "label") if models else None
    did_spec = ratio_chart(did, t, t("targeting.did_title"), "label") if did else None
    column_labels = {c: t(f"column.{c}") for c in res.columns if i18n.has_text(page.lang, f"column.{c}")}
    answer = answers.targeting_answer(t, lambda v, d=0: i18n.number(page.lang, v, d), res.parameters.get("definition"),
                                      res.parameters, res.figures, models, lang=page.lang)
    return page.render("targeting.html", res=res, models=models, did=did, spec=spec, did_spec=did_spec, answer=answer,
                       column_labels=column_labels,
                       definitions=defs, definition=res.parameters.get("definition"), level=level, period=period,
                       d0=d0, d1=d1, active="targeting",
                       api=f"/api/v1/targeting?{request.url.query}" if request.url.query else "/api/v1/targeting")


@router.get("/check", response_class=HTMLResponse)
def check_form(request: Request) -> HTMLResponse:
    page = Page(request)
    return page.render("check.html", text=CLAIMS_EXAMPLE, res=None, error=None, active="check")


@router.post("/check", response_class=HTMLResponse)
async def check_submit(request: Request) -> HTMLResponse:
    from starlette.concurrency import run_in_threadpool

    page = Page(request)
    form = await request.form(max_files=1, max_fields=4)
    upload = form.get("file")
    text = ""
    if upload is not None and hasattr(upload, "read"):
        data = await upload.read(analyses.MAX_CLAIMS_BYTES + 1)
        if len(data) > analyses.MAX_CLAIMS_BYTES:
            return page.render("check.html", status=422, text="", res=None,
                               error=page.t("check.too_large", n=analyses.MAX_CLAIMS_BYTES), active="check")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            return page.render("check.html", status=422, text="", res=None, error=page.t("check.not_utf8"),
                               active="check")
    if not text.strip():
        text = str(form.get("claims") or "")
    if not text.strip():
        return page.render("check.html", status=422, text="", res=None, error=page.t("check.empty"), active="check")
    if len(text.encode("utf-8")) > analyses.MAX_CLAIMS_BYTES:
        return page.render("check.html", status=422, text="", res=None,
                           error=page.t("check.too_large", n=analyses.MAX_CLAIMS_BYTES), active="check")
    try:
        res = await run_in_threadpool(analyses.check_claims, page.wh, app_ref(request), text)
    except InputError as exc:
        return page.render("check.html", status=422, text=text, res=None, error=str(exc), active="check")
    return page.render("check.html", text=text, res=res, error=None, active="check")
