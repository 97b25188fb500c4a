"""In a real browser (Debian chromium, headless): the Spanish form without JavaScript, then a reviewer logs in with TOTP and finds it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from browser_support import CHROMIUM, LAUNCH_ARGS, needs_chromium, serving  # noqa: E402
from intake_support import add_staff, make_settings  # noqa: E402

PERSON = {
    "name": "Graciela Montoya Ibarra",
    "phone": "956-555-0123",
    "place": "Condado de Hidalgo",
    "message": "Detuvieron a mi hijo en el puente de Pharr esta mañana",
}

pytestmark = needs_chromium


@pytest.fixture
def live(tmp_path):
    from fastapi import FastAPI

    from icemonitor.intake.web import mount

    app = FastAPI()
    ia = mount(app, make_settings(tmp_path, f"sqlite:///{tmp_path / 'intake.sqlite'}"))
    with serving(app) as url:
        yield url, ia


def test_spanish_form_then_reviewer_finds_it(live):
    from playwright.sync_api import sync_playwright

    base, ia = live
    reviewer = add_staff(ia, "revisora", ["reviewer"])
    requested: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        try:
            public = browser.new_context(java_script_enabled=False)  # the form works without JavaScript
            page = public.new_page()
            page.on("request", lambda req: requested.append(req.url))
            page.goto(f"{base}/intake?lang=es")
            assert page.locator("html").get_attribute("lang") == "es"
            assert "Nunca compartimos" in page.content()
            page.fill("input[name=name]", PERSON["name"])
            page.fill("input[name=phone]", PERSON["phone"])
            page.fill("input[name=place]", PERSON["place"])
            page.select_option("select[name=language]", "es")
            page.check("input[name=situation][value=detained_now]")
            page.check("input[name=urgency][value=urgent]")
            page.fill("textarea[name=message]", PERSON["message"])
            page.check("input[name=consent]")
            page.click("button[type=submit]")
            page.wait_for_selector("#reference")
            reference = page.inner_text("#reference").strip()
            body = page.inner_text("body")
            assert "Recibimos su solicitud" in body and "Alguien está detenido ahora" in body
            for value in PERSON.values():
                assert value not in page.content()
            public.close()

            staff = browser.new_context()
            page = staff.new_page()
            page.on("request", lambda req: requested.append(req.url))
            page.goto(f"{base}/staff")
            assert page.url.endswith("/staff/login")
            page.fill("input[name=username]", reviewer.username)
            page.fill("input[name=password]", reviewer.password)
            page.fill("input[name=code]", reviewer.code())
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/staff")
            page.click(f"text={reference}")
            page.wait_for_url(f"{base}/staff/requests/{reference}")
            text = page.inner_text("body")
            for value in PERSON.values():
                assert value in text
            assert "urgent" in text
            staff.close()
        finally:
            browser.close()
    assert requested and all(url.startswith(base) for url in requested), [u for u in requested if not u.startswith(base)]
