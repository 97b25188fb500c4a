"""Send queued findings: e-mail (SMTP, STARTTLS, AUTH) and webhooks (JSON POST signed with HMAC-SHA256).

The outbox row exists before anything is sent. Sending marks it 'sending' (and commits) first; success marks it
'sent'; a failure puts it back to 'pending' with an exponential backoff. A row found 'sending' after a crash is
sent again with the same idempotency key (webhook header Idempotency-Key, e-mail Message-ID), so a receiver that
already has it can drop the copy. Nothing is ever dropped: failures are retried until they succeed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import smtplib
import sqlite3
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from icemonitor import config
from icemonitor.errors import IcemonitorError
from icemonitor.messages import msg
from icemonitor.watch import state
from icemonitor.watch.lock import RefreshLock

SIGNATURE_HEADER = "X-Icemonitor-Signature"
TIMESTAMP_HEADER = "X-Icemonitor-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"


class DeliveryError(IcemonitorError):
    """A delivery attempt failed; it will be retried."""


class SmtpSettings(BaseSettings):
    """Outgoing mail, from ICEMONITOR_SMTP_HOST / _PORT / _USER / _PASSWORD_FILE / _STARTTLS / _FROM / _CAFILE."""

    model_config = SettingsConfigDict(env_prefix="ICEMONITOR_SMTP_", populate_by_name=True)

    host: str | None = None
    port: int = 587
    user: str | None = None
    password_file: Path | None = None
    starttls: bool = True
    sender: str = Field("icemonitor@localhost", validation_alias="ICEMONITOR_SMTP_FROM")
    cafile: Path | None = None  # extra CA bundle to trust (e.g. a private relay's certificate)
    timeout: float = 30.0

    def password(self) -> str | None:
        if self.password_file is None:
            return None
        return self.password_file.read_text(encoding="utf-8").rstrip("\r\n")


@dataclass
class Outgoing:
    """One delivery as the senders see it."""

    delivery_id: int
    idempotency_key: str
    channel: str
    target: str
    secret_env: str | None
    finding: dict[str, Any]


def payload(out: Outgoing) -> dict[str, Any]:
    f = out.finding
    return {
        "id": out.idempotency_key,
        "kind": f["kind"],
        "place": f["place"],
        "period": f["period"],
        "title": f["title"],
        "text": f["body"],
        "lang": f.get("lang") or "en",
        "data": json.loads(f["data"]),
        "found_at": f["created_at"],
    }


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """sha256=<hex HMAC-SHA256 over '<timestamp>.<body>'>."""
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str, *, tolerance: float = 300.0,
           now: float | None = None) -> bool:
    """For receivers: the signature matches and the timestamp is within `tolerance` seconds (replay guard)."""
    try:
        age = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    return age <= tolerance and hmac.compare_digest(sign(secret, timestamp, body), signature)


def send_webhook(out: Outgoing, *, timeout: float = 10.0) -> str:
    import os

    if not out.secret_env or not os.environ.get(out.secret_env):
        raise DeliveryError(f"webhook secret: environment variable {out.secret_env or '(none)'} is not set")
    secret = os.environ[out.secret_env].encode()
    body = json.dumps(payload(out), sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "icemonitor-webhook/1",
        TIMESTAMP_HEADER: ts,
        SIGNATURE_HEADER: sign(secret, ts, body),
        IDEMPOTENCY_HEADER: out.idempotency_key,
    }
    try:
        resp = httpx.post(out.target, content=body, headers=headers, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as err:
        raise DeliveryError(f"webhook {out.target}: {type(err).__name__}: {err}") from None
    if not 200 <= resp.status_code < 300:
        raise DeliveryError(f"webhook {out.target}: HTTP {resp.status_code}")
    return f"HTTP {resp.status_code}"


def email_message(out: Outgoing, settings: SmtpSettings) -> EmailMessage:
    f = out.finding
    lang = f.get("lang") or "en"
    mail = EmailMessage()
    mail["From"] = settings.sender
    mail["To"] = out.target
    mail["Subject"] = f"[icemonitor] {f['title']}"
    mail["Message-ID"] = f"<{out.idempotency_key}@icemonitor>"
    mail["Date"] = format_datetime(state.parse_iso(f["created_at"]))
    mail["X-Icemonitor-Finding"] = out.idempotency_key
    footer = msg("icemonitor watch alert ({kind}, {place}, {period}).\nFinding {key}. Figures as JSON:",
                 kind=f["kind"], place=f["place"], period=f["period"], key=out.idempotency_key)
    mail.set_content(f"{f['body']}\n\n--\n{footer.render(lang)}\n"
                     f"{json.dumps(json.loads(f['data']), indent=2, sort_keys=True)}\n")
    mail["Content-Language"] = lang  # after set_content, which drops Content-* headers
    return mail


def send_email(out: Outgoing, settings: SmtpSettings | None = None) -> str:
    settings = settings or SmtpSettings()
    if not settings.host:
        raise DeliveryError("e-mail: ICEMONITOR_SMTP_HOST is not set")
    password = settings.password()
    if settings.user and not settings.starttls:
        raise DeliveryError("e-mail: refusing to send a password without STARTTLS (set ICEMONITOR_SMTP_STARTTLS=true)")
    msg = email_message(out, settings)
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            smtp.ehlo()
            if settings.starttls:
                ctx = ssl.create_default_context(cafile=str(settings.cafile) if settings.cafile else None)
                smtp.starttls(context=ctx)
                smtp.ehlo()
            if settings.user:
                smtp.login(settings.user, password or "")
            refused = smtp.send_message(msg)
    except (smtplib.SMTPException, OSError, ssl.SSLError) as err:
        raise DeliveryError(f"e-mail to {out.target}: {type(err).__name__}: {err}") from None
    if refused:
        raise DeliveryError(f"e-mail refused for {', '.join(refused)}")
    return f"accepted by {settings.host}:{settings.port}"


Sender = Callable[[Outgoing], str]


def default_senders() -> dict[str, Sender]:
    return {"webhook": send_webhook, "email": send_email}


@dataclass(frozen=True)
class Backoff:
    """Wait base * 2^(attempts-1) seconds after a failure, at most `cap`."""

    base: float = 60.0
    cap: float = 6 * 3600.0

    def delay(self, attempts: int) -> dt.timedelta:
        return dt.timedelta(seconds=min(self.base * 2 ** max(attempts - 1, 0), self.cap))


@dataclass
class DeliveryRun:
    sent: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)
    resumed: list[int] = field(default_factory=list)


def _log(con, delivery_id: int, attempt: int, outcome: str, detail: str | None, now: dt.datetime) -> None:
    con.execute(
        "INSERT INTO delivery_log (delivery_id, attempt, at, outcome, detail) VALUES (?,?,?,?,?)",
        [delivery_id, attempt, state.iso(now), outcome, detail],
    )


def deliver_due(
    con: sqlite3.Connection,
    *,
    home: Path | None = None,
    now: Callable[[], dt.datetime] = state.now_utc,
    senders: dict[str, Sender] | None = None,
    backoff: Backoff = Backoff(),
) -> DeliveryRun:
    """Send every due outbox row once (under <home>/deliver.lock so two senders never interleave)."""
    senders = senders or default_senders()
    run = DeliveryRun()
    with RefreshLock(home or config.home(), name="deliver"):
        rows = con.execute(
            "SELECT d.*, w.secret_env, w.lang, f.kind, f.place, f.period, f.title, f.body, f.data, "
            "f.created_at AS f_created "
            "FROM deliveries d JOIN findings f ON f.id = d.finding_id JOIN watches w ON w.id = d.watch_id "
            "WHERE d.status IN ('pending', 'sending') AND d.next_attempt_at <= ? ORDER BY d.id",
            [state.iso(now())],
        ).fetchall()
        for r in rows:
            if r["status"] == "sending":
                _log(con, r["id"], r["attempts"], "resumed",
                     "found 'sending' after an interruption; sending again with the same idempotency key", now())
                run.resumed.append(r["id"])
            attempt = r["attempts"] + 1
            con.execute("UPDATE deliveries SET status = 'sending', attempts = ? WHERE id = ?", [attempt, r["id"]])
            out = Outgoing(
                r["id"], r["idempotency_key"], r["channel"], r["target"], r["secret_env"],
                {"kind": r["kind"], "place": r["place"], "period": r["period"], "title": r["title"],
                 "body": r["body"], "data": r["data"], "created_at": r["f_created"], "lang": r["lang"]},
            )
            try:
                detail = senders[r["channel"]](out)
            except Exception as err:  # noqa: BLE001 - every failure is recorded and retried
                t = now()
                con.execute(
                    "UPDATE deliveries SET status = 'pending', next_attempt_at = ?, last_error = ? WHERE id = ?",
                    [state.iso(t + backoff.delay(attempt)), str(err), r["id"]],
                )
                _log(con, r["id"], attempt, "failed", str(err), t)
                run.failed.append(r["id"])
                continue
            t = now()
            con.execute(
                "UPDATE deliveries SET status = 'sent', sent_at = ?, last_error = NULL WHERE id = ?",
                [state.iso(t), r["id"]],
            )
            _log(con, r["id"], attempt, "sent", detail, t)
            run.sent.append(r["id"])
    return run
