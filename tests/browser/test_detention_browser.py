"""The detention map and the place pages' detention chart in a real browser on a phone (390 x 844), English and
Spanish, over the warehouse `icemonitor build` makes: drawn, one circle per facility the page lists for the map,
nothing wider than the screen."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from browser_support import ARTIFACTS, drawn, needs_chromium, recording_page, serving  # noqa: E402

SHARED = __import__("conftest").SHARED_DATA
pytestmark = needs_chromium
WIDTHS = "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"


@pytest.fixture(scope="module")
def server(request):
    from icemonitor.web.app import create_app

    try:
        path = request.getfixturevalue("warehouse_path")
    except Exception as exc:
        pytest.skip(f"the product warehouse could not be built here: {exc}")
    with serving(create_app(path, ref=lambda p: SHARED / p)) as url:
        yield url


@pytest.mark.parametrize("lang", ["en", "es"])
def test_facility_map_and_place_chart_draw_on_a_phone(server, lang):
    with recording_page() as pg:
        pg.set_viewport_size({"width": 390, "height": 844})
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
