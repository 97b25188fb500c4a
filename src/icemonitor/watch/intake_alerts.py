"""Staff alerts for new urgent intake requests, sent through the watch outbox with no personal data.

A watch of kind `intake-urgent` (`icemonitor watch add --watch intake-urgent --email ...|--webhook ...`) names
where staff want to hear about urgent requests. For each new urgent request the intake calls the notifier with
its reference code; the notifier queues one finding per active intake-urgent watch (title, body and data hold
the reference and nothing else) in the state database's outbox, then sends what is due in a background
thread. A failed delivery stays in the outbox and is retried by `icemonitor alerts deliver`, the scheduler or
the next urgent request, like every watch alert. The analysis evaluation skips these watches.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from icemonitor import config
from icemonitor.messages import msg
from icemonitor.watch import state
from icemonitor.watch.alerts import queue
from icemonitor.watch.findings import Finding

log = logging.getLogger(__name__)

INTAKE_KIND = "intake-urgent"
INTAKE_PLACE = "intake"
INTAKE_PLACE_LABEL = msg("intake inbox (urgent requests)")
# the intake's reference codes: 4 + 4 characters of its unambiguous alphabet (icemonitor.intake.store)
_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
REFERENCE = re.compile(rf"(?<![A-Z0-9])([{_ALPHABET}]{{4}}-[{_ALPHABET}]{{4}})(?![A-Z0-9])")
# the intake's audit anchor in a notification: `audit 1234:<64 hex>` (rows and head hash, icemonitor.intake.audit)
AUDIT_ANCHOR = re.compile(r"\baudit (\d{1,12}):([0-9a-f]{64})\b")
MAX_REFERENCES = 200
FAST_QUEUE_TIMEOUT = 0.5  # seconds the caller may wait on a busy state database before the thread takes over
QUEUE_ATTEMPTS = 6
LOCK_ATTEMPTS = 5


def reference_of(message: str) -> str | None:
    """The reference code in the intake's notification (or the bare code); None when there is none."""
    found = REFERENCE.findall(message or "")
    return found[0] if len(set(found)) == 1 else None


def references_of(message: str) -> list[str]:
    """Every distinct reference code in the notification, in order (a summary names several)."""
    return list(dict.fromkeys(REFERENCE.findall(message or "")))[:MAX_REFERENCES]


def anchor_of(message: str) -> str:
    """The audit anchor (`audit N:HEAD`) the intake put in its notification, or ''."""
    found = AUDIT_ANCHOR.search(message or "")
    return f"audit {found.group(1)}:{found.group(2)}" if found else ""


@dataclass
class IntakeFinding(Finding):
    """A finding that says only: an urgent request with this reference is waiting."""

    reference: str = ""

    @property
    def dedup_key(self) -> str:
        import hashlib

        raw = f"{self.watch_id}|{self.kind}|{self.reference}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


def intake_finding(watch_id: int, references: list[str] | str, day: str, anchor: str = "") -> IntakeFinding:
    """One urgent request, or a summary of several (held back during a flood of urgent submissions)."""
    refs = [references] if isinstance(references, str) else list(references)
    if len(refs) == 1:
        title = msg("Urgent intake request waiting: reference {reference}", reference=refs[0])
        body = msg("A new urgent case-evaluation request is waiting in the intake inbox (reference {reference}). "
                   "Log in to the staff inbox (/staff) to read it. This alert carries no personal data.",
                   reference=refs[0])
    else:
        title = msg("{n} more urgent intake requests waiting (summary)", n=len(refs))
        body = msg("{n} further urgent requests arrived while urgent alerts were being throttled (several from one "
                   "sender, or more than the alert limit in the period): {references}. Some may be fake; each is in "
                   "the staff inbox (/staff). This alert carries no personal data.", n=len(refs),
                   references=", ".join(refs))
    if anchor:
        body = msg("{body} Audit log at the time: {anchor} (rows:head; `icemonitor intake verify-audit` compares it).",
                   body=body, anchor=anchor)
    data = {"reference": refs[0] if len(refs) == 1 else "", "references": refs, "kind": INTAKE_KIND}
    if anchor:
        data["audit_anchor"] = anchor
    return IntakeFinding(watch_id, INTAKE_KIND, INTAKE_PLACE, day, title, body, data,
                         reference=",".join(refs))


