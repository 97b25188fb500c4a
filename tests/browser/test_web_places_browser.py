"""Place, sweep, detention and Spanish pages in a real browser (Debian's chromium via Playwright), over the warehouse
`icemonitor build` makes (conftest's `warehouse_path`). Screenshots go to test-artifacts/."""

from __future__ import annotations

import json

import pytest
from browser_support import ARTIFACTS, drawn, needs_chromium, recording_page, serving

SHARED = __import__("conftest").SHARED_DATA

pytestmark = needs_chromium


@pytest.fixture(scope="module")
def server(request):
    from icemonitor.web.app import create_app

    try:
        path = request.getfixturevalue("warehouse_path")
    except Exception as exc:
        pytest.skip(f"the product warehouse could not be built here: {exc}")
    with serving(create_app(path, ref=lambda p: SHARED / p)) as url:
        yield url


@pytest.fixture(scope="module")
def page(server):
    with recording_page() as pg:
        yield pg


def test_state_and_county_pages_draw_policy_timeline_and_peers(page, server):
    page.goto(server + "/place/CA")
    drawn(page, "chart-trend")
    # the policy timeline shares the trend's axis: rule marks (policy starts) and the trend's points
    assert page.locator("#chart-trend svg g.mark-rule line").count() >= 2
    assert page.locator("#chart-trend svg path[aria-roledescription='point']").count() > 50
    drawn(page, "chart-peers")
    assert page.locator("#chart-peers svg path[aria-roledescription='bar']").count() >= 20
    page.screenshot(path=str(ARTIFACTS / "place_state_CA.png"), full_page=True)
    page.goto(server + "/place/06037")
    drawn(page, "chart-trend")
    assert "resolved to it" in page.locator("#resolution-note").inner_text()
    page.screenshot(path=str(ARTIFACTS / "place_county_06037.png"), full_page=True)
    assert not page.errors, page.errors


def test_sweep_page_from_the_list_and_spanish(page, server):
    page.goto(server + "/sweeps?lang=en")
    page.screenshot(path=str(ARTIFACTS / "sweeps.png"), full_page=True)
    page.locator("table.sweeps a").first.click()
    page.wait_for_url("**/sweep/**")
    drawn(page, "chart-daily")
    assert page.locator("#chart-daily svg path[aria-roledescription='bar']").count() > 30
    assert "arrests" in page.locator("#sweep-summary").inner_text()
    page.screenshot(path=str(ARTIFACTS / "sweep.png"), full_page=True)
    page.click("#lang-es")
    page.wait_for_selector("html[lang=es]")
    drawn(page, "chart-daily")
    assert page.locator("h1").inner_text().startswith("Redada")
    assert "arrestos" in page.locator("#sweep-summary").inner_text()
    page.screenshot(path=str(ARTIFACTS / "sweep_es.png"), full_page=True)
    # keyboard: the first Tab reaches the skip link, and the filter controls on /sweeps carry labels
    page.goto(server + "/sweeps?lang=es")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip"
    for control in ("s-place", "f-from", "f-to", "s-measure", "s-level", "s-limit"):
        assert page.locator(f"label[for={control}]").count() == 1
    assert not page.errors, page.errors


WIDTHS = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_facility_map_and_place_chart_draw_on_a_phone(page, server, lang):
    """The detention map on a phone (390 x 844): drawn, one circle per facility the spec lists, no wider than the
    screen; and a place page's detention chart and table."""
    pg = page
    del pg.errors[:]
    pg.set_viewport_size({"width": 390, "height": 844})
    try:
        pg.goto(f"{server}/detention?lang={lang}")
        svg = drawn(pg, "chart-facility-map", timeout=60000)
        spec = json.loads(pg.locator('script[data-chart-for="chart-facility-map"]').text_content())
        circles = pg.locator("#chart-facility-map g.mark-symbol.role-mark path").count()
        assert circles == len(spec["layer"][1]["data"]["values"]) > 300
        box = svg.bounding_box()
        assert box["width"] <= 390 and box["height"] > 150  # the map keeps the US aspect ratio, not a thumbnail
        scroll, client = pg.evaluate(WIDTHS)
        assert scroll <= client, f"/detention is {scroll} px wide on a {client} px screen"
        (ARTIFACTS / "detention").mkdir(parents=True, exist_ok=True)
        pg.locator("#fig-facility-map").screenshot(path=str(ARTIFACTS / "detention" / f"detention_map_{lang}.png"))
        pg.goto(f"{server}/place/LOS?lang={lang}")
        drawn(pg, "chart-detention", timeout=60000)
        assert pg.locator("#detention-facilities tbody tr").count() >= 1
        scroll, client = pg.evaluate(WIDTHS)
        assert scroll <= client, f"/place/LOS is {scroll} px wide on a {client} px screen"
        assert not pg.errors, pg.errors
    finally:
        pg.set_viewport_size({"width": 1200, "height": 900})
