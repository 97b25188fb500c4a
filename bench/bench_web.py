"""Load benchmark of `icemonitor serve`: latency percentiles for API and pages, start time, RSS, cold requests.

Starts the server on 127.0.0.1 in a subprocess, then runs a bounded load (N clients, fixed request count, time cap)
over a mix of API and page URLs. Baseline in the same run: the same summary query run directly on DuckDB without
HTTP or cache; the ratio API p50 / direct p50 is printed.

    PYTHONPATH=src python bench/bench_web.py [--warehouse PATH] [--clients 20] [--requests 2000] [--time-cap 120]

Without --warehouse it uses config.warehouse_path() if that exists, else builds the test scratch warehouse from
../shared/data (tests/web_warehouse.py) in a temporary folder.
Targets: p95 <= 100 ms (API), <= 300 ms (pages), zero errors, start <= 3 s, RSS < 1 GiB.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx

ROOT = Path(__file__).resolve().parents[1]

API_URLS = [
    "/api/v1/summary?by=month,method_class",
    "/api/v1/summary?by=aor&from=2017-01-01&to=2017-12-31",
    "/api/v1/summary?by=fy&aor=LOS",
    "/api/v1/summary?by=month&aor=NYC&method_class=at_large",
    "/api/v1/summary?by=fy,method_class&aor=SEA",
    "/api/v1/summary?by=aor,method_class&from=2016-10-01&to=2017-09-30",
    "/api/v1/releases",
    "/api/v1/coverage",
    "/api/v1/sweeps?limit=20",
    "/api/v1/sweeps?place=LOS&limit=10",
    "/api/v1/priorities?place=LOS",
    "/api/v1/priorities?place=CA&by=all",
    "/api/v1/places/status?place=06037&date=2018-02-01",
    "/api/v1/places/status?place=TX&date=2018-02-01&definition=no-287g",
    "/api/v1/targeting",
    "/api/v1/targeting?definition=no-287g&period=fy",
]
PAGE_URLS = [
    "/",
    "/?from=2017-01-01&to=2017-06-30",
    "/?aor=LOS&method_class=at_large",
    "/?lang=es",
    "/place/LOS",
    "/place/SEA",
    "/data?by=fy&aor=CHI",
    "/data?by=month,method_class",
    "/place/CA",
    "/place/06037",
    "/place/TX?lang=es",
    "/sweeps",
    "/sweeps?place=CA&measure=all",
    "/sweep/SLC/2015-10-24/2015-10-29?level=aor&measure=at_large&from=2015-10-01&to=2019-09-30&limit=20",
    "/targeting",
    "/check",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q / 100 * len(values) + 0.5) - 1))]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def warehouse_for_bench(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    from icemonitor import config

    if config.warehouse_path().exists():
        return config.warehouse_path()
    sys.path.insert(0, str(ROOT / "tests"))
    import web_warehouse  # test helper: scratch warehouse from ../shared/data

    path = Path(tempfile.mkdtemp(prefix="bench_web_")) / "warehouse.duckdb"
    print(f"building scratch warehouse at {path} ...", flush=True)
    return web_warehouse.build(path)


def direct_baseline(path: Path, repeats: int = 30) -> float:
    """Median time of the summary query run straight on DuckDB (no HTTP, no cache)."""
    con = duckdb.connect(str(path), read_only=True)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        con.execute("SELECT aor, count(*) AS n FROM arrests WHERE counted AND event_date >= ? AND event_date <= ? "
                    "GROUP BY ALL ORDER BY 1", ["2017-01-01", "2017-12-31"]).fetchall()
        times.append(time.perf_counter() - t0)
    con.close()
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--time-cap", type=float, default=120.0)
    args = ap.parse_args()
    wh = warehouse_for_bench(args.warehouse)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.perf_counter()
    code = f"from icemonitor.web.cli import run; run('127.0.0.1', {port}, {str(wh)!r})"  # what `icemonitor serve` runs
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with httpx.Client(timeout=30) as c:
            while True:
                if proc.poll() is not None:
                    print(proc.stderr.read().decode(errors="replace"))
                    return 2
                try:
                    if c.get(base + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.02)
            start_s = time.perf_counter() - t0
            while not c.get(base + "/healthz").json().get("warm"):  # catalog and coverage loaded in background
                time.sleep(0.02)
            warm_s = time.perf_counter() - t0
            # Cold: each URL once, nothing cached yet, each asked without the cookies of the one before (as the load's
            # clients ask it), so that the load measures answers already made.
            cold: dict[str, list[float]] = {"api": [], "page": []}
            errors = 0
            for kind, urls in (("api", API_URLS), ("page", PAGE_URLS)):
                for u in urls:
                    t = time.perf_counter()
                    r = c.get(base + u)
                    cold[kind].append(time.perf_counter() - t)
                    errors += r.status_code != 200
                    c.cookies.clear()  # '/?lang=es' sets the language cookie: later URLs are asked as in the load
        rss_after_cold = rss_mib(proc.pid)

        # Load: fixed number of requests shared by N clients, alternating API and page URLs, with a time cap.
        mix = [("api", u) for u in API_URLS] + [("page", u) for u in PAGE_URLS]
        lat: dict[str, list[float]] = {"api": [], "page": []}
        lock = threading.Lock()
        counter = iter(range(args.requests))
        deadline = time.perf_counter() + args.time_cap
        load_errors = []

        def client() -> None:
            with httpx.Client(timeout=30) as c:
                while time.perf_counter() < deadline:
                    with lock:
                        i = next(counter, None)
                    if i is None:
                        return
                    kind, u = mix[i % len(mix)]
                    t = time.perf_counter()
                    try:
                        ok = c.get(base + u).status_code == 200
                    except httpx.HTTPError:
                        ok = False
                    dt = time.perf_counter() - t
                    with lock:
                        lat[kind].append(dt)
                        if not ok:
                            load_errors.append(u)

        t_load = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        wall = time.perf_counter() - t_load
        rss = rss_mib(proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=10)

    done = len(lat["api"]) + len(lat["page"])
    base_s = direct_baseline(wh)
    ms = lambda v: f"{v * 1000:7.1f}"  # noqa: E731
    print(f"warehouse: {wh} ({wh.stat().st_size / 2**20:.0f} MiB)")
    print(f"server start: {start_s:.2f} s (answering)   warm-up done: {warm_s:.2f} s   RSS after cold requests: {rss_after_cold:.0f} MiB   after load: {rss:.0f} MiB")
    print(f"load: {done}/{args.requests} requests, {args.clients} clients, {wall:.1f} s wall, {done / wall:.0f} req/s, "
          f"errors: {len(load_errors) + errors}")
    print(f"{'':22s}{'p50 ms':>8s}{'p95 ms':>8s}{'p99 ms':>8s}{'n':>7s}")
    for kind in ("api", "page"):
        print(f"{kind + ' (load, cached)':22s}{ms(pct(lat[kind], 50))} {ms(pct(lat[kind], 95))} {ms(pct(lat[kind], 99))}"
              f"{len(lat[kind]):7d}")
        print(f"{kind + ' (cold, first)':22s}{ms(pct(cold[kind], 50))} {ms(pct(cold[kind], 95))} "
              f"{ms(pct(cold[kind], 99))}{len(cold[kind]):7d}")
    api50 = pct(lat["api"], 50)
    print(f"baseline: direct DuckDB summary query (no HTTP, no cache) median {base_s * 1000:.1f} ms; "
          f"API p50 / baseline = {api50 / base_s:.2f}")
    checks = {
        "API p95 <= 100 ms": pct(lat["api"], 95) <= 0.100,
        "pages p95 <= 300 ms": pct(lat["page"], 95) <= 0.300,
        "zero errors": not load_errors and not errors and done == args.requests,
        "start <= 3 s": start_s <= 3.0,
        "RSS < 1 GiB": rss < 1024,
    }
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
