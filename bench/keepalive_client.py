"""A small HTTP/1.1 keep-alive client on asyncio streams, for load benchmarks (bench_serve.py).

httpx's asyncio client costs ~1.5 ms of CPU per request (its request and response models, header and cookie
handling, connection pool), this one ~0.15 ms, and a load generator runs on the same cores as the server it
measures. This one sends a GET on one kept-alive connection and reads the answer: the status line, the headers,
and a body of Content-Length bytes or chunked; nothing else (no redirects, cookies, compression, TLS). A
connection the server closes (Connection: close, or gone) is opened again for the next request.

    async with Connection("127.0.0.1", port) as c:
        status, body = await c.get("/healthz")
"""

from __future__ import annotations

import asyncio


class HTTPError(Exception):
    """The connection failed or the server's answer is not HTTP/1.1 as this client reads it."""


class Connection:
    """One keep-alive connection to host:port (opened on the first request, again after the server closes it)."""

    def __init__(self, host: str, port: int, timeout: float = 120.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.connects = 0  # connections opened so far (1 for a connection kept alive throughout)
        self._head = f"Host: {host}:{port}\r\nUser-Agent: icemonitor-bench\r\nAccept: */*\r\n\r\n".encode()

    async def __aenter__(self) -> "Connection":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        writer, self.reader, self.writer = self.writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass

    async def get(self, target: str) -> tuple[int, bytes]:
        """GET `target` (path and query): (status, body). HTTPError when it fails; the connection is then closed,
        and the next request opens another."""
        try:
            return await asyncio.wait_for(self._get(target), self.timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                ValueError) as exc:
            await self.close()
            raise HTTPError(f"GET {target}: {exc!r}") from exc

    async def _get(self, target: str) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            self.connects += 1
        reader, writer = self.reader, self.writer
        writer.write(b"GET " + target.encode("ascii") + b" HTTP/1.1\r\n" + self._head)
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        version, _, rest = lines[0].partition(b" ")
        if not version.startswith(b"HTTP/1."):
            raise ValueError(f"not an HTTP/1.x status line: {lines[0][:80]!r}")
        status = int(rest[:3])
        length, chunked, close = None, False, version == b"HTTP/1.0"
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        if chunked:
            body = await self._chunks(reader)
        elif length is not None:
            body = await reader.readexactly(length)
        elif status in (204, 304) or 100 <= status < 200:
            body = b""
        else:  # no length: the body runs to the end of the connection
            body, close = await reader.read(), True
        if close:
            await self.close()
        return status, body

    @staticmethod
    async def _chunks(reader: asyncio.StreamReader) -> bytes:
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers, then the blank line
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
