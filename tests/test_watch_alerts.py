"""Watches end to end: findings queued after a refresh, sent over a real SMTP server (STARTTLS + AUTH) and a
webhook receiver on loopback; signatures, deduplication across refreshes, retries, crashes mid-delivery."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from test_watch_support import (
    LESA_ID, Archive, SmtpServer, WebhookReceiver, lesa_file, rewrite_lesa, run_refresh, verify_signature,
)

pytestmark = pytest.mark.skipif(not lesa_file(2016).exists(), reason="../shared/data is not beside the repo")

SECRET = "test-secret-not-real"
T0 = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.timezone.utc)  # after the rows are queued (queued rows are due at once)


class Crash(BaseException):
    """Stands for the process dying (not an ordinary failure, so nothing catches it)."""


@pytest.fixture(scope="module")
def fy16_home(tmp_path_factory):
    """A data folder after a first refresh that loaded FY2016 only."""
    home = tmp_path_factory.mktemp("fy16")
    archive = Archive()
    archive.add_lesa(2016)
    run_refresh(home, archive)
    return home


@pytest.fixture
def home(fy16_home, tmp_path, monkeypatch):
    dest = tmp_path / "home"
    shutil.copytree(fy16_home, dest)
    monkeypatch.setenv("ICEMONITOR_HOME", str(dest))
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    return dest


def cli(*args: str) -> str:
    from icemonitor.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def add_fy17(home: Path):
    archive = Archive()
    archive.add_lesa(2016)
    archive.add_lesa(2017)
    return run_refresh(home, archive), archive


def state(home: Path) -> sqlite3.Connection:
    from icemonitor.watch import state as st

    return st.connect(home)


def clock(t: dt.datetime):
    return lambda: t


def test_webhook_alerts_are_signed_and_sent_once_across_refreshes(home, tmp_path):
    from icemonitor.watch.delivery import deliver_due

    receiver = WebhookReceiver()
    receiver.start()
    try:
        assert "watch 1: at-large-rise in AOR LOS" in cli(
            "watch", "add", "--place", "LOS", "--watch", "at-large-rise", "--webhook", receiver.url,
            "--secret-env", "HOOK_SECRET")
        result, archive = add_fy17(home)
        assert result.status == "updated" and result.findings
        con = state(home)
        run = deliver_due(con, home=home)
        assert len(run.sent) == len(result.findings) and not run.failed
        assert len(receiver.requests) == len(result.findings)
        periods = set()
        for req in receiver.requests:
            assert verify_signature(SECRET.encode(), req["headers"], req["body"])
            assert not verify_signature(b"another secret", req["headers"], req["body"])
            body = json.loads(req["body"])
            assert req["headers"]["Idempotency-Key"] == body["id"]
            assert body["kind"] == "at-large-rise" and body["place"] == "LOS"
            assert body["data"]["releases"] == [LESA_ID]
            assert "Definition: At-large arrests" in body["text"]
            periods.add(body["period"])
        assert periods == {"2017-02", "2017-03", "2017-04", "2017-05", "2017-06", "2017-07", "2017-08", "2017-09"}

        # a revised FY2017 file, one Los Angeles at-large arrest of March 2017 fewer: re-evaluated, not re-sent
        gone = {"n": 0}

        def drop_one(aor, date, method):
            if not gone["n"] and aor.startswith("Los Angeles") and date.startswith("3/") and method == "Located":
                gone["n"] = 1
                return True
            return False

        revised = tmp_path / "v2" / "EROArrests_FY2017.csv.gz"
        revised.parent.mkdir()
        rewrite_lesa(lesa_file(2017), revised, drop_one)
        archive.set_path("EROArrests_FY2017.csv.gz", revised)
        again = run_refresh(home, archive)
        assert again.status == "updated" and [(c.month, c.aor) for c in again.changes] == [("2017-03", "LOS")]
        assert again.findings == []
        assert deliver_due(con, home=home).sent == []
        assert len(receiver.requests) == len(result.findings)

        log = json.loads(cli("alerts", "log", "--json"))
        assert {r["status"] for r in log} == {"sent"} and all(r["attempts"] == 1 for r in log)
        con.close()
    finally:
        receiver.stop()


def test_failed_webhook_is_retried_with_backoff_once_the_receiver_is_up(home):
    from icemonitor.watch.delivery import Backoff, deliver_due

    receiver = WebhookReceiver()  # port reserved, nothing listening yet
    cli("watch", "add", "--place", "SEA", "--watch", "at-large-rise", "--webhook", receiver.url,
        "--secret-env", "HOOK_SECRET")
    result, _ = add_fy17(home)
    n = len(result.findings)
    assert n >= 1
    con = state(home)
    backoff = Backoff(base=60, cap=3600)
    first = deliver_due(con, home=home, now=clock(T0), backoff=backoff)
    assert len(first.failed) == n and not first.sent
    rows = con.execute("SELECT status, attempts, next_attempt_at, last_error FROM deliveries").fetchall()
    assert all(r["status"] == "pending" and r["attempts"] == 1 and r["next_attempt_at"] == "2030-01-01T12:01:00Z"
               and "ConnectError" in r["last_error"] for r in rows)
    assert deliver_due(con, home=home, now=clock(T0 + dt.timedelta(seconds=30)), backoff=backoff).failed == []
    second = deliver_due(con, home=home, now=clock(T0 + dt.timedelta(seconds=61)), backoff=backoff)
    assert len(second.failed) == n  # still down: the wait doubles
    assert {r[0] for r in con.execute("SELECT next_attempt_at FROM deliveries")} == {"2030-01-01T12:03:01Z"}
    receiver.start()
    try:
        third = deliver_due(con, home=home, now=clock(T0 + dt.timedelta(seconds=182)), backoff=backoff)
        assert len(third.sent) == n and len(receiver.requests) == n
        assert deliver_due(con, home=home, now=clock(T0 + dt.timedelta(days=1))).sent == []
        outcomes = [r[0] for r in con.execute("SELECT outcome FROM delivery_log WHERE delivery_id = 1 ORDER BY id")]
        assert outcomes == ["failed", "failed", "sent"]
    finally:
        receiver.stop()
    con.close()


def test_crash_mid_delivery_never_loses_or_doubles_an_alert(home):
    from icemonitor.watch.delivery import deliver_due, send_webhook

    receiver = WebhookReceiver()
    receiver.start()
    try:
        cli("watch", "add", "--place", "LOS", "--watch", "at-large-rise", "--webhook", receiver.url,
            "--secret-env", "HOOK_SECRET")
        result, _ = add_fy17(home)
        n = len(result.findings)
        con = state(home)

        def crash_before(out):
            raise Crash()

        with pytest.raises(Crash):  # dies after marking the first row 'sending', before sending it
            deliver_due(con, home=home, senders={"webhook": crash_before})
        con.close()
        assert receiver.requests == []
        con = state(home)  # restart
        run = deliver_due(con, home=home)
        assert run.resumed == [1] and len(run.sent) == n
        assert len(receiver.requests) == n and len(receiver.processed) == n

        # a second watch's alerts: this time the process dies after the receiver got the first one
        cli("watch", "add", "--place", "LOS", "--watch", "at-large-rise", "--webhook", receiver.url + "?b",
            "--secret-env", "HOOK_SECRET")
        from icemonitor.watch.alerts import evaluate_watches
        from icemonitor.watch.snapshot import CellChange

        months = [CellChange("arrests", LESA_ID, f"2017-{m:02d}", "LOS", 0, 1, 0, 1) for m in range(1, 10)]
        new = evaluate_watches(con, home / "warehouse.duckdb", months, None)
        assert len(new) == n  # the first watch's findings are known; only the new watch's are queued

        def crash_after(out):
            send_webhook(out)
            raise Crash()

        with pytest.raises(Crash):
            deliver_due(con, home=home, senders={"webhook": crash_after})
        con.close()
        con = state(home)
        run = deliver_due(con, home=home)
        assert len(run.resumed) == 1 and len(run.sent) == n
        # the interrupted one arrived twice with the same Idempotency-Key; the receiver processes it once
        assert len(receiver.requests) == 2 * n + 1
        assert len(receiver.processed) == 2 * n
        keys = [r["headers"]["Idempotency-Key"] for r in receiver.requests[n:]]
        assert keys[0] == keys[1] and len(set(keys)) == n
        assert deliver_due(con, home=home).sent == []
        con.close()
    finally:
        receiver.stop()


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


def test_email_alerts_over_starttls_with_auth(home, smtp, monkeypatch):
    from icemonitor.watch.delivery import deliver_due, send_email

    cli("watch", "add", "--place", "LOS", "--watch", "at-large-rise", "--email", "legal-aid@example.org")
    result, _ = add_fy17(home)
    n = len(result.findings)
    con = state(home)

    monkeypatch.setenv("ICEMONITOR_SMTP_PASSWORD_FILE", str(home / "missing"))
    failed = deliver_due(con, home=home, now=clock(T0))
    assert len(failed.failed) == n and smtp.messages == []

    wrong = home / "wrong-pw"
    wrong.write_text("nope")
    monkeypatch.setenv("ICEMONITOR_SMTP_PASSWORD_FILE", str(wrong))
    refused = deliver_due(con, home=home, now=clock(T0 + dt.timedelta(minutes=2)))
    assert len(refused.failed) == n and smtp.messages == [] and ("alerts", "nope") in smtp.auth_attempts
    assert "Authentication" in con.execute("SELECT last_error FROM deliveries WHERE id = 1").fetchone()[0]

    monkeypatch.setenv("ICEMONITOR_SMTP_PASSWORD_FILE", str(smtp.cert.parent / "smtp-password"))

    def crash_after(out):
        send_email(out)
        raise Crash()

    with pytest.raises(Crash):
        deliver_due(con, home=home, now=clock(T0 + dt.timedelta(hours=1)), senders={"email": crash_after})
    run = deliver_due(con, home=home, now=clock(T0 + dt.timedelta(hours=1)))
    assert len(run.sent) == n and len(smtp.messages) == n + 1
    msgs = [email.message_from_bytes(m["content"], policy=email.policy.default) for m in smtp.messages]
    assert msgs[0]["Message-ID"] == msgs[1]["Message-ID"]  # the resent copy carries the same Message-ID
    assert len({m["Message-ID"] for m in msgs}) == n
    for raw, msg in zip(smtp.messages, msgs):
        assert raw["tls"] and raw["authenticated"] and raw["rcpt_tos"] == ["legal-aid@example.org"]
        assert msg["From"] == "icemonitor@example.org"
        assert re.match(r"\[icemonitor\] At-large arrests rose in AOR LOS in [A-Z][a-z]{2} 2017: ", msg["Subject"])
        text = msg.get_body().get_content()
        assert "Definition: At-large arrests" in text and LESA_ID in text and "95% Poisson interval" in text
    keys = {r[0] for r in con.execute("SELECT idempotency_key FROM deliveries")}
    assert {m["Message-ID"] for m in msgs} == {f"<{k}@icemonitor>" for k in keys}
    con.close()


SPANISH_MONTHS = "ene feb mar abr may jun jul ago sep oct nov dic".split()  # CLDR es_US, written out here


def spanish_month(month: str) -> str:
    """'2017-09' -> 'sep 2017' (by hand, not through the product's formats)."""
    return f"{SPANISH_MONTHS[int(month[5:]) - 1]} {month[:4]}"


def test_a_spanish_watch_says_its_alerts_in_spanish(home):
    """`watch add --lang es`: the same findings as an English watch, titles, bodies and the e-mail's footer said in
    Spanish with the months in Spanish; the figures (JSON) the same in both."""
    from icemonitor.watch.delivery import Outgoing, SmtpSettings, email_message, payload

    receiver = WebhookReceiver()
    receiver.start()
    try:
        cli("watch", "add", "--place", "LOS", "--watch", "at-large-rise", "--webhook", receiver.url,
            "--secret-env", "HOOK_SECRET", "--lang", "es")
        cli("watch", "add", "--place", "LOS", "--watch", "at-large-rise", "--email", "a@example.org")
        assert [(w["id"], w["lang"]) for w in json.loads(cli("watch", "list", "--json"))] == [(1, "es"), (2, "en")]
        add_fy17(home)
        con = state(home)
        rows = con.execute("SELECT f.*, w.lang FROM findings f JOIN watches w ON w.id = f.watch_id "
                           "ORDER BY f.period, w.lang").fetchall()
        by_lang = {lang: {r["period"]: r for r in rows if r["lang"] == lang} for lang in ("en", "es")}
        assert by_lang["es"] and by_lang["es"].keys() == by_lang["en"].keys()
        for period, es in by_lang["es"].items():
            en, data = by_lang["en"][period], json.loads(es["data"])
            assert json.loads(en["data"]) == data
            count, mean = data["count"], data["baseline_mean"]
            first, last = data["baseline_months"]
            assert es["title"].startswith(f"Los arrestos en libertad aumentaron en AOR LOS en {spanish_month(period)}: "
                                          f"{count:,} frente a un promedio de "), es["title"]
            assert f"Línea de base: de {spanish_month(first)} a {spanish_month(last)}." in es["body"]
            assert "Definición: Arrestos en libertad: filas contadas" in es["body"]
            assert "Entregas de datos: uwchr-ice-enforce-fy16-19." in es["body"]
            assert "Definition" not in es["body"] and "Baseline" not in es["body"] and period not in es["title"]
            assert en["title"].startswith(f"At-large arrests rose in AOR LOS in "
                                          f"{dt.date.fromisoformat(period + '-01'):%b %Y}: {count:,} against")
        es = next(iter(by_lang["es"].values()))
        out = Outgoing(1, "key-1", "email", "a@example.org", None, {**dict(es), "lang": "es"})
        mail = email_message(out, SmtpSettings())
        text = mail.get_body().get_content()
        assert mail["Subject"] == f"[icemonitor] {es['title']}" and mail["Content-Language"] == "es"
        assert "alerta de vigilancia de icemonitor (at-large-rise, LOS, " in text and "Cifras en JSON:" in text
        assert payload(out)["lang"] == "es"
        from icemonitor.watch.delivery import deliver_due

        deliver_due(con, home=home)
        sent = [json.loads(r["body"]) for r in receiver.requests]
        assert sent and {b["lang"] for b in sent} == {"es"} and all(b["title"].startswith("Los arrestos") for b in sent)
        con.close()
    finally:
        receiver.stop()


def test_watch_cli_validates_and_lists(home):
    from icemonitor.cli import app

    runner = CliRunner()
    bad = runner.invoke(app, ["watch", "add", "--place", "LOS", "--watch", "everything", "--email", "a@example.org"])
    assert bad.exit_code == 2 and "field 'watch'" in bad.output
    bad = runner.invoke(app, ["watch", "add", "--place", "LOS", "--watch", "sweeps", "--webhook", "http://127.0.0.1:9/x"])
    assert bad.exit_code == 2 and "secret-env" in bad.output
    bad = runner.invoke(app, ["watch", "add", "--place", "QQQ", "--watch", "sweeps", "--email", "a@example.org"])
    assert bad.exit_code == 2 and "QQQ" in bad.output
    cli("watch", "add", "--place", "los,sfr", "--watch", "sweeps", "--email", "a@example.org")
    listed = json.loads(cli("watch", "list", "--json"))
    assert [(w["place"], w["kind"], w["target"]) for w in listed] == [("LOS,SFR", "sweeps", "a@example.org")]
    assert "removed" in cli("watch", "remove", str(listed[0]["id"]))
    assert json.loads(cli("watch", "list", "--json")) == []
    assert runner.invoke(app, ["watch", "remove", "99"]).exit_code == 2


def test_watches_interrupted_by_an_error_run_at_the_next_refresh(home, monkeypatch):
    from icemonitor.watch import findings

    cli("watch", "add", "--place", "LOS", "--watch", "at-large-rise", "--email", "a@example.org")
    real = findings.EVALUATORS["at-large-rise"]

    def broken(*args):
        raise RuntimeError("analysis failed")

    monkeypatch.setitem(findings.EVALUATORS, "at-large-rise", broken)
    result, archive = add_fy17(home)
    assert result.status == "updated" and result.findings == []
    assert any("will retry" in m and "analysis failed" in m for m in result.messages)
    monkeypatch.setitem(findings.EVALUATORS, "at-large-rise", real)
    later = run_refresh(home, archive)
    assert later.status == "unchanged" and len(later.findings) == 8  # 2017-02 .. 2017-09, as in the first test
    assert run_refresh(home, archive).findings == []


def test_watch_check_backfills_and_remove_cancels_unsent(home):
    receiver = WebhookReceiver()  # never started: alerts stay unsent
    add_fy17(home)
    cli("watch", "add", "--place", "SEA", "--watch", "at-large-rise", "--webhook", receiver.url,
        "--secret-env", "HOOK_SECRET")
    out = cli("watch", "check", "1", "--from", "2016-10", "--to", "2017-09")
    assert "2 new finding(s)" in out and "0 sent, 2 failed" in out
    assert "0 new finding(s)" in cli("watch", "check", "1", "--from", "2016-10", "--to", "2017-09")
    assert "2 unsent alert(s) cancelled" in cli("watch", "remove", "1")
    log = json.loads(cli("alerts", "log", "--json"))
    assert [r["status"] for r in log] == ["cancelled", "cancelled"]
    assert [a["outcome"] for a in log[0]["attempts_log"]] == ["failed", "cancelled"]


def test_history_shows_the_release_diff(home):
    result, _ = add_fy17(home)
    rows = json.loads(cli("history", str(result.refresh_id), "--json"))
    assert sum(r["added"] for r in rows) == sum(c.added for c in result.changes) > 100_000
    listing = json.loads(cli("history", "--json"))
    assert [r["status"] for r in listing["refreshes"]][:2] == ["updated", "updated"]
    assert {f["file_name"] for f in listing["release_files"] if f["status"] == "in_use"} == {
        "EROArrests_FY2016.csv.gz", "EROArrests_FY2017.csv.gz"}


def test_a_sweep_found_again_with_shifted_days_is_not_queued_twice(tmp_path):
    from icemonitor.watch.alerts import queue
    from icemonitor.watch.findings import Finding

    con = state(tmp_path)
    con.execute("INSERT INTO watches (place, place_label, kind, channel, target, created_at) "
                "VALUES ('LOS', 'AOR LOS', 'sweeps', 'email', 'a@example.org', '2026-01-01T00:00:00Z')")
    w = con.execute("SELECT * FROM watches").fetchone()

    def sweep(period):
        return Finding(w["id"], "sweeps", "LOS", period, f"sweep {period}", "text", {})

    assert queue(con, w, sweep("2017-05-20..2017-05-24"), None) is not None
    assert queue(con, w, sweep("2017-05-21..2017-05-25"), None) is None  # the same sweep, revised
    assert queue(con, w, sweep("2017-05-16..2017-05-20"), None) is None  # touches its first day
    assert queue(con, w, sweep("2017-05-25..2017-05-27"), None) is not None  # a later one
    assert con.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 2
    con.close()


def test_watch_confirmations_in_the_chosen_language(home, monkeypatch):
    """The watch commands' confirmations in the CLI's language (--lang, else ICEMONITOR_LANG): adding, checking
    (months as months), the alert log, sending and removing; the same words in English as before."""
    receiver = WebhookReceiver()  # never started: alerts stay unsent
    add_fy17(home)
    said = cli("watch", "add", "--place", "SEA", "--watch", "at-large-rise", "--webhook", receiver.url,
               "--secret-env", "HOOK_SECRET", "--lang", "es")
    assert said.startswith("vigilancia 1: at-large-rise en ") and f"-> {receiver.url}" in said
    out = " ".join(cli("watch", "check", "1", "--from", "2016-10", "--to", "2017-09", "--lang", "es").split())
    assert out == "vigilancia 1: 2 hallazgo(s) nuevo(s) de oct 2016 a sep 2017; 0 enviada(s), 2 fallida(s) (se reintentará)"
    en = " ".join(cli("watch", "check", "1", "--from", "2016-10", "--to", "2017-09").split())
    assert en == "watch 1: 0 new finding(s) from Oct 2016 to Sep 2017"
    monkeypatch.setenv("ICEMONITOR_LANG", "es")
    log = cli("alerts", "log")
    assert "alertas" in log and "próximo" in log and "pendiente" in log and "intentos" in log
    assert "next" not in log and "attempts" not in log
    assert "0 enviada(s), 0 fallida(s) (se reintentará), 0 reanudada(s) tras una interrupción" in " ".join(
        cli("alerts", "deliver").split())
    assert " ".join(cli("watch", "remove", "1").split()) == \
        "vigilancia 1 eliminada; 2 alerta(s) no enviada(s) cancelada(s)"
