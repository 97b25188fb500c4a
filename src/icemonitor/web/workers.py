"""`icemonitor serve --workers N`: N uvicorn worker processes over the same read-only warehouse file, each listening
on its own socket.

Connections are spread over the workers by the kernel: every worker binds its own socket to the same address with
SO_REUSEPORT, and Linux hashes each new connection to one of them. (With one socket shared by all, as uvicorn's
`--workers` has it, a worker whose event loop is free accepts a whole burst of connections, the clients keep them
alive, and one or two workers answer all the load.) Linux only: elsewhere SO_REUSEPORT does not spread connections,
and `serve --workers N` stops with ServeCannotStart. Linux lets only processes of the same user join the group.

Supervisor starts the workers as fresh processes (spawn) that import the app by name, so what `serve` was told (the
warehouse, trusted proxies, request time limits) travels to them in one environment variable, SETTINGS_ENV, set by
the parent before it starts them: `app` is the factory each worker calls, `Protocol` the guarded h11 protocol
(web/server.py) with the limits the parent was given. The parent opens no warehouse and answers nothing: it holds
the address (bound, not listening, so the port is checked and kept before any worker starts), replaces a worker that
dies or stops answering its health check (uvicorn's), refuses an address where something already listens (a socket
with SO_REUSEPORT would silently join another server of the same user), replaces them one by one on SIGHUP, and on
SIGINT or SIGTERM stops them all (each finishes the requests it has) and returns. Every worker opens the warehouse
read-only (DuckDB lets several processes read one file) and keeps its own caches.

The intake is never mounted in a multi-worker serve: its abuse limits are kept per client in one process's memory
(intake/limits.py; by design nothing about a client is written anywhere), so N workers would each keep their own
count and give every client N times its budget. `serve --workers N` refuses to start when the intake key is set
(web/cli.py); run the intake in its own single-worker `serve` and route /intake and /staff to it (docs/scale.md).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from uvicorn import Config
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Process

from icemonitor.errors import IcemonitorError
from icemonitor.messages import Message, msg
from icemonitor.web.server import guarded_protocol

SETTINGS_ENV = "ICEMONITOR_SERVE_WORKER_SETTINGS"
APP = f"{__name__}:app"
PROTOCOL = f"{__name__}:Protocol"
logger = logging.getLogger("uvicorn.error")


class ServeCannotStart(IcemonitorError):
    """`serve --workers N` cannot listen: the address is taken or not this machine's, or the system cannot spread
    connections over the workers."""

    hint = msg("run `icemonitor serve` with one worker, or several one-worker serves on their own ports behind a "
               "reverse proxy (docs/scale.md)")

    def __init__(self, message: Message | str, hint: Message | str | None = None) -> None:  # said in serve's --lang
        super().__init__(message)
        if hint is not None:
            self.hint = hint


def export_settings(warehouse: Path, trusted_proxies: list[str] | None, limits: dict[str, float]) -> None:
    """Put what the workers need into this process's environment, which they inherit."""
    os.environ[SETTINGS_ENV] = json.dumps({"warehouse": str(warehouse), "trusted_proxies": trusted_proxies or [],
                                           "limits": limits})


def _settings() -> dict[str, Any]:
    raw = os.environ.get(SETTINGS_ENV)
    return json.loads(raw) if raw else {}


def app():  # noqa: ANN201 - fastapi.FastAPI; the factory uvicorn calls in each worker
    """The dashboard app over the parent's warehouse (no intake: the module's docstring)."""
    from icemonitor.web.app import create_app

    settings = _settings()
    return create_app(settings["warehouse"], trusted_proxies=settings["trusted_proxies"] or None, long_lived=True)


