"""Compare bench figures of two versions of icemonitor, run interleaved on the same machine at the same time.

Each version is a commit (checked out into a temporary detached worktree) or a folder that holds a checkout. Each
version runs with its own warehouse (--warehouse-a/--warehouse-b, else one built by that version's own code from
ICEMONITOR_MIRROR). The benches (bench_sweeps, bench_targeting, bench_web of the version under test) run in rounds,
A then B, then B then A the next round, so a slow spell of the machine hits both; each run's load average is kept.
Printed: per figure the median of A and of B, the ratio B/A, and a flag where B is more than --tolerance slower.
The benches' own baselines (naive loops, the direct DuckDB query) run the same code in both versions: their ratio
says how much of a difference is the machine.

    PYTHONPATH=src python bench/compare_commits.py ade4b81 HEAD --rounds 5
    python bench/compare_commits.py /work/wt-old /work/wt-new --warehouse-a A.duckdb --warehouse-b B.duckdb \
        --benches sweeps,targeting --rounds 5
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NUM = r"([0-9][0-9,]*\.?[0-9]*)"


def parse_sweeps(text: str) -> dict[str, float]:
    """bench_sweeps: per level, query, vectorised detection, ours in total and the naive loop (seconds)."""
    out = {}
    for m in re.finditer(rf"^(\w+)\s+places=.*?query {NUM}s\s+vectorised detect {NUM}s.*?naive pandas loop {NUM}s"
                         rf".*?total ours {NUM}s", text, re.M):
        level = m.group(1)
        out[f"sweeps {level} query s"] = _f(m.group(2))
        out[f"sweeps {level} detect s"] = _f(m.group(3))
        out[f"sweeps {level} ours total s"] = _f(m.group(5))
        out[f"sweeps {level} naive loop s (baseline)"] = _f(m.group(4))
    return out


def parse_targeting(text: str) -> dict[str, float]:
    """bench_targeting: per level, our full run and the naive panel (seconds)."""
    out = {}
    for m in re.finditer(rf"^(aor|county)\s*\|\s*{NUM} s .*?\|\s*{NUM} s \|", text, re.M):
        out[f"targeting {m.group(1)} ours s"] = _f(m.group(2))
        out[f"targeting {m.group(1)} naive s (baseline)"] = _f(m.group(3))
    return out


def parse_web(text: str) -> dict[str, float]:
    """bench_web: start and warm-up (s), p50/p95 of API and pages under load and cold (ms), RSS (MiB), baseline."""
    out = {}
    m = re.search(rf"server start: {NUM} s .*?warm-up done: {NUM} s .*?cold requests: {NUM} MiB .*?after load: {NUM} MiB",
                  text)
    if m:
        out.update({"web start s": _f(m.group(1)), "web warm-up s": _f(m.group(2)),
                    "web RSS after cold MiB": _f(m.group(3)), "web RSS after load MiB": _f(m.group(4))})
    for m in re.finditer(rf"^(api|page) \((load, cached|cold, first)\)\s+{NUM}\s+{NUM}\s+{NUM}", text, re.M):
        kind = m.group(2).split(",")[0]
        out[f"web {m.group(1)} {kind} p50 ms"] = _f(m.group(3))
        out[f"web {m.group(1)} {kind} p95 ms"] = _f(m.group(4))
    m = re.search(rf"direct DuckDB summary query .*? median {NUM} ms", text)
    if m:
        out["web direct DuckDB query ms (baseline)"] = _f(m.group(1))
    m = re.search(r"errors: (\d+)", text)
    if m:
        out["web errors"] = float(m.group(1))
    return out


# Our side of bench_targeting alone (the same call, AOR and county level), without its naive baseline, which
# runs the same code in both versions and takes minutes on a loaded machine.
TARGETING_OURS = """
import datetime as dt, sys, time, warnings
import duckdb
from icemonitor.analysis.targeting import targeting
warnings.simplefilter("ignore")
con = duckdb.connect(sys.argv[1], read_only=True)
for level in ("aor", "county"):
    t = time.perf_counter()
    res = targeting(con, definition="state-law", date_from=dt.date(2015, 10, 1), date_to=dt.date(2019, 9, 30),
                    level=level)
    print(f"{level} | {time.perf_counter() - t:.2f} s ({len(res.extra['places'])} places) | ours only", flush=True)
