"""Every kind of page reachable from the home page, in English and Spanish, on a phone (390 x 844) and a laptop
(1366 x 900), in a real browser (Debian's chromium via Playwright) over the warehouse `icemonitor build` makes,
with the intake mounted as `icemonitor serve` mounts it:

- the page is no wider than the screen (wide tables scroll inside their own box),
- no script error, no console error, no failed request, no HTTP error,
- no request to another host (everything, the API documentation included, is served by the app),
- the intake is linked from every dashboard page, in the page's language,
- place, sweep, sanctuary (/targeting) and detention pages open with a plain answer in the page's language.

The crawl follows the links of each page it visits and takes up to PER_KIND pages of each kind (first path
segment: /place/..., /sweep/..., ...), so every template is visited without loading hundreds of near-identical
sweep pages. Screenshots of the phone views go to test-artifacts/every_page/.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from browser_support import ARTIFACTS, needs_chromium, recording_page, serving  # noqa: E402
from intake_support import make_settings  # noqa: E402

SHARED = __import__("conftest").SHARED_DATA
pytestmark = needs_chromium

PHONE, LAPTOP = {"width": 390, "height": 844}, {"width": 1366, "height": 900}
PER_KIND = 2
ANSWERED = ("/place/", "/sweep/", "/targeting", "/detention")  # pages that open with a plain answer
MAX_PAGES = 30
# not pages: files, JSON and the app's own assets
NOT_PAGES = ("/static/", "/geo/", "/openapi.json", "/api/v1/", "/data/", "/intake/static/")
CHARTS_SETTLED = """() => [...document.querySelectorAll('script[data-chart-for]')].every(s => {
    const t = document.getElementById(s.dataset.chartFor); return !t || ['drawn', 'error'].includes(t.dataset.state); })"""
WIDTHS = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
# the outermost elements sticking out of the screen, outside any box that scrolls or clips them (for the message)
STICKING_OUT = """() => { const W = document.documentElement.clientWidth, out = [];
  for (const e of document.querySelectorAll('body *')) { const r = e.getBoundingClientRect();
    if (r.right <= W + 1 || !r.width) continue;
    let p = e.parentElement, boxed = false;
    while (p && !boxed) { boxed = ['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX); p = p.parentElement; }
    if (!boxed) out.push(`${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''}.${e.className} (right edge ${Math.round(r.right)})`); }
  return out.slice(0, 5); }"""


@pytest.fixture(scope="module")
def server(request, tmp_path_factory):
    from icemonitor.intake import mount_intake
    from icemonitor.web.app import create_app

    try:
        path = request.getfixturevalue("warehouse_path")
    except Exception as exc:
        pytest.skip(f"the product warehouse could not be built here: {exc}")
    tmp = tmp_path_factory.mktemp("intake")
    app = create_app(path, ref=lambda p: SHARED / p)
    mount_intake(app, make_settings(tmp, f"sqlite:///{tmp / 'intake.sqlite'}"))
    with serving(app) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    host = urlsplit(server).netloc
    with recording_page() as pg:
        pg.console_errors, pg.other_hosts = [], []
        pg.on("console", lambda m: pg.console_errors.append(m.text) if m.type == "error" else None)

        def guard(route):
            if urlsplit(route.request.url).netloc != host:
                pg.other_hosts.append(route.request.url)
                route.abort()
            else:
                route.continue_()

        pg.route("**/*", guard)
        yield pg


def _without_lang(href: str) -> str:
    parts = urlsplit(href)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k != "lang"])
    return parts.path + (f"?{query}" if query else "")


def _with_lang(path: str, lang: str) -> str:
    return path + ("&" if "?" in path else "?") + f"lang={lang}"


@pytest.fixture(scope="module")
def pages(page, server) -> list[str]:
    """The pages reachable from / by links (same host), up to PER_KIND of each kind."""
    found, queue, kinds = [], ["/"], {}
    while queue and len(found) < MAX_PAGES:
        path = queue.pop(0)
        kind = urlsplit(path).path.split("/")[1]
        if path in found or kinds.get(kind, 0) >= PER_KIND:
            continue
        kinds[kind] = kinds.get(kind, 0) + 1
        found.append(path)
        page.goto(server + _with_lang(path, "en"))
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            parts = urlsplit(href)
            if parts.netloc == urlsplit(server).netloc and parts.path.startswith("/") and \
                    not parts.path.startswith(NOT_PAGES) and not parts.fragment:
                queue.append(_without_lang(parts.path + (f"?{parts.query}" if parts.query else "")))
    return found


def test_the_crawl_reaches_every_kind_of_page(pages):
    kinds = {urlsplit(p).path.split("/")[1] for p in pages}
    assert {"", "sweeps", "sweep", "place", "targeting", "check", "data", "api", "intake", "detention"} <= kinds, pages


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_page_fits_loads_cleanly_and_stays_on_this_host(page, server, pages, viewport, lang):
    page.set_viewport_size(viewport)
    shots = ARTIFACTS / "every_page"
    shots.mkdir(parents=True, exist_ok=True)
    problems = []
    for path in pages:
        del page.errors[:], page.console_errors[:], page.other_hosts[:]
        page.goto(server + _with_lang(path, lang))
        page.wait_for_function(CHARTS_SETTLED, timeout=60000)
        if path == "/api/docs":
            page.wait_for_selector("#swagger-ui[data-state=drawn] .opblock", timeout=30000)
        assert page.locator("html").get_attribute("lang") == lang, path
        scroll_width, client_width = page.evaluate(WIDTHS)
        if scroll_width > client_width:
            problems.append(f"{path}: {scroll_width} px wide on a {client_width} px screen: {page.evaluate(STICKING_OUT)}")
        failed_charts = page.locator("[data-chart-for]").evaluate_all(
            "tags => tags.map(t => document.getElementById(t.dataset.chartFor)).filter(c => c && c.dataset.state === 'error').map(c => c.id)")
        for what, items in (("error", page.errors), ("console error", page.console_errors),
                            ("request to another host", page.other_hosts), ("chart not drawn", failed_charts)):
            problems += [f"{path}: {what}: {item}" for item in items]
        if path.startswith(ANSWERED):
            text = page.locator("p.answer#answer").inner_text() if page.locator("p.answer#answer").count() else ""
            if len(text) < 60:
                problems.append(f"{path}: no leading plain answer ({text!r})")
        if not path.startswith("/intake"):
            link = page.locator("#nav-intake")
            if link.count() != 1 or f"lang={lang}" not in (link.get_attribute("href") or ""):
                problems.append(f"{path}: no intake link in {lang}")
        if viewport is PHONE:
            name = (path.strip("/").replace("/", "_").split("?")[0] or "home") + f"_{lang}.png"
            page.screenshot(path=str(shots / name), full_page=True)
    assert not problems, "\n".join(problems)
