"""ASGI middleware: security headers, the language cookie, and a whole-response cache for GET pages and API.

The warehouse is read-only between builds, so a response depends only on the request and the warehouse file:
the cache key includes the file's mtime, and a rebuilt warehouse (new mtime) never sees old entries.
The key holds only what the views read: the known query parameters, the language the page is shown in and
whether htmx asked. A request with any other parameter is answered but not cached, and the cache is bounded
in bytes (MAX_CACHE_BYTES), so junk URLs cannot fill memory. Each worker process keeps its own cache;
ICEMONITOR_CACHE=off turns it off (with the analysis and query caches, web.db.caching).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable
from urllib.parse import parse_qsl

from starlette.requests import cookie_parser

from icemonitor.web.db import caching
from icemonitor.web.i18n import LANGUAGES, pick_language

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
MAX_CACHE_BYTES = 64 * 2**20  # all cached responses together
MAX_QUERY = 1024  # a longer query string is answered, not cached
# Query parameters the dashboard pages read (the API's own are taken from its routes: see app.known_params).
PAGE_PARAMS = frozenset({"lang", "q", "from", "to", "aor", "method_class", "criminality", "release", "table", "by",
                         "definition", "level", "levels", "limit", "measure", "period", "place", "in"})


def query_pairs(scope: dict) -> list[tuple[str, str]]:
    """The request's query parameters in order, blank values kept."""
    raw = scope["query_string"]
    return parse_qsl(raw.decode("latin-1"), keep_blank_values=True) if raw else []


def cache_key(scope: dict, known: frozenset[str], pairs: list[tuple[str, str]] | None = None,
              headers: dict[bytes, bytes] | None = None) -> tuple | None:
    """(path, known parameters in a fixed order, language, htmx) or None when the request must not be cached.
    `pairs` and `headers`: the query_pairs and headers already read from `scope`."""
    if len(scope["query_string"]) > MAX_QUERY:
        return None
    pairs = query_pairs(scope) if pairs is None else pairs
    if any(name not in known for name, _ in pairs):
        return None
    headers = dict(scope["headers"]) if headers is None else headers
    cookie = cookie_parser(headers.get(b"cookie", b"").decode("latin-1")).get("lang")
    lang = pick_language(dict(pairs).get("lang"), cookie, headers.get(b"accept-language", b"").decode("latin-1"))
    return (scope["path"], tuple(sorted(pairs, key=lambda kv: kv[0])), lang, headers.get(b"hx-request") == b"true")


class WebMiddleware:
    """Adds headers and the lang cookie; serves repeated GETs from memory until the warehouse changes."""

    def __init__(self, app: Any, mtime: Callable[[], float | None],
                 known: Callable[[], frozenset[str]] = lambda: PAGE_PARAMS) -> None:
        self.app = app
        self.mtime = mtime
        self.known = known
        self.cache: OrderedDict[tuple, tuple[int, list, bytes, int]] = OrderedDict()  # status, headers, body, size
        self.cache_bytes = 0
        self.lock = threading.Lock()
        self.hits = 0
        self.caching = caching()  # ICEMONITOR_CACHE=off: every response computed afresh (uncached benchmarks)

    def _store(self, key: tuple, headers: list, body: bytes) -> None:
        """Keep a response, dropping the least recently used ones past MAX_ENTRIES or MAX_CACHE_BYTES."""
        size = len(body) + sum(len(k) + len(v) for k, v in headers)
        with self.lock:
            old = self.cache.pop(key, None)
            if old is not None:
                self.cache_bytes -= old[3]
            self.cache[key] = (200, headers, body, size)
            self.cache_bytes += size
            while self.cache and (len(self.cache) > MAX_ENTRIES or self.cache_bytes > MAX_CACHE_BYTES):
                self.cache_bytes -= self.cache.popitem(last=False)[1][3]

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(SECURITY_HEADERS)
        pairs = query_pairs(scope)  # read once: the language cookie and the cache key
        lang = next((v for k, v in pairs if k == "lang" and v), None)
        path = scope["path"]
        dashboard = path in CACHED_PATHS or path.startswith(CACHED_PREFIXES + ("/data/",))
        if lang in LANGUAGES and dashboard:  # the dashboard's own language cookie, not on other mounted apps
            extra.append((b"set-cookie", f"lang={lang}; Max-Age=31536000; Path=/; SameSite=Lax".encode()))
        key = None
        if scope["method"] == "GET" and dashboard and not path.startswith("/data/") and self.caching:
            mtime = self.mtime()
            request_key = cache_key(scope, self.known(), pairs, dict(scope["headers"])) if mtime is not None else None
            if request_key is not None:
                key = (mtime, *request_key)
        if key is not None:
            with self.lock:
                hit = self.cache.get(key)
                if hit is not None:
                    self.cache.move_to_end(key)
                    self.hits += 1
            if hit is not None:
                status, hdrs, body, _ = hit
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
                    self._store(key, state["headers"], b"".join(state["chunks"]))
            await send(message)

        await self.app(scope, receive, send_wrapper)
