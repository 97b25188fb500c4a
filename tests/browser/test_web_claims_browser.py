"""Targeting and claim-check pages in a real browser (Debian's chromium via Playwright); screenshots to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

from browser_support import ARTIFACTS, drawn, needs_chromium
from test_web_places_browser import page, server  # noqa: F401  (fixtures)

pytestmark = needs_chromium


def test_targeting_page_draws_rate_ratios(page, server):  # noqa: F811
    page.goto(server + "/targeting?lang=en")
    drawn(page, "chart-ratios")
    assert page.locator("#chart-ratios svg path[aria-roledescription='point']").count() >= 2
    page.screenshot(path=str(ARTIFACTS / "targeting.png"), full_page=True)
    page.select_option("#t-def", "no-287g")
    page.click("button[type=submit]")
    page.wait_for_url("**definition=no-287g**")
    assert page.locator("#t-def").input_value() == "no-287g"
    assert not page.errors, page.errors


def test_claim_check_paste_and_verdicts(page, server):  # noqa: F811
    page.goto(server + "/check?lang=es")
    page.fill("#c-claims", Path(__file__).resolve().parents[2].joinpath(
        "examples", "claims", "september-2017-sweep.yaml").read_text())
    page.click(".claims-form button[type=submit]")
    page.wait_for_selector("#check-results")
    assert page.locator("#check-results td.verdict").count() >= 3
    page.screenshot(path=str(ARTIFACTS / "check_es.png"), full_page=True)
    assert not page.errors, page.errors
