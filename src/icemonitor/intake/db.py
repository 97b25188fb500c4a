"""One thin database layer over SQLite (default) and PostgreSQL (psycopg 3).

SQL is written once with `?` placeholders; for PostgreSQL they become `%s`. Every value is passed as a
parameter, never formatted into the SQL text. Rows come back as dicts.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from icemonitor.errors import IcemonitorError


class IntakeDatabaseError(IcemonitorError):
    """The intake database URL is not usable."""


SCHEMA = """
CREATE TABLE IF NOT EXISTS intake_meta (
  name TEXT PRIMARY KEY,
  value {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS intake_requests (
  id TEXT PRIMARY KEY,
  reference TEXT NOT NULL UNIQUE,
  created_at BIGINT NOT NULL,
  urgency TEXT NOT NULL,
  status TEXT NOT NULL,
  assigned_to TEXT,
  closed_at BIGINT,
  shredded_at BIGINT,
  burst INTEGER NOT NULL DEFAULT 0,
  enc_name {blob},
  enc_phone {blob},
  enc_email {blob},
  enc_trusted_contact {blob},
  enc_language {blob},
  enc_place {blob},
  enc_situation {blob},
  enc_message {blob}
);
CREATE INDEX IF NOT EXISTS intake_requests_inbox ON intake_requests (status, urgency, created_at);
CREATE TABLE IF NOT EXISTS intake_request_keys (
  request_id TEXT PRIMARY KEY,
  wrapped_key {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS intake_notes (
  id TEXT PRIMARY KEY,
  request_id TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  author TEXT NOT NULL,
  enc_text {blob} NOT NULL
);
CREATE TABLE IF NOT EXISTS intake_users (
  username TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  enc_totp {blob} NOT NULL,
  roles TEXT NOT NULL,
  failed_logins INTEGER NOT NULL DEFAULT 0,
  locked_until BIGINT NOT NULL DEFAULT 0,
  last_totp_step BIGINT NOT NULL DEFAULT 0,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at BIGINT NOT NULL,
  enrolled INTEGER NOT NULL DEFAULT 1,
  enrol_hash TEXT,
  enrol_expires BIGINT NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS intake_sessions (
  token_hash TEXT PRIMARY KEY,
  username TEXT NOT NULL,
  created_at BIGINT NOT NULL,
  last_seen BIGINT NOT NULL,
  csrf TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS intake_audit (
  seq BIGINT PRIMARY KEY,
  at TEXT NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  reference TEXT NOT NULL,
  detail TEXT NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
"""

SQLITE_APPEND_ONLY = """
CREATE TRIGGER IF NOT EXISTS intake_audit_no_update BEFORE UPDATE ON intake_audit
BEGIN SELECT RAISE(ABORT, 'intake_audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS intake_audit_no_delete BEFORE DELETE ON intake_audit
BEGIN SELECT RAISE(ABORT, 'intake_audit is append-only'); END;
"""

POSTGRES_APPEND_ONLY = [
    """CREATE OR REPLACE FUNCTION intake_audit_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'intake_audit is append-only'; END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS intake_audit_no_change ON intake_audit",
    """CREATE TRIGGER intake_audit_no_change BEFORE UPDATE OR DELETE ON intake_audit
FOR EACH ROW EXECUTE FUNCTION intake_audit_append_only()""",
]

# columns added after the first release: (table, column, definition), added to older databases at open
ADDED_COLUMNS = [
    ("intake_users", "enrolled", "INTEGER NOT NULL DEFAULT 1"),
    ("intake_users", "enrol_hash", "TEXT"),
    ("intake_users", "enrol_expires", "BIGINT NOT NULL DEFAULT 0"),
    ("intake_requests", "burst", "INTEGER NOT NULL DEFAULT 0"),
]

TABLES = ("intake_meta", "intake_requests", "intake_request_keys", "intake_notes",
          "intake_users", "intake_sessions", "intake_audit")


class Conn:
    """A connection inside one transaction: execute with `?` placeholders, rows as dicts."""

    def __init__(self, raw: Any, kind: str, anchor_path: Path | None = None) -> None:
        self.raw, self.kind, self.anchor_path = raw, kind, anchor_path
        self.after_commit: list[Callable[[], None]] = []  # e.g. recording the audit anchor outside the database

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        if self.kind == "postgresql":
            sql = sql.replace("?", "%s")
        cur = self.raw.cursor()
        cur.execute(sql, tuple(params))
        if cur.description is None:
            return []
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        rows = self.execute(sql, params)
        return rows[0] if rows else None

    def meta(self, name: str, *, lock: str = "") -> bytes | None:
        """One intake_meta value; lock "share" or "update" holds its row (PostgreSQL) until the transaction ends, so
        a key rotation and the transactions that use the key never interleave (SQLite's transactions are exclusive)."""
        clause = {"": "", "share": " FOR SHARE", "update": " FOR UPDATE"}[lock] if self.kind == "postgresql" else ""
        row = self.one(f"SELECT value FROM intake_meta WHERE name = ?{clause}", (name,))
        return None if row is None else bytes(row["value"])

    def lock(self, table: str) -> None:
        """Serialise writers on a table (PostgreSQL); SQLite transactions are already exclusive."""
        if self.kind == "postgresql" and table in TABLES:
            self.raw.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


def redacted(url: str) -> str:
    """The URL without its password (and without anything after an unreadable host)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if parts.password is not None:
            netloc = netloc.replace(f":{parts.password}@", ":***@", 1)
    except ValueError:
        return url.split("://", 1)[0] + "://(unreadable address)"
    return parts._replace(netloc=netloc).geturl()


class Database:
    """The intake database: `sqlite:///path` or `postgresql://...`; anchor_path: where the audit log's row count
    and head hash are recorded outside the database (icemonitor.intake.audit)."""

    def __init__(self, url: str, anchor_path: Path | None = None) -> None:
        self.url, self.anchor_path = url, anchor_path
        if url.startswith(("postgresql://", "postgres://")):
            self.kind = "postgresql"
            self.path: Path | None = None
        elif url.startswith("sqlite:///"):
            self.kind = "sqlite"
            self.path = Path(url[len("sqlite:///"):])
        else:
            raise IntakeDatabaseError(
                "intake database URL must start with sqlite:/// or postgresql:// "
                "(set ICEMONITOR_INTAKE_DB)"
            )

    def _connect(self) -> Any:
        """A new connection; a URL that cannot be opened is an IntakeDatabaseError (one line, no password)."""
        try:
            return self._open()
        except Exception as exc:  # noqa: BLE001 - sqlite3/OS/psycopg errors alike: say which database, not a traceback
            if isinstance(exc, IntakeDatabaseError):
                raise
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise IntakeDatabaseError(f"cannot open the intake database {redacted(self.url)}: {first} "
                                      "(check ICEMONITOR_INTAKE_DB)") from None

    def _open(self) -> Any:
        if self.kind == "sqlite":
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():  # only its owner may read the file (ciphertext, but still)
                os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600))
            raw = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
            raw.execute("PRAGMA secure_delete = ON")
            raw.execute("PRAGMA foreign_keys = ON")
            raw.execute("PRAGMA busy_timeout = 60000")
            return raw
        import psycopg

        return psycopg.connect(self.url, autocommit=False, connect_timeout=10)

    @contextmanager
    def transaction(self) -> Iterator[Conn]:
        """One unit of work: committed on success, rolled back on any error."""
        raw = self._connect()
        try:
            if self.kind == "sqlite":
                raw.execute("BEGIN IMMEDIATE")
            conn = Conn(raw, self.kind, self.anchor_path)
            yield conn
            raw.commit() if self.kind == "postgresql" else raw.execute("COMMIT")
            for action in conn.after_commit:
                try:
                    action()
                except OSError as exc:  # the data is committed; the anchor catches up at the next write
                    logging.getLogger("icemonitor.intake").error("intake: after-commit step failed (%s)",
                                                                 type(exc).__name__)
        except BaseException:
            try:
                raw.rollback()
            except Exception:  # noqa: BLE001 - the original error matters, not the rollback's
                pass
            raise
        finally:
            raw.close()

    def create_schema(self) -> None:
        """Create the tables (idempotent) and make the audit log append-only."""
        blob = "BYTEA" if self.kind == "postgresql" else "BLOB"
        statements = [s.strip() for s in SCHEMA.format(blob=blob).split(";") if s.strip()]
        if self.kind == "sqlite":
            raw = self._connect()
            try:
                raw.executescript("BEGIN IMMEDIATE;" + ";\n".join(statements) + ";" + SQLITE_APPEND_ONLY + "COMMIT;")
            finally:
                raw.close()
        else:
            with self.transaction() as conn:
                conn.raw.execute("SELECT pg_advisory_xact_lock(724201)")
                for statement in statements + POSTGRES_APPEND_ONLY:
                    conn.raw.execute(statement)
        self._add_columns()

    def _add_columns(self) -> None:
        """Bring an older database's tables up to SCHEMA (ADDED_COLUMNS)."""
        with self.transaction() as conn:
            for table, column, definition in ADDED_COLUMNS:
                if self.kind == "postgresql":
                    conn.raw.execute("SELECT pg_advisory_xact_lock(724201)")
                    conn.raw.execute(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {definition}")
                elif column not in {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}:
                    conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")

    def dump(self) -> str:
        """Every row of every intake table as text (what a stolen backup would reveal)."""
        out: list[str] = []
        with self.transaction() as conn:
            for table in TABLES:
                for row in conn.execute(f"SELECT * FROM {table}"):
                    out.append(f"{table}: " + repr(row))
        return "\n".join(out)