"""


def parse_targeting_ours(text: str) -> dict[str, float]:
    return {f"targeting {m.group(1)} ours s": _f(m.group(2))
            for m in re.finditer(rf"^(aor|county) \| {NUM} s ", text, re.M)}


BENCHES = {
    "sweeps": (["bench/bench_sweeps.py", "{warehouse}"], parse_sweeps),
    "targeting": (["bench/bench_targeting.py", "{warehouse}", "{data}"], parse_targeting),
    "targeting-ours": (["-c", TARGETING_OURS, "{warehouse}"], parse_targeting_ours),
    "web": (["bench/bench_web.py", "--warehouse", "{warehouse}"], parse_web),
}


def _f(text: str) -> float:
    return float(text.replace(",", ""))


def checkout(version: str, scratch: Path) -> tuple[Path, bool]:
    """The folder of `version`: itself when it is a folder, else a detached worktree of the commit (made here)."""
    if Path(version).is_dir():
        return Path(version).resolve(), False
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", version], check=True, text=True,
                         capture_output=True).stdout.strip()
    tree = scratch / f"tree-{sha}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), sha], check=True,
                   capture_output=True)
    return tree, True


def build(tree: Path, home: Path) -> Path:
    """A warehouse built by the version's own code (`icemonitor build` from ICEMONITOR_MIRROR)."""
    env = {**os.environ, "ICEMONITOR_HOME": str(home), "PYTHONPATH": str(tree / "src")}
    print(f"building {home / 'warehouse.duckdb'} with {tree} ...", flush=True)
    subprocess.run([sys.executable, "-m", "icemonitor", "build"], check=True, env=env, cwd=tree,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return home / "warehouse.duckdb"


def run_bench(name: str, tree: Path, warehouse: Path, data: Path, extra: list[str]) -> tuple[dict[str, float], str]:
    args, parse = BENCHES[name]
    cmd = [sys.executable, *(a if a.startswith("\n") else a.format(warehouse=warehouse, data=data) for a in args),
           *extra]
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "ICEMONITOR_HOME": str(warehouse.parent)}
    env.pop("ICEMONITOR_CACHE", None)
    done = subprocess.run(cmd, cwd=tree, env=env, text=True, capture_output=True)
    figures = parse(done.stdout)
    if not figures:
        print(f"  {name} in {tree}: no figures (exit {done.returncode})\n{done.stdout[-2000:]}{done.stderr[-2000:]}",
              flush=True)
    return figures, done.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", help="the version before (commit or folder)")
    ap.add_argument("b", help="the version after (commit or folder)")
    ap.add_argument("--warehouse-a")
    ap.add_argument("--warehouse-b")
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "data"), help="reference data (bench_targeting)")
    ap.add_argument("--benches", default="sweeps,targeting,web", help="of " + ", ".join(BENCHES))
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--web-args", default="", help="extra arguments of bench_web, e.g. '--requests 1000'")
    ap.add_argument("--tolerance", type=float, default=0.10, help="flag figures of B slower than A by more than this")
    ap.add_argument("--log", help="append every run's raw output to this file")
    args = ap.parse_args()
    benches = [b for b in args.benches.split(",") if b]
    scratch = Path(tempfile.mkdtemp(prefix="compare_commits_"))
    made: list[Path] = []
    try:
        trees, warehouses = {}, {}
        for key, version, given in (("A", args.a, args.warehouse_a), ("B", args.b, args.warehouse_b)):
            trees[key], new = checkout(version, scratch)
            if new:
                made.append(trees[key])
            warehouses[key] = Path(given) if given else build(trees[key], scratch / f"home-{key}")
            print(f"{key}: {version} -> {trees[key]} (warehouse {warehouses[key]})", flush=True)
        figures: dict[str, dict[str, list[float]]] = {"A": {}, "B": {}}
        loads: dict[str, list[float]] = {"A": [], "B": []}
        for r in range(args.rounds):
            order = ("A", "B") if r % 2 == 0 else ("B", "A")
            for bench in benches:
                for key in order:
                    load = os.getloadavg()[0]
                    t = time.perf_counter()
                    got, raw = run_bench(bench, trees[key], warehouses[key], Path(args.data),
                                         args.web_args.split() if bench == "web" else [])
                    loads[key].append(load)
                    for k, v in got.items():
                        figures[key].setdefault(k, []).append(v)
                    print(f"round {r + 1} {bench} {key}: {time.perf_counter() - t:.0f} s, load {load:.1f}", flush=True)
                    if args.log:
                        with open(args.log, "a") as f:
                            f.write(f"=== round {r + 1} {bench} {key} load {load:.2f}\n{raw}\n")
            if r + 1 < args.rounds:  # the figures so far, in case the run is cut short
                report(figures, loads, args.tolerance, f"after round {r + 1}")
        report(figures, loads, args.tolerance, f"{args.rounds} rounds")
    finally:
        for tree in made:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)  # the worktrees and the warehouses built here
    return 0


def report(figures: dict[str, dict[str, list[float]]], loads: dict[str, list[float]], tolerance: float,
           title: str) -> None:
    print(f"\n{title}: load average (1 min) at the start of the runs: A median {statistics.median(loads['A']):.1f} "
          f"(max {max(loads['A']):.1f}), B median {statistics.median(loads['B']):.1f} (max {max(loads['B']):.1f})")
    print(f"{'figure':44s}{'A median':>10s}{'B median':>10s}{'B/A':>7s}  n   spread A | B (min-max)")
    for name in sorted(set(figures["A"]) | set(figures["B"])):
        a, b = figures["A"].get(name, []), figures["B"].get(name, [])
        if not a or not b:
            print(f"{name:44s} missing in {'A' if not a else 'B'}")
            continue
        ma, mb = statistics.median(a), statistics.median(b)
        ratio = mb / ma if ma else float("nan")
        slower = "ms" in name or name.endswith(" s") or "MiB" in name
        flag = "  SLOWER" if slower and "baseline" not in name and ratio > 1 + tolerance else ""
        print(f"{name:44s}{ma:10.2f}{mb:10.2f}{ratio:7.2f}  {min(len(a), len(b))}   "
              f"{min(a):.2f}-{max(a):.2f} | {min(b):.2f}-{max(b):.2f}{flag}")


if __name__ == "__main__":
    sys.exit(main())