Protocol = guarded_protocol(**_settings().get("limits", {}))


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) with SO_REUSEPORT, not yet listening (uvicorn's server listens on it)."""
    if not (sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")):
        raise ServeCannotStart(msg("--workers needs Linux's SO_REUSEPORT to spread connections over the workers; "
                                   "this system is {system}", system=sys.platform))
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def cannot_listen(where: str, exc: OSError) -> ServeCannotStart:
    """The address cannot be bound: why, in words (the system's own for a rare cause), and what to do."""
    import errno

    reason = {errno.EADDRINUSE: msg("another program already uses that address"),
              errno.EADDRNOTAVAIL: msg("the address is not one of this machine's"),
              errno.EACCES: msg("permission denied (ports below 1024 need privileges)")}.get(exc.errno, str(exc))
    return ServeCannotStart(msg("cannot listen on {where}: {reason}", where=where, reason=reason),
                            msg("choose another --host or --port"))


def already_listening(host: str, port: int) -> bool:
    """Whether something accepts connections on (host, port) (a wildcard host is asked on loopback). A socket with
    SO_REUSEPORT would join another server of the same user there instead of failing, so the supervisor asks."""
    if port == 0:
        return False
    probe = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    try:
        with socket.create_connection((probe, port), timeout=2):
            return True
    except OSError:
        return False


class Worker(Process):
    """uvicorn's worker process (spawned; answers the supervisor's health pings) with its own listening socket."""

    def target(self, sockets: list[socket.socket] | None = None) -> None:  # pragma: no cover - in the child
        try:
            sock = reuse_port_socket(self.config.host, self.config.port)
        except OSError as exc:
            logger.error("worker %d cannot listen on %s:%d: %s", os.getpid(), self.config.host, self.config.port, exc)
            sys.exit(STARTUP_FAILURE)
        super().target([sock])


class Supervisor:
    """Keeps `workers` Worker processes running on config's address until SIGINT or SIGTERM (module docstring)."""

    def __init__(self, config: Config, workers: int) -> None:
        self.config = config
        self.workers = workers
        self.processes: list[Worker] = []
        self.should_exit = threading.Event()
        self.failed = False
        self.signals: list[int] = []

    def run(self) -> int:
        """Serve until told to stop; 0, or STARTUP_FAILURE when a worker could not start (the app or the socket is
        broken, and every replacement would fail the same way)."""
        where = f"{self.config.host}:{self.config.port}"
        try:
            held = reuse_port_socket(self.config.host, self.config.port)
        except OSError as exc:
            raise cannot_listen(where, exc) from None
        if already_listening(self.config.host, self.config.port):
            held.close()
            raise ServeCannotStart(msg("cannot listen on {where}: something already listens there", where=where),
                                   msg("stop the other server or choose another --port"))
        self.config.port = held.getsockname()[1]  # port 0: the one the kernel picked, for every worker
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, lambda sig, frame: self.signals.append(sig))
        try:
            logger.info("serving on http://%s:%d with %d worker processes, each listening on its own socket "
                        "(SO_REUSEPORT); parent [%d]", self.config.host, self.config.port, self.workers, os.getpid())
            self.processes = [self._start() for _ in range(self.workers)]
            while not self.should_exit.wait(0.5):
                self._handle_signals()
                self._keep_alive()
            for process in self.processes:
                process.terminate()
            for process in self.processes:
                process.join()
        finally:
            held.close()
        logger.info("stopped the %d workers; parent [%d] exits", len(self.processes), os.getpid())
        return STARTUP_FAILURE if self.failed else 0

    def _start(self) -> Worker:
        process = Worker(self.config, [])
        process.start()
        return process

    def _handle_signals(self) -> None:
        while self.signals:
            sig = self.signals.pop(0)
            if sig == signal.SIGHUP:
                logger.info("SIGHUP: replacing the workers one by one")
                self._replace_all()
            else:
                logger.info("%s: stopping the workers", signal.Signals(sig).name)
                self.should_exit.set()

    def _keep_alive(self) -> None:
        """Replace a worker that has died or does not answer its health check in time (uvicorn's rule)."""
        for i, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                logger.error("worker [%s] failed to start; stopping", process.pid)
                self.failed = True
                self.should_exit.set()
                return
            logger.warning("worker [%s] died (exit code %s); starting another", process.pid, process.exitcode)
            self.processes[i] = self._start()

    def _replace_all(self) -> None:
        """Start each worker's replacement and wait until it serves before stopping the old one."""
        for i, old in enumerate(self.processes):
            new = self._start()
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck * 6, self.should_exit):
                new.kill()
                new.join()
                logger.error("replacement worker [%s] did not start; keeping [%s]", new.pid, old.pid)
                return
            old.terminate()
            old.join()
            self.processes[i] = new
