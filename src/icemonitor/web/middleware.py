"""ASGI middleware: security headers, the language cookie, and a whole-response cache for GET pages and API.

The warehouse is read-only between builds, so a response depends only on the request and the warehouse file:
the cache key includes the file's mtime, and a rebuilt warehouse (new mtime) never sees old entries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable
from urllib.parse import parse_qs

from icemonitor.web.i18n import LANGUAGES

# Vega compiles its expressions with Function(), hence 'unsafe-eval'; no inline scripts, nothing off-site.
CSP = ("default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]
# Only the dashboard's own read-only views are cached; anything else mounted on the app (e.g. the intake's
# /intake and /staff pages) passes through untouched.
CACHED_PATHS = ("/", "/data", "/sweeps", "/targeting", "/check")
CACHED_PREFIXES = ("/place/", "/sweep/", "/api/v1/")
MAX_ENTRIES = 512
MAX_BODY = 4 * 2**20


class WebMiddleware:
    """Adds headers and the lang cookie; serves repeated GETs from memory until the warehouse changes."""

    def __init__(self, app: Any, mtime: Callable[[], float | None]) -> None:
        self.app = app
        self.mtime = mtime
        self.cache: OrderedDict[tuple, tuple[int, list, bytes]] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = 0

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        extra = list(SECURITY_HEADERS)
        lang = parse_qs(scope["query_string"].decode("latin-1")).get("lang", [None])[0]
        path = scope["path"]
        dashboard = path in CACHED_PATHS or path.startswith(CACHED_PREFIXES + ("/data/",))
        if lang in LANGUAGES and dashboard:  # the dashboard's own language cookie, not on other mounted apps
            extra.append((b"set-cookie", f"lang={lang}; Max-Age=31536000; Path=/; SameSite=Lax".encode()))
        key = None
        if scope["method"] == "GET" and dashboard and not path.startswith("/data/"):
            mtime = self.mtime()
            if mtime is not None:
                key = (mtime, scope["path"], scope["query_string"], headers.get(b"cookie", b""),
                       headers.get(b"accept-language", b""), headers.get(b"hx-request", b""))
        if key is not None:
            with self.lock:
                hit = self.cache.get(key)
                if hit is not None:
                    self.cache.move_to_end(key)
                    self.hits += 1
            if hit is not None:
                status, hdrs, body = hit
                await send({"type": "http.response.start", "status": status, "headers": hdrs})
                await send({"type": "http.response.body", "body": body})
                return
        state: dict[str, Any] = {"chunks": [], "size": 0}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [h for h in extra if h[0] not in names]
                state["status"], state["headers"] = message["status"], message["headers"]
            elif message["type"] == "http.response.body" and key is not None:
                state["chunks"].append(message.get("body", b""))
                state["size"] += len(message.get("body", b""))
                if not message.get("more_body") and state.get("status") == 200 and state["size"] <= MAX_BODY:
                    with self.lock:
                        self.cache[key] = (200, state["headers"], b"".join(state["chunks"]))
                        while len(self.cache) > MAX_ENTRIES:
                            self.cache.popitem(last=False)
            await send(message)

        await self.app(scope, receive, send_wrapper)
