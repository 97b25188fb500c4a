"""IntakeSettings: where the intake keeps its data and key, its limits, and the integrator's hooks."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from icemonitor import config
from icemonitor.intake.keys import key_file_from_env

ContextProvider = Callable[[str], dict]
Notifier = Callable[[str], None]


def default_db_url() -> str:
    """SQLite file `intake.sqlite` in the data folder (config.home())."""
    return f"sqlite:///{config.home() / 'intake.sqlite'}"


@dataclass
class IntakeSettings:
    """Everything the intake needs. Build with IntakeSettings.from_env() or directly in tests.

    context_provider: the integrator's hook for the local enforcement context panel. Called with the
      county or city the person typed (decrypted text); returns a dict of label -> value shown to
      staff on the request page (e.g. recent sweeps in that county/AOR, the county's policy status,
      each with its definition and release). None: the panel is not rendered at all.
    notify: the integrator's hook for alert channels (e-mail/webhook). Called for each new urgent
      request with a message holding only the reference code, never personal data.
    """

    db_url: str
    key_file: Path
    retention_days: int = 90
    cookie_secure: bool = True
    session_idle_seconds: int = 30 * 60
    session_absolute_seconds: int = 12 * 3600
    login_max_failures: int = 5  # per account and client address: see limits.LoginLockout
    lockout_seconds: int = 15 * 60
    login_attempts_per_minute: int = 30
    public_per_client_per_minute: int = 10  # stored submissions per client (IPv4 address or IPv6 /64)
    public_invalid_per_client_per_minute: int = 30  # refused posts per client: never touch anyone else's budget
    public_global_per_minute: int = 600  # stored non-urgent submissions in all; urgent ones are never refused by it
    urgent_alerts_per_source: int = 1  # per alert period: more are summarised (limits.AlertGate)
    urgent_alerts_per_period: int = 10
    urgent_alert_period_seconds: int = 600
    audit_anchor_file: Path | None = None
    detained_now_file: Path | None = None
    office_name: str = ""
    office_phone: str = ""
    context_provider: ContextProvider | None = None
    notify: Notifier | None = None

    @classmethod
    def from_env(cls) -> "IntakeSettings":
        """ICEMONITOR_INTAKE_DB (default sqlite in the data folder), ICEMONITOR_INTAKE_KEY_FILE (required),
        ICEMONITOR_INTAKE_RETENTION_DAYS, ICEMONITOR_INTAKE_OFFICE_NAME/_PHONE, ICEMONITOR_INTAKE_DETAINED_TEXT,
        ICEMONITOR_INTAKE_AUDIT_ANCHOR (default: intake-audit.anchor in the data folder)."""
        env = os.environ
        detained = env.get("ICEMONITOR_INTAKE_DETAINED_TEXT")
        return cls(
            db_url=env.get("ICEMONITOR_INTAKE_DB") or default_db_url(),
            key_file=key_file_from_env(),
            retention_days=int(env.get("ICEMONITOR_INTAKE_RETENTION_DAYS", "90")),
            cookie_secure=env.get("ICEMONITOR_INTAKE_INSECURE_COOKIES", "") != "1",
            office_name=env.get("ICEMONITOR_INTAKE_OFFICE_NAME", ""),
            office_phone=env.get("ICEMONITOR_INTAKE_OFFICE_PHONE", ""),
            detained_now_file=Path(detained) if detained else None,
            audit_anchor_file=Path(env.get("ICEMONITOR_INTAKE_AUDIT_ANCHOR") or config.home() / "intake-audit.anchor"),
        )
