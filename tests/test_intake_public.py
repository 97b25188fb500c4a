"""The public form /intake: wording in both languages, consent, contact, confirmation, no leaks, limits."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
import yaml
from intake_support import FORM, make_client, make_settings, submit

import icemonitor.intake as intake_pkg

DATA = Path(intake_pkg.__file__).parent / "data"
TYPED = {
    "name": "Evangelina Sotomayor-Tzul",
    "phone": "682-555-0173",
    "email": "evangelina.tzul@example.net",
    "trusted_contact": "Primo Ubaldo Tzul 817-555-0164",
    "place": "Tarrant County, Arlington",
    "message": "Mi hermano Ubaldo está detenido en Prairieland desde el martes",
}


@pytest.fixture
def client_ia(tmp_path):
    return make_client(make_settings(tmp_path, f"sqlite:///{tmp_path / 'intake.sqlite'}"))


def stored_count(ia) -> int:
    with ia.vault.db.transaction() as conn:
        return int(conn.one("SELECT COUNT(*) AS n FROM intake_requests")["n"])


@pytest.mark.parametrize("lang", ["en", "es"])
def test_form_page_states_the_notice_and_loads_nothing_external(client_ia, lang):
    client, ia = client_ia
    r = client.get(f"/intake?lang={lang}")
    assert r.status_code == 200
    words = yaml.safe_load((DATA / "strings.yaml").read_text(encoding="utf-8"))[lang]
    html = r.text
    assert f'<html lang="{lang}">' in html
    for key in ("notice_stored", "notice_encrypted", "notice_no_government", "consent"):
        assert words[key] in html.replace("&#39;", "'"), key
    assert words["notice_retention"].format(days=ia.settings.retention_days) in html
    assert f'href="/intake?lang={words["other_lang"]}"' in html  # the language switch
    assert "<script" not in html.lower()
    for url in re.findall(r'(?:src|href|action)="([^"]*)"', html):
        assert url.startswith("/"), url  # nothing from another host
    assert 'name="consent"' in html and "required" in html


def test_security_headers_on_every_public_response(client_ia):
    client, _ = client_ia
    responses = [client.get("/intake"), client.get("/intake/static/intake.css"),
                 client.post("/intake", data={**FORM, "consent": ""}), submit(client, phone="1")[0]]
    for r in responses:
        h = r.headers
        assert "default-src 'self'" in h["content-security-policy"]
        assert "frame-ancestors 'none'" in h["content-security-policy"]
        assert h["referrer-policy"] == "no-referrer"
        assert h["x-content-type-options"] == "nosniff"
        assert h["cache-control"] == "no-store"
        assert "set-cookie" not in h


def test_consent_and_one_contact_method_are_required(client_ia):
    client, ia = client_ia
    r, ref = submit(client, phone="555", consent="")
    assert r.status_code == 400 and ref is None and "ticking the box" in r.text
    r, ref = submit(client, lang="es", phone="", email="", trusted_contact="", name="Solo Nombre")
    assert r.status_code == 400 and ref is None and "al menos una forma" in r.text
    r, ref = submit(client, phone="555", situation="something-invented")
    assert r.status_code == 400 and ref is None
    r, ref = submit(client, phone="555", message="x" * 5001)
    assert r.status_code == 400 and ref is None
    assert stored_count(ia) == 0
    for contact in ("phone", "email", "trusted_contact"):
        r, ref = submit(client, **{contact: "something"})
        assert r.status_code == 200 and ref
    assert stored_count(ia) == 3


def test_confirmation_shows_only_the_reference(client_ia):
    client, ia = client_ia
    r, ref = submit(client, **TYPED, situation="notice_to_appear", urgency="soon")
    assert r.status_code == 200 and re.fullmatch(r"[A-Z0-9]{4}-[A-Z0-9]{4}", ref)
    for field, value in TYPED.items():
        assert value not in r.text, field
        for part in value.split():
            if len(part) > 4:
                assert part not in r.text, (field, part)
    detained = yaml.safe_load((DATA / "detained_now.yaml").read_text(encoding="utf-8"))
    assert detained["en"]["steps"][0] not in r.text  # not detained: no emergency text


@pytest.mark.parametrize("lang", ["en", "es"])
def test_detained_now_shows_what_to_do_at_once(tmp_path, lang):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'i.sqlite'}", office_phone="(555) 010-2000")
    client, ia = make_client(settings)
    r, ref = submit(client, lang=lang, phone="1", situation="detained_now", urgency="normal")
    assert r.status_code == 200 and ref
    detained = yaml.safe_load((DATA / "detained_now.yaml").read_text(encoding="utf-8"))[lang]
    text = r.text.replace("&#39;", "'").replace("&#34;", '"')
    for step in detained["steps"]:
        assert step in text
    assert detained["call_office"] in text and "(555) 010-2000" in text
    with ia.vault.db.transaction() as conn:
        assert conn.one("SELECT urgency FROM intake_requests WHERE reference = ?", (ref,))["urgency"] == "urgent"


def test_nothing_typed_reaches_logs_or_stderr(tmp_path, caplog, capfd):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'i.sqlite'}", notify=lambda msg: None)
    client, ia = make_client(settings)
    caplog.set_level(logging.DEBUG)
    submit(client, **TYPED, situation="detained_now")
    submit(client, **TYPED, consent="")  # validation failure
    submit(client, **{**TYPED, "message": "y" * 6000})  # too long

    class Boom(RuntimeError):
        pass

    def failing(fields, urgency, burst=0):
        raise Boom(f"cannot store {fields['name']} {fields['phone']} {fields['message']}")

    original = ia.vault.create_request
    ia.vault.create_request = failing
    r, _ = submit(client, **TYPED)
    ia.vault.create_request = original
    assert r.status_code == 500
    for value in TYPED.values():
        assert value not in r.text
    out, err = capfd.readouterr()
    logged = "\n".join(rec.getMessage() + repr(rec.args) + str(rec.exc_info) for rec in caplog.records) + out + err
    assert "Boom" in logged  # the failure itself is logged, by class name
    for field, value in TYPED.items():
        for part in [value, *[p for p in value.split() if len(p) > 5]]:
            assert part not in logged, (field, part)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path.suffix != ".sqlite":
            data = path.read_bytes()
            assert TYPED["name"].encode() not in data and TYPED["phone"].encode() not in data, path


def test_no_address_or_user_agent_is_stored(client_ia):
    client, ia = client_ia
    _, ref = submit(client, phone="1")
    client.headers["User-Agent"] = "SentinelBrowser/9.9 (UniqueAgentString)"
    client.headers["X-Forwarded-For"] = "203.0.113.77"
    _, ref2 = submit(client, phone="2")
    assert ref and ref2
    dump = ia.vault.db.dump() + "\n".join(__import__("sqlite3").connect(ia.vault.db.path).iterdump())
    assert ref2 in dump
    for needle in ("SentinelBrowser", "UniqueAgentString", "203.0.113.77", "testclient"):
        assert needle not in dump


def test_rate_limit_answers_429_and_stores_nothing_more(tmp_path):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'i.sqlite'}", public_per_client_per_minute=3)
    client, ia = make_client(settings)
    codes = [submit(client, phone=str(i))[0].status_code for i in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    assert stored_count(ia) == 3


def test_rate_limiter_windows_and_clients():
    from icemonitor.intake.limits import RateLimiter

    rl = RateLimiter(per_client=2, overall=3, window=60)
    assert [rl.allow("a", now=0), rl.allow("a", now=1), rl.allow("a", now=2)] == [True, True, False]
    assert rl.allow("b", now=3) and not rl.allow("c", now=4)  # overall cap
    assert rl.allow("a", now=61)  # the window slid
    assert not any(isinstance(k, str) for k in rl._clients)  # no address kept, only salted hashes


def test_urgent_notification_names_only_the_reference(tmp_path):
    sent: list[str] = []
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'i.sqlite'}", notify=sent.append)
    client, _ = make_client(settings)
    _, ref = submit(client, **TYPED, situation="detained_now")
    submit(client, **TYPED, situation="other", urgency="normal")
    assert len(sent) == 1 and ref in sent[0]
    for value in TYPED.values():
        for part in [value, *[p for p in value.split() if len(p) > 4]]:
            assert part not in sent[0]


def test_sql_injection_in_every_form_field_is_stored_as_data(client_ia):
    from icemonitor.intake.store import Viewer

    client, ia = client_ia
    evil = "'; DROP TABLE intake_requests; -- \" OR \"1\"=\"1"
    fields = {k: f"{evil} {k}" for k in TYPED}
    r, ref = submit(client, **fields)
    assert r.status_code == 200 and ref
    r, _ = submit(client, phone="1", lang=evil, language=evil, situation=evil)
    assert r.status_code == 400
    got = ia.vault.get_request(Viewer("t", frozenset({"attorney"})), ref)
    assert {k: got[k] for k in fields} == fields
    assert stored_count(ia) == 1


def test_body_without_length_or_too_large_is_refused(client_ia):
    client, ia = client_ia
    big = client.post("/intake", content=b"phone=1&" + b"x" * 70000,
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert big.status_code == 413
    chunked = client.post("/intake", content=iter([b"phone=1&consent=yes"]),
                          headers={"content-type": "application/x-www-form-urlencoded"})
    assert chunked.status_code == 411
    assert stored_count(ia) == 0
