"""Requests, notes and retention: every personal field encrypted under the request's own data key."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
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
    seal,
    totp_aad,
    wrap_aad,
)

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


class Vault:
    """The intake store: a Database plus the master key that unwraps each request's data key."""

    def __init__(self, db: Database, master_key: bytes) -> None:
        self.db, self.master_key = db, master_key
        self.audit_key = b""

    # -- key check ---------------------------------------------------------------------------
    def open(self) -> "Vault":
        """Create the schema and check the master key opens this database (first use: record a check value)."""
        self.db.create_schema()
        with self.db.transaction() as conn:
            conn.lock("intake_meta")
            row = conn.one("SELECT value FROM intake_meta WHERE name = ?", ("key_check",))
            if row is None:
                conn.execute("INSERT INTO intake_meta (name, value) VALUES (?, ?)",
                             ("key_check", seal(self.master_key, KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)))
            else:
                try:
                    open_sealed(self.master_key, row["value"], KEY_CHECK_AAD)
                except InvalidTag:
                    raise IntakeKeyError(
                        "the intake master key does not open this database (wrong ICEMONITOR_INTAKE_KEY_FILE?): "
                        "refusing to start"
                    ) from None
            wrapped = conn.one("SELECT value FROM intake_meta WHERE name = ?", ("audit_key",))
            if wrapped is None:
                self.audit_key = new_key()
                conn.execute("INSERT INTO intake_meta (name, value) VALUES (?, ?)",
                             ("audit_key", seal(self.master_key, self.audit_key, AUDIT_KEY_AAD)))
            else:
                self.audit_key = open_sealed(self.master_key, wrapped["value"], AUDIT_KEY_AAD)
        return self

    # -- data keys ---------------------------------------------------------------------------
    def _data_key(self, conn: Conn, record_id: str) -> bytes | None:
        row = conn.one("SELECT wrapped_key FROM intake_request_keys WHERE request_id = ?", (record_id,))
        if row is None:
            return None
        return open_sealed(self.master_key, row["wrapped_key"], wrap_aad(record_id))

    @staticmethod
    def _decrypt_row(key: bytes | None, row: dict[str, Any]) -> dict[str, Any]:
        out = {k: v for k, v in row.items() if not k.startswith("enc_")}
        for name in PERSONAL_FIELDS:
            blob = row.get(f"enc_{name}")
            out[name] = "" if key is None or blob is None else open_sealed(key, blob, field_aad(row["id"], name)).decode()
        out["shredded"] = row.get("shredded_at") is not None
        return out

    # -- requests ----------------------------------------------------------------------------
    def create_request(self, fields: dict[str, str], urgency: str) -> str:
        """Store one public submission; returns its reference code. Audited as actor `public`."""
        if urgency not in URGENCIES:
            raise ValueError("unknown urgency")
        record_id = uuid.uuid4().hex
        data_key = new_key()
        enc = {f"enc_{n}": seal(data_key, (fields.get(n) or "").encode(), field_aad(record_id, n)) for n in PERSONAL_FIELDS}
        for _attempt in range(5):
            reference = new_reference()
            with self.db.transaction() as conn:
                if conn.one("SELECT 1 AS x FROM intake_requests WHERE reference = ?", (reference,)):
                    continue
                cols = ", ".join(enc)
                conn.execute(
                    f"INSERT INTO intake_requests (id, reference, created_at, urgency, status, {cols}) "
                    f"VALUES (?, ?, ?, ?, ?, {', '.join('?' * len(enc))})",
                    (record_id, reference, int(time.time()), urgency, "new", *enc.values()),
                )
                conn.execute("INSERT INTO intake_request_keys (request_id, wrapped_key) VALUES (?, ?)",
                             (record_id, seal(self.master_key, data_key, wrap_aad(record_id))))
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
        order = "CASE urgency WHEN 'urgent' THEN 0 WHEN 'soon' THEN 1 ELSE 2 END, created_at, reference"
        with self.db.transaction() as conn:
            rows = conn.execute(
                f"SELECT * FROM intake_requests WHERE {' AND '.join(where)} ORDER BY {order} LIMIT ?",
                (*params, limit),
            )
            out = []
            for row in rows:
                if viewer.may_see(row["assigned_to"]):
                    out.append(self._decrypt_row(self._data_key(conn, row["id"]), row))
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
            row = self._visible(conn, viewer, reference)
            key = self._data_key(conn, row["id"])
            out = self._decrypt_row(key, row)
            notes = conn.execute("SELECT * FROM intake_notes WHERE request_id = ? ORDER BY created_at, id", (row["id"],))
            out["notes"] = [
                {"author": n["author"], "created_at": n["created_at"],
                 "text": open_sealed(key, n["enc_text"], field_aad(row["id"], f"note:{n['id']}")).decode()}
                for n in notes
            ] if key else []
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
            row = self._visible(conn, viewer, reference)
            key = self._data_key(conn, row["id"])
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

    # -- key rotation ------------------------------------------------------------------------
    def rotate(self, new_master: bytes, *, actor: str = "admin") -> int:
        """Re-wrap every data key and TOTP secret under new_master in one transaction; returns records re-wrapped."""
        with self.db.transaction() as conn:
            row = conn.one("SELECT value FROM intake_meta WHERE name = ?", ("key_check",))
            if row is not None:
                open_sealed(self.master_key, row["value"], KEY_CHECK_AAD)
            keys = conn.execute("SELECT request_id, wrapped_key FROM intake_request_keys")
            for k in keys:
                data_key = open_sealed(self.master_key, k["wrapped_key"], wrap_aad(k["request_id"]))
                conn.execute("UPDATE intake_request_keys SET wrapped_key = ? WHERE request_id = ?",
                             (seal(new_master, data_key, wrap_aad(k["request_id"])), k["request_id"]))
            for u in conn.execute("SELECT username, enc_totp FROM intake_users"):
                secret = open_sealed(self.master_key, u["enc_totp"], totp_aad(u["username"]))
                conn.execute("UPDATE intake_users SET enc_totp = ? WHERE username = ?",
                             (seal(new_master, secret, totp_aad(u["username"])), u["username"]))
            conn.execute("DELETE FROM intake_meta WHERE name IN (?, ?)", ("key_check", "audit_key"))
            conn.execute("INSERT INTO intake_meta (name, value) VALUES (?, ?)",
                         ("key_check", seal(new_master, KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)))
            conn.execute("INSERT INTO intake_meta (name, value) VALUES (?, ?)",
                         ("audit_key", seal(new_master, self.audit_key, AUDIT_KEY_AAD)))
            audit.append(conn, self.audit_key, actor, "rotate-key", "", f"{len(keys)} data keys re-wrapped")
        self.master_key = new_master
        return len(keys)
