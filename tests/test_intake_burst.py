"""A bounded burst of public submissions on 127.0.0.1: the server keeps answering and loses none."""

from __future__ import annotations

import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import httpx
import pytest
from intake_support import FORM, db_url, make_settings, pg_server  # noqa: F401 - fixtures
from intake_support import _free_port

from icemonitor.intake import audit

TOTAL, CONCURRENT, WALL_CAP_SECONDS = 200, 10, 240


@pytest.fixture
def live_server(tmp_path, db_url):
    import uvicorn
    from fastapi import FastAPI

    from icemonitor.intake.web import mount

    # the limiter is configured above the burst so that legitimate distinct submissions are not dropped
    settings = make_settings(tmp_path, db_url, public_per_client_per_minute=TOTAL + 50,
                             public_global_per_minute=TOTAL + 50)
    app = FastAPI()
    ia = mount(app, settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}", ia
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_burst_of_submissions_loses_none(live_server):
    base, ia = live_server

    def one(i: int) -> tuple[int, str | None]:
        with httpx.Client(timeout=60) as client:
            r = client.post(f"{base}/intake", data={**FORM, "phone": f"555-{i:04d}", "message": f"burst {i}"})
        m = re.search(r'id="reference">([A-Z0-9-]+)<', r.text)
        return r.status_code, (m.group(1) if m else None)

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CONCURRENT) as pool:
        futures = [pool.submit(one, i) for i in range(TOTAL)]
        done, not_done = wait(futures, timeout=WALL_CAP_SECONDS)
    elapsed = time.monotonic() - started
    assert not not_done, f"{len(not_done)} submissions unanswered after {WALL_CAP_SECONDS}s"
    results = [f.result() for f in futures]
    assert [code for code, _ in results] == [200] * TOTAL
    refs = {ref for _, ref in results}
    assert None not in refs and len(refs) == TOTAL
    with ia.vault.db.transaction() as conn:
        stored = {r["reference"] for r in conn.execute("SELECT reference FROM intake_requests")}
    assert stored == refs
    check = audit.verify(ia.vault.db, ia.vault.audit_key)
    assert check.ok and check.rows == TOTAL
    # still answering after the burst
    assert httpx.get(f"{base}/intake", timeout=30).status_code == 200
    print(f"{TOTAL} submissions, {CONCURRENT} concurrent, {ia.vault.db.kind}: {elapsed:.1f}s ({TOTAL / elapsed:.0f}/s)")
