"""Staff accounts: one answer for every failed login, lock-out per client, lifecycle, keyed session ids
(issue 15, items 7, 9 and 10)."""

from __future__ import annotations

import hashlib
import re
import secrets
import time

import pytest
from fastapi.testclient import TestClient
from intake_support import add_staff, csrf_of, db_url, enrol, logged_in, login, make_client, make_settings  # noqa: F401
from intake_support import pg_server, submit  # noqa: F401
from typer.testing import CliRunner

from icemonitor.intake import auth
from icemonitor.intake.keys import KEY_ENV
from icemonitor.intake.web import SESSION_COOKIE


@pytest.fixture
def env(tmp_path, db_url):
    client, ia = make_client(make_settings(tmp_path, db_url))
    return client, ia


def other_client(client, host: str) -> TestClient:
    return TestClient(client.app, base_url="https://testserver", follow_redirects=False, client=(host, 40000))


def answer(r) -> tuple[int, str]:
    return r.status_code, r.text.replace(csrf_of(r.text), "CSRF")


def test_unknown_wrong_disabled_and_locked_out_get_one_answer_and_the_same_work(env, monkeypatch):
    client, ia = env
    rev = add_staff(ia, "rev", ["reviewer"])
    gone = add_staff(ia, "gone", ["reviewer"])
    add_staff(ia, "boss", ["admin"])
    auth.set_disabled(ia.vault, "gone", True, actor="boss")
    for _ in range(ia.settings.login_max_failures):
        login(client, rev, password="not it")
    verifications: list[str] = []
    real = auth.HASHER

    class Counting:
        def verify(self, hashed, password):
            verifications.append(hashed)
            return real.verify(hashed, password)

    monkeypatch.setattr(auth, "HASHER", Counting())
    fresh = other_client(client, "198.51.100.50")
    answers = {
        "unknown": answer(login(fresh, auth_staff("nobody-here", rev))),
        "wrong": answer(login(fresh, rev, password="wrong password!")),
        "disabled": answer(login(fresh, gone)),
        "locked out": answer(login(client, rev)),  # right password and code, from the guessing client
    }
    assert len(set(answers.values())) == 1, {k: v[0] for k, v in answers.items()}
    assert answers["unknown"][0] == 401
    assert len(verifications) == 4  # one argon2 verification on every path: no fast answer gives a state away


def auth_staff(username: str, like):
    from intake_support import Staff

    return Staff(username, like.password, like.secret)


def test_lock_out_cannot_keep_the_owner_out(env):
    client, ia = env
    rev = add_staff(ia, "rev", ["reviewer"])
    for i in range(20):  # an attacker keeps guessing from two addresses of one IPv6 /64
        for host in ("2001:db8:1:2::10", "2001:db8:1:2::99"):
            login(other_client(client, host), rev, password=f"guess {i}")
    assert login(other_client(client, "2001:db8:1:2::7"), rev).status_code == 401  # that /64 is locked out
    assert login(other_client(client, "2001:db8:9:9::1"), rev).status_code == 303  # the owner is not


