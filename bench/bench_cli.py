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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AOR, FY_FROM, FY_TO = "LOS", "2017-10-01", "2018-09-30"
TARGET_S = 1.0
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


def timed(cmd: list[str], env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


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
    runs: dict[str, list[float]] = {}
    loads = []
    for _ in range(args.repeats):
        loads.append(os.getloadavg()[0])
        runs.setdefault("baseline: python -c 'import duckdb; count'", []).append(
            timed([sys.executable, "-c", BASELINE, str(warehouse)], env))
        for name, src in trees.items():
            tree_env = {**env, "PYTHONPATH": str(src)}
            runs.setdefault(f"{name}: icemonitor --help", []).append(
                timed([sys.executable, "-m", "icemonitor", "--help"], tree_env))
            runs.setdefault(f"{name}: icemonitor summary", []).append(timed([sys.executable, *summary], tree_env))
    base = statistics.median(runs["baseline: python -c 'import duckdb; count'"])
    print(f"warehouse {warehouse}; summary --aor {AOR} --from {FY_FROM} --to {FY_TO}; fresh process each run; "
          f"median of {args.repeats}")
    print(f"load average (1 min) during the runs: {min(loads):.2f}-{max(loads):.2f}; {os.cpu_count()} CPUs")
    print(f"{'':44s}{'median s':>9s}{'min s':>8s}{'ratio to baseline':>19s}")
    for name, times in runs.items():
        med = statistics.median(times)
        print(f"{name:44s}{med:9.3f}{min(times):8.3f}{med / base:19.2f}")
    ours = statistics.median(runs["this: icemonitor summary"])
    print(f"  {'PASS' if ours <= TARGET_S else 'FAIL'}  summary for one AOR-year <= {TARGET_S:.0f} s ({ours:.2f} s)")
    return 0 if ours <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
