"""Place pages: /place/{code} for an AOR (LOS), a state (CA) or a county (06037), parsed by places.parse_place.

Each page: monthly trend with the place's policy timeline on the same time axis, method mix, criminal history
where a release records it, the policy events themselves, sweeps detected there, and peers by rate per 10,000
non-citizen residents. County pages say how many arrests resolve to the county and how many are unresolved.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import duckdb
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from icemonitor.errors import InputError
from icemonitor.query.filters import Filters
from icemonitor.web import analyses, answers, charts, detention_pages, i18n, place_search
from icemonitor.web.api_analyses import app_ref
from icemonitor.web.context import aor_names, definitions, filters_from_query
from icemonitor.web.pages import Page, _figure, error_page, spans_text
from icemonitor.web.sweep_links import sweep_rows

router = APIRouter(include_in_schema=False)
SWEEPS_SHOWN = 10
PEERS_SHOWN = 20


def _resolve(page: Page, code: str):
    """(Place, is_aor) for a literal place code or name (LOS, CA, 06037, 'Cook County, IL'), or None."""
    from icemonitor.places.place_filter import parse_exact

    up = code.strip().upper()
    if up in analyses.aors(page.wh):
        return analyses.parse_place(page.wh, app_ref(page.request), up), True
    try:
        place = parse_exact(code.strip(), app_ref(page.request))
    except InputError:
        return None
    return place, place.level == "aor"


def _rows(res: Any) -> dict[str, Any]:
    """An analysis's figures as the page template takes them ({"rows", "releases"})."""
    return {"rows": res.figures, "releases": res.releases}


