"""The raw archive: files kept byte for byte under raw/<release>/<YYYY-MM-DD fetched>/<original name>,
read-only once written, with an append-only manifest (raw/manifest.jsonl) of what was stored when and from where."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from icemonitor import config

MANIFEST = "manifest.jsonl"
PARTIAL = ".partial"
CHUNK = 1 << 20


@dataclass(frozen=True)
class ArchivedFile:
    """One file in the raw archive, as the manifest records it."""

    release_id: str
    name: str
    path: Path
    sha256: str
    bytes: int
    fetched_at: str  # ISO 8601 UTC
    origin: str  # URL or mirror path it came from
    new: bool = False  # stored by this run (False: it was already archived)

    def record(self) -> dict:
        """The manifest line (path relative to the raw folder)."""
        d = asdict(self)
        d.pop("new")
        d["path"] = self.path.as_posix()
        return d


def raw_root(home: Path | None = None) -> Path:
    return config.raw_dir(Path(home) if home else None)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_read: dict[Path, tuple[tuple[int, int, int], tuple[ArchivedFile, ...]]] = {}  # path -> (file's identity, entries)


def read_manifest(home: Path | None = None) -> list[ArchivedFile]:
    """Every manifest entry, oldest first. A torn last line (a crash mid-append) is skipped.

    The entries are kept per manifest file with its (inode, size, modification time): a server resolves a reference
    file on every page, and reads the file again only when it changed (an append changes its size)."""
    root = raw_root(home)
    path = root / MANIFEST
    try:
        st = path.stat()
    except FileNotFoundError:
        return []
    identity = (st.st_ino, st.st_size, st.st_mtime_ns)
    kept = _read.get(path)
    if kept is None or kept[0] != identity:
        kept = _read[path] = (identity, tuple(_parse_manifest(root, path.read_text(encoding="utf-8"))))
    return list(kept[1])


def _parse_manifest(root: Path, text: str) -> list[ArchivedFile]:
    out = []
    for line in text.splitlines():
        try:
            d = json.loads(line)
            out.append(
                ArchivedFile(
                    release_id=d["release_id"], name=d["name"], path=root / d["path"], sha256=d["sha256"],
                    bytes=int(d["bytes"]), fetched_at=d["fetched_at"], origin=d["origin"],
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return out


def entries(release_id: str, name: str, home: Path | None = None) -> Iterator[ArchivedFile]:
    """Manifest entries for one file, newest first."""
    for entry in reversed(read_manifest(home)):
        if entry.release_id == release_id and entry.name == name:
            yield entry


def index(home: Path | None = None) -> dict[tuple[str, str], list[ArchivedFile]]:
    """Manifest entries by (release id, file name), newest first: one read for many look-ups."""
    out: dict[tuple[str, str], list[ArchivedFile]] = {}
    for entry in reversed(read_manifest(home)):
        out.setdefault((entry.release_id, entry.name), []).append(entry)
    return out


def find(release_id: str, name: str, sha256: str, size: int, *, home: Path | None = None,
         full: bool = False, candidates: Iterable[ArchivedFile] | None = None) -> ArchivedFile | None:
    """The newest archived copy with that checksum whose file is present with the right size
    (and, with ``full``, whose bytes hash to it). ``candidates`` (from `index`) spares reading the manifest."""
    for entry in entries(release_id, name, home) if candidates is None else candidates:
        if entry.sha256 != sha256 or entry.bytes != size:
            continue
        try:
            if entry.path.stat().st_size != size:
                continue
        except OSError:
            continue
        if full and sha256_file(entry.path) != sha256:
            continue
        return entry
    return None


def partial_path(release_id: str, name: str, sha256: str, home: Path | None = None) -> Path:
    """Where an interrupted download of this exact file is kept until it resumes (keyed by checksum)."""
    return raw_root(home) / PARTIAL / release_id / f"{sha256[:16]}-{name}.part"


def _destination(root: Path, release_id: str, name: str, day: str) -> Path:
    """raw/<release>/<day>/<name>; a second distinct version on the same day goes to <day>-2, -3, ..."""
    base = root / release_id
    candidate, n = base / day / name, 1
    while candidate.exists():
        n += 1
        candidate = base / f"{day}-{n}" / name
    return candidate


def store(staged: Path, *, release_id: str, name: str, sha256: str, origin: str,
          home: Path | None = None) -> ArchivedFile:
    """Move an already verified, fsynced file into the archive (atomic rename), make it read-only and
    append its manifest line. ``staged`` must be on the archive's filesystem."""
    root = raw_root(home)
    now = datetime.now(timezone.utc)
    dest = _destination(root, release_id, name, now.strftime("%Y-%m-%d"))
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(staged, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
    os.replace(staged, dest)
    _fsync_dir(dest.parent)
    entry = ArchivedFile(
        release_id=release_id, name=name, path=dest, sha256=sha256, bytes=dest.stat().st_size,
        fetched_at=now.isoformat(timespec="seconds"), origin=origin, new=True,
    )
    record = entry.record()
    record["path"] = dest.relative_to(root).as_posix()
    line = json.dumps(record, ensure_ascii=False) + "\n"
    fd = os.open(root / MANIFEST, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def staging_file(release_id: str, name: str, home: Path | None = None) -> Path:
    """A fresh temporary name inside the archive (same filesystem, so the final rename is atomic)."""
    d = raw_root(home) / PARTIAL / release_id
    d.mkdir(parents=True, exist_ok=True)
    return d / f".{name}.{os.getpid()}.tmp"