def test_disable_reset_roles_delete_and_end_sessions_from_the_admin_page(env):
    client, ia = env
    rev = add_staff(ia, "rev", ["reviewer"])
    boss = add_staff(ia, "boss", ["admin"])
    _, ref = submit(client, phone="1")
    rev_client = other_client(client, "198.51.100.1")
    rev_token = logged_in(rev_client, rev)
    rev_client.post(f"/staff/requests/{ref}/assign", data={"csrf": rev_token, "assignee": "rev"})
    admin = other_client(client, "198.51.100.2")
    token = logged_in(admin, boss)

    def act(user: str, action: str, **data):
        return admin.post(f"/staff/admin/users/{user}/{action}", data={"csrf": token, **data})

    assert act("rev", "disable").status_code == 303
    assert rev_client.get("/staff").status_code == 303  # its session ended at once
    assert login(other_client(client, "198.51.100.3"), rev).status_code == 401
    assert act("rev", "enable").status_code == 303
    assert act("rev", "roles", roles=["attorney"]).status_code == 303
    r = act("rev", "reset")
    link = re.search(r"https://testserver(/staff/enrol/[A-Za-z0-9_-]+)", r.text).group(1)
    assert login(other_client(client, "198.51.100.4"), rev).status_code == 401  # old password and TOTP are gone
    renewed = enrol(ia.vault, link.rsplit("/", 1)[1], "a brand new password")
    c = other_client(client, "198.51.100.5")
    logged_in(c, renewed)
    assert act("rev", "end-sessions").status_code == 303 and c.get("/staff").status_code == 303
    assert act("boss", "disable").status_code == 400  # never leave no admin
    assert act("rev", "delete", confirm="wrong").status_code == 400
    assert act("rev", "delete", confirm="rev").status_code == 303
    assert [u["username"] for u in auth.list_users(ia.vault)] == ["boss"]
    with ia.vault.db.transaction() as conn:
        assert conn.one("SELECT assigned_to FROM intake_requests WHERE reference = ?", (ref,))["assigned_to"] is None
        acts = [(r["actor"], r["action"]) for r in conn.execute("SELECT actor, action FROM intake_audit ORDER BY seq")]
    for action in ("disable-user", "enable-user", "set-roles", "reset-user", "end-sessions", "delete-user"):
        assert ("boss", action) in acts, action


def test_account_lifecycle_from_the_cli(tmp_path, monkeypatch):
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'i.sqlite'}")
    monkeypatch.setenv(KEY_ENV, str(settings.key_file))
    monkeypatch.setenv("ICEMONITOR_INTAKE_DB", settings.db_url)
    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path / "home"))
    client, ia = make_client(settings)

    def cli(*args):
        from icemonitor.cli import app

        return CliRunner().invoke(app, ["intake", *args])

    r = cli("add-user", "ana", "--role", "reviewer", "--base-url", "https://intake.example.org")
    assert r.exit_code == 0 and "https://intake.example.org/staff/enrol/" in r.output
    assert cli("add-user", "root", "--role", "admin").exit_code == 0
    ana = enrol(ia.vault, re.search(r"/staff/enrol/([A-Za-z0-9_-]+)", r.output).group(1), "ana's own password")
    logged_in(client, ana)
    assert cli("disable-user", "ana").exit_code == 0
    assert client.get("/staff").status_code == 303  # the disabled account's session ended at once
    assert cli("disable-user", "ana", "--enable").exit_code == 0
    assert cli("set-roles", "ana", "--role", "attorney").exit_code == 0
    assert re.search(r"ana\s+attorney\s+active", cli("list-users").output)
    assert "0 sessions ended" in cli("end-sessions", "ana").output
    assert "/staff/enrol/" in cli("reset-user", "ana").output
    assert cli("set-roles", "root", "--role", "reviewer").exit_code == 2  # the last admin stays
    assert cli("delete-user", "ana").exit_code == 0
    assert cli("delete-user", "ana").exit_code == 2


def test_a_session_row_written_without_the_key_is_no_session(env):
    client, ia = env
    rev = add_staff(ia, "rev", ["reviewer"])
    logged_in(client, rev)
    client.cookies.clear()
    token = secrets.token_urlsafe(32)
    now = int(time.time())
    with ia.vault.db.transaction() as conn:  # database write access, but no key file
        for forged in (hashlib.sha256(token.encode()).hexdigest(), token):
            conn.execute("INSERT INTO intake_sessions (token_hash, username, created_at, last_seen, csrf) "
                         "VALUES (?,?,?,?,?)", (forged, "rev", now, now, "x"))
    client.cookies.set(SESSION_COOKIE, token, domain="testserver.local", path="/staff")
    assert client.get("/staff").status_code == 303
    assert client.get("/staff/api/requests").status_code == 401