def sweep_places(page: Page, place: Any, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each sweep row with `place_label`: the place the sweep was measured in, named; an AOR measured for a county
    or state page says it is the AOR containing the place."""
    for r in rows:
        code = str(r["place"])
        if code == place.code:
            r["place_label"] = place_search.local_label(page, place)
        elif r["level"] == "aor" and place.level != "aor" and code in aor_names():
            aor = place_search.local_label(page, analyses.parse_place(page.wh, app_ref(page.request), code))
            r["place_label"] = (page.t("sweep.containing_aor", aor=aor, place=place_search.local_label(
                page, place, in_sentence=True)) if code in place.aors else aor)
    return rows


def _county_name(page: Page, name: str) -> str:
    """A county's name in the page's language ('condado de Los Ángeles' in Spanish)."""
    from icemonitor.places.place_names import spanish_county_name

    return spanish_county_name(name) if page.lang == "es" else name


def _aor_name(page: Page, code: str) -> str:
    """A field office's name in the page's language ('Los Ángeles' in Spanish)."""
    from icemonitor.places.place_names import spanish_name

    name = aor_names().get(code, code)
    return spanish_name(name) if page.lang == "es" else name


def _region(page: Page, place: Any) -> dict[str, Any] | None:
    """For a region (a named group of places, places/data/place_groups.yaml): its members as links, and where its
    definition comes from."""
    from icemonitor.places.place_filter import place_groups

    if place.level != "group":
        return None
    group = next((g for g in place_groups() if g["name"] == place.code or g["name"] == place.label), None)
    if group is None:
        return None
    members = [{"url": place_search.place_url(code, page.lang), "label": place_search.place_name(page, code)}
               for code in [*group.get("aors", []), *group.get("states", []), *group.get("counties", [])]]
    return {"members": members, "source": group.get("source", ""), "n_counties": len(place.county_fips)}


def trend_months(cover: dict[str, Any]) -> dict[str, str] | None:
    """Each month of the page's period: full, partial or none (charts.month_coverage) from the place's coverage
    (query.coverage); None for a warehouse built without coverage tables."""
    if cover.get("status") == "unknown" or not cover.get("from") or not cover.get("to"):
        return None
    day = dt.date.fromisoformat
    return charts.month_coverage(day(str(cover["from"])), day(str(cover["to"])), cover.get("covered_spans") or [])


@router.get("/place/{code}", response_class=HTMLResponse)
def place_page(request: Request, code: str) -> Response:
    page = Page(request)
    t, wh = page.t, page.wh
    found = _resolve(page, code)
    if found is None and len(code) <= place_search.MAX_WORDS:  # words, not a code: the search reads them
        lang = request.query_params.get("lang")
        query = {"q": code, **({"lang": lang} if lang in ("en", "es") else {})}
        return RedirectResponse(f"/place?{urlencode(query)}", status_code=303)
    if found is None:
        return error_page(request, 404, "error.unknown_place", place=code)
    place, is_aor = found
    q = {k: v for k, v in request.query_params.items() if k in ("from", "to")}
    f = filters_from_query(q)
    d0, d1 = f.date_from, f.date_to
    label = place.code if is_aor else place_search.local_label(page, place)
    ref = app_ref(request)

    def profile(part: str):  # every figure of the page is an analysis (analysis.place_profile), as the API's
        return analyses.place_profile(wh, ref, part, place, d0, d1)

    pol = profile("policies")
    policies = [{**p, "place_name": _county_name(page, p["place_name"]) if p.get("place_name") else None}
                for p in pol.figures]
    figures, crim_figs = [], []
    if is_aor:
        fa = Filters("arrests", d0, d1, place.code, None)
        defs = definitions(wh, fa, page.lang)
        spans = spans_text(page, fa)
        place_def = t("place.def_aor", aor=place.code)
    else:
        defs = definitions(wh, Filters("arrests", d0, d1), page.lang)
        spans = []
        place_def = t("place.def_resolved", place=label)
    # trend, method mix, criminality (and a county's resolution) from one scan
    counts = analyses.place_profile_counts(wh, ref, place, d0, d1, with_resolution=place.level == "county")
    trend, mix = counts["trend"], counts["method_mix"]
    cover = trend.coverage  # what the records cover of the place and period (query.coverage)
    crim = counts["criminality"].figures
    title = t("place.trend_title", aor=label)
    months = trend_months(cover)
    spec = charts.trend_with_policies(trend.figures, policies, t, title, months) if trend.figures else None
    figures.append(_figure(
        "trend", spec, trend.figures,
        [("month", t("chart.month")), ("method_class", t("chart.method_class")), ("n", t("chart.events"))],
        " ".join([place_def, defs["counted"], defs.get("method_class", ""), t("place.policy_note")]),
        trend.releases, t("figure.empty"), spans))
    figures.append(_figure(
        "method_mix", charts.grouped_bars(mix.figures, t, t("place.method_title", aor=label), "fy", t("chart.fy"),
                                          "method_class", "class") if mix.figures else None,
        mix.figures, [("fy", t("chart.fy")), ("method_class", t("chart.method_class")), ("n", t("chart.events"))],
        " ".join([place_def, defs["counted"], defs.get("method_class", ""), t("def.fy")]), mix.releases,
        t("figure.empty")))
    for release, field in sorted({(r["release_id"], r["criminality_field"]) for r in crim}):
        rows = [r for r in crim if r["release_id"] == release and r["criminality_field"] == field]
        crim_figs.append(_figure(
            f"criminality_{field}", charts.grouped_bars(
                rows, t, t("place.crim_title", aor=label, field=field, release=release), "fy", t("chart.fy"),
                "criminality", "crim"),
            rows, [("fy", t("chart.fy")), ("criminality", t("chart.criminality")), ("n", t("chart.events"))],
            place_def + " " + t("def.criminality", field=field, release=release) + " " + t("def.fy"), [release]))
    # sweeps detected in the place (the CLI's `sweeps --place`)
    scope = place.code
    try:
        sw = analyses.sweeps(wh, ref, scope, d0, d1, "at_large", None, SWEEPS_SHOWN)
        sweeps_ctx = {"rows": sweep_places(page, place, sweep_rows(sw, scope)), "releases": sw.releases, "definitions": sw.definitions,
                      "caveats": sw.caveats, "error": None,
                      "not_measurable": sw.extra.get("not_measurable_because")}
    except (InputError, duckdb.Error) as exc:  # a section that cannot be computed says why; the page stays
        sweeps_ctx = {"rows": [], "releases": [], "definitions": {}, "caveats": [], "error": str(exc)}
    try:
        peer_res = profile("peers")
        peer = {"rows": [dict(r) for r in peer_res.figures], "year": peer_res.extra.get("population_year")}
    except duckdb.Error:  # e.g. a warehouse whose landmark_resolution lacks the state column: no peer section
        peer = None
    if peer is not None and peer["year"] is not None:
        names = aor_names()
        for r in peer["rows"]:
            r["label"] = (f"{r['peer']} – {names.get(r['peer'], r['peer'])}" if place.level == "aor"
                          else f"{_county_name(page, r.get('name') or r['peer'])} ({r['peer']})"
                          if place.level == "county" else r["peer"])
        shown = peer["rows"][:PEERS_SHOWN] + [r for r in peer["rows"][PEERS_SHOWN:] if r["current"]]
        peer_note = t(f"place.peer_note_{place.level}", year=peer["year"]) + " " + defs["counted"]
        figures_peer = _figure(
            "peers", charts.peer_bars(shown, t, t(f"place.peer_title_{place.level}", place=label), label) if shown else None,
            shown, [("rank", "#"), ("label", t("place.peer")), ("n", t("chart.events")),
                    ("noncitizen_pop", t("chart.noncitizens")), ("rate", t("chart.rate"))],
            peer_note, peer_res.releases, t("figure.empty"))
    else:
        figures_peer = None
    resolution = counts["resolution"].figures[0] if place.level == "county" else None
    if resolution is not None and resolution["resolved"] is None:  # no records: no count to resolve (not zero)
        resolution = None
    local_counts = pol.extra["local_counts"]
    params = urlencode({k: v for k, v in q.items() if v})
    held = detention_pages.in_place(page, place, label)
    return page.render(
        "place.html", code=place.code, place=place, label=label, is_aor=is_aor, region=_region(page, place),
        name=_aor_name(page, place.code) if is_aor else label,
        figures=figures, crim_figures=crim_figs, filters=f, sweeps=sweeps_ctx, peers=figures_peer,
        policies=policies, local_counts=local_counts, resolution=resolution,
        policy_group=charts.policy_group, api_params=params, today=dt.date.today(), coverage=cover, held=held,
        reading=place_search.reading(page, place, request.query_params.get("asked")),
        answer=answers.place_answer(t, lambda v, d=0: i18n.number(page.lang, v, d), place_search.local_label(page, place, in_sentence=True),
                                    trend.figures, resolution, cover, page.lang))
