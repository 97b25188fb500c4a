"""In-memory rate limiting: nothing about the client is written anywhere.

Clients are keyed by a salted hash of their address, kept only in this process's memory for the
length of the window; the salt is random per process.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque


class RateLimiter:
    """At most `per_client` events per client and `overall` events in total per sliding `window` seconds."""

    def __init__(self, per_client: int, overall: int, window: float = 60.0) -> None:
        self.per_client, self.overall, self.window = per_client, overall, window
        self._salt = secrets.token_bytes(16)
        self._clients: dict[bytes, deque[float]] = {}
        self._all: deque[float] = deque()
        self._lock = threading.Lock()

    def _key(self, client: str) -> bytes:
        return hashlib.blake2b(client.encode(), key=self._salt, digest_size=16).digest()

    def allow(self, client: str, now: float | None = None) -> bool:
        """Record one event for client if it is within both limits; False when it is not."""
        now = now if now is not None else time.monotonic()
        cutoff = now - self.window
        key = self._key(client)
        with self._lock:
            while self._all and self._all[0] <= cutoff:
                self._all.popleft()
            events = self._clients.setdefault(key, deque())
            while events and events[0] <= cutoff:
                events.popleft()
            if len(events) >= self.per_client or len(self._all) >= self.overall:
                if not events:
                    del self._clients[key]
                return False
            events.append(now)
            self._all.append(now)
            if len(self._clients) > 10000:  # drop idle clients so memory stays bounded
                for k in [k for k, q in self._clients.items() if not q or q[-1] <= cutoff]:
                    del self._clients[k]
            return True
