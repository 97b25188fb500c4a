"""Shared fixtures for the intake tests: SQLite and a throwaway PostgreSQL cluster, apps, staff logins."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pyotp
import pytest

from icemonitor.intake.keys import new_key, write_key_file
from icemonitor.intake.settings import IntakeSettings

PG_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _pg_bin(name: str) -> str | None:
    for d in PG_BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def pg_server():
    """A PostgreSQL cluster on 127.0.0.1 in a temporary folder, stopped at the end of the session."""
    initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install -y postgresql")
    base = Path(tempfile.mkdtemp(prefix="icemonitor-pg-"))
    data, sock = base / "data", base / "sock"
    sock.mkdir()
    runas: list[str] = []
    if os.geteuid() == 0:  # postgres refuses to run as root
        runas = ["runuser", "-u", "postgres", "--"]
        shutil.chown(base, "postgres")
        shutil.chown(sock, "postgres")
        os.chmod(base, 0o700)
    port = _free_port()
    subprocess.run([*runas, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True)
    log = base / "server.log"
    subprocess.run([*runas, pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "start",
                    "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run([*runas, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """An empty intake database: a SQLite file, or a fresh database in the PostgreSQL cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'intake.sqlite'}"
    server = request.getfixturevalue("pg_server")
    import psycopg

    name = "intake_" + uuid.uuid4().hex[:12]
    with psycopg.connect(server + "/postgres", autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return f"{server}/{name}"


def make_settings(tmp_path: Path, db_url: str, **kw) -> IntakeSettings:
    key_file = tmp_path / "keys" / "intake.key"
    if not key_file.exists():
        write_key_file(key_file, new_key())
    kw.setdefault("public_per_client_per_minute", 1000)
    kw.setdefault("public_global_per_minute", 10000)
    kw.setdefault("login_attempts_per_minute", 1000)
    return IntakeSettings(db_url=db_url, key_file=key_file, **kw)


def make_client(settings: IntakeSettings):
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from icemonitor.intake.web import mount

    app = FastAPI()
    ia = mount(app, settings)
    client = TestClient(app, base_url="https://testserver", follow_redirects=False)
    return client, ia


class Staff:
    """A staff account for tests: its password and TOTP secret, and codes that are never replayed."""

    def __init__(self, username: str, password: str, secret: str) -> None:
        self.username, self.password, self.secret = username, password, secret
        self._last_step = 0

    def next_step(self) -> int:
        return max(int(time.time() // 30), self._last_step + 1)

    def code(self) -> str:
        """A valid code the server has not seen accepted yet (current step, or the next one)."""
        return pyotp.TOTP(self.secret).at(self.next_step() * 30)


def enrol(vault, token: str, password: str) -> Staff:
    """Go through an enrolment link as its owner: take the secret shown, set the password, confirm with a code."""
    from icemonitor.intake import auth

    username, secret = auth.start_enrolment(vault, token)
    staff = Staff(username, password, secret)
    step = int(time.time() // 30) - 1  # the previous step's code (accepted): logins keep the current and next
    auth.finish_enrolment(vault, token, password, pyotp.TOTP(secret).at(step * 30))
    staff._last_step = step
    return staff


def add_staff(ia, username: str, roles: list[str]) -> Staff:
    """A staff account created by an admin and enrolled by its owner (ia: an IntakeApp or a Vault)."""
    from icemonitor.intake import auth

    vault = getattr(ia, "vault", ia)
    return enrol(vault, auth.add_user(vault, username, roles), "pw-" + uuid.uuid4().hex)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in page"
    return m.group(1)


def login(client, staff: Staff, *, password: str | None = None, code: str | None = None):
    page = client.get("/staff/login")
    step = staff.next_step()
    r = client.post("/staff/login", data={
        "csrf": csrf_of(page.text), "username": staff.username,
        "password": staff.password if password is None else password,
        "code": pyotp.TOTP(staff.secret).at(step * 30) if code is None else code,
    })
    if r.status_code == 303 and code is None:
        staff._last_step = step
    return r


def logged_in(client, staff: Staff) -> str:
    """Log in (asserting success) and return a CSRF token for the session's forms."""
    r = login(client, staff)
    assert r.status_code == 303 and r.headers["location"] == "/staff", r.text
    return csrf_of(client.get("/staff").text)


FORM = {
    "lang": "en", "name": "", "phone": "", "email": "", "trusted_contact": "", "language": "es",
    "place": "", "situation": "other", "urgency": "normal", "message": "", "consent": "yes",
}


def submit(client, **fields):
    import re as _re

    data = {**FORM, **fields}
    r = client.post(f"/intake?lang={data['lang']}", data=data)
    m = _re.search(r'id="reference">([A-Z0-9-]+)<', r.text)
    return r, (m.group(1) if m else None)