def queue_intake_alert(con: sqlite3.Connection, references: list[str] | str, anchor: str = "") -> list[int]:
    """Queue one finding (and its outbox row) per active intake-urgent watch; returns the new finding ids."""
    refs = [references] if isinstance(references, str) else list(references)
    if not refs or not all(REFERENCE.fullmatch(r) for r in refs):
        raise ValueError("not an intake reference code")
    if anchor and not AUDIT_ANCHOR.fullmatch(anchor):
        raise ValueError("not an audit anchor")
    day = state.iso(state.now_utc())[:10]
    watches = con.execute("SELECT * FROM watches WHERE active = 1 AND kind = ? ORDER BY id", [INTAKE_KIND]).fetchall()
    return [fid for w in watches if (fid := queue(con, w, intake_finding(w["id"], refs, day, anchor), None)) is not None]


class IntakeNotifier:
    """The intake's `notify` hook: queue the alert at once (or in the background when the state database is
    busy), then deliver in a background thread. Never raises into the person's submission."""

    def __init__(self, home: Path | None = None, *, senders: dict[str, Callable] | None = None,
                 retry_wait: float = 2.0) -> None:
        self.home = home
        self.senders = senders
        self.retry_wait = retry_wait
        self.threads: list[threading.Thread] = []

    @property
    def db_path(self) -> Path:
        return config.state_db_path(self.home)

    def __call__(self, message: str) -> None:
        refs = references_of(message)
        if not refs:  # never forward the message itself: only reference codes (and the audit anchor) may leave
            log.error("intake alert: the notification holds no reference code; nothing queued")
            return
        alert = (refs, anchor_of(message))
        queued = self._queue_fast(alert)
        thread = threading.Thread(target=self._background, args=(alert, queued), daemon=False,
                                  name="icemonitor-intake-alert")
        self.threads = [t for t in self.threads if t.is_alive()] + [thread]
        thread.start()

    def join(self, timeout: float | None = None) -> None:
        """Wait for the background deliveries (tests, shutdown)."""
        for t in list(self.threads):
            t.join(timeout)

    def _queue_fast(self, alert: tuple[list[str], str]) -> bool:
        """Queue in the caller's thread when the state database answers at once; False leaves it to the thread."""
        path = self.db_path
        if not path.is_file():
            return False
        try:
            con = sqlite3.connect(str(path), isolation_level=None, timeout=FAST_QUEUE_TIMEOUT)
            try:
                con.row_factory = sqlite3.Row
                con.execute("PRAGMA foreign_keys = ON")
                if state.schema_version(con) != len(state.MIGRATIONS):
                    return False
                self._note(queue_intake_alert(con, *alert))
                return True
            finally:
                con.close()
        except sqlite3.Error as err:
            log.warning("intake alert: state database busy (%s); queueing in the background",
                        type(err).__name__)
            return False

    def _note(self, new: list[int]) -> None:
        if not new:
            log.warning("intake alert: no active intake-urgent watch, nobody is alerted "
                        "(add one: icemonitor watch add --watch intake-urgent --email ...)")

    def _background(self, alert: tuple[list[str], str], queued: bool) -> None:
        from icemonitor.watch.delivery import deliver_due
        from icemonitor.watch.lock import LockHeld

        try:
            for attempt in range(1, QUEUE_ATTEMPTS + 1):
                if queued:
                    break
                try:
                    con = state.connect(self.home)
                    try:
                        self._note(queue_intake_alert(con, *alert))
                    finally:
                        con.close()
                    queued = True
                except sqlite3.Error as err:
                    log.warning("intake alert: queueing failed (%s), attempt %d", type(err).__name__, attempt)
                    time.sleep(self.retry_wait * attempt)
            if not queued:
                log.error("intake alert: could not be queued; staff are not alerted")
                return
            con = state.connect(self.home)
            try:
                for attempt in range(1, LOCK_ATTEMPTS + 1):
                    try:
                        run = deliver_due(con, home=self.home or config.home(), senders=self.senders)
                    except LockHeld:  # another sender is at work; try again shortly
                        time.sleep(self.retry_wait)
                        continue
                    if run.failed:
                        log.warning("intake alert: %d delivery(ies) failed, kept in the outbox for retry", len(run.failed))
                    return
                log.info("intake alert: queued; another sender holds the outbox, it is sent at the next "
                         "`icemonitor alerts deliver` or scheduler poll")
            finally:
                con.close()
        except Exception as err:  # noqa: BLE001 - an alert failure never reaches the person's submission
            log.error("intake alert: %s", type(err).__name__)
