"""Load benchmark of `icemonitor serve --workers N` with response caching off (issue 14: serving at scale).

Starts `icemonitor serve --workers 4` (ICEMONITOR_CACHE=off: every request runs its queries and analyses) on a
loopback port over a warehouse, runs 20 concurrent clients for a fixed time on a mix of summary, place and sweep API
calls and pages, and prints p50/p95 per kind against the targets:

    API p95 <= 150 ms, pages p95 <= 400 ms, zero errors, CLI `summary` for one AOR-year <= 1 s.

Baselines in the same run: a trivial endpoint (/healthz, no query) inside the same load, which is the floor of
HTTP, the workers' scheduling and the machine's load; the summary query run straight on DuckDB (no HTTP); and
the interpreter start with the CLI's imports (`icemonitor --help`) for the CLI figure. The machine's load
(`uptime`) is printed before and after: the targets are for an otherwise idle machine. Per worker pid it prints
the floor requests answered and the CPU seconds used during the load: how evenly the connections were spread.

The clients (keepalive_client.py: asyncio streams, one kept-alive HTTP/1.1 connection each, no think time) run in
this process on the same cores as the server; the CPU seconds this process used during the load are printed beside
the workers', per request, so what the load generator takes is seen (httpx's asyncio client took ~1.5 ms of CPU a
request, this one ~0.15 ms).

    PYTHONPATH=src python bench/bench_serve.py [--warehouse PATH] [--workers 4] [--clients 20] [--seconds 45]

Without --warehouse it fetches ../shared/data into a temporary home and runs the normal build (the 1x real data).
Any warehouse file works (e.g. an 8x one from the data generator); its folder is used as ICEMONITOR_HOME for the
CLI run when the file is named warehouse.duckdb, else a temporary home links to it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import duckdb
import httpx

from bench_web import free_port, pct  # bench/ is the script's folder
from keepalive_client import Connection, HTTPError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
TARGETS = {"api": 0.150, "page": 0.400}
CLI_TARGET = 1.0
AOR, FY_FROM, FY_TO = "LOS", "2017-10-01", "2018-09-30"  # one AOR-year (FY2018)

# (kind, url): summary, place and sweep questions, as API calls and as pages.
MIX = [
    ("api", "/api/v1/summary?by=month,method_class"),
    ("api", f"/api/v1/summary?by=fy&aor={AOR}&from={FY_FROM}&to={FY_TO}"),
    ("api", "/api/v1/summary?by=aor&from=2017-01-01&to=2017-12-31"),
    ("api", "/api/v1/summary?place=CA&by=fy"),
    ("api", "/api/v1/summary?place=06037&by=method_class&from=2017-10-01&to=2018-09-30"),
    ("api", "/api/v1/sweeps?place=LOS&limit=10"),
    ("api", "/api/v1/sweeps?limit=20"),
    ("page", "/place/LOS"),
    ("page", "/place/CA"),
    ("page", "/place/06037"),
    ("page", "/?aor=LOS"),
    ("page", "/data?by=fy&aor=CHI"),
    ("page", "/sweeps?place=CA"),
    ("page", "/sweeps"),
]
FLOOR = ("floor", "/healthz")


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def built_warehouse(tmp: Path) -> Path:
    """The 1x warehouse: ../shared/data fetched into a temporary home and built as `icemonitor build` does."""
    code = (
        "import sys; from pathlib import Path; from icemonitor import config;"
        "from icemonitor.catalog.fetch import fetch, reference_resolver;"
        "from icemonitor.places.build_step import place_stage; from icemonitor.warehouse.build import build;"
        "from icemonitor.warehouse.sources import catalog_sources;"
        "from icemonitor.analysis.sweeps_stored import sweeps_stage;"
        "home = Path(sys.argv[1]); fetch(None, home=home, mirror=Path(sys.argv[2]));"
        "build(catalog_sources(home=home), config.warehouse_path(home), cache_dir=config.cache_dir(home),"
        " extra_tables=place_stage(reference_resolver(home)), answer_tables=sweeps_stage(reference_resolver(home)))")
    home = tmp / "home"
    print(f"building the 1x warehouse from {SHARED} in {home} ...", flush=True)
    subprocess.run([sys.executable, "-c", code, str(home), str(SHARED)], check=True, env=_env(),
                   stdout=subprocess.DEVNULL)
    return home / "warehouse.duckdb"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ICEMONITOR_INTAKE_KEY_FILE", "ICEMONITOR_CACHE")}
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")
    env.update(extra)
    return env


def cli_home(warehouse: Path, tmp: Path) -> Path:
    """An ICEMONITOR_HOME whose warehouse.duckdb is this file."""
    if warehouse.name == "warehouse.duckdb":
        return warehouse.parent
    home = tmp / "cli-home"
    home.mkdir(exist_ok=True)
    (home / "warehouse.duckdb").symlink_to(warehouse.resolve())
    return home


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def cli_figures(warehouse: Path, tmp: Path, repeats: int = 3) -> dict[str, float]:
    """Wall time of `icemonitor summary` for one AOR-year (a fresh process each time, as a user runs it), against
    `icemonitor --help` (interpreter start and the CLI's imports) and the bare DuckDB count."""
    env = _env(ICEMONITOR_HOME=str(cli_home(warehouse, tmp)))
    summary = [sys.executable, "-m", "icemonitor", "summary", "--aor", AOR, "--from", FY_FROM, "--to", FY_TO, "--json"]
    helps = [timed([sys.executable, "-m", "icemonitor", "--help"], env) for _ in range(repeats)]
    runs = [timed(summary, env) for _ in range(repeats)]
    con = duckdb.connect(str(warehouse), read_only=True)
    direct = []
    for _ in range(repeats * 5):
        t = time.perf_counter()
        con.execute("SELECT count(*) FROM arrests WHERE counted AND aor = ? AND event_date BETWEEN ? AND ?",
                    [AOR, FY_FROM, FY_TO]).fetchone()
        direct.append(time.perf_counter() - t)
    con.close()
    return {"summary": statistics.median(runs), "help": statistics.median(helps), "direct": statistics.median(direct)}


def direct_summary(warehouse: Path, repeats: int = 20) -> float:
    """Median time of the national month x method summary query straight on DuckDB (no HTTP, no cache)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        con.execute("SELECT strftime(date_trunc('month', event_date), '%Y-%m') AS month, method_class, count(*) "
                    "FROM arrests WHERE counted GROUP BY ALL ORDER BY 1, 2").fetchall()
        times.append(time.perf_counter() - t)
    con.close()
    return statistics.median(times)


def workers_of(parent: int) -> list[str]:
    """The server's worker processes: its children but multiprocessing's resource tracker."""
    out = []
    for pid in Path(f"/proc/{parent}/task/{parent}/children").read_text().split():
        try:
            if b"resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                out.append(pid)
        except FileNotFoundError:  # ended meanwhile
            continue
    return out


def worker_rss_mib(parent: int) -> float:
    """Resident memory of the server's worker processes together."""
    total = 0
    for pid in workers_of(parent):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


def worker_cpu_by_pid(parent: int) -> dict[int, float]:
    """CPU time (user + system) each of the server's workers has used so far: what a request costs whatever the
    load, and how the work was shared."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in workers_of(parent):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # a process that ended meanwhile
            continue
        out[int(pid)] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return out


def wait_warm(base: str, workers: int, timeout: float = 120.0) -> set[int]:
    """The worker pids seen warm (/healthz: warm-up done), each asked on a fresh connection so that any worker may
    take it, until all `workers` are or the time is up. A worker answers before its warm-up ends, and a load started
    then lands on the warm workers alone (its clients keep their connections)."""
    warm: set[int] = set()
    end = time.perf_counter() + timeout
    while len(warm) < workers and time.perf_counter() < end:
        try:
            with httpx.Client(base_url=base, timeout=10) as c:
                j = c.get("/healthz").json()
            if j.get("warm"):
                warm.add(j["pid"])
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    return warm


def own_cpu() -> float:
    """CPU seconds (user + system) this process has used so far: the load generator's."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def load(host: str, port: int, clients: int, seconds: float
               ) -> tuple[dict[str, list[float]], dict[str, list[float]], list[str], Counter[int], int]:
    """`clients` clients, each on its own kept-alive connection asking the mix in turn (from its own offset) until
    the time is up, with a /healthz floor request after every fifth. Returns the times by kind and by URL, the URLs
    that failed (an error or a status other than 200), how many floor requests each worker pid answered, and how
    many connections the clients opened (one each while the server keeps them alive)."""
    by_kind: dict[str, list[float]] = {"api": [], "page": [], "floor": []}
    by_url: dict[str, list[float]] = {}
    errors: list[str] = []
    pids: Counter[int] = Counter()
    deadline = time.perf_counter() + seconds
    connections = [Connection(host, port, timeout=120) for _ in range(clients)]

    async def client(i: int, c: Connection) -> None:
        async with c:
            n = i
            while time.perf_counter() < deadline:
                kind, url = FLOOR if n % 5 == 4 else MIX[n % len(MIX)]
                n += 1
                t = time.perf_counter()
                try:
                    status, body = await c.get(url)
                    ok = status == 200
                except HTTPError:
                    ok = False
                took = time.perf_counter() - t
                by_kind[kind].append(took)
                by_url.setdefault(url, []).append(took)
                if not ok:
                    errors.append(url)
                elif kind == "floor":
                    pids[json.loads(body)["pid"]] += 1

    await asyncio.gather(*(client(i, c) for i, c in enumerate(connections)))
    return by_kind, by_url, errors, pids, sum(c.connects for c in connections)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--warehouse", help="warehouse file (default: build the 1x one from ../shared/data)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=45.0)
    ap.add_argument("--cache", choices=("off", "on"), default="off", help="ICEMONITOR_CACHE for the server")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    warehouse = Path(args.warehouse) if args.warehouse else built_warehouse(tmp)
    load_before = uptime()

    cli = cli_figures(warehouse, tmp)
    direct = direct_summary(warehouse)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = _env(ICEMONITOR_CACHE=args.cache, ICEMONITOR_HOME=str(tmp / "serve-home"))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "icemonitor", "serve", "--workers", str(args.workers),
                             "--port", str(port), "--warehouse", str(warehouse)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        with httpx.Client(base_url=base, timeout=120) as c:
            while True:
                if proc.poll() is not None:
                    print(proc.stderr.read().decode(errors="replace"))
                    return 2
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            start_s = time.perf_counter() - t0
            warm = wait_warm(base, args.workers)
            print(f"workers warm before the load: {len(warm)} of {args.workers} seen warm", flush=True)
            first: dict[str, float] = {}
            for _, url in MIX:  # each URL once, sequentially: the first (cold) answers
                t = time.perf_counter()
                status = c.get(url).status_code
                first[url] = time.perf_counter() - t
                if status != 200:
                    print(f"warning: {url} answered {status}")
        t_load, cpu0, own0 = time.perf_counter(), worker_cpu_by_pid(proc.pid), own_cpu()
        by_kind, by_url, errors, pids, connects = asyncio.run(load("127.0.0.1", port, args.clients, args.seconds))
        wall, cpu1, own = time.perf_counter() - t_load, worker_cpu_by_pid(proc.pid), own_cpu() - own0
        cpu_by_pid = {pid: cpu1[pid] - cpu0.get(pid, 0.0) for pid in cpu1}
        cpu = sum(cpu_by_pid.values())
        load_during = uptime()
        rss = worker_rss_mib(proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()

    ms = lambda v: f"{v * 1000:8.0f}"  # noqa: E731
    done = sum(len(v) for v in by_kind.values())
    print(f"warehouse: {warehouse} ({warehouse.stat().st_size / 2**20:.0f} MiB)")
    print(f"machine load before: {load_before}")
    print(f"machine load after the load run: {load_during}")
    print(f"serve --workers {args.workers}, ICEMONITOR_CACHE={args.cache}: answering after {start_s:.1f} s; "
          f"{args.clients} clients for {wall:.0f} s: {done} requests ({done / wall:.1f}/s), {len(errors)} errors, "
          f"{len(pids)} worker pids answered; workers' RSS together {rss:.0f} MiB")
    queries = done - len(by_kind["floor"])
    print(f"workers' CPU time during the load: {cpu:.1f} s, {cpu / max(queries, 1) * 1000:.0f} ms per request of the "
          f"mix (the floor requests' share neglected): {os.cpu_count()} cores serve at most "
          f"{os.cpu_count() / max(cpu / max(queries, 1), 1e-9):.1f} such requests/s")
    print(f"load generator's CPU time during the load (this process, {args.clients} clients on {connects} "
          f"connections): {own:.1f} s, {own / max(done, 1) * 1000:.2f} ms per request (floor requests included), "
          f"{own / max(queries, 1) * 1000:.2f} ms per request of the mix as counted for the workers; workers and "
          f"generator together {(cpu + own) / max(queries, 1) * 1000:.0f} ms per request of the mix")
    print("per worker pid during the load: floor (/healthz) answers, and CPU seconds (the share of the work it did):")
    floors = max(sum(pids.values()), 1)
    for pid in sorted(set(cpu_by_pid) | set(pids)):
        share = cpu_by_pid.get(pid, 0.0) / max(cpu, 1e-9)
        print(f"  pid {pid:>8d}: {pids.get(pid, 0):5d} floor answers ({pids.get(pid, 0) / floors:4.0%}), "
              f"CPU {cpu_by_pid.get(pid, 0.0):6.1f} s ({share:4.0%})")
    print(f"{'':34s}{'p50 ms':>8s}{'p95 ms':>8s}{'n':>6s}   target")
    for kind in ("api", "page", "floor"):
        target = f"p95 <= {TARGETS[kind] * 1000:.0f} ms" if kind in TARGETS else "baseline (no query)"
        print(f"{kind:34s}{ms(pct(by_kind[kind], 50))}{ms(pct(by_kind[kind], 95))}{len(by_kind[kind]):6d}   {target}")
    print("per URL (first answer, then under load):")
    print(f"{'':78s}{'first':>8s}{'p50':>8s}{'p95':>8s}")
    for kind, url in MIX:
        v = by_url.get(url, [])
        print(f"  {kind:5s} {url[:70]:70s}{ms(first[url])}{ms(pct(v, 50))}{ms(pct(v, 95))}")
    print(f"baseline: national month x method summary straight on DuckDB {direct * 1000:.0f} ms (median); "
          f"API p50 / that = {pct(by_kind['api'], 50) / direct:.1f}")
    print(f"CLI summary --aor {AOR} --from {FY_FROM} --to {FY_TO}: {cli['summary']:.2f} s (median of 3, fresh process); "
          f"baseline `icemonitor --help` {cli['help']:.2f} s, bare DuckDB count {cli['direct'] * 1000:.1f} ms; "
          f"ratio summary / --help {cli['summary'] / cli['help']:.2f}")
    checks = {
        f"API p95 <= {TARGETS['api'] * 1000:.0f} ms": pct(by_kind["api"], 95) <= TARGETS["api"],
        f"pages p95 <= {TARGETS['page'] * 1000:.0f} ms": pct(by_kind["page"], 95) <= TARGETS["page"],
        "zero errors": not errors,
        f"answers from more than one of {args.workers} workers": len(pids) > 1 or args.workers == 1,
        f"CLI summary one AOR-year <= {CLI_TARGET:.0f} s": cli["summary"] <= CLI_TARGET,
    }
    for name, ok in checks.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    print(json.dumps({"api_p95_ms": pct(by_kind["api"], 95) * 1000, "page_p95_ms": pct(by_kind["page"], 95) * 1000,
                      "floor_p95_ms": pct(by_kind["floor"], 95) * 1000, "cli_summary_s": cli["summary"],
                      "requests": done, "errors": len(errors), "floor_answers_by_pid": dict(pids),
                      "cpu_s_by_pid": {pid: round(c, 2) for pid, c in cpu_by_pid.items()},
                      "cpu_ms_per_request": cpu / max(queries, 1) * 1000,
                      "generator_cpu_s": round(own, 2), "generator_cpu_ms_per_request": own / max(done, 1) * 1000,
                      "connections": connects}))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
