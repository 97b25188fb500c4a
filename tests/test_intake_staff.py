"""Staff pages under /staff: authentication, roles, CSRF, XSS, injection, lockout, fixation, workflow, audit."""

from __future__ import annotations

import re

from markupsafe import escape

import pytest
from intake_support import add_staff, csrf_of, logged_in, login, make_client, make_settings, submit
from intake_support import db_url, pg_server  # noqa: F401 - fixtures: each env test runs on SQLite and PostgreSQL

from icemonitor.intake import audit
from icemonitor.intake.web import SESSION_COOKIE

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'><svg onload=alert(2)>'
FREE_TEXT = ("name", "phone", "email", "trusted_contact", "place", "message")


@pytest.fixture
def env(tmp_path, db_url):
    settings = make_settings(tmp_path, db_url)
    client, ia = make_client(settings)
    _, ref = submit(client, name="Amparo Ruiz", phone="555-0100", place="Harris County", situation="detained_now")
    return client, ia, ref


def staff_routes(ia) -> list[tuple[str, str]]:
    out = []
    for route in [r for router in ia.routers for r in router.routes]:
        path = getattr(route, "path", "")
        if path.startswith("/staff") and path != "/staff/login" and not path.startswith("/staff/enrol/"):
            for method in sorted(route.methods - {"HEAD"}):
                out.append((method, path))
    return out


def fill(path: str, ref: str) -> str:
    return path.replace("{reference}", ref).replace("{username}", "rev").replace("{action}", "disable")


def audit_actions(ia) -> list[tuple[str, str, str]]:
    with ia.vault.db.transaction() as conn:
        return [(r["actor"], r["action"], r["reference"]) for r in conn.execute("SELECT * FROM intake_audit ORDER BY seq")]


def test_every_staff_page_and_api_requires_a_session(env):
    client, ia, ref = env
    routes = staff_routes(ia)
    assert len(routes) >= 14
    for method, path in routes:
        r = client.request(method, fill(path, ref), data={"csrf": "x", "status": "closed"} if method == "POST" else None)
        if path.startswith("/staff/api"):
            assert r.status_code == 401, (method, path)
        else:
            assert r.status_code == 303 and r.headers["location"] == "/staff/login", (method, path, r.status_code)
        assert "Amparo" not in r.text
    # a made-up cookie is no session either
    client.cookies.set(SESSION_COOKIE, "forged-token", domain="testserver.local", path="/staff")
    assert client.get("/staff").status_code == 303
    assert client.get("/staff/api/requests").status_code == 401
    with ia.vault.db.transaction() as conn:
        assert conn.one("SELECT status FROM intake_requests WHERE reference = ?", (ref,))["status"] == "new"


def test_reviewer_cannot_reach_admin_actions(env):
    client, ia, ref = env
    rev = add_staff(ia, "rev", ["reviewer"])
    token = logged_in(client, rev)
    for path in ("/staff/admin/users", "/staff/admin/audit"):
        assert client.get(path).status_code == 403, path
    posts = {
        "/staff/admin/users": {"username": "mallory", "password": "long enough password", "roles": "admin"},
        "/staff/admin/users/rev/unlock": {},
        "/staff/admin/purge": {},
        "/staff/admin/delete": {"reference": ref},
    }
    for path, data in posts.items():
        assert client.post(path, data={"csrf": token, **data}).status_code == 403, path
    assert client.get(f"/staff/requests/{ref}/export.pdf").status_code == 403  # export is for attorneys
    with ia.vault.db.transaction() as conn:
        assert conn.one("SELECT COUNT(*) AS n FROM intake_users")["n"] == 1
        assert conn.one("SELECT shredded_at FROM intake_requests WHERE reference = ?", (ref,))["shredded_at"] is None


def test_admin_alone_does_not_read_requests(env):
    client, ia, ref = env
    admin = add_staff(ia, "boss", ["admin"])
    logged_in(client, admin)
    assert "Amparo" not in client.get("/staff").text
    assert client.get(f"/staff/requests/{ref}").status_code == 403
    assert client.get("/staff/api/requests").status_code == 403
    assert client.get(f"/staff/api/requests/{ref}").status_code == 403
    assert client.get("/staff/admin/users").status_code == 200


