"""The dashboard in a real browser (Debian's chromium driven by Playwright): charts, filters, map, Spanish, downloads.

Needs `apt-get install -y chromium` (and the fonts it pulls in). Skips when /usr/bin/chromium is absent.
Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import re

import io
import sys
from pathlib import Path

import httpx
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import web_warehouse as ww  # noqa: E402

from browser_support import ARTIFACTS, drawn, needs_chromium, recording_page, serving  # noqa: E402

pytestmark = [needs_chromium, pytest.mark.skipif(not ww.NATIONWIDE.is_dir(), reason="../shared/data not present")]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from icemonitor.web.app import create_app

    path = ww.cached_build(tmp_path_factory.getbasetemp())
    with serving(create_app(path, ref=lambda p: ww.SHARED_DATA / p)) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    with recording_page(accept_downloads=True) as pg:
        yield pg


def test_overview_filters_map_spanish(page, server):
    page.goto(server + "/")
    drawn(page, "chart-trend")
    points_all = page.locator("#chart-trend svg path[aria-roledescription='point']").count()
    assert points_all > 100  # 2012-2019, several classes
    # The AOR map: thousands of county shapes, shaded with several colours, and a legend.
    drawn(page, "chart-aor_map")
    n_shapes = page.locator("#chart-aor_map svg path[aria-roledescription='geoshape']").count()
    assert n_shapes > 3000
    fills = page.eval_on_selector_all(
        "#chart-aor_map svg g.layer_1_marks path", "els => [...new Set(els.map(e => e.getAttribute('fill')))]")
    assert len(fills) >= 3
    assert page.locator("#chart-aor_map svg .role-legend").count() == 1
    drawn(page, "chart-rates")
    page.screenshot(path=str(ARTIFACTS / "overview.png"), full_page=True)

    # Change the period: the trend redraws with fewer months.
    with page.expect_response(lambda r: "from=2017-01-01" in r.url):
        page.fill("#f-from", "2017-01-01")
        page.locator("#f-from").dispatch_event("change")
    with page.expect_response(lambda r: "to=2017-06-30" in r.url):
        page.fill("#f-to", "2017-06-30")
        page.locator("#f-to").dispatch_event("change")
    # Wait for the swapped-in results of the last request (its spec ends in June 2017) to be drawn.
    page.wait_for_function("""() => { const s = document.querySelector('script[data-chart-for=chart-trend]');
        const c = document.querySelector('#chart-trend');
        return s && !s.textContent.includes('"2017-07"') && !s.textContent.includes('"2016-12"')
               && c.dataset.state === 'drawn' && c.querySelector("svg path[aria-roledescription='point']"); }""")
    # (the drawn SVG is required too: while htmx settles a swap, the new #chart-trend briefly carries the old
    # element's attributes, data-state="drawn" included, before anything is drawn in it)
    points_period = page.locator("#chart-trend svg path[aria-roledescription='point']").count()
    assert 0 < points_period <= 6 * 4, page.evaluate(
        "() => [document.querySelectorAll('#chart-trend').length, document.querySelector('#chart-trend').outerHTML.slice(0, 600),"
        " document.querySelector('script[data-chart-for=chart-trend]').textContent.slice(0, 300)]")
    assert "from=2017-01-01" in page.url

    # Choose an AOR: the title names it and the place link appears.
    with page.expect_response(lambda r: "aor=LOS" in r.url):
        page.select_option("#f-aor", "LOS")
    page.wait_for_selector("#results a[href='/place/LOS']", timeout=20000)
    page.wait_for_function("""() => { const s = document.querySelector('script[data-chart-for=chart-trend]');
        const svg = document.querySelector('#chart-trend svg');
        return s && s.textContent.includes('(LOS)') && document.querySelector('#chart-trend').dataset.state === 'drawn'
               && svg && svg.textContent.includes('LOS'); }""")
    assert "LOS" in page.locator("#chart-trend svg").text_content()
    page.screenshot(path=str(ARTIFACTS / "overview_filtered.png"), full_page=True)

    # Spanish.
    page.click("#lang-es")
    page.wait_for_selector("html[lang=es]")
    assert page.locator("h1").inner_text() == "Arrestos de ICE: panorama"
    drawn(page, "chart-trend")
    trend_text = page.locator("#chart-trend svg").text_content()
    assert "Mes" in trend_text
    # numbers inside the charts are written as in the page text and the reports (Spanish as in Mexico and the
    # U.S.: 1,234.5): one number format per language everywhere
    drawn(page, "chart-aor_bars")
    bars_text = page.locator("#chart-aor_bars svg").text_content()
    assert re.search(r"\d,\d{3}", bars_text) and not re.search(r"\d\.\d{3}\b", bars_text), bars_text[:300]
    page.screenshot(path=str(ARTIFACTS / "overview_es.png"), full_page=True)
    page.goto(server + "/?lang=en")
    assert not [e for e in page.errors if "favicon" not in e], page.errors


def test_keyboard_skip_link(page, server):
    page.goto(server + "/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"


def test_place_page(page, server):
    page.goto(server + "/place/SEA")
    for chart in ("chart-trend", "chart-method_mix", "chart-criminality_most_serious_conviction"):
        drawn(page, chart)
    assert page.locator("#chart-method_mix svg path[aria-roledescription='bar']").count() >= 8 * 3
    page.screenshot(path=str(ARTIFACTS / "place_SEA.png"), full_page=True)


def test_download_csv_matches_api(page, server):
    page.goto(server + "/data")
    page.select_option("#f-aor", "NYC")
    page.wait_for_selector("#dl-csv[href*='aor=NYC']")
    page.select_option("#f-by", "fy")
    page.wait_for_selector("#dl-csv[href*='by=fy']")
    page.screenshot(path=str(ARTIFACTS / "data.png"), full_page=True)
    with page.expect_download() as info:
        page.click("#dl-csv")
    text = Path(info.value.path()).read_text(encoding="utf-8")
    lines = text.splitlines()
    comments = [ln for ln in lines if ln.startswith("#")]
    assert any(ln.startswith("# release: uwchr-ice-enforce-fy16-19") for ln in comments)
    df = pd.read_csv(io.StringIO(text), skiprows=len(comments))
    api = httpx.get(server + "/api/v1/summary", params={"aor": "NYC", "by": "fy"}).json()
    assert dict(zip(df["fy"], df["n"])) == {r["fy"]: r["n"] for r in api["rows"]}
    assert dict(zip(df["fy"], df["n"])) == {2016: 1847, 2017: 2576, 2018: 3476, 2019: 2281}  # SOURCE.md
