"""`icemonitor serve --workers N` (several processes over one read-only warehouse), the intake kept to one worker,
ICEMONITOR_CACHE=off, and downloads that stream in chunks."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import duckdb
import httpx
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

import web_warehouse as ww
from icemonitor.web import analyses
from icemonitor.web.app import create_app

needs_data = pytest.mark.skipif(not ww.NATIONWIDE.is_dir(), reason="../shared/data not present")
SRC = Path(__file__).resolve().parents[1] / "src"


@pytest.fixture(scope="session")
def wh_path(tmp_path_factory):
    return ww.cached_build(tmp_path_factory.getbasetemp())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@needs_data
def test_four_workers_answer_from_several_processes_and_stop_cleanly(wh_path, tmp_path):
    """The outside view: `serve --workers 4` on a loopback port, concurrent requests on fresh connections; every
    answer is 200 and equal to the one-process app's, more than one worker pid answers, and an interrupt stops
    the parent and all its workers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICEMONITOR_")}
    env.update(ICEMONITOR_HOME=str(tmp_path / "home"), PYTHONPATH=str(SRC))
    proc = subprocess.Popen([sys.executable, "-m", "icemonitor", "serve", "--workers", "4", "--port", str(port),
                             "--warehouse", str(wh_path)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    url = "/api/v1/summary?by=aor,method_class&from=2017-01-01&to=2017-06-30"
    expected = TestClient(create_app(wh_path, ref=lambda p: ww.SHARED_DATA / p)).get(url).json()
    pids: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
            assert time.monotonic() < deadline, "serve --workers 4 did not answer"
            try:
                if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)

        def ask(i: int) -> tuple[int, object]:
            path = url if i % 2 else "/healthz"
            r = httpx.get(base + path, headers={"Connection": "close"}, timeout=60)  # a new connection each time
            return r.status_code, r.json()

        answers = []
        with ThreadPoolExecutor(16) as pool:
            while len(pids) < 2 and time.monotonic() < deadline:  # until the kernel has handed work to two workers
                batch = list(pool.map(ask, range(32)))
                answers += batch
                pids |= {body["pid"] for i, (_, body) in enumerate(batch) if i % 2 == 0}
        assert [s for s, _ in answers if s != 200] == []
        differ = [{k: v for k, v in body.items() if v != expected[k]}
                  for i, (_, body) in enumerate(answers) if i % 2 and body != expected]
        assert not differ, f"{len(differ)} of {len(answers) // 2} answers differ, e.g. {differ[0]}"
        assert len(pids) >= 2, f"every answer came from one process: {pids}"
        assert proc.pid not in pids  # the parent only supervises
    finally:
        code = _interrupt(proc)
    _assert_stopped(proc, code, pids)


def _interrupt(proc: subprocess.Popen) -> int:
    """SIGINT to a serve, then its exit code (killed, and the wait's error raised, after 60 s)."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise


def _assert_stopped(proc: subprocess.Popen, code: int, pids: set[int]) -> None:
    """The serve exited 0 and none of its workers `pids` outlives it (10 s to go)."""
    assert code == 0, proc.stderr.read().decode(errors="replace")
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids), "a worker outlived the server"


def _serve_workers(tmp_path: Path, port: int, warehouse: Path, workers: int = 4) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICEMONITOR_")}
    env.update(ICEMONITOR_HOME=str(tmp_path / "home"), PYTHONPATH=str(SRC))
    return subprocess.Popen([sys.executable, "-m", "icemonitor", "serve", "--workers", str(workers), "--port",
                             str(port), "--warehouse", str(warehouse)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def test_fresh_connections_are_spread_over_every_worker_and_a_dead_worker_is_replaced(tmp_path):
    """Each worker listens on its own SO_REUSEPORT socket and the kernel hashes connections over them: once all 4
    listen, 200 fresh connections reach every worker and none takes half. A second serve on the same port stops
    with a clear error instead of joining the first one's sockets; a killed worker is replaced; SIGINT stops all."""
    from collections import Counter

    row = {"event_date": "2017-01-05", "aor": "LOS", "counted": True, "release_id": "r1", "method_class": "at_large"}
    warehouse = ww.tiny(tmp_path / "w.duckdb", [row])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve_workers(tmp_path, port, warehouse)

    def pid() -> int | None:  # one request on a connection of its own
        try:
            return httpx.get(base + "/healthz", headers={"Connection": "close"}, timeout=10).json()["pid"]
        except httpx.TransportError:
            return None

    def pids_seen(until: int, seconds: float = 120) -> set[int]:
        seen: set[int] = set()
        deadline = time.monotonic() + seconds
        while len(seen) < until and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
            answered = pid()
            if answered is None:
                time.sleep(0.1)
            else:
                seen.add(answered)
        return seen

    try:
        workers = pids_seen(4)
        assert len(workers) == 4 and proc.pid not in workers, workers  # every worker listens; the parent does not
        with ThreadPoolExecutor(8) as pool:
            counts = Counter(pool.map(lambda _: pid(), range(200)))
        assert set(counts) == workers and max(counts.values()) < 100, counts

        second = _serve_workers(tmp_path, port, warehouse, workers=2)
        assert second.wait(timeout=60) == 2
        out = " ".join(second.stderr.read().decode().split())
        assert f"serve cannot start: cannot listen on 127.0.0.1:{port}: something already listens there" in out
        assert "Traceback" not in out

        killed = sorted(workers)[0]
        os.kill(killed, signal.SIGKILL)
        survivors = workers - {killed}
        replaced = pids_seen(4)  # the dead worker's socket left the group; its replacement's joined
        assert killed not in replaced and len(replaced) == 4 and survivors < replaced, (workers, replaced)
    finally:
        code = _interrupt(proc)
    _assert_stopped(proc, code, workers | replaced)


def test_workers_refuse_the_intake_with_a_clear_message(tmp_path, monkeypatch):
    """The intake's per-client limits live in one process's memory: with --workers 2 the serve stops before
    listening, naming the reason and what to run instead."""
    from typer.testing import CliRunner

    from icemonitor.cli import app as cli

    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ICEMONITOR_INTAKE_KEY_FILE", str(tmp_path / "keys" / "intake.key"))
    res = CliRunner().invoke(cli, ["serve", "--workers", "2", "--port", "1"])
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    assert "--workers is 2" in out and "2 times its budget" in out and "own `icemonitor serve`" in out
    assert "Traceback" not in res.output


def test_workers_outside_linux_stop_with_a_clear_message(tmp_path, monkeypatch):
    """Elsewhere SO_REUSEPORT does not spread connections: `serve --workers 2` stops in one line, before listening."""
    from typer.testing import CliRunner

    from icemonitor.cli import app as cli
    from icemonitor.web import workers

    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ICEMONITOR_INTAKE_KEY_FILE", raising=False)
    monkeypatch.setattr(workers.sys, "platform", "darwin")
    res = CliRunner().invoke(cli, ["serve", "--workers", "2", "--port", str(free_port())])
    assert res.exit_code == 2, res.output
    out = " ".join(res.output.split())
    assert "serve cannot start: --workers needs Linux's SO_REUSEPORT" in out and "this system is darwin" in out
    assert "with one worker" in out and "Traceback" not in res.output


@needs_data
def test_cache_off_answers_the_same_and_keeps_nothing(wh_path, monkeypatch):
    """ICEMONITOR_CACHE=off: the same answers as with caching, and no response, analysis or query result kept."""
    urls = ["/api/v1/summary?by=fy&aor=LOS", "/api/v1/sweeps?place=LOS&limit=5", "/place/SEA", "/?aor=LOS"]
    cached = TestClient(create_app(wh_path, ref=lambda p: ww.SHARED_DATA / p))
    want = [cached.get(u) for u in urls]
    monkeypatch.setenv("ICEMONITOR_CACHE", "off")
    analyses.clear()
    app = create_app(wh_path, ref=lambda p: ww.SHARED_DATA / p)
    client = TestClient(app)
    for u, w in zip(urls, want):
        assert client.get(u).status_code == 200
        got = client.get(u)
        assert got.status_code == 200
        if u.startswith("/api/"):
            assert got.json() == w.json()
    wh = app.state.warehouse
    assert not analyses._cache
    assert all("information_schema" in key[1] for key in wh._cache)  # only the file's table and column lists
    middleware = app.middleware_stack
    while not hasattr(middleware, "cache"):
        middleware = middleware.app
    assert not middleware.cache and middleware.hits == 0


@needs_data
def test_event_downloads_stream_in_batches_and_equal_the_records(wh_path, monkeypatch):
    """An event-level CSV or Parquet download is sent in several chunks (one per record batch), and the rows are
    the records an independent DuckDB query counts."""
    import asyncio

    from icemonitor.web import export

    monkeypatch.setattr(export, "BATCH_ROWS", 200)
    app = create_app(wh_path, ref=lambda p: ww.SHARED_DATA / p)
    query = b"aor=LOS&from=2017-09-01&to=2017-09-30&level=events"

    def body_messages(path: str) -> list[bytes]:
        messages: list[dict] = []
        requested = False

        async def receive() -> dict:
            nonlocal requested
            if requested:  # the client stays connected until the response is complete
                await asyncio.Event().wait()
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            messages.append(message)

        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": path, "raw_path": path.encode(), "query_string": query, "root_path": "",
                 "headers": [(b"host", b"testserver")], "client": ("127.0.0.1", 5000), "server": ("testserver", 80)}
        asyncio.run(app(scope, receive, send))
        assert messages[0]["status"] == 200
        return [m["body"] for m in messages if m["type"] == "http.response.body" and m.get("body")]

    con = duckdb.connect(str(wh_path), read_only=True)
    n = con.execute("SELECT count(*) FROM arrests WHERE counted AND aor = 'LOS' "
                    "AND event_date BETWEEN DATE '2017-09-01' AND DATE '2017-09-30'").fetchone()[0]
    rows = con.execute("SELECT source_file, source_row FROM arrests WHERE counted AND aor = 'LOS' "
                       "AND event_date BETWEEN DATE '2017-09-01' AND DATE '2017-09-30' ORDER BY 1, 2").fetchall()
    con.close()
    assert n > 600  # several batches of 200

    csv_parts = body_messages("/data/export.csv")
    assert len(csv_parts) >= n // 200  # provenance, then one chunk per batch
    import pandas as pd

    text = b"".join(csv_parts).decode()
    skip = sum(1 for line in text.splitlines() if line.startswith("#"))
    df = pd.read_csv(io.StringIO(text), skiprows=skip, dtype=str)
    assert sorted(zip(df["source_file"], df["source_row"].astype(int))) == rows

    parquet_parts = body_messages("/data/export.parquet")
    assert len(parquet_parts) >= n // 200  # one row group per batch, then the footer
    table = pq.read_table(io.BytesIO(b"".join(parquet_parts)))
    assert sorted(zip(table["source_file"].to_pylist(), table["source_row"].to_pylist())) == rows
    assert pq.ParquetFile(io.BytesIO(b"".join(parquet_parts))).num_row_groups == -(-n // 200)
    assert table.schema.metadata[b"icemonitor.releases"] == ww.NATIONWIDE_RELEASE.encode()
