"""A file lock under the data folder so two refreshes never overlap (fcntl.flock, released on exit or crash)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from icemonitor import config
from icemonitor.errors import IcemonitorError
from icemonitor.messages import msg


class LockHeld(IcemonitorError):
    """Another refresh holds the lock."""


class RefreshLock:
    """Exclusive, non-blocking lock on <home>/<name>.lock; the holder's pid is written into the file."""

    def __init__(self, home: Path | None = None, name: str = "refresh") -> None:
        self.name = name
        self.path = (home or config.home()) / f"{name}.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockHeld(msg("another {name} is running (pid {pid}; lock file {path})", name=self.name, pid=holder,
                               path=str(self.path))) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RefreshLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
