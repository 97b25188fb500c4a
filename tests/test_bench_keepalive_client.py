"""bench/keepalive_client.py (bench_serve's load generator) against loopback servers started here: bodies by
Content-Length, chunked and to the end of the connection, one connection kept alive, a closed one opened again,
errors raised; bench_serve.load's clients keep their semantics (each its own connection, the mix and the floor
requests in turn, statuses checked, times per URL)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_serve  # noqa: E402
from keepalive_client import Connection, HTTPError  # noqa: E402


async def serve(answer):
    """A loopback HTTP/1.1 server: `answer(target, connection number)` gives the bytes to write (None: close)."""
    seen = {"connections": 0, "requests": []}

    async def handle(reader, writer):
        seen["connections"] += 1
        number = seen["connections"]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ")[1].decode()
                seen["requests"].append((number, target))
                out = answer(target, number)
                if out is None:
                    break
                writer.write(out)
                await writer.drain()
                if b"connection: close" in out.lower() or b"HTTP/1.0" in out[:9]:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1], seen


def response(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\ncontent-length: {len(body)}\r\n{extra}\r\n".encode() + body


def test_bodies_and_keep_alive():
    chunked = (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n")

    def answer(target, _):
        if target == "/chunked":
            return chunked
        if target == "/missing":
            return response(b'{"detail": "no"}', "404 Not Found")
        return response(json.dumps({"path": target}).encode())

    async def main():
        server, port, seen = await serve(answer)
        async with server, Connection("127.0.0.1", port) as c:
            assert await c.get("/a?x=1") == (200, b'{"path": "/a?x=1"}')
            assert await c.get("/chunked") == (200, b"hello, world")
            assert await c.get("/missing") == (404, b'{"detail": "no"}')
            assert await c.get("/b") == (200, b'{"path": "/b"}')
            assert c.connects == 1 and seen["connections"] == 1  # one connection kept alive throughout
            assert [t for _, t in seen["requests"]] == ["/a?x=1", "/chunked", "/missing", "/b"]

    asyncio.run(main())


def test_closed_connections_are_opened_again():
    def answer(target, number):
        if target == "/close":
            return response(b"bye", extra="connection: close\r\n")
        if target == "/old":
            return b"HTTP/1.0 200 OK\r\n\r\nto the end"
        if target == "/drop":
            return None  # the server goes away without answering
        return response(str(number).encode())

    async def main():
        server, port, seen = await serve(answer)
        async with server, Connection("127.0.0.1", port) as c:
            assert await c.get("/close") == (200, b"bye")
            assert await c.get("/n") == (200, b"2")
            assert await c.get("/old") == (200, b"to the end")
            assert await c.get("/n") == (200, b"3")
            with pytest.raises(HTTPError, match="/drop"):
                await c.get("/drop")
            assert await c.get("/n") == (200, b"4")
            assert c.connects == 4

    asyncio.run(main())


def test_refused_and_timed_out():
    async def main():
        server, port, _ = await serve(lambda target, n: None)
        server.close()
        await server.wait_closed()
        with pytest.raises(HTTPError):
            await Connection("127.0.0.1", port).get("/")

        async def silent(reader, writer):
            await asyncio.sleep(5)

        quiet = await asyncio.start_server(silent, "127.0.0.1", 0)
        async with quiet:
            with pytest.raises(HTTPError, match="TimeoutError"):
                await Connection("127.0.0.1", quiet.sockets[0].getsockname()[1], timeout=0.2).get("/")

    asyncio.run(main())


def test_load_keeps_its_semantics(monkeypatch):
    """bench_serve.load: each client on its own connection, the mix in turn with a floor request after every fifth,
    a non-200 answer counted as an error, the floor's pid counted."""
    monkeypatch.setattr(bench_serve, "MIX", [("api", "/api/ok"), ("page", "/page/ok"), ("page", "/page/bad")])

    def answer(target, _):
        if target == "/healthz":
            return response(json.dumps({"status": "ok", "pid": os.getpid()}).encode())
        return response(b"no", "500 Internal Server Error") if target.endswith("bad") else response(b"<p>ok</p>")

    async def main():
        server, port, seen = await serve(answer)
        async with server:
            result = await bench_serve.load("127.0.0.1", port, 3, 0.5)
        return result, seen

    (by_kind, by_url, errors, pids, connects), seen = asyncio.run(main())
    assert connects == 3 and seen["connections"] == 3
    asked = [t for _, t in seen["requests"]]
    assert sum(len(v) for v in by_kind.values()) == len(asked) > 30
    assert {u: len(v) for u, v in by_url.items()} == {u: asked.count(u) for u in set(asked)}
    assert len(by_kind["floor"]) == asked.count("/healthz") and pids == {os.getpid(): asked.count("/healthz")}
    assert errors == ["/page/bad"] * asked.count("/page/bad") and errors
    mix = [u for _, u in bench_serve.MIX]
    expected = [[("/healthz" if (i + k) % 5 == 4 else mix[(i + k) % len(mix)]) for k in range(len(asked))]
                for i in range(3)]  # client i starts at offset i; every fifth request is the floor
    runs = sorted([t for n, t in seen["requests"] if n == number] for number in (1, 2, 3))
    assert all(any(run == e[:len(run)] for e in expected) for run in runs)
    assert len({tuple(run[:1]) for run in runs}) == 3  # three different offsets