def test_reviewer_does_not_see_another_reviewers_request(env):
    client, ia, ref = env
    a, b = add_staff(ia, "ana", ["reviewer"]), add_staff(ia, "beto", ["reviewer"])
    token = logged_in(client, a)
    assert client.post(f"/staff/requests/{ref}/assign", data={"csrf": token, "assignee": "beto"}).status_code == 303
    assert client.get(f"/staff/requests/{ref}").status_code == 404
    assert ref not in client.get("/staff").text
    add_staff(ia, "boss", ["admin"])
    _, other = submit(client, phone="2")
    assert client.post(f"/staff/requests/{other}/assign", data={"csrf": token, "assignee": "boss"}).status_code == 400
    assert client.post(f"/staff/requests/{other}/assign", data={"csrf": token, "assignee": "nobody-here"}).status_code == 400
    client.cookies.clear()
    logged_in(client, b)
    assert client.get(f"/staff/requests/{ref}").status_code == 200


def test_csrf_is_required_on_every_form(env):
    client, ia, ref = env
    boss = add_staff(ia, "boss", ["admin", "attorney"])
    token = logged_in(client, boss)
    posts = [p for m, p in staff_routes(ia) if m == "POST"]
    assert len(posts) >= 8
    for path in posts:
        data = {"status": "closed", "assignee": "boss", "text": "note", "reference": ref,
                "username": "newbie", "password": "long enough password", "roles": "admin"}
        assert client.post(fill(path, ref), data=data).status_code == 403, path
        assert client.post(fill(path, ref), data={**data, "csrf": token[:-2] + "zz"}).status_code == 403, path
    with ia.vault.db.transaction() as conn:
        row = conn.one("SELECT * FROM intake_requests WHERE reference = ?", (ref,))
        assert row["status"] == "new" and row["assigned_to"] is None and row["shredded_at"] is None
        assert conn.one("SELECT COUNT(*) AS n FROM intake_notes")["n"] == 0
    assert client.get("/staff").status_code == 200  # the session survived (logout needed its token too)
    # the login form has its own token
    page = client.get("/staff/login")
    assert client.post("/staff/login", data={"username": "boss", "password": boss.password,
                                             "code": boss.code()}).status_code == 403
    assert csrf_of(page.text)


def test_stored_xss_in_every_free_text_field_is_escaped(env):
    client, ia, _ = env
    _, ref = submit(client, **{f: f"{f}:{XSS}" for f in FREE_TEXT}, urgency="urgent")
    assert ref
    atty = add_staff(ia, "atty", ["attorney"])
    token = logged_in(client, atty)
    client.post(f"/staff/requests/{ref}/notes", data={"csrf": token, "text": f"note:{XSS}"})
    pages = [client.get("/staff").text, client.get(f"/staff/requests/{ref}").text,
             client.get("/staff", params={"assigned": XSS}).text]
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page and "<svg onload" not in page
        assert 'onerror=alert(1)>"' not in page
    detail = pages[1]
    for f in FREE_TEXT:
        assert str(escape(f"{f}:{XSS}")) in detail, f
    assert str(escape(f"note:{XSS}")) in detail
    assert str(escape(f"place:{XSS}")) in detail
    api = client.get(f"/staff/api/requests/{ref}")
    assert api.headers["content-type"].startswith("application/json") and api.json()["name"] == f"name:{XSS}"


def test_sql_injection_in_filters_is_data(env):
    client, ia, ref = env
    rev = add_staff(ia, "rev", ["reviewer"])
    logged_in(client, rev)
    for name in ("status", "urgency", "assigned"):
        for evil in ("new' OR '1'='1", "x'; DROP TABLE intake_requests; --", "1) OR (1=1"):
            r = client.get("/staff", params={name: evil})
            assert r.status_code == 200 and ref not in r.text
            r = client.get("/staff/api/requests", params={name: evil})
            assert r.status_code == 200 and r.json() == []
    assert client.get(f"/staff/requests/{ref}' OR '1'='1").status_code == 404
    assert [r["reference"] for r in client.get("/staff/api/requests").json()] == [ref]


