"""No log line holds what a person typed or where they wrote from (issue 15, items 1 and 2)."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
from intake_support import FORM, _free_port, add_staff, logged_in, make_client, make_settings, submit

from icemonitor.intake.keys import new_key, write_key_file

REPO = Path(__file__).resolve().parents[1]
# a name in Chinese, a message in Amharic, Arabic and Hindi, and a private-use character no font has
NAME = "王小明"
MESSAGE = "ወንድሜ ታስሯል — أخي محتجز — मेरा भाई हिरासत में है \ue123"


def test_pdf_export_logs_no_typed_character_and_shows_every_script(tmp_path, caplog, capfd):
    client, ia = make_client(make_settings(tmp_path, f"sqlite:///{tmp_path / 'i.sqlite'}"))
    _, ref = submit(client, name=NAME, phone="1", message=MESSAGE)
    logged_in(client, add_staff(ia, "atty", ["attorney"]))
    caplog.set_level(logging.DEBUG)
    pdf = client.get(f"/staff/requests/{ref}/export.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    out, err = capfd.readouterr()
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name != "httpx") + out + err  # not the test client's own
    assert "withheld" in logged  # WeasyPrint did complain (the private-use character) and was withheld
    for ch in NAME + MESSAGE.replace(" ", "").replace("—", ""):
        assert ch not in logged, f"U+{ord(ch):04X} reached the log"
    assert ref not in logged


def test_every_client_script_has_a_font_in_pdf_exports(caplog):
    """Rendered outside the intake's guard, WeasyPrint names each character it has no font for: none here."""
    from weasyprint import HTML

    caplog.set_level(logging.WARNING, logger="weasyprint")
    text = NAME + " " + MESSAGE.replace("\ue123", "")
    HTML(string=f'<p style="font-family: DejaVu Sans, sans-serif">{text}</p>').write_pdf()
    assert not [r for r in caplog.records if ".notdef" in r.getMessage()], "a script without a font: empty boxes"


def test_the_required_fonts_are_installed():
    from icemonitor.intake.pdf import missing_scripts

    assert missing_scripts() == [], "install the font packages listed in the README (.ci/run installs them)"


def _serve(tmp_path: Path) -> tuple[subprocess.Popen, str, Path]:
    key = tmp_path / "secrets" / "intake.key"
    write_key_file(key, new_key())
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "ICEMONITOR_HOME": str(tmp_path / "home"),
           "ICEMONITOR_INTAKE_KEY_FILE": str(key), "ICEMONITOR_INTAKE_DB": f"sqlite:///{tmp_path / 'i.sqlite'}",
           "ICEMONITOR_INTAKE_INSECURE_COOKIES": "1", "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "server.log"
    proc = subprocess.Popen([sys.executable, "-m", "icemonitor", "serve", "--port", str(port),
                             "--warehouse", str(tmp_path / "none" / "warehouse.duckdb")],
                            env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{base}/healthz", timeout=2)
            break
        except httpx.TransportError:
            assert proc.poll() is None, log.read_text()
            time.sleep(0.2)
    return proc, base, log


def test_server_log_has_no_address_for_intake_or_staff_and_no_reference(tmp_path):
    proc, base, log = _serve(tmp_path)
    try:
        with httpx.Client(timeout=30) as c:
            r = c.post(f"{base}/intake", data={**FORM, "phone": "555-0101", "situation": "detained_now"},
                       headers={"X-Forwarded-For": "198.51.100.23"})
            ref = re.search(r'id="reference">([A-Z0-9-]+)<', r.text).group(1)
            c.post(f"{base}/intake", data={**FORM, "consent": ""})
            c.get(f"{base}/intake?lang=es")
            c.get(f"{base}/staff/login")
            c.get(f"{base}/healthz")
        time.sleep(1.0)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text()
    assert "/healthz" in text and "127.0.0.1" in text  # the access log is on: the dashboard's lines stay
    lines = text.splitlines()
    assert not [line for line in lines if "/intake" in line or "/staff" in line], text
    for secret in (ref, "198.51.100.23", "555-0101"):
        assert secret not in text, secret


def test_access_filter_drops_only_intake_paths():
    from icemonitor.intake.access_log import PrivateAccessFilter

    def record(path: str) -> logging.LogRecord:
        return logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
                                 ("10.0.0.1:5", "POST", path, "1.1", 200), None)

    f = PrivateAccessFilter()
    kept = [p for p in ("/intake", "/intake?lang=es", "/staff/requests/ABCD-EFGH", "/staff", "/intakes", "/",
                        "/api/v1/summary") if f.filter(record(p))]
    assert kept == ["/intakes", "/", "/api/v1/summary"]
