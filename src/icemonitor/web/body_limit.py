"""ASGI middleware: refuse an over-size request body with 413 while it streams in, for every path.

A declared Content-Length over the limit is refused before any byte is read; a chunked or lying body is counted
as it arrives and cut off at the limit, so the server never holds more than the limit for one request.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from fastapi import HTTPException

DEFAULT_LIMIT = 1 * 2**20  # the largest body any endpoint takes (claims forms, intake posts are smaller)


class BodyTooLarge(HTTPException):
    """Raised from receive() once a body passes its limit: an HTTP 413 for the route's own error handling."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body larger than {limit} bytes")


class BodyLimit:
    """`limits` maps a path prefix to its byte limit (longest matching prefix wins); others get `default`."""

    def __init__(self, app: Any, default: int = DEFAULT_LIMIT, limits: dict[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        self.limits = sorted((limits or {}).items(), key=lambda kv: -len(kv[0]))

    def limit_for(self, path: str) -> int:
        return next((n for prefix, n in self.limits if path.startswith(prefix)), self.default)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _refuse(scope, send, limit)
            return
        seen = 0
        started = False

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if seen > limit:  # whoever answers the refused body: close, so the rest of it is never read
                    headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"]
                    message = {**message, "headers": headers + [(b"connection", b"close")]}
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:  # the app answered before reading it all; nothing more to say
                return
            await _refuse(scope, send, limit)


async def _refuse(scope: dict, send: Callable, limit: int) -> None:
    """413 (JSON under /api/, plain text elsewhere); the connection is closed, the rest of the body unread."""
    if scope["path"].startswith("/api/"):
        body = json.dumps({"detail": f"request body larger than {limit} bytes"}).encode()
        kind = b"application/json"
    else:
        body = f"413: request body larger than {limit} bytes\n".encode()
        kind = b"text/plain; charset=utf-8"
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