def test_brute_force_locks_out_the_guessing_client_only(env):
    """Five failures lock that account out from that client; its owner elsewhere still logs in (issue 15 item 7)."""
    client, ia, _ = env
    rev = add_staff(ia, "rev", ["reviewer"])
    for i in range(ia.settings.login_max_failures):
        r = login(client, rev, password=f"guess-{i}")
        assert r.status_code == 401 and SESSION_COOKIE not in r.cookies
    wrong = login(client, rev, password="guess-again")
    r = login(client, rev)  # the right password and code, from the guessing client: refused, same answer
    assert r.status_code == 401 and r.text == wrong.text.replace(csrf_of(wrong.text), csrf_of(r.text))
    assert client.get("/staff").status_code == 303
    from fastapi.testclient import TestClient

    owner = TestClient(client.app, base_url="https://testserver", follow_redirects=False, client=("203.0.113.9", 5000))
    assert login(owner, rev).status_code == 303  # the owner, from elsewhere, is not locked out
    actions = [a for _, a, _ in audit_actions(ia)]
    assert actions.count("login-failed") == ia.settings.login_max_failures + 2
    boss = add_staff(ia, "boss", ["admin"])
    admin = TestClient(client.app, base_url="https://testserver", follow_redirects=False, client=("203.0.113.10", 1))
    token = logged_in(admin, boss)
    assert admin.post("/staff/admin/users/rev/unlock", data={"csrf": token}).status_code == 303
    assert login(client, rev).status_code == 303  # unlocked for the first client too


def test_totp_is_required_and_not_replayable(env):
    client, ia, _ = env
    rev = add_staff(ia, "rev", ["reviewer"])
    import time

    import pyotp

    stale = pyotp.TOTP(rev.secret).at(time.time() - 600)  # a real code, ten minutes old
    if stale != rev.code():
        assert login(client, rev, code=stale).status_code == 401
    assert login(client, rev, code="").status_code == 401
    code = rev.code()
    assert login(client, rev, code=code).status_code == 303
    client.cookies.clear()
    assert login(client, rev, code=code).status_code == 401  # the same code again


def test_session_fixation_and_cookie_flags(env):
    client, ia, _ = env
    rev = add_staff(ia, "rev", ["reviewer"])
    client.cookies.set(SESSION_COOKIE, "attacker-chosen-value", domain="testserver.local", path="/staff")
    r = login(client, rev)
    assert r.status_code == 303
    cookie = r.headers["set-cookie"]
    issued = re.search(rf"{SESSION_COOKIE}=([^;]+)", cookie).group(1)
    assert issued != "attacker-chosen-value" and len(issued) >= 40
    for flag in ("Secure", "HttpOnly", "SameSite=strict", "Path=/staff"):
        assert flag.lower() in cookie.lower(), flag
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, "attacker-chosen-value", domain="testserver.local", path="/staff")
    assert client.get("/staff").status_code == 303  # the planted id never became a session
    client.cookies.clear()
    client.cookies.set(SESSION_COOKIE, issued, domain="testserver.local", path="/staff")
    assert client.get("/staff").status_code == 200
    # logging in again rotates the id and kills the old one
    r = login(client, rev)
    second = re.search(rf"{SESSION_COOKIE}=([^;]+)", r.headers["set-cookie"]).group(1)
    assert second != issued
    from fastapi.testclient import TestClient

    other = TestClient(client.app, base_url="https://testserver", follow_redirects=False)
    other.cookies.set(SESSION_COOKIE, issued, domain="testserver.local", path="/staff")
    assert other.get("/staff").status_code == 303
    other.cookies.set(SESSION_COOKIE, second, domain="testserver.local", path="/staff")
    assert other.get("/staff").status_code == 200


