"""How `icemonitor serve` runs uvicorn: time limits on reading a request, a cap on open connections, and forwarded
headers resolved by the app (icemonitor.client_address), never by uvicorn, which would trust them from loopback.

Uvicorn closes idle keep-alive connections, but waits for ever for a request that is only partly sent (a "slow
loris"): the guarded protocols (Guard: uvicorn's httptools protocol, which `serve` uses, or its h11 protocol) give the
request line and headers HEADER_TIMEOUT seconds and the body BODY_TIMEOUT seconds, and refuse connections past
MAX_CONNECTIONS with a 503. uvicorn runs its event loop on uvloop when that is installed (a dependency).
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from icemonitor.web.server_limits import BODY_TIMEOUT, HEADER_TIMEOUT, KEEP_ALIVE, MAX_CONNECTIONS  # noqa: F401

TIMEOUT_408 = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
BUSY_503 = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 5\r\n\r\n"


class Guard:
    """The deadlines and the connection cap, for an uvicorn HTTP protocol class (mixed in before it): `_phase` is
    what the connection waits for: "headers" (armed with header_timeout), "body" (body_timeout) or "answering"
    (no deadline while the app answers)."""

    header_timeout = HEADER_TIMEOUT
    body_timeout = BODY_TIMEOUT
    max_connections = MAX_CONNECTIONS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
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
        super().connection_lost(exc)  # type: ignore[misc]


class GuardedH11Protocol(Guard, H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's headers and body and a connection cap."""

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


class GuardedHttpToolsProtocol(Guard, HttpToolsProtocol):
    """uvicorn's httptools protocol (its parser in C: ~0.2 ms less CPU a request than h11's) with the same deadlines
    and cap, moved by the parser's callbacks: a request's headers are due from the connection or the end of the
    previous response, its body from the end of its headers; none while the app answers. A request pipelined
    behind one being answered gets its deadline when that answer is complete."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._phase = "body"
        self._arm(self.body_timeout)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._phase = "answering"
        self._disarm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = "headers"  # its deadline: armed already, or when the answer before it is complete

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            self._disarm()
        elif self._phase == "headers" or (self._phase == "answering" and not self.pipeline):
            self._phase = "headers"  # the next request's headers (begun or not) are due
            self._arm(self.header_timeout)


def guarded_protocol(header_timeout: float = HEADER_TIMEOUT, body_timeout: float = BODY_TIMEOUT,
                     max_connections: int = MAX_CONNECTIONS, base: type[Guard] | None = None) -> type[Guard]:
    """The guarded protocol `base` (default GuardedHttpToolsProtocol) with these limits."""
    base = base or GuardedHttpToolsProtocol
    return type(base.__name__, (base,), {
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
