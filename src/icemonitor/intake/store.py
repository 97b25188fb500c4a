"""Requests, notes and retention: every personal field encrypted under the request's own data key."""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag

from icemonitor.intake import audit
from icemonitor.intake.db import Conn, Database
from icemonitor.intake.keys import (
    AUDIT_KEY_AAD,
    KEY_CHECK_AAD,
    KEY_CHECK_PLAINTEXT,
    IntakeKeyError,
    field_aad,
    new_key,
    open_sealed,
    pending_key_file,
    read_key_file,
    reseal,
    seal,
    totp_aad,
    wrap_aad,
)

log = logging.getLogger("icemonitor.intake")

PERSONAL_FIELDS = ("name", "phone", "email", "trusted_contact", "language", "place", "situation", "message")
SITUATIONS = ("detained_now", "home_or_work_visit", "notice_to_appear", "prior_order", "criminal_case", "other")
URGENCIES = ("urgent", "soon", "normal")
STATUSES = ("new", "contacted", "evaluation_scheduled", "closed")
LANGUAGES = ("es", "en", "other")
REFERENCE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"


def new_reference() -> str:
    """A short random reference code such as `K7PQ-4XMT` (no personal meaning, unambiguous letters)."""
    chars = "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
    return f"{chars[:4]}-{chars[4:]}"


@dataclass
class Viewer:
    """Who is asking: a staff username and roles (reviewer, attorney, admin)."""

    username: str
    roles: frozenset[str]

    @property
    def reads_requests(self) -> bool:
        return bool(self.roles & {"reviewer", "attorney"})

    @property
    def sees_all(self) -> bool:
        return "attorney" in self.roles

    def may_see(self, assigned_to: str | None) -> bool:
        """Reviewers see unassigned requests and their own; attorneys see all; admins none (unless also one)."""
        if not self.reads_requests:
            return False
        return self.sees_all or assigned_to in (None, "", self.username)


class RequestNotFound(LookupError):
    """No request with that reference (or not visible to this viewer)."""


@dataclass
class RecordCheck:
    """What `verify` found: records and staff second factors opened, and those that would not open."""

    requests: int = 0
    unreadable: list[str] = field(default_factory=list)
    accounts: int = 0
    unreadable_accounts: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unreadable and not self.unreadable_accounts


@dataclass
class Rotation:
    """What a key rotation did: data keys re-wrapped, and records that no key opened (left as they were)."""

    rewrapped: int
    unreadable: int


def rewrap_accounts(conn: Conn, old: bytes, new: bytes) -> None:
    """At key rotation: re-seal every TOTP secret under the new key. Session ids and enrolment tokens are hashed
    under keys derived from the old key, so sessions end and pending enrolment links must be re-issued (reset)."""
    for u in conn.execute("SELECT username, enc_totp FROM intake_users"):
        resealed = reseal(old, new, u["enc_totp"], totp_aad(u["username"])) if bytes(u["enc_totp"]) else None
        if resealed is not None:
            conn.execute("UPDATE intake_users SET enc_totp = ? WHERE username = ?", (resealed, u["username"]))
    conn.execute("DELETE FROM intake_sessions")


def unreadable_accounts(conn: Conn, master: bytes) -> tuple[int, list[str]]:
    """(enrolled accounts, those whose TOTP secret the key does not open)."""
    bad, users = [], conn.execute("SELECT username, enc_totp FROM intake_users WHERE enrolled = 1 ORDER BY username")
    for u in users:
        try:
            open_sealed(master, u["enc_totp"], totp_aad(u["username"]))
        except InvalidTag:
            bad.append(u["username"])
    return len(users), bad


