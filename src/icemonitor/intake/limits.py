"""In-memory abuse limits, all per client: nothing about the client is written anywhere.

A client is its address group (client_group: an IPv4 address, or an IPv6 /64, the block one subscriber holds),
keyed by a salted hash kept only in this process's memory for the length of the window; the salt is random
per process.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable

IPV6_PREFIX = 64
MAX_TRACKED = 10000


def client_group(host: str) -> str:
    """The address group one client holds: the IPv4 address (IPv4-mapped IPv6 too) or the IPv6 /64."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_PREFIX}", strict=False))
    return str(ip)


class _Salted:
    def __init__(self) -> None:
        self._salt = secrets.token_bytes(16)
        self._lock = threading.Lock()

    def _key(self, *parts: str) -> bytes:
        return hashlib.blake2b("\0".join(parts).encode(), key=self._salt, digest_size=16).digest()


class RateLimiter(_Salted):
    """At most `per_client` events per client (and, when overall is set, `overall` in all) per sliding window."""

    def __init__(self, per_client: int, overall: int | None = None, window: float = 60.0) -> None:
        super().__init__()
        self.per_client, self.overall, self.window = per_client, overall, window
        self._clients: dict[bytes, deque[float]] = {}
        self._all: deque[float] = deque()

    def allow(self, client: str, now: float | None = None) -> bool:
        """Record one event for client if it is within the limits; False when it is not."""
        now = now if now is not None else time.monotonic()
        cutoff = now - self.window
        key = self._key(client_group(client))
        with self._lock:
            while self._all and self._all[0] <= cutoff:
                self._all.popleft()
            events = self._clients.setdefault(key, deque())
            while events and events[0] <= cutoff:
                events.popleft()
            if len(events) >= self.per_client or (self.overall is not None and len(self._all) >= self.overall):
                if not events:
                    del self._clients[key]
                return False
            events.append(now)
            self._all.append(now)
            if len(self._clients) > MAX_TRACKED:  # drop idle clients so memory stays bounded
                for k in [k for k, q in self._clients.items() if not q or q[-1] <= cutoff]:
                    del self._clients[k]
            return True


class LoginLockout(_Salted):
    """Failed logins per (account, client): `max_failures` within `seconds` lock that pair out for `seconds`.

    Someone guessing from their own addresses locks out only those addresses, never the account's owner logging
    in from elsewhere, so the lock-out cannot be used to keep staff out."""

    def __init__(self, max_failures: int, seconds: float) -> None:
        super().__init__()
        self.max_failures, self.seconds = max_failures, seconds
        self._pairs: dict[bytes, dict[bytes, list[float]]] = {}  # account -> client -> failure times

    def _failures(self, username: str, client: str, now: float) -> list[float]:
        clients = self._pairs.setdefault(self._key(username), {})
        times = clients.setdefault(self._key(client_group(client)), [])
        times[:] = [t for t in times if t > now - self.seconds]
        return times

    def locked(self, username: str, client: str, now: float | None = None) -> bool:
        now = now if now is not None else time.monotonic()
        with self._lock:
            return len(self._failures(username, client, now)) >= self.max_failures

    def failed(self, username: str, client: str, now: float | None = None) -> None:
        now = now if now is not None else time.monotonic()
        with self._lock:
            self._failures(username, client, now).append(now)
            if len(self._pairs) > MAX_TRACKED:
                for account in [a for a, c in self._pairs.items() if all(not t or t[-1] <= now - self.seconds
                                                                          for t in c.values())]:
                    del self._pairs[account]

    def succeeded(self, username: str, client: str) -> None:
        with self._lock:
            self._pairs.get(self._key(username), {}).pop(self._key(client_group(client)), None)

    def clear(self, username: str) -> None:
        """An admin's unlock: forget every client's failures for the account."""
        with self._lock:
            self._pairs.pop(self._key(username), None)


class AlertGate(_Salted):
    """Urgent alerts, throttled per source and per period so a flood of fake urgent requests cannot bury real ones.

    In each `period`, the first `per_source` urgent requests of a client and at most `overall` in all are
    alerted one by one; the rest are held and sent together in one summary (every reference named) when the
    period ends. Every request stays in the inbox either way. `burst(client)` tells how many urgent requests the
    client already sent in the period (stored with the request so the inbox can set bursts apart).
    """

    def __init__(self, send: Callable[[str], None], *, per_source: int = 1, overall: int = 10,
                 period: float = 600.0, timer: bool = True) -> None:
        super().__init__()
        self.send, self.per_source, self.overall, self.period, self.timer = send, per_source, overall, period, timer
        self._start: float | None = None  # the current period's start (the first call's time)
        self._sources: dict[bytes, int] = {}
        self._sent = 0
        self._held: list[str] = []
        self._flush_timer: threading.Timer | None = None

    def _roll(self, now: float) -> list[str]:
        """Start a new period when this one is over; returns what was held in the old one."""
        if self._start is None:
            self._start = now
        if now - self._start < self.period:
            return []
        held, self._held = self._held, []
        self._start, self._sources, self._sent, self._flush_timer = now, {}, 0, None
        return held

    def burst(self, client: str, now: float | None = None) -> int:
        now = now if now is not None else time.monotonic()
        with self._lock:
            held = self._roll(now)
            count = self._sources.get(self._key(client_group(client)), 0)
        self._send_summary(held)
        return count

    def submit(self, client: str, reference: str, now: float | None = None) -> bool:
        """Alert reference now (True) or hold it for the period's summary (False)."""
        now = now if now is not None else time.monotonic()
        with self._lock:
            held = self._roll(now)
            key = self._key(client_group(client))
            self._sources[key] = self._sources.get(key, 0) + 1
            alone = self._sources[key] <= self.per_source and self._sent < self.overall
            if alone:
                self._sent += 1
            else:
                self._held.append(reference)
                if self.timer and self._flush_timer is None:
                    self._flush_timer = threading.Timer(max(0.0, (self._start or now) + self.period - now), self.flush)
                    self._flush_timer.daemon = True
                    self._flush_timer.start()
        self._send_summary(held)
        if alone:
            self.send(f"icemonitor intake: a new urgent request is waiting (reference {reference}).")
        return alone

    def flush(self) -> None:
        """Send the summary of what is held now (the period's end, or shutdown)."""
        with self._lock:
            held, self._held, self._flush_timer = self._held, [], None
        self._send_summary(held)

    def _send_summary(self, held: list[str]) -> None:
        if held:
            self.send(f"icemonitor intake: {len(held)} more urgent requests are waiting (throttled alerts): "
                      f"references {', '.join(held)}.")
