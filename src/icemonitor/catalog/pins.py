"""Checksums recorded at first fetch, for catalog files whose SHA-256 cannot be known in advance (``sha256: null``).

The first download's checksum and size are appended to raw/pins.jsonl; later downloads must match the newest pin,
and other bytes are refused unless the user accepts them as a new version (a new pin is appended then).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from icemonitor.catalog import archive
from icemonitor.catalog.catalog import Release, ReleaseFile

PINS = "pins.jsonl"
FIRST_FETCH = "first fetch"
NEW_VERSION = "accepted as a new version"


@dataclass(frozen=True)
class Pin:
    release_id: str
    name: str
    sha256: str
    bytes: int
    pinned_at: str  # ISO 8601 UTC
    origin: str
    reason: str  # FIRST_FETCH or NEW_VERSION


def _path(home: Path | None) -> Path:
    return archive.raw_root(home) / PINS


def latest(release_id: str, name: str, home: Path | None = None) -> Pin | None:
    """The newest pin of one file (None before its first fetch). A torn last line is skipped."""
    path = _path(home)
    if not path.exists():
        return None
    found = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            d = json.loads(line)
            pin = Pin(**d)
        except (ValueError, TypeError):
            continue
        if pin.release_id == release_id and pin.name == name:
            found = pin
    return found


def record(release_id: str, name: str, sha256: str, size: int, origin: str, reason: str,
           home: Path | None = None) -> Pin:
    """Append a pin (fsynced) and return it."""
    pin = Pin(release_id, name, sha256, size, datetime.now(timezone.utc).isoformat(timespec="seconds"), origin, reason)
    path = _path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (json.dumps(asdict(pin), ensure_ascii=False) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return pin


def expected(release: Release, f: ReleaseFile, home: Path | None = None) -> tuple[str, int] | None:
    """(sha256, bytes) a copy must have: the catalog's, else the newest pin; None before the first fetch."""
    if f.sha256 is not None and f.bytes is not None:
        return f.sha256, f.bytes
    pin = latest(release.id, f.name, home)
    return (pin.sha256, pin.bytes) if pin else None


def find_archived(release: Release, f: ReleaseFile, home: Path | None = None,
                  full: bool = False) -> archive.ArchivedFile | None:
    """The archived copy with the expected checksum (None when not fetched, or never pinned)."""
    want = expected(release, f, home)
    if want is None:
        return None
    return archive.find(release.id, f.name, want[0], want[1], home=home, full=full)
