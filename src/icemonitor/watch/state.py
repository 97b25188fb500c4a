"""The state database: watches, findings, the delivery outbox, refreshes and the release history.

SQLite, schema versioned with PRAGMA user_version; each entry of MIGRATIONS moves the schema one version up
inside one transaction. Never stored: secrets (watches keep only the name of the environment variable).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

from icemonitor import config

MIGRATIONS: list[str] = [
    # 1: the first schema
    """
    CREATE TABLE refreshes (
      id INTEGER PRIMARY KEY,
      started_at TEXT NOT NULL,
      finished_at TEXT,
      status TEXT NOT NULL,              -- running / updated / unchanged / held_back / failed
      message TEXT,
      watches_done INTEGER NOT NULL DEFAULT 0  -- 1 once every watch was run over this refresh's changes
    );
    CREATE TABLE release_files (          -- every version of every release file ever seen
      release_id TEXT NOT NULL,
      file_name TEXT NOT NULL,
      sha256 TEXT NOT NULL,
      kept_path TEXT,                     -- a copy of these bytes kept under the data folder
      reader TEXT,                        -- how to read it (so a kept version can be rebuilt alone)
      options TEXT,                       -- reader options, JSON
      status TEXT NOT NULL,               -- in_use / superseded / suspect
      first_refresh INTEGER REFERENCES refreshes(id),
      last_refresh INTEGER REFERENCES refreshes(id),
      PRIMARY KEY (release_id, file_name, sha256)
    );
    CREATE TABLE snapshot (               -- month x AOR row counts of the warehouse in use
      table_name TEXT NOT NULL,
      release_id TEXT NOT NULL,
      month TEXT NOT NULL,                -- YYYY-MM, '' when the row has no date
      aor TEXT NOT NULL,                  -- '' when the row has no AOR
      n_rows INTEGER NOT NULL,
      n_counted INTEGER NOT NULL,
      PRIMARY KEY (table_name, release_id, month, aor)
    );
    CREATE TABLE release_diff (           -- what one refresh changed, per table, release, month and AOR
      refresh_id INTEGER NOT NULL REFERENCES refreshes(id),
      table_name TEXT NOT NULL,
      release_id TEXT NOT NULL,
      month TEXT NOT NULL,
      aor TEXT NOT NULL,
      rows_before INTEGER NOT NULL,
      rows_after INTEGER NOT NULL,
      counted_before INTEGER NOT NULL,
      counted_after INTEGER NOT NULL
    );
    CREATE INDEX release_diff_refresh ON release_diff(refresh_id);
    CREATE TABLE watches (
      id INTEGER PRIMARY KEY,
      place TEXT NOT NULL,
      place_label TEXT NOT NULL,
      kind TEXT NOT NULL,                 -- sweeps / at-large-rise / no-record-rise
      channel TEXT NOT NULL,              -- email / webhook
      target TEXT NOT NULL,               -- e-mail address or URL
      secret_env TEXT,                    -- webhook: name of the environment variable holding the HMAC secret
      created_at TEXT NOT NULL,
      active INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE findings (
      id INTEGER PRIMARY KEY,
      dedup_key TEXT NOT NULL UNIQUE,
      watch_id INTEGER NOT NULL REFERENCES watches(id),
      refresh_id INTEGER REFERENCES refreshes(id),
      kind TEXT NOT NULL,
      place TEXT NOT NULL,
      period TEXT NOT NULL,
      title TEXT NOT NULL,
      body TEXT NOT NULL,
      data TEXT NOT NULL,                 -- JSON: figures, definitions, release ids
      created_at TEXT NOT NULL
    );
    CREATE TABLE deliveries (             -- the outbox: written before anything is sent
      id INTEGER PRIMARY KEY,
      finding_id INTEGER NOT NULL REFERENCES findings(id),
      watch_id INTEGER NOT NULL REFERENCES watches(id),
      channel TEXT NOT NULL,
      target TEXT NOT NULL,
      idempotency_key TEXT NOT NULL UNIQUE,
      status TEXT NOT NULL,               -- pending / sending / sent / cancelled
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at TEXT NOT NULL,
      last_error TEXT,
      created_at TEXT NOT NULL,
      sent_at TEXT
    );
    CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
    CREATE TABLE delivery_log (
      id INTEGER PRIMARY KEY,
      delivery_id INTEGER NOT NULL REFERENCES deliveries(id),
      attempt INTEGER NOT NULL,
      at TEXT NOT NULL,
      outcome TEXT NOT NULL,              -- sent / failed / resumed / cancelled
      detail TEXT
    );
    """,
    # 2: detention watches: a watch's own settings (a facility watch's threshold) and what it has already seen
    """
    ALTER TABLE watches ADD COLUMN options TEXT;  -- JSON: e.g. {"threshold": 1000, "since": "2026-03-10"}
    CREATE TABLE watch_seen (             -- postings a detention watch has looked at (no alert for them again)
      watch_id INTEGER NOT NULL REFERENCES watches(id),
      item TEXT NOT NULL,                 -- the posting's file name in the archive
      seen_at TEXT NOT NULL,
      refresh_id INTEGER REFERENCES refreshes(id),
      PRIMARY KEY (watch_id, item)
    )
    """,
    # 3: the language a watch's alerts are written in (titles, bodies, the e-mail's footer): en / es
    """
    ALTER TABLE watches ADD COLUMN lang TEXT NOT NULL DEFAULT 'en'
    """,
    # 4: display text kept as messages (id and parameters, messages.to_json), said in the reader's language when
    # shown (messages.kept_text); rows from before keep their English text in `message` / `place_label`
    """
    ALTER TABLE refreshes ADD COLUMN messages TEXT;
    ALTER TABLE watches ADD COLUMN label_message TEXT
    """,
]


def kept_label(label: str) -> str | None:
    """What `watches.label_message` keeps of a watch's place label: the message (to_json), so `watch list` says it
    in the reader's language; None for plain text (a facility's name and code, an AOR code), shown as stored."""
    from icemonitor.messages import Message, to_json

    return to_json(label) if isinstance(label, Message) else None


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)


def schema_version(con: sqlite3.Connection) -> int:
    return con.execute("PRAGMA user_version").fetchone()[0]


def migrate(con: sqlite3.Connection) -> int:
    """Apply the migrations this database lacks; returns the resulting version."""
    version = schema_version(con)
    if version > len(MIGRATIONS):
        from icemonitor.errors import IcemonitorError

        raise IcemonitorError(
            f"the state database is at schema version {version}, newer than this icemonitor knows ({len(MIGRATIONS)})"
        )
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        con.execute("BEGIN IMMEDIATE")
        try:
            for statement in script.split(";"):
                if statement.strip():
                    con.execute(statement)
            con.execute(f"PRAGMA user_version = {number}")
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return schema_version(con)


def connect(home: Path | None = None, path: Path | None = None) -> sqlite3.Connection:
    """Open (creating and migrating as needed) the state database."""
    path = Path(path) if path else config.state_db_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(path), isolation_level=None, timeout=30)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA foreign_keys = ON")
    con.execute("PRAGMA synchronous = FULL")
    migrate(con)
    return con
