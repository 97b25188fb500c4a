"""CPU per request of each URL of bench_serve's mix, in one process, calling the app as uvicorn does (ASGI), with
response caching off (ICEMONITOR_CACHE=off): what each request costs the serving cores, robust under the machine's
load, without the ~3 ms a TestClient request costs its caller (starlette's TestClient and httpx run in the same
process and were counted in session 8's figures).

Baseline in the same run: /healthz (no query: the app's middleware, routing and response), each URL's ratio to it
printed. Each URL is asked twice to warm up, then `--repeats` times; the median and the least CPU are printed.

    PYTHONPATH=src python bench/bench_cpu_per_url.py WAREHOUSE [--repeats 7] [URL ...]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import subprocess
import sys
from pathlib import Path

os.environ["ICEMONITOR_CACHE"] = "off"

from bench_serve import FLOOR, MIX  # noqa: E402 - bench/ is the script's folder


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def scope(url: str) -> dict:
    path, _, query = url.partition("?")
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
            "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
            "headers": [(b"host", b"bench"), (b"accept", b"*/*"), (b"user-agent", b"bench")],
            "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 80), "state": {}}


async def ask(app, url: str) -> tuple[int, int]:
    """(status, body bytes) of one GET through the ASGI app."""
    out = {"status": 0, "bytes": 0}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        else:
            out["bytes"] += len(message.get("body", b""))

    await app(scope(url), receive, send)
    return out["status"], out["bytes"]


async def measure(app, urls: list[tuple[str, str]], repeats: int) -> list[tuple[str, str, int, int, float, float]]:
    async with app.router.lifespan_context(app):
        app.state.warm_up.join()
        for _, url in urls:
            await ask(app, url)
            await ask(app, url)
        out = []
        for kind, url in urls:
            times = []
            for _ in range(repeats):
                c0 = cpu()
                status, size = await ask(app, url)
                times.append(cpu() - c0)
            times.sort()
            out.append((kind, url, status, size, times[len(times) // 2], times[0]))
        return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("warehouse")
    ap.add_argument("urls", nargs="*", help="URLs to measure (default: bench_serve's mix)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_intermixed_args()
    from icemonitor.web.app import create_app

    urls = [FLOOR] + ([("url", u) for u in args.urls] or list(MIX))
    print("machine load:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    found = asyncio.run(measure(create_app(Path(args.warehouse)), urls, args.repeats))
    floor = found[0][4]
    print(f"{'':6}{'status':>6}{'CPU ms':>9}{'least':>8}{'x floor':>9}{'bytes':>9}  url")
    for kind, url, status, size, median, least in found:
        print(f"{kind:6}{status:6d}{median * 1000:9.2f}{least * 1000:8.2f}{median / max(floor, 1e-9):9.1f}{size:9d}  "
              f"{url}")
    mix = [f[4] for f in found[1:]]
    print(f"mean CPU per request of the {len(mix)} URLs: {sum(mix) / len(mix) * 1000:.2f} ms "
          f"(floor /healthz {floor * 1000:.2f} ms)")
    return 0 if all(f[2] == 200 for f in found) else 1


if __name__ == "__main__":
    sys.exit(main())
