"""Abuse of the public form: floods, fake urgent alerts, malformed bodies, hidden characters
(issue 15, items 4, 11, 15 and 18)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from intake_support import FORM, add_staff, logged_in, make_client, make_settings, submit


def from_address(client, host: str) -> TestClient:
    return TestClient(client.app, base_url="https://testserver", follow_redirects=False, client=(host, 41000))


@pytest.fixture
def strict(tmp_path):
    """The shipped limits (10 stored per client, 30 refused per client, 600 stored non-urgent overall)."""
    return make_client(make_settings(tmp_path, f"sqlite:///{tmp_path / 'i.sqlite'}", public_per_client_per_minute=10,
                                     public_global_per_minute=600))


def test_a_flood_of_invalid_posts_does_not_close_the_form(strict):
    client, ia = strict
    for i in range(60):  # 600 invalid posts from 60 addresses, as in the outside test
        attacker = from_address(client, f"198.51.100.{i + 1}")
        for _ in range(10):
            assert attacker.post("/intake", data={**FORM, "consent": ""}).status_code == 400
    r, ref = submit(from_address(client, "203.0.113.200"), phone="555-0199", situation="detained_now")
    assert r.status_code == 200 and ref  # "someone is detained now" from a fresh address gets through
    r, ref = submit(from_address(client, "203.0.113.201"), phone="555-0198")
    assert r.status_code == 200 and ref


def test_refused_posts_spend_only_their_own_client_budget(strict):
    client, ia = strict
    attacker = from_address(client, "198.51.100.7")
    codes = [attacker.post("/intake", data={**FORM, "consent": ""}).status_code for _ in range(35)]
    assert codes.count(400) == 30 and codes[-1] == 429
    r, ref = submit(from_address(client, "198.51.100.8"), phone="1")
    assert r.status_code == 200 and ref


def test_urgent_requests_pass_the_overall_cap(tmp_path):
    client, ia = make_client(make_settings(tmp_path, f"sqlite:///{tmp_path / 'i.sqlite'}",
                                           public_per_client_per_minute=10, public_global_per_minute=20))
    for i in range(4):  # 20 stored non-urgent submissions from 4 addresses fill the overall cap
        sender = from_address(client, f"198.51.100.{i + 1}")
        assert all(submit(sender, phone=str(n))[0].status_code == 200 for n in range(5))
    r, _ = submit(from_address(client, "203.0.113.5"), phone="1")
    assert r.status_code == 429 and "detained now" in r.text
    r, ref = submit(from_address(client, "203.0.113.6"), phone="2", situation="detained_now")
    assert r.status_code == 200 and ref


def test_ipv6_addresses_are_grouped_by_64():
    from icemonitor.intake.limits import RateLimiter, client_group

    assert client_group("2001:db8:1:2::1") == client_group("2001:db8:1:2:ffff:ffff:ffff:ffff") == "2001:db8:1:2::/64"
    assert client_group("2001:db8:1:3::1") != client_group("2001:db8:1:2::1")
    assert client_group("::ffff:198.51.100.7") == client_group("198.51.100.7") == "198.51.100.7"
    limiter = RateLimiter(per_client=2)
    assert limiter.allow("2001:db8:1:2::1", now=0) and limiter.allow("2001:db8:1:2::2", now=1)
    assert not limiter.allow("2001:db8:1:2:abcd::3", now=2)  # same /64: same budget
    assert limiter.allow("2001:db8:1:3::1", now=3)
    assert not any(isinstance(k, str) for k in limiter._clients)  # no address kept, only salted hashes


def test_fake_urgent_floods_are_summarised_and_real_ones_still_alert(tmp_path):
    sent: list[str] = []
    client, ia = make_client(make_settings(tmp_path, f"sqlite:///{tmp_path / 'i.sqlite'}", notify=sent.append))
    flooder = from_address(client, "198.51.100.66")
    fakes = [submit(flooder, phone=f"0{i}", situation="detained_now")[1] for i in range(30)]
    _, real = submit(from_address(client, "203.0.113.44"), phone="555-0100", situation="detained_now")
    assert all(fakes) and real
    assert len(sent) == 2 and fakes[0] in sent[0] and real in sent[1]  # one alert for the flood's first, one real
    ia.alerts.flush()  # the period's end (a timer in the server)
    assert len(sent) == 3 and all(ref in sent[2] for ref in fakes[1:]) and real not in sent[2]
    assert all("audit " in message for message in sent)  # each alert carries the audit anchor
    logged_in(client, add_staff(ia, "rev", ["reviewer"]))
    inbox = client.get("/staff").text
    assert inbox.index(real) < min(inbox.index(ref) for ref in fakes[1:])  # the real case is not buried
    assert "several urgent requests from one sender" in inbox


def test_alert_gate_caps_alerts_from_many_sources_per_period():
    from icemonitor.intake.limits import AlertGate

    sent: list[str] = []
    gate = AlertGate(sent.append, per_source=1, overall=3, period=600, timer=False)
    refs = [f"AAAA-AA{a}{b}" for a in "CDE" for b in "FG"]
    alone = [gate.submit(f"198.51.100.{i}", ref, now=i) for i, ref in enumerate(refs)]
    assert alone == [True, True, True, False, False, False]
    assert gate.burst("198.51.100.0", now=10) == 1 and gate.burst("198.51.100.99", now=10) == 0
    gate.submit("203.0.113.1", "CCCC-CCCC", now=700)  # a new period: the held ones go out first, then this one
    assert "3 more urgent" in sent[3] and all(r in sent[3] for r in refs[3:]) and "CCCC-CCCC" in sent[4]


def test_upload_fields_and_too_many_fields_answer_400_or_413(strict):
    client, ia = strict
    r = client.post("/intake", data=FORM, files={"attachment": ("a.txt", b"hello", "text/plain")})
    assert r.status_code == 400
    many = {**FORM, **{f"extra{i}": "x" for i in range(70)}}
    assert client.post("/intake", data=many).status_code == 413
    assert client.post("/intake", data=many, files={"f": ("", b"", "text/plain")}).status_code in (400, 413)
    with ia.vault.db.transaction() as conn:
        assert conn.one("SELECT COUNT(*) AS n FROM intake_requests")["n"] == 0


def test_nul_is_refused_and_bidi_and_controls_are_shown_not_applied(strict):
    client, ia = strict
    r, ref = submit(client, phone="1", message="call me\x00now")
    assert r.status_code == 400 and ref is None and "null character" in r.text
    r, ref = submit(client, phone="1", name="Juan \u202egnp.exe\u202c Pérez", message="ring\x07 \u2066x\u2069")
    assert r.status_code == 200 and ref
    token = logged_in(client, add_staff(ia, "atty", ["attorney"]))
    for page in (client.get(f"/staff/requests/{ref}").text, client.get("/staff").text):
        for ch in ("\u202e", "\u202c", "\x07", "\u2066", "\u2069"):
            assert ch not in page
    page = client.get(f"/staff/requests/{ref}").text
    assert "Juan [U+202E]gnp.exe[U+202C] Pérez" in page and "ring[U+0007]" in page
    assert client.post(f"/staff/requests/{ref}/notes", data={"csrf": token, "text": "a\x00b"}).status_code == 400
    assert client.get("/staff", params={"status": "new\x00"}).status_code == 400
    assert client.get(f"/staff/requests/{ref}%00").status_code == 400
    assert client.get(f"/staff/requests/{ref}").status_code == 200
