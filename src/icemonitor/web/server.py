"""How `icemonitor serve` runs uvicorn: time limits on reading a request, a cap on open connections, and forwarded
headers resolved by the app (icemonitor.client_address), never by uvicorn, which would trust them from loopback.

Uvicorn closes idle keep-alive connections, but waits for ever for a request that is only partly sent (a "slow
loris"): GuardedH11Protocol gives the request line and headers HEADER_TIMEOUT seconds and the body BODY_TIMEOUT
seconds, and refuses connections past MAX_CONNECTIONS with a 503.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from icemonitor.web.server_limits import BODY_TIMEOUT, HEADER_TIMEOUT, KEEP_ALIVE, MAX_CONNECTIONS  # noqa: F401

TIMEOUT_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
BUSY_503 = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 5\r\n\r\n"


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's headers and body and a connection cap."""

    header_timeout = HEADER_TIMEOUT
    body_timeout = BODY_TIMEOUT
    max_connections = MAX_CONNECTIONS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._phase = "headers"
        if len(self.connections) > self.max_connections:
            transport.write(BUSY_503)
            transport.close()
            return
        self._arm(self.header_timeout)

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()
            self._deadline = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow()

    def _follow(self) -> None:
        """Move the deadline with the request: headers, then body, then none while the app answers."""
        if self.transport.is_closing():
            self._disarm()
            return
        state = self.conn.their_state
        if state is h11.IDLE:
            if self._phase != "headers":  # the last request was answered: the next one's headers are due
                self._phase = "headers"
                self._arm(self.header_timeout)
        elif state is h11.SEND_BODY:
            if self._phase != "body":
                self._phase = "body"
                self._arm(self.body_timeout)
        else:  # DONE, MUST_CLOSE, CLOSED, ERROR: the request is in; the app (or uvicorn) takes it from here
            self._phase = "answering"
            self._disarm()

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._phase == "headers" and (self.cycle is None or self.cycle.response_complete):
            self.transport.write(TIMEOUT_408)
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.keep_alive = False
        self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


def guarded_protocol(header_timeout: float = HEADER_TIMEOUT, body_timeout: float = BODY_TIMEOUT,
                     max_connections: int = MAX_CONNECTIONS) -> type[GuardedH11Protocol]:
    """GuardedH11Protocol with these limits."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,), {
        "header_timeout": header_timeout, "body_timeout": body_timeout, "max_connections": max_connections})


def uvicorn_options(host: str, port: int, *, header_timeout: float = HEADER_TIMEOUT,
                    body_timeout: float = BODY_TIMEOUT, max_connections: int = MAX_CONNECTIONS,
                    **overrides: Any) -> dict[str, Any]:
    """The keyword arguments `serve` passes to uvicorn.run (or uvicorn.Config)."""
    options: dict[str, Any] = dict(
        host=host, port=port, log_level="info",
        proxy_headers=False,  # X-Forwarded-*: only from configured proxies, resolved by the app
        http=guarded_protocol(header_timeout, body_timeout, max_connections),
        timeout_keep_alive=KEEP_ALIVE,
    )
    options.update(overrides)
    return options
