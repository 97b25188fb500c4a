"""Hardening of the web tier against the outside test of issue 15: over-size bodies, claims-file bombs and CPU,
cache junk, forwarded addresses, error schema. Each test replays the attack."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi.testclient import TestClient

import web_warehouse as ww
from icemonitor.web import analyses
from icemonitor.web.app import create_app

ROW = {"event_date": "2017-01-05", "aor": "LOS", "counted": True, "release_id": "r1", "method_class": "at_large"}


@pytest.fixture()
def app(tmp_path):
    return create_app(ww.tiny(tmp_path / "w.duckdb", [ROW] * 3), ref=lambda p: ww.SHARED_DATA / p)


def stream_post(app, path: str, chunks: int, chunk: bytes, headers: list | None = None) -> tuple[int, int]:
    """POST a body of `chunks` x `chunk` straight through the ASGI app, without Content-Length (chunked), and
    return (status, bytes the app pulled from the client)."""
    pulled = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal pulled
        if pulled >= chunks * len(chunk):
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"testserver"), (b"transfer-encoding", b"chunked")] + (headers or []),
             "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}

    async def run() -> None:
        await app(scope, receive, send)

    asyncio.run(run())
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, pulled


# -- item 5: over-size bodies are refused while they stream in ---------------------------------------------------

def test_over_size_claims_body_is_refused_while_streaming(app):
    chunk = b"x" * 65536
    status, pulled = stream_post(app, "/api/v1/check", chunks=8000, chunk=chunk)  # a 500 MiB body
    assert status == 413
    assert pulled <= analyses.MAX_CLAIMS_BYTES + len(chunk)  # stopped at the limit, not after 500 MiB


@pytest.mark.parametrize("path", ["/check", "/api/v1/summary", "/no-such-page"])
def test_every_path_refuses_an_endless_body(app, path):
    chunk = b"claims=" + b"x" * 65529
    status, pulled = stream_post(app, path, chunks=8000, chunk=chunk,
                                 headers=[(b"content-type", b"application/x-www-form-urlencoded")])
    assert status == 413 or status in (404, 405)  # refused either way ...
    assert pulled <= 2**20 + len(chunk)  # ... and never read past the limit


def test_declared_over_size_length_is_refused_before_reading(app):
    client = TestClient(app)
    r = client.post("/api/v1/check", content=b"x" * (analyses.MAX_CLAIMS_BYTES + 1),
                    headers={"content-type": "application/x-yaml"})
    assert r.status_code == 413 and "bytes" in r.json()["detail"]
    ok = client.post("/api/v1/check", content=json.dumps({"claims": []}).encode())
    assert ok.status_code == 200
