"""Place, sweep and Spanish pages in a real browser (Debian's chromium via Playwright), over the warehouse
`icemonitor build` makes (conftest's `warehouse_path`). Screenshots go to test-artifacts/."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

SHARED = __import__("conftest").SHARED_DATA
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium not installed")


@pytest.fixture(scope="module")
def server(request):
    import uvicorn

    from icemonitor.web.app import create_app

    try:
        path = request.getfixturevalue("warehouse_path")
    except Exception as exc:
        pytest.skip(f"the product warehouse could not be built here: {exc}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(path, ref=lambda p: SHARED / p), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started:
        assert time.time() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(server):
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        pg = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("response", lambda r: errors.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
        pg.errors = errors
        yield pg
        browser.close()


def drawn(pg, chart_id: str):
    pg.wait_for_selector(f"#{chart_id}[data-state=drawn] svg", timeout=30000)
    return pg.locator(f"#{chart_id} svg")


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
