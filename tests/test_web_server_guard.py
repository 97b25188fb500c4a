"""web/server.py's guarded protocols, httptools' (what `serve` runs) and h11's alike: deadlines on a request's
headers and body through keep-alive and pipelined requests (test_web_hardening has the slow-loris and cap tests)."""

from __future__ import annotations

import time

import pytest

import web_warehouse as ww
from icemonitor.web import server
from icemonitor.web.app import create_app
from test_web_hardening import ROW, LoopbackServer, _closed_by_server, _open

BASES = [server.GuardedHttpToolsProtocol, server.GuardedH11Protocol]
GET = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"


def test_serve_uses_httptools():
    options = server.uvicorn_options("127.0.0.1", 1)
    assert issubclass(options["http"], server.GuardedHttpToolsProtocol)
    assert options["http"].header_timeout == server.HEADER_TIMEOUT


@pytest.mark.parametrize("base", BASES, ids=lambda b: b.__name__)
def test_a_pipelined_request_with_stalled_headers_gets_408_after_the_answer_before_it(tmp_path, base):
    app = create_app(ww.tiny(tmp_path / "w.duckdb", [ROW]))
    with LoopbackServer(app, http=server.guarded_protocol(1.0, 1.0, 50, base=base)) as srv:
        sock = _open(srv.port, GET + GET + b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        start = time.monotonic()
        got = _closed_by_server(sock, wait=5)
        sock.close()
        assert got is not None and time.monotonic() - start < 4
        assert got.count(b"HTTP/1.1 200 OK") == 2 and got.endswith(b"\r\n\r\n")
        assert got[got.rindex(b"HTTP/1.1"):].startswith(b"HTTP/1.1 408 Request Timeout")


@pytest.mark.parametrize("base", BASES, ids=lambda b: b.__name__)
def test_keep_alive_requests_each_get_their_own_deadline(tmp_path, base):
    """Requests on one connection, each sent within the header deadline though all together take longer, are
    answered; a body sent slowly but within its deadline is read."""
    app = create_app(ww.tiny(tmp_path / "w.duckdb", [ROW]))
    with LoopbackServer(app, http=server.guarded_protocol(1.0, 1.0, 50, base=base)) as srv:
        sock = _open(srv.port, b"")
        sock.settimeout(5)
        for _ in range(3):
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            time.sleep(0.6)
            sock.sendall(b"\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        sock.sendall(b"POST /api/v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n")
        time.sleep(0.6)
        sock.sendall(b"[]")
        assert sock.recv(4096).split(b"\r\n", 1)[0] in (b"HTTP/1.1 200 OK", b"HTTP/1.1 422 Unprocessable Entity")
        sock.close()