def test_idle_and_absolute_timeouts_and_logout(env):
    client, ia, _ = env
    rev = add_staff(ia, "rev", ["reviewer"])
    logged_in(client, rev)
    with ia.vault.db.transaction() as conn:
        conn.execute("UPDATE intake_sessions SET last_seen = last_seen - ?", (ia.settings.session_idle_seconds + 5,))
    assert client.get("/staff").status_code == 303
    client.cookies.clear()
    logged_in(client, add_staff(ia, "rev2", ["reviewer"]))
    with ia.vault.db.transaction() as conn:
        conn.execute("UPDATE intake_sessions SET created_at = created_at - ?", (ia.settings.session_absolute_seconds + 5,))
    assert client.get("/staff").status_code == 303
    client.cookies.clear()
    token = logged_in(client, add_staff(ia, "rev3", ["reviewer"]))
    assert client.post("/staff/logout", data={"csrf": token}).status_code == 303
    with ia.vault.db.transaction() as conn:
        assert conn.one("SELECT COUNT(*) AS n FROM intake_sessions")["n"] == 0


def test_workflow_notes_assignment_export_are_audited(env):
    client, ia, ref = env
    _, normal = submit(client, phone="1", situation="other", urgency="normal")
    _, soon = submit(client, phone="2", situation="other", urgency="soon")
    atty = add_staff(ia, "atty", ["attorney"])
    token = logged_in(client, atty)
    inbox = client.get("/staff").text
    assert inbox.index(ref) < inbox.index(soon) < inbox.index(normal)  # urgent first
    for status in ("contacted", "evaluation_scheduled", "closed"):
        assert client.post(f"/staff/requests/{ref}/status", data={"csrf": token, "status": status}).status_code == 303
    assert client.post(f"/staff/requests/{ref}/status", data={"csrf": token, "status": "bogus"}).status_code == 400
    client.post(f"/staff/requests/{ref}/notes", data={"csrf": token, "text": "Llamada hecha"})
    client.post(f"/staff/requests/{ref}/assign", data={"csrf": token, "assignee": "atty"})
    page = client.get(f"/staff/requests/{ref}").text
    assert "Amparo Ruiz" in page and "Llamada hecha" in page and "closed" in page
    pdf = client.get(f"/staff/requests/{ref}/export.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF") and pdf.headers["content-type"] == "application/pdf"
    acts = [(a, r) for actor, a, r in audit_actions(ia) if actor == "atty"]
    for expected in [("status", ref), ("note", ref), ("assign", ref), ("view", ref), ("export", ref), ("list", "")]:
        assert expected in acts, expected
    assert audit.verify(ia.vault.db, ia.vault.audit_key).ok
    boss = add_staff(ia, "boss", ["admin"])
    client.cookies.clear()
    token = logged_in(client, boss)
    assert client.post("/staff/admin/delete", data={"csrf": token, "reference": ref}).status_code == 200
    assert ("boss", "shred", ref) in audit_actions(ia)
    assert "Chain intact" in client.get("/staff/admin/audit").text


def test_security_headers_on_staff_pages(env):
    client, ia, _ = env
    for r in (client.get("/staff/login"), client.get("/staff"), client.get("/staff/api/requests")):
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["referrer-policy"] == "no-referrer" and r.headers["cache-control"] == "no-store"


def test_context_panel_only_with_a_provider(tmp_path):
    client, ia = make_client(make_settings(tmp_path, f"sqlite:///{tmp_path / 'a.sqlite'}"))
    _, ref = submit(client, phone="1", place="Cameron County")
    logged_in(client, add_staff(ia, "rev", ["reviewer"]))
    assert "enforcement context" not in client.get(f"/staff/requests/{ref}").text

    seen = []

    def provider(place: str) -> dict:
        seen.append(place)
        return {"Recent sweeps (HAR AOR)": "<b>2</b> in 90 days", "County policy": "no 287(g) agreement"}

    tmp2 = tmp_path / "second"
    tmp2.mkdir()
    client, ia = make_client(make_settings(tmp2, f"sqlite:///{tmp2 / 'b.sqlite'}", context_provider=provider))
    _, ref = submit(client, phone="1", place="Cameron County")
    logged_in(client, add_staff(ia, "rev", ["reviewer"]))
    page = client.get(f"/staff/requests/{ref}").text
    assert seen == ["Cameron County"]
    assert "Local enforcement context" in page and "&lt;b&gt;2&lt;/b&gt; in 90 days" in page


