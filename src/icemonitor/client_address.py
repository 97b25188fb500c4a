"""The client's address: the connection's peer, or, only when that peer is a configured trusted proxy, the address
the proxy forwarded in X-Forwarded-For. Nothing is trusted by default, not even loopback.

Trusted proxies come from ICEMONITOR_TRUSTED_PROXIES (comma-separated addresses or networks, e.g.
"127.0.0.1, 10.0.0.0/8") or `icemonitor serve --trusted-proxy`. Per-client limits call `client_address`
(or read `request.client.host`, which ClientAddressMiddleware sets to the same value).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable
from typing import Any, Callable

from icemonitor.errors import IcemonitorError

TRUSTED_ENV = "ICEMONITOR_TRUSTED_PROXIES"
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ProxyConfigError(IcemonitorError):
    """A trusted-proxy entry that is not an address or network."""


def trusted_proxies(entries: str | Iterable[str] | None = None) -> tuple[Network, ...]:
    """Parse trusted proxies (default: the environment variable; unset or empty means none)."""
    if entries is None:
        entries = os.environ.get(TRUSTED_ENV, "")
    if isinstance(entries, str):
        entries = entries.replace(",", " ").split()
    out = []
    for entry in entries:
        try:
            out.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ProxyConfigError(f"trusted proxy {entry!r} is not an IP address or network ({TRUSTED_ENV} or "
                                   "--trusted-proxy)") from None
    return tuple(out)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    mapped = getattr(ip, "ipv4_mapped", None)
    return mapped or ip


def _trusted(ip: Any, trusted: tuple[Network, ...]) -> bool:
    return ip is not None and any(ip.version == net.version and ip in net for net in trusted)


def client_address(peer: str | None, forwarded_for: str | None, trusted: tuple[Network, ...]) -> str:
    """The client's address. `peer` is the connection's remote address; `forwarded_for` the X-Forwarded-For
    header(s), read right to left only while each hop is a trusted proxy: the first untrusted hop is the client.
    A hop that is not an address ends the walk at the last proxy that could be believed."""
    if not peer:
        return "unknown"
    current = _ip(peer)
    if not forwarded_for or not _trusted(current, trusted):
        return peer
    address = str(current)
    for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
        ip = _ip(hop)
        if ip is None:
            return address
        address = str(ip)
        if not _trusted(ip, trusted):
            return address
    return address


def scope_client(scope: dict, trusted: tuple[Network, ...]) -> str:
    """client_address for an ASGI scope (before any rewriting)."""
    peer = scope.get("client")[0] if scope.get("client") else None
    forwarded = b",".join(v for k, v in scope.get("headers", []) if k == b"x-forwarded-for")
    return client_address(peer, forwarded.decode("latin-1") or None, trusted)


class ClientAddressMiddleware:
    """Sets scope["client"] to client_address (so `request.client.host` is the resolved client), and the scheme
    to a trusted proxy's X-Forwarded-Proto. Requests from anyone else are left as they came."""

    def __init__(self, app: Any, trusted: tuple[Network, ...] | None = None) -> None:
        self.app = app
        self.trusted = trusted_proxies() if trusted is None else trusted

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted and scope.get("client"):
            peer = scope["client"][0]
            if _trusted(_ip(peer), self.trusted):
                scope = dict(scope)
                host = scope_client(scope, self.trusted)
                if host != peer:
                    scope["client"] = (host, 0)
                proto = dict(scope["headers"]).get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
        await self.app(scope, receive, send)
