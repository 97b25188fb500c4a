"""Bench: `icemonitor summary` for one AOR-year from the command line (issue #14: <= 1 s), as a user runs it: a fresh
process each time. Baseline in the same run, also a fresh process: bare Python that imports DuckDB, opens the
warehouse and counts the same rows (`python -c 'import duckdb; ... count(*)'`): what any CLI over this file pays.
Also timed: `icemonitor --help` (interpreter start, the CLI's imports and the registration of every command).
Runs are interleaved (baseline, help, summary, repeated), so a slow spell of the machine hits each; the load
average is printed with the figures. --src adds another checkout's src/ (e.g. main's) as a before-and-after.

    PYTHONPATH=src python bench/bench_cli.py [--warehouse PATH] [--repeats 5] [--src ../main/src]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AOR, FY_FROM, FY_TO = "LOS", "2017-10-01", "2018-09-30"
TARGET_S = 1.0
BASE_NAME = "baseline: python -c 'import duckdb; count'"
BASELINE = ("import sys, duckdb; con = duckdb.connect(sys.argv[1], read_only=True); "
            "print(con.execute(\"SELECT count(*) FROM arrests WHERE counted AND aor = ? AND event_date BETWEEN ? AND ?\", "
            f"[{AOR!r}, {FY_FROM!r}, {FY_TO!r}]).fetchone()[0])")


def home_of(warehouse: Path) -> Path:
    """An ICEMONITOR_HOME whose warehouse.duckdb is this file."""
    if warehouse.name == "warehouse.duckdb":
        return warehouse.parent
    home = Path(tempfile.mkdtemp(prefix="bench_cli_"))
    (home / "warehouse.duckdb").symlink_to(warehouse.resolve())
    return home


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of `cmd`. On a loaded machine the wall time is
    mostly waiting for a CPU; the CPU time is near what an idle machine's wall time would be."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warehouse", help="default: the configured warehouse (icemonitor build)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--src", action="append", default=[], help="another checkout's src/ to time the same way")
    args = ap.parse_args()
    if args.warehouse:
        warehouse = Path(args.warehouse)
    else:
        from icemonitor import config

        warehouse = config.warehouse_path()
    env = {k: v for k, v in os.environ.items() if k not in ("ICEMONITOR_INTAKE_KEY_FILE", "ICEMONITOR_CACHE")}
    env["ICEMONITOR_HOME"] = str(home_of(warehouse))
    trees = {"this": ROOT / "src", **{f"src={s}": Path(s).resolve() for s in args.src}}
    summary = ["-m", "icemonitor", "summary", "--aor", AOR, "--from", FY_FROM, "--to", FY_TO]
    runs: dict[str, list[tuple[float, float]]] = {}
    loads = []
    for _ in range(args.repeats):
        loads.append(os.getloadavg()[0])
        runs.setdefault(BASE_NAME, []).append(timed([sys.executable, "-c", BASELINE, str(warehouse)], env))
        for name, src in trees.items():
            tree_env = {**env, "PYTHONPATH": str(src)}
            runs.setdefault(f"{name}: icemonitor --help", []).append(
                timed([sys.executable, "-m", "icemonitor", "--help"], tree_env))
            runs.setdefault(f"{name}: icemonitor summary", []).append(timed([sys.executable, *summary], tree_env))
    base_wall = statistics.median(w for w, _ in runs[BASE_NAME])
    base_cpu = statistics.median(c for _, c in runs[BASE_NAME])
    print(f"warehouse {warehouse}; summary --aor {AOR} --from {FY_FROM} --to {FY_TO}; fresh process each run; "
          f"median of {args.repeats}")
    print(f"load average (1 min) during the runs: {min(loads):.2f}-{max(loads):.2f}; {os.cpu_count()} CPUs")
    print(f"{'':44s}{'wall s':>8s}{'min':>7s}{'/base':>7s}{'CPU s':>8s}{'min':>7s}{'/base':>7s}")
    for name, times in runs.items():
        wall, cpu = statistics.median(w for w, _ in times), statistics.median(c for _, c in times)
        print(f"{name:44s}{wall:8.3f}{min(w for w, _ in times):7.3f}{wall / base_wall:7.2f}"
              f"{cpu:8.3f}{min(c for _, c in times):7.3f}{cpu / base_cpu:7.2f}")
    ours = statistics.median(w for w, _ in runs["this: icemonitor summary"])
    print(f"  {'PASS' if ours <= TARGET_S else 'FAIL'}  summary for one AOR-year <= {TARGET_S:.0f} s (wall {ours:.2f} s"
          f"{'; the machine is loaded: see the CPU time' if min(loads) > (os.cpu_count() or 1) else ''})")
    return 0 if ours <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
