"""The intake mounted by `icemonitor serve`: key errors stop the server, staff alerts for urgent requests go
through the watch outbox (a loopback webhook receiver and an SMTP server receive them) and carry only the
reference, never what the person typed."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import sqlite3
from pathlib import Path

import duckdb
import pytest
from intake_support import make_settings, submit
from test_watch_support import SmtpServer, WebhookReceiver, verify_signature
from typer.testing import CliRunner

from icemonitor.intake.keys import KEY_ENV, new_key, write_key_file

SECRET = "intake-hook-secret-not-real"
# what the person types: none of it may reach an alert, the state database or a log line
NAME, PHONE, MESSAGE, PLACE = "Zacarias Quintanilla-Obregon", "555-0199-7321", "mi hermano fue detenido en Wilcox", "Pomona, CA"


@pytest.fixture
def home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    monkeypatch.setenv("INTAKE_HOOK_SECRET", SECRET)
    return home


def cli(*args: str):
    from icemonitor.cli import app

    return CliRunner().invoke(app, list(args))


def dashboard_with_intake(tmp_path: Path, monkeypatch, home: Path):
    """The dashboard app as `serve` builds it, with the intake enabled through the environment."""
    from fastapi.testclient import TestClient

    from icemonitor.web.app import create_app
    from icemonitor.web.cli import mount_intake_with_monitor

    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'intake.sqlite'}")
    monkeypatch.setenv(KEY_ENV, str(settings.key_file))
    monkeypatch.setenv("ICEMONITOR_INTAKE_DB", settings.db_url)
    app = create_app(warehouse_path=warehouse, ref=None)
    assert mount_intake_with_monitor(app, home) is True
    return TestClient(app, base_url="https://testserver", follow_redirects=False), app


@pytest.fixture
def smtp(tmp_path, monkeypatch):
    server = SmtpServer(tmp_path, "alerts", "pw-not-real")
    server.start()
    pw = tmp_path / "smtp-password"
    pw.write_text("pw-not-real\n")
    for k, v in {"HOST": "127.0.0.1", "PORT": str(server.port), "USER": "alerts", "PASSWORD_FILE": str(pw),
                 "STARTTLS": "true", "FROM": "icemonitor@example.org", "CAFILE": str(server.cert), "TIMEOUT": "10"}.items():
        monkeypatch.setenv(f"ICEMONITOR_SMTP_{k}", v)
    yield server
    server.stop()


def state_bytes(home: Path) -> bytes:
    """Every byte of the state database (file, WAL) and its SQL dump."""
    out = b""
    for p in home.glob("state.sqlite*"):
        out += p.read_bytes()
    con = sqlite3.connect(str(home / "state.sqlite"))
    out += "\n".join(con.iterdump()).encode()
    con.close()
    return out


def assert_nothing_typed(blob: bytes | str) -> None:
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    for typed in (NAME, PHONE, MESSAGE, PLACE, "Quintanilla", "0199-7321", "Wilcox", "Pomona"):
        assert typed not in text, f"{typed!r} leaked"


def test_watch_add_intake_urgent_takes_no_place(home):
    r = cli("watch", "add", "--watch", "intake-urgent", "--place", "LOS", "--email", "staff@example.org")
    assert r.exit_code == 2 and "take no place" in r.output
    r = cli("watch", "add", "--watch", "sweeps", "--email", "staff@example.org")
    assert r.exit_code == 2 and "need --place" in r.output
    r = cli("watch", "add", "--watch", "intake-urgent", "--email", "staff@example.org")
    assert r.exit_code == 0, r.output
    rows = json.loads(cli("watch", "list", "--json").output)
    assert [(w["kind"], w["place"], w["target"]) for w in rows] == [("intake-urgent", "intake", "staff@example.org")]


def test_urgent_request_alerts_staff_by_webhook_and_email_without_personal_data(tmp_path, monkeypatch, home, smtp, caplog):
    receiver = WebhookReceiver()
    receiver.start()
    try:
        assert cli("watch", "add", "--watch", "intake-urgent", "--webhook", receiver.url,
                   "--secret-env", "INTAKE_HOOK_SECRET").exit_code == 0
        assert cli("watch", "add", "--watch", "intake-urgent", "--email", "duty-attorney@example.org").exit_code == 0
        client, app = dashboard_with_intake(tmp_path, monkeypatch, home)
        caplog.set_level("DEBUG")
        r, normal = submit(client, name=NAME, phone=PHONE, message=MESSAGE, place=PLACE, situation="other",
                           urgency="normal")
        assert r.status_code == 200 and normal
        r, ref = submit(client, name=NAME, phone=PHONE, message=MESSAGE, place=PLACE, situation="detained_now",
                        urgency="normal")
        assert r.status_code == 200 and ref and ref != normal
        app.state.intake_notifier.join(30)
    finally:
        receiver.stop()
    # the webhook: one signed POST naming the urgent request only
    assert len(receiver.requests) == 1
    hook = receiver.requests[0]
    assert verify_signature(SECRET.encode(), hook["headers"], hook["body"])
    body = json.loads(hook["body"])
    anchor = body["data"].pop("audit_anchor")  # the audit log's rows and head at the time (issue 15 item 14)
    assert re.fullmatch(r"audit \d+:[0-9a-f]{64}", anchor) and anchor in hook["body"].decode()
    assert body["kind"] == "intake-urgent" and body["data"] == {"kind": "intake-urgent", "reference": ref,
                                                                "references": [ref]}
    assert ref in body["title"] and normal not in hook["body"].decode()
    assert_nothing_typed(hook["body"])
    # the e-mail: over STARTTLS with AUTH, to the duty attorney, the reference in subject and text
    assert len(smtp.messages) == 1
    raw = smtp.messages[0]
    assert raw["tls"] and raw["authenticated"] and raw["rcpt_tos"] == ["duty-attorney@example.org"]
    msg = email.message_from_bytes(raw["content"], policy=email.policy.default)
    assert ref in msg["Subject"] and ref in msg.get_content()
    assert_nothing_typed(raw["content"])
    # the outbox: both sent; nothing the person typed in the state database or the log
    con = sqlite3.connect(str(home / "state.sqlite"))
    assert con.execute("SELECT status, count(*) FROM deliveries GROUP BY 1").fetchall() == [("sent", 2)]
    con.close()
    assert_nothing_typed(state_bytes(home))
    assert_nothing_typed(caplog.text)


def test_failed_alert_stays_queued_and_is_retried(tmp_path, monkeypatch, home):
    from icemonitor.watch import state
    from icemonitor.watch.delivery import deliver_due

    receiver = WebhookReceiver()  # not started yet: the first delivery fails
    assert cli("watch", "add", "--watch", "intake-urgent", "--webhook", receiver.url,
               "--secret-env", "INTAKE_HOOK_SECRET").exit_code == 0
    client, app = dashboard_with_intake(tmp_path, monkeypatch, home)
    r, ref = submit(client, name=NAME, phone=PHONE, situation="detained_now")
    assert r.status_code == 200 and ref  # the person's submission is unaffected by the failed alert
    app.state.intake_notifier.join(30)
    con = state.connect(home)
    row = con.execute("SELECT status, attempts, last_error FROM deliveries").fetchone()
    assert row["status"] == "pending" and row["attempts"] == 1 and "webhook" in row["last_error"]
    receiver.start()
    try:
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=7)
        run = deliver_due(con, home=home, now=lambda: later)
    finally:
        receiver.stop()
    assert len(run.sent) == 1 and len(receiver.requests) == 1
    assert json.loads(receiver.requests[0]["body"])["data"]["reference"] == ref
    # a second notification for the same reference is not queued twice
    from icemonitor.watch.intake_alerts import queue_intake_alert

    assert queue_intake_alert(con, ref) == []
    con.close()


def test_analysis_evaluation_skips_intake_watches(home):
    from icemonitor.errors import InputError
    from icemonitor.watch import state
    from icemonitor.watch.alerts import check_watch, evaluate_watches
    from icemonitor.watch.snapshot import CellChange

    assert cli("watch", "add", "--watch", "intake-urgent", "--email", "staff@example.org").exit_code == 0
    con = state.connect(home)
    change = CellChange("arrests", "r1", "2019-08", "LOS", 10, 20, 10, 20)
    assert evaluate_watches(con, home / "no-warehouse.duckdb", [change], None) == []
    with pytest.raises(InputError, match="not run over the records"):
        check_watch(con, home / "no-warehouse.duckdb", 1, ["2019-08"])
    con.close()


def test_notifier_forwards_only_a_reference(home, caplog):
    from icemonitor.watch.intake_alerts import IntakeNotifier, reference_of

    assert reference_of("icemonitor intake: a new urgent request is waiting (reference K7PQ-4XMT).") == "K7PQ-4XMT"
    assert reference_of(f"{NAME} {PHONE}") is None
    assert cli("watch", "add", "--watch", "intake-urgent", "--email", "staff@example.org").exit_code == 0
    caplog.set_level("DEBUG")
    sent = []
    notifier = IntakeNotifier(home, senders={"email": lambda out: sent.append(out) or "ok"})
    notifier(f"{NAME} {PHONE} {MESSAGE}")  # not a reference: nothing is queued, nothing typed is logged
    notifier.join(10)
    con = sqlite3.connect(str(home / "state.sqlite"))
    assert con.execute("SELECT count(*) FROM findings").fetchone()[0] == 0
    con.close()
    assert_nothing_typed(state_bytes(home))
    assert_nothing_typed(caplog.text)
    notifier("icemonitor intake: a new urgent request is waiting (reference K7PQ-4XMT).")
    notifier.join(10)
    assert [o.finding["title"] for o in sent] == ["Urgent intake request waiting: reference K7PQ-4XMT"]


def test_serve_stops_on_a_missing_or_wrong_intake_key(tmp_path, monkeypatch, home):
    import uvicorn

    started = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(app))
    monkeypatch.setenv(KEY_ENV, str(tmp_path / "nowhere.key"))
    monkeypatch.setenv("ICEMONITOR_INTAKE_DB", f"sqlite:///{tmp_path / 'intake.sqlite'}")
    r = cli("serve", "--warehouse", str(tmp_path / "w.duckdb"))
    assert r.exit_code == 2 and "the intake cannot start" in r.output and "does not exist" in r.output
    assert started == []
    # a database opened with one key, then a server started with another
    settings = make_settings(tmp_path, f"sqlite:///{tmp_path / 'intake.sqlite'}")
    monkeypatch.setenv(KEY_ENV, str(settings.key_file))
    assert cli("serve", "--warehouse", str(tmp_path / "w.duckdb")).exit_code == 0 and len(started) == 1
    other = tmp_path / "other" / "intake.key"
    write_key_file(other, new_key())
    monkeypatch.setenv(KEY_ENV, str(other))
    r = cli("serve", "--warehouse", str(tmp_path / "w.duckdb"))
    assert r.exit_code == 2 and "the intake cannot start" in r.output and len(started) == 1
    # unset: the dashboard starts without /intake
    monkeypatch.delenv(KEY_ENV)
    assert cli("serve", "--warehouse", str(tmp_path / "w.duckdb")).exit_code == 0
    from fastapi.testclient import TestClient

    assert TestClient(started[-1]).get("/intake").status_code == 404
    assert TestClient(started[0]).get("/intake").status_code == 200


def test_dashboard_neither_caches_nor_sets_its_lang_cookie_on_intake_pages(tmp_path, monkeypatch, home):
    client, app = dashboard_with_intake(tmp_path, monkeypatch, home)
    for path in ("/intake?lang=es", "/staff/login?lang=es"):
        r = client.get(path)
        assert r.status_code == 200
        assert "lang=" not in r.headers.get("set-cookie", ""), path
        assert r.headers["cache-control"] == "no-store"
    from icemonitor.web.middleware import WebMiddleware

    caches = [m for m in app.user_middleware if m.cls is WebMiddleware]
    assert caches  # the dashboard's cache is in front of the intake ...
    stack = app.middleware_stack or app.build_middleware_stack()
    layer = stack
    while layer is not None and not isinstance(layer, WebMiddleware):
        layer = getattr(layer, "app", None)
    assert layer is not None and not any(k[1].startswith(("/intake", "/staff")) for k in layer.cache)  # ... and skips it
    assert client.get("/?lang=es").headers.get("set-cookie", "").startswith("lang=es")  # the dashboard's own pages do
