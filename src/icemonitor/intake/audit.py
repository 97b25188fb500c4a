"""The append-only, hash-chained audit log: who viewed, edited, exported or deleted which request, when.

Each row's hash is HMAC-SHA-256 over the previous row's hash and the row's own fields, so changing,
removing or reordering any row breaks the chain from that row on. The HMAC key is random, stored in the
database only wrapped by the master key: someone who can write to the database but has no key file cannot
recompute a consistent chain after an edit. Rows never hold personal data:
only the actor (a staff username, `public` or `retention`), the action, the reference code and a
short detail such as `status new -> contacted`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timezone

from icemonitor.intake.db import Conn, Database

GENESIS = "0" * 64


def row_hash(key: bytes, prev_hash: str, seq: int, at: str, actor: str, action: str, reference: str,
             detail: str) -> str:
    """The chained, keyed hash of one audit row."""
    body = json.dumps([prev_hash, seq, at, actor, action, reference, detail], ensure_ascii=True, separators=(",", ":"))
    return hmac.new(key, body.encode(), hashlib.sha256).hexdigest()


def append(conn: Conn, key: bytes, actor: str, action: str, reference: str = "", detail: str = "") -> int:
    """Append one row inside the caller's transaction; returns its sequence number."""
    conn.lock("intake_audit")
    last = conn.one("SELECT seq, hash FROM intake_audit ORDER BY seq DESC LIMIT 1")
    seq = (int(last["seq"]) + 1) if last else 1
    prev = last["hash"] if last else GENESIS
    at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if len(key) != 32:
        raise ValueError("audit key missing: open the Vault first")
    digest = row_hash(key, prev, seq, at, actor, action, reference, detail)
    conn.execute(
        "INSERT INTO intake_audit (seq, at, actor, action, reference, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?)",
        (seq, at, actor, action, reference, detail, prev, digest),
    )
    return seq


@dataclass(frozen=True)
class AuditCheck:
    """The result of verifying the chain: ok, rows checked, and the first bad row if any."""

    ok: bool
    rows: int
    head: str
    bad_seq: int | None = None
    reason: str = ""


def verify(db: Database, key: bytes) -> AuditCheck:
    """Recompute the chain from the first row; report the first row that does not fit."""
    with db.transaction() as conn:
        rows = conn.execute("SELECT * FROM intake_audit ORDER BY seq")
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        seq = int(row["seq"])
        if seq != expected_seq:
            return AuditCheck(False, len(rows), prev, seq, f"sequence gap: expected {expected_seq}, found {seq}")
        if row["prev_hash"] != prev:
            return AuditCheck(False, len(rows), prev, seq, "prev_hash does not match the previous row's hash")
        digest = row_hash(key, prev, seq, row["at"], row["actor"], row["action"], row["reference"], row["detail"])
        if digest != row["hash"]:
            return AuditCheck(False, len(rows), prev, seq, "row content does not match its hash")
        prev = digest
    return AuditCheck(True, len(rows), prev)


def recent(db: Database, limit: int = 200) -> list[dict]:
    """The latest audit rows, newest first."""
    with db.transaction() as conn:
        return conn.execute("SELECT * FROM intake_audit ORDER BY seq DESC LIMIT ?", (limit,))
