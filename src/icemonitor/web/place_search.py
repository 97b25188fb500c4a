"""Finding a place by the words people use (places.place_names): the search box on every page, its suggestions,
the "which one?" page for words that name several places, and the sentence saying how words were read."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from icemonitor.places.place_filter import AmbiguousPlace, Place, UnknownPlace
from icemonitor.web import analyses
from icemonitor.web.api_analyses import app_ref
from icemonitor.web.pages import Page

router = APIRouter(include_in_schema=False)
MAX_WORDS = 80


def place_url(code: str, lang: str | None, asked: str | None = None) -> str:
    query = {k: v for k, v in (("asked", asked), ("lang", lang)) if v}
    return f"/place/{quote(code, safe='')}" + (f"?{urlencode(query)}" if query else "")


def choice_label(page: Page, value: str) -> str:
    """What a choice is, in the page's language: 'Louisiana (state)', 'Houston, TX (city: Harris County, TX)'."""
    place = analyses.parse_place(page.wh, app_ref(page.request), value)
    if place.city:
        return page.t("place.kind.city", city=place.city, county=local_label(page, place))
    return page.t(f"place.kind.{place.level}", place=local_label(page, place))


def choice_link(page: Page, value: str, lang: str | None) -> dict[str, str]:
    """A choice as a link: the place's search reading (a region opens its own page)."""
    extra = {"lang": lang} if lang else {}
    place = analyses.parse_place(page.wh, app_ref(page.request), value)
    url = place_url(place.code, lang) if place.level == "group" else f"/place?{urlencode({'q': value, **extra})}"
    return {"url": url, "label": choice_label(page, value)}


def place_name(page: Page, code: str) -> str:
    """A place code as shown in a sentence ('06037' -> 'Los Angeles County, CA'); the code itself when it is not a
    place (e.g. a sweep's 'unresolved:NOL')."""
    from icemonitor.errors import InputError
    from icemonitor.places.place_filter import parse_exact

    try:
        return local_label(page, parse_exact(code, app_ref(page.request)), in_sentence=True)
    except InputError:
        return code


def local_label(page: Page, place: Place, in_sentence: bool = False) -> str:
    """The place's label in the page's language; `in_sentence` adds Spanish's article ('el condado de ...')."""
    from icemonitor.places.place_names import label_in

    label = label_in(place, page.lang, app_ref(page.request))
    if in_sentence and page.lang == "es" and place.level in ("county", "aor") and label[:1].islower():
        return ("la " if label.startswith("oficina") else "el ") + label
    return label


def reading(page: Page, place: Place, asked: str | None) -> dict[str, Any] | None:
    """How the words in ?asked= were read, when they lead to this place and were not literal: the sentence and
    the other readings (field offices) as links."""
    if not asked or len(asked) > MAX_WORDS:
        return None
    try:
        read = analyses.parse_place(page.wh, app_ref(page.request), asked)
    except (AmbiguousPlace, UnknownPlace):
        return None
    if read.code != place.code or not read.read_as:
        return None
    key = {"city": "place.read.city", "largest city": "place.read.largest_city"}.get(read.read_as, "place.read.other")
    text = page.t(key, asked=asked, city=read.city, place=local_label(page, read))
    others = [{"url": place_url(code, page.lang), "label": choice_label(page, code)} for code in read.alternatives]
    return {"text": text, "others": others}


@router.get("/place")
def place_search(request: Request) -> Response:
    """The search box: one place -> its page (saying how the words were read); several -> which one?;
    none -> 404 with names that look alike."""
    page = Page(request)
    text = (request.query_params.get("q") or "").strip()[:MAX_WORDS]
    lang = request.query_params.get("lang")
    lang = lang if lang in ("en", "es") else None
    if not text:  # an empty search: how to name a place
        return page.render("place_choices.html", asked="", choices=[])
    try:
        place = analyses.parse_place(page.wh, app_ref(request), text) if text else None
    except AmbiguousPlace as exc:
        choices = [choice_link(page, v, lang) for v, _ in exc.choices]
        return page.render("place_choices.html", asked=text, choices=choices)
    except UnknownPlace:
        place = None
    if place is None:
        from icemonitor.places.place_filter import close_names
        from icemonitor.places.place_names import suggest

        ref = app_ref(request)
        names = ([v for v, _ in suggest(text, ref)] or close_names(text, ref)) if text else []
        similar = [{"url": f"/place?{urlencode({'q': v, **({'lang': lang} if lang else {})})}", "label": v}
                   for v in names]
        return page.render("place_choices.html", status=404, asked=text, choices=similar, unknown=True)
    asked = text if place.read_as else None
    return RedirectResponse(place_url(place.code, lang, asked), status_code=303)


@router.get("/place-suggest", response_class=HTMLResponse)
def place_suggest(request: Request) -> HTMLResponse:
    """<option> elements for the search box's datalist (htmx fills it as the person types)."""
    from markupsafe import escape

    from icemonitor.places.place_names import suggest

    text = (request.query_params.get("q") or "").strip()[:MAX_WORDS]
    found = suggest(text, app_ref(request)) if text else []
    html = "".join(f'<option value="{escape(value)}">{escape(label)}</option>' for value, label in found)
    return HTMLResponse(html, headers={"Cache-Control": "public, max-age=3600"})
