"""What the browser tests share: Debian's chromium, an app served by uvicorn in a thread, and a Playwright page
that records script errors, failed requests and HTTP errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")  # Playwright's own browser download cannot work here
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"  # screenshots (gitignored)
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(),
                                    reason="/usr/bin/chromium not installed (apt-get install -y chromium)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(app: Any, timeout: float = 30.0) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread; yields its base URL and stops it afterwards."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=timeout)


@contextmanager
def recording_page(**context_options: Any) -> Iterator[Any]:
    """A page in a fresh chromium context; `page.errors` lists script errors, failed requests and HTTP >= 400."""
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        pg = browser.new_context(viewport={"width": 1200, "height": 900}, **context_options).new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        # a filter change aborts the form's request still in flight (hx-sync="this:replace"): not an error
        pg.on("requestfailed", lambda r: None if r.failure == "net::ERR_ABORTED"
              else errors.append(f"request failed: {r.url} ({r.failure})"))
        pg.on("response", lambda r: errors.append(f"{r.status}: {r.url}") if r.status >= 400 else None)
        pg.errors = errors
        try:
            yield pg
        finally:
            browser.close()


def drawn(pg: Any, chart_id: str, timeout: int = 30000) -> Any:
    """The chart's SVG once app.js has drawn it."""
    pg.wait_for_selector(f"#{chart_id}[data-state=drawn] svg", timeout=timeout)
    return pg.locator(f"#{chart_id} svg")