class Vault:
    """The intake store: a Database plus the master key that unwraps each request's data key.

    Every transaction that uses the master key first reads the database's key check (holding it against a
    concurrent rotation) through key(); when a rotation replaced the key under a running server, the vault
    reloads it from key_file (or the rotation's pending file) before sealing or opening anything, so no record is
    ever sealed with a retired key.
    """

    def __init__(self, db: Database, master_key: bytes, key_file: Path | None = None) -> None:
        self.db, self.master_key, self.key_file = db, master_key, key_file
        self.audit_key = b""
        self._opened_check: bytes | None = None  # the key check value master_key is known to open

    # -- key check ---------------------------------------------------------------------------
    def open(self) -> "Vault":
        """Create the schema and check the master key opens this database (first use: record a check value)."""
        self.db.create_schema()
        with self.db.transaction() as conn:
            conn.lock("intake_meta")
            if conn.meta("key_check") is None:
                conn.execute("INSERT INTO intake_meta (name, value) VALUES (?, ?)",
                             ("key_check", seal(self.master_key, KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)))
            master = self.key(conn)
            wrapped = conn.meta("audit_key")
            if wrapped is None:
                self.audit_key = new_key()
                conn.execute("INSERT INTO intake_meta (name, value) VALUES (?, ?)",
                             ("audit_key", seal(master, self.audit_key, AUDIT_KEY_AAD)))
            else:
                self.audit_key = open_sealed(master, wrapped, AUDIT_KEY_AAD)
        return self

    def key(self, conn: Conn, *, lock: str = "share") -> bytes:
        """The master key that opens this database's key check, read (and held) in conn's transaction."""
        check = conn.meta("key_check", lock=lock)
        if check is None:
            raise IntakeKeyError("the intake database has no key check: open it with the master key first")
        if check == self._opened_check:
            return self.master_key
        for candidate in self._candidate_keys():
            try:
                open_sealed(candidate, check, KEY_CHECK_AAD)
            except InvalidTag:
                continue
            if self._opened_check is not None:
                log.info("intake: the master key was rotated; the new key is in use")
            self.master_key, self._opened_check = candidate, check
            return candidate
        raise IntakeKeyError(
            "the intake master key does not open this database (wrong ICEMONITOR_INTAKE_KEY_FILE?): refusing to go on"
        )

    def _candidate_keys(self) -> Iterator[bytes]:
        yield self.master_key
        if self.key_file is not None:
            # The pending file first: a rotation renames it over the key file after its commit, so a key check
            # already seen new is opened by the pending file read before the rename or the key file read after it
            # (read the other way round, a rename between the two reads missed both).
            for path in (pending_key_file(self.key_file), self.key_file):
                try:
                    yield read_key_file(path)
                except IntakeKeyError:
                    continue

    # -- data keys ---------------------------------------------------------------------------
    def _data_key(self, conn: Conn, master: bytes, record_id: str) -> bytes | None:
        row = conn.one("SELECT wrapped_key FROM intake_request_keys WHERE request_id = ?", (record_id,))
        if row is None:
            return None
        return open_sealed(master, row["wrapped_key"], wrap_aad(record_id))

    @staticmethod
    def _decrypt_row(key: bytes | None, row: dict[str, Any]) -> dict[str, Any]:
        """The row with its personal fields opened; raises InvalidTag when one does not open."""
        out = {k: v for k, v in row.items() if not k.startswith("enc_")}
        for name in PERSONAL_FIELDS:
            blob = row.get(f"enc_{name}")
            out[name] = "" if key is None or blob is None else open_sealed(key, blob, field_aad(row["id"], name)).decode()
        out["shredded"] = row.get("shredded_at") is not None
        out["unreadable"] = False
        return out

    @staticmethod
    def _notes(conn: Conn, key: bytes | None, row: dict[str, Any]) -> list[dict[str, Any]]:
        notes = conn.execute("SELECT * FROM intake_notes WHERE request_id = ? ORDER BY created_at, id", (row["id"],))
        return [
            {"author": n["author"], "created_at": n["created_at"],
             "text": open_sealed(key, n["enc_text"], field_aad(row["id"], f"note:{n['id']}")).decode()}
            for n in notes
        ] if key else []

    def _readable(self, conn: Conn, master: bytes, row: dict[str, Any], *, notes: bool = False) -> dict[str, Any]:
        """The row opened; a record that does not open comes back marked unreadable, never as an error."""
        try:
            key = self._data_key(conn, master, row["id"])
            out = self._decrypt_row(key, row)
            if notes:
                out["notes"] = self._notes(conn, key, row)
            return out
        except (InvalidTag, UnicodeDecodeError):
            out = self._decrypt_row(None, row)
            out["unreadable"], out["notes"] = True, []
            return out

    # -- requests ----------------------------------------------------------------------------
    def create_request(self, fields: dict[str, str], urgency: str, burst: int = 0) -> str:
        """Store one public submission; returns its reference code. Audited as actor `public`.

        burst: how many urgent requests the same client sent earlier in the alert period (limits.AlertGate); the
        inbox lists urgent requests that came in such a burst after the others."""
        if urgency not in URGENCIES:
            raise ValueError("unknown urgency")
        record_id = uuid.uuid4().hex
        data_key = new_key()
        enc = {f"enc_{n}": seal(data_key, (fields.get(n) or "").encode(), field_aad(record_id, n)) for n in PERSONAL_FIELDS}
        for _attempt in range(5):
            reference = new_reference()
            with self.db.transaction() as conn:
                master = self.key(conn)  # the key in force now, not the one this process started with
                if conn.one("SELECT 1 AS x FROM intake_requests WHERE reference = ?", (reference,)):
                    continue
                cols = ", ".join(enc)
                conn.execute(
                    f"INSERT INTO intake_requests (id, reference, created_at, urgency, status, burst, {cols}) "
                    f"VALUES (?, ?, ?, ?, ?, ?, {', '.join('?' * len(enc))})",
                    (record_id, reference, int(time.time()), urgency, "new", int(burst), *enc.values()),
                )
                conn.execute("INSERT INTO intake_request_keys (request_id, wrapped_key) VALUES (?, ?)",
                             (record_id, seal(master, data_key, wrap_aad(record_id))))
                audit.append(conn, self.audit_key, "public", "submit", reference, f"urgency {urgency}")
                return reference
        raise RuntimeError("could not allocate a unique reference code")

    def list_requests(self, viewer: Viewer, *, status: str = "", urgency: str = "", assigned: str = "",
                      limit: int = 500) -> list[dict[str, Any]]:
        """The inbox: urgent first, then oldest first; filters are plain parameters."""
        if not viewer.reads_requests:
            return []
        where, params = ["shredded_at IS NULL"], []
        if status:
            where.append("status = ?")
            params.append(status)
        if urgency:
            where.append("urgency = ?")
            params.append(urgency)
        if assigned == "none":
            where.append("(assigned_to IS NULL OR assigned_to = '')")
        elif assigned:
            where.append("assigned_to = ?")
            params.append(assigned)
        order = ("CASE urgency WHEN 'urgent' THEN (CASE WHEN burst > 0 THEN 1 ELSE 0 END) WHEN 'soon' THEN 2 ELSE 3 END, "
                 "created_at, reference")
        with self.db.transaction() as conn:
            master = self.key(conn)
            rows = conn.execute(
                f"SELECT * FROM intake_requests WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?",
                (*params, limit),
            )
            out = [self._readable(conn, master, row) for row in rows if viewer.may_see(row["assigned_to"])]
            if any(r["unreadable"] for r in out):
                log.error("intake: %d records do not open with the master key (run `icemonitor intake verify`)",
                          sum(r["unreadable"] for r in out))
            audit.append(conn, self.audit_key, viewer.username, "list", "", f"{len(out)} shown")
        return out

    def _visible(self, conn: Conn, viewer: Viewer, reference: str) -> dict[str, Any]:
        row = conn.one("SELECT * FROM intake_requests WHERE reference = ?", (reference,))
        if row is None or not viewer.may_see(row["assigned_to"]) or row["shredded_at"] is not None:
            raise RequestNotFound(reference)
        return row

    def get_request(self, viewer: Viewer, reference: str, *, action: str = "view") -> dict[str, Any]:
        """One request with its notes, decrypted; audited (`view` or `export`)."""
        with self.db.transaction() as conn:
            master = self.key(conn)
            row = self._visible(conn, viewer, reference)
            out = self._readable(conn, master, row, notes=True)
            audit.append(conn, self.audit_key, viewer.username, action, reference)
        return out

    def set_status(self, viewer: Viewer, reference: str, status: str) -> None:
        if status not in STATUSES:
            raise ValueError("unknown status")
        with self.db.transaction() as conn:
            row = self._visible(conn, viewer, reference)
            closed_at = int(time.time()) if status == "closed" else None
            conn.execute("UPDATE intake_requests SET status = ?, closed_at = ? WHERE id = ?", (status, closed_at, row["id"]))
            audit.append(conn, self.audit_key, viewer.username, "status", reference, f"{row['status']} -> {status}")

    def assign(self, viewer: Viewer, reference: str, assignee: str) -> None:
        with self.db.transaction() as conn:
            row = self._visible(conn, viewer, reference)
            if assignee:
                user = conn.one("SELECT roles FROM intake_users WHERE username = ?", (assignee,))
                if user is None or not {"reviewer", "attorney"} & set(user["roles"].split(",")):
                    raise ValueError("no staff account that handles requests has that name")
            conn.execute("UPDATE intake_requests SET assigned_to = ? WHERE id = ?", (assignee or None, row["id"]))
            audit.append(conn, self.audit_key, viewer.username, "assign", reference, f"to {assignee or '(nobody)'}")

    def add_note(self, viewer: Viewer, reference: str, text: str) -> None:
        with self.db.transaction() as conn:
            master = self.key(conn)
            row = self._visible(conn, viewer, reference)
            key = self._data_key(conn, master, row["id"])
            if key is None:
                raise RequestNotFound(reference)
            note_id = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO intake_notes (id, request_id, created_at, author, enc_text) VALUES (?, ?, ?, ?, ?)",
                (note_id, row["id"], int(time.time()), viewer.username,
                 seal(key, text.encode(), field_aad(row["id"], f"note:{note_id}"))),
            )
            audit.append(conn, self.audit_key, viewer.username, "note", reference)

    # -- deletion ----------------------------------------------------------------------------
    def _shred(self, conn: Conn, row: dict[str, Any], actor: str, detail: str) -> None:
        """Crypto-shred: destroy the data key, then drop the ciphertexts and notes too."""
        conn.execute("DELETE FROM intake_request_keys WHERE request_id = ?", (row["id"],))
        conn.execute("DELETE FROM intake_notes WHERE request_id = ?", (row["id"],))
        nulls = ", ".join(f"enc_{n} = NULL" for n in PERSONAL_FIELDS)
        conn.execute(f"UPDATE intake_requests SET {nulls}, shredded_at = ? WHERE id = ?", (int(time.time()), row["id"]))
        audit.append(conn, self.audit_key, actor, "shred", row["reference"], detail)

    def delete_request(self, actor: str, reference: str) -> None:
        """Shred one request now (an admin acting on a person's request to be forgotten)."""
        with self.db.transaction() as conn:
            row = conn.one("SELECT * FROM intake_requests WHERE reference = ? AND shredded_at IS NULL", (reference,))
            if row is None:
                raise RequestNotFound(reference)
            self._shred(conn, row, actor, "deleted on request")

    def purge(self, retention_days: int, *, actor: str = "retention", now: float | None = None) -> list[str]:
        """Shred every request closed more than retention_days ago; returns their references."""
        cutoff = int((now if now is not None else time.time()) - retention_days * 86400)
        with self.db.transaction() as conn:
            conn.lock("intake_audit")  # before any row lock, as every other writer takes them in that order
            rows = conn.execute(
                "SELECT * FROM intake_requests WHERE status = 'closed' AND shredded_at IS NULL AND closed_at <= ?",
                (cutoff,),
            )
            for row in rows:
                self._shred(conn, row, actor, f"closed more than {retention_days} days ago")
        return [r["reference"] for r in rows]

    # -- key rotation and verification -------------------------------------------------------------
    def rotate(self, new_master: bytes, *, actor: str = "admin") -> Rotation:
        """Re-wrap every data key and staff TOTP secret under new_master in one transaction.

        The key check row is held for update first: transactions that use the key wait, then see the new key
        check and reload the key. A record that no key opens is left as it was and counted (see verify_records).
        """
        with self.db.transaction() as conn:
            old = self.key(conn, lock="update")
            conn.lock("intake_audit")  # before any row lock, like purge (no deadlock with a concurrent writer)
            keys = conn.execute("SELECT request_id, wrapped_key FROM intake_request_keys")
            rewrapped = 0
            for k in keys:
                resealed = reseal(old, new_master, k["wrapped_key"], wrap_aad(k["request_id"]))
                if resealed is not None:
                    conn.execute("UPDATE intake_request_keys SET wrapped_key = ? WHERE request_id = ?",
                                 (resealed, k["request_id"]))
                    rewrapped += 1
            rewrap_accounts(conn, old, new_master)
            check = seal(new_master, KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)
            conn.execute("UPDATE intake_meta SET value = ? WHERE name = ?", (check, "key_check"))
            conn.execute("UPDATE intake_meta SET value = ? WHERE name = ?",
                         (seal(new_master, self.audit_key, AUDIT_KEY_AAD), "audit_key"))
            unreadable = len(keys) - rewrapped
            audit.append(conn, self.audit_key, actor, "rotate-key", "",
                         f"{rewrapped} data keys re-wrapped, {unreadable} unreadable left as they were")
        self.master_key, self._opened_check = new_master, check
        return Rotation(rewrapped, unreadable)

    def verify_records(self, *, actor: str = "cli") -> RecordCheck:
        """Open every live request (each field and note) and every staff second factor; audited as `verify`."""
        result = RecordCheck()
        with self.db.transaction() as conn:
            master = self.key(conn)
            rows = conn.execute("SELECT * FROM intake_requests WHERE shredded_at IS NULL ORDER BY created_at, reference")
            for row in rows:
                try:
                    key = self._data_key(conn, master, row["id"])
                    if key is None:
                        raise InvalidTag("no data key")
                    self._decrypt_row(key, row)
                    self._notes(conn, key, row)
                except (InvalidTag, UnicodeDecodeError):
                    result.unreadable.append(row["reference"])
            result.requests = len(rows)
            result.accounts, result.unreadable_accounts = unreadable_accounts(conn, master)
            audit.append(conn, self.audit_key, actor, "verify", "",
                         f"{result.requests} requests, {len(result.unreadable)} unreadable")
        return result