def test_admin_creates_accounts_without_seeing_their_second_factor(env):
    """The admin gets an enrolment link, never a TOTP secret or password; the owner enrols (issue 15 item 8)."""
    client, ia, ref = env
    boss = add_staff(ia, "boss", ["admin"])
    token = logged_in(client, boss)
    r = client.post("/staff/admin/users", data={"csrf": token, "username": "nueva", "roles": ["reviewer", "attorney"]})
    assert r.status_code == 200
    assert not re.search(r"[A-Z2-7]{32}", r.text) and "otpauth" not in r.text  # no secret shown to the admin
    link = re.search(r"https://testserver(/staff/enrol/[A-Za-z0-9_-]+)", r.text).group(1)
    client.cookies.clear()
    from intake_support import Staff

    import pyotp

    page = client.get(link)
    assert page.status_code == 200 and "nueva" in page.text
    secret = re.search(r'class="reference">([A-Z2-7]{32})<', page.text).group(1)
    code = pyotp.TOTP(secret).now()
    retry = client.post(link, data={"password": "short", "code": code})
    assert retry.status_code == 400 and secret in retry.text  # a retry keeps the secret already in the app
    secret = re.search(r'class="reference">([A-Z2-7]{32})<', client.get(link).text).group(1)  # a new visit: new
    assert client.post(link, data={"password": "a long enough password", "code": code}).status_code == 400
    r = client.post(link, data={"password": "a long enough password", "code": pyotp.TOTP(secret).now()})
    assert r.status_code == 303 and r.headers["location"] == "/staff/login"
    assert client.get(link).status_code == 404  # spent
    staff = Staff("nueva", "a long enough password", secret)
    staff._last_step = int(__import__("time").time() // 30)
    token = logged_in(client, staff)
    assert ref in client.get("/staff").text
    # the grant is audited, and announced to the other admins
    acts = audit_actions(ia)
    assert ("boss", "add-user", "") in acts and ("nueva", "enrol", "") in acts
    other = add_staff(ia, "other-admin", ["admin"])
    client.cookies.clear()
    logged_in(client, other)
    page = client.get("/staff/admin/users").text
    assert "Account changes by others" in page and "nueva roles attorney,reviewer" in page


def test_login_attempts_are_throttled_in_memory(tmp_path):
    client, ia = make_client(make_settings(tmp_path, f"sqlite:///{tmp_path / 'a.sqlite'}", login_attempts_per_minute=3))
    rev = add_staff(ia, "rev", ["reviewer"])
    codes = [login(client, rev, password=f"wrong-{i}").status_code for i in range(3)]
    assert codes == [401, 401, 401]
    r = login(client, rev)
    assert r.status_code == 429 and SESSION_COOKIE not in r.headers.get("set-cookie", "")


def test_mount_from_env_is_off_without_a_key_and_stops_on_a_wrong_one(tmp_path, monkeypatch):
    from fastapi import FastAPI

    from icemonitor.intake import mount_intake_from_env
    from icemonitor.intake.keys import IntakeKeyError

    monkeypatch.delenv("ICEMONITOR_INTAKE_KEY_FILE", raising=False)
    app = FastAPI()
    assert mount_intake_from_env(app) is False
    monkeypatch.setenv("ICEMONITOR_INTAKE_KEY_FILE", str(tmp_path / "nowhere.key"))
    monkeypatch.setenv("ICEMONITOR_INTAKE_DB", f"sqlite:///{tmp_path / 'x.sqlite'}")
    with pytest.raises(IntakeKeyError, match="does not exist"):
        mount_intake_from_env(app)
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'x.sqlite'}")
    monkeypatch.setenv("ICEMONITOR_INTAKE_KEY_FILE", str(settings.key_file))
    seen = []
    assert mount_intake_from_env(app, context_provider=lambda place: seen.append(place) or {}) is True
