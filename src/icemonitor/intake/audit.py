"""The append-only, hash-chained audit log: who viewed, edited, exported or deleted which request, when.

Each row's hash is HMAC-SHA-256 over the previous row's hash and the row's own fields, so changing,
removing or reordering any row breaks the chain from that row on. The HMAC key is random, stored in the
database only wrapped by the master key: someone who can write to the database but has no key file cannot
recompute a consistent chain after an edit. Rows never hold personal data:
only the actor (a staff username, `public` or `retention`), the action, the reference code and a
short detail such as `status new -> contacted`.

Deleting rows from the end (or all of them) leaves a shorter chain that is still consistent, so the chain is
anchored outside the database: after every commit that appended a row, its row count and head hash are written
to the anchor file (the state folder by default), and each staff alert carries them (`audit N:HEAD`). verify()
compares the chain with the anchor: a chain shorter than the anchor, or with another row where the anchor
points, was truncated or rewritten.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

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
    if conn.anchor_path is not None:
        path = conn.anchor_path
        conn.after_commit.append(lambda: write_anchor(path, seq, digest))
    return seq


ANCHOR = re.compile(r"audit (\d{1,12}):([0-9a-f]{64})")


def anchor_text(rows: int, head: str) -> str:
    """The anchor as it is written to the file and into alerts: `audit ROWS:HEAD`."""
    return f"audit {rows}:{head}"


def parse_anchor(text: str) -> tuple[int, str] | None:
    found = ANCHOR.search(text or "")
    return (int(found.group(1)), found.group(2)) if found else None


def read_anchor(path: Path) -> tuple[int, str] | None:
    try:
        return parse_anchor(path.read_text(encoding="ascii"))
    except (OSError, UnicodeDecodeError):
        return None


def write_anchor(path: Path, rows: int, head: str) -> None:
    """Record rows and head in the anchor file, never moving it backwards (concurrent writers take a lock)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        current = read_anchor(path)
        if current is not None and current[0] >= rows:
            return
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(anchor_text(rows, head) + "\n", encoding="ascii")
        os.replace(tmp, path)


def head(db: Database) -> tuple[int, str]:
    """The chain's row count and head hash now (for an alert)."""
    with db.transaction() as conn:
        last = conn.one("SELECT seq, hash FROM intake_audit ORDER BY seq DESC LIMIT 1")
    return (int(last["seq"]), last["hash"]) if last else (0, GENESIS)


@dataclass(frozen=True)
class AuditCheck:
    """The result of verifying the chain: ok, rows checked, and the first bad row if any."""

    ok: bool
    rows: int
    head: str
    bad_seq: int | None = None
    reason: str = ""


def verify(db: Database, key: bytes, anchor: tuple[int, str] | None = None) -> AuditCheck:
    """Recompute the chain from the first row; report the first row that does not fit, then compare the chain
    with the anchor (given, e.g. from an alert, or else the database's anchor file)."""
    with db.transaction() as conn:
        rows = conn.execute("SELECT * FROM intake_audit ORDER BY seq")
    check = _verify_chain(rows, key)
    if anchor is None and db.anchor_path is not None:
        anchor = read_anchor(db.anchor_path)
    if not check.ok or anchor is None:
        return check
    anchored_rows, anchored_head = anchor
    if anchored_rows > len(rows):
        return AuditCheck(False, len(rows), check.head, len(rows) + 1,
                          f"truncated: the anchor records {anchored_rows} rows, the database holds {len(rows)}")
    if anchored_rows and rows[anchored_rows - 1]["hash"] != anchored_head:
        return AuditCheck(False, len(rows), check.head, anchored_rows, "the row the anchor records was replaced")
    return check


def _verify_chain(rows: list[dict], key: bytes) -> AuditCheck:
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
