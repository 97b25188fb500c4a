"""Benchmark: a full warehouse build of everything under ../shared/data/ice against a plain pandas baseline.

Baseline: pandas doing the same reading: read_csv per delimited file and python-calamine into a DataFrame per
workbook sheet, concatenate per column layout, write Parquet. It does no validation, encoding or duplicate flagging.
Each side runs in its own process, timed wall-clock with its peak RSS. The build runs twice: cold (empty
parse cache) and warm (a rebuild: every file's parse taken from the cache keyed by its SHA-256 and the code
version, as after a refresh that brought no changed file). Targets (issue: warehouse): build <= 10 s, >= 2x faster than the
baseline, peak memory < 2 GiB.

A third process measures a lower bound for any build on this machine: DuckDB's own parallel CSV reader loading
the 11 nationwide pipe files (2.7M of the 3.0M rows) as text straight into a DuckDB file, while python-calamine
reads every workbook sheet in a second thread. It validates, encodes, hashes and places nothing, so no build that
does those things can be faster; baseline / lower bound is the best ratio reachable here.

Issue #14's target for the cold build is the in-memory build of 2026-11-28 (1bc938b: 9.46 s then). `--before SRC`
builds with another checkout's code (e.g. `git archive 1bc938b | tar -x -C /tmp/old`, then `--before /tmp/old/src`)
right after ours, cold, in the same run (that build made no coverage, count tables, recorded counties, facility
counties or build_info).
`--stages` prints our cold build's stages summed by kind.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

BUILD = r"""
import json, resource, sys, time
from pathlib import Path
from icemonitor import config
from icemonitor.catalog.fetch import fetch, reference_resolver
try:
    from icemonitor.places.build_step import place_stage
except ImportError:  # an older checkout (--before): the places stage lived in the warehouse package
    from icemonitor.warehouse.places_step import place_stage
from icemonitor.warehouse.build import build
from icemonitor.warehouse.sources import catalog_sources
home = Path(sys.argv[1]); shared = Path(sys.argv[2])
fetch(None, home=home, mirror=shared)          # copying from the mirror is not timed
sources = catalog_sources(home=home)
t = time.perf_counter(); c = time.process_time()
report = build(sources, config.warehouse_path(home), cache_dir=config.cache_dir(home),
               extra_tables=place_stage(reference_resolver(home)))
wall = time.perf_counter() - t
print(json.dumps({"wall": wall, "rows": sum(report.rows.values()), "files": len(sources),
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "cpu": time.process_time() - c, "stages": getattr(report, "stages", [])}))
"""

BASELINE = r"""
import json, resource, sys, time, csv, io, gzip
from pathlib import Path
import pandas as pd
shared = Path(sys.argv[2]) / "ice"; out = Path(sys.argv[1])
t = time.perf_counter(); c = time.process_time()
frames, rows = {}, 0
# pandas' calamine engine rejects the CAP workbook's row-only sheet dimensions: open it as our reader does
from icemonitor.readers._xlsx import open_workbook
for f in sorted(shared.rglob("*.xlsx")):  # the same workbooks the build reads, every sheet
    book = open_workbook(f, f.name)
    for name in book.sheet_names:
        df = pd.DataFrame(book.get_sheet_by_name(name).to_python()).astype(str)
        rows += len(df)
        df.columns = [str(c) for c in df.columns]
        frames.setdefault(("xlsx", f.name, name), []).append(df)
for f in sorted(shared.rglob("*.csv*")):
    opener = gzip.open if f.suffix == ".gz" else open
    with opener(f, "rt", encoding="utf-8", errors="replace") as fh:
        head = [next(fh, "") for _ in range(12)]
    skip = next((i for i, line in enumerate(head) if line.count("|") + line.count(",") >= 3
                 and not line.startswith('"ERO') and not line.startswith('"For Official')
                 and line.strip("|,\n") != ""), 0)
    sep = "|" if head[skip].count("|") > head[skip].count(",") else ","
    df = pd.read_csv(f, sep=sep, skiprows=skip, dtype=str, keep_default_na=False)
    rows += len(df)
    frames.setdefault(tuple(df.columns), []).append(df)
for i, (cols, dfs) in enumerate(frames.items()):
    pd.concat(dfs).to_parquet(out / f"part{i}.parquet")
wall = time.perf_counter() - t
print(json.dumps({"wall": wall, "rows": rows, "cpu": time.process_time() - c,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


FLOOR = r"""
import json, resource, sys, time, threading
from pathlib import Path
import duckdb
from icemonitor.readers._xlsx import open_workbook
shared = Path(sys.argv[2]) / "ice"; out = Path(sys.argv[1])
def workbooks():
    for f in sorted(shared.rglob("*.xlsx")):
        book = open_workbook(f, f.name)
        for name in book.sheet_names:
            book.get_sheet_by_name(name).to_python()
t = time.perf_counter(); c = time.process_time()
thread = threading.Thread(target=workbooks); thread.start()
con = duckdb.connect(str(out / "floor.duckdb")); con.execute("SET preserve_insertion_order = false")
rows = 0
for kind in ("EROArrests", "EROEncounters", "ICERemovals"):
    files = [str(f) for f in sorted(shared.rglob(kind + "_FY*.csv.gz"))]
    con.execute(f"CREATE TABLE {kind} AS SELECT * FROM read_csv(?, delim='|', skip=5, header=true, "
                "all_varchar=true, filename=true)", [files])
    rows += con.execute(f"SELECT count(*) FROM {kind}").fetchone()[0]
con.execute("CHECKPOINT"); con.close(); thread.join()
print(json.dumps({"wall": time.perf_counter() - t, "cpu": time.process_time() - c, "rows": rows,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def run(code: str, workdir: Path, src: Path = REPO / "src") -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, str(workdir), str(SHARED)],
        capture_output=True, text=True, env={"PYTHONPATH": str(src), "PATH": "/usr/bin:/bin"},
    )
    if proc.returncode:
        sys.exit(f"benchmark step failed:\n{proc.stderr[-3000:]}")
    return json.loads([line for line in proc.stdout.splitlines() if line.startswith("{")][-1])  # after any progress bar


def stage_lines(stages: list[dict]) -> list[str]:
    """A build's stages summed by kind (every file's parse, duplicates and insert each one line), in order."""
    kinds: dict[str, list[float]] = {}
    for s in stages:
        word = s["name"].split(" ", 1)[0]
        kind = word if word in ("parse", "insert", "duplicates") else s["name"]
        k = kinds.setdefault(kind, [0, 0.0, 0.0])
        k[0] += 1
        k[1] += s["wall"]
        k[2] += s["cpu"]
    return [f"  {kind[:60]:60s} {n:3d}x {wall:6.2f} s wall {cpu:6.2f} s CPU" for kind, (n, wall, cpu) in kinds.items()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", type=Path, action="append", default=[],
                    help="src folder of another checkout (e.g. an old commit's) whose cold build runs in the same run, "
                         "right after ours (repeatable)")
    ap.add_argument("--stages", action="store_true", help="print the cold build's stages (parses overlap inserts)")
    args = ap.parse_args()
    before = {}
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        cold = run(BUILD, Path(a))
        for src in args.before:
            with tempfile.TemporaryDirectory() as d:
                before[src] = run(BUILD, Path(d), src)
        base = run(BASELINE, Path(b))
        warm = run(BUILD, Path(a))
        with tempfile.TemporaryDirectory() as c:
            floor = run(FLOOR, Path(c))
    for label, ours in (("cold", cold), ("warm", warm)):
        print(f"icemonitor build ({label}): {ours['wall']:.2f} s wall, {ours['cpu']:.2f} s CPU, {ours['rows']:,} rows "
              f"from {ours['files']} files, peak RSS {ours['rss_mib']:.0f} MiB, "
              f"ratio {base['wall'] / ours['wall']:.2f}x wall, {base['cpu'] / ours['cpu']:.2f}x CPU")
    if args.stages:
        print("\n".join(["cold build's stages (the parse thread's CPU is the process's: it overlaps inserts):",
                         *stage_lines(cold["stages"])]))
    for src, other in before.items():
        print(f"--before {src} (cold): {other['wall']:.2f} s wall, {other['cpu']:.2f} s CPU, "
              f"{other['rows']:,} rows from {other['files']} files, peak RSS {other['rss_mib']:.0f} MiB; "
              f"ours / before {cold['wall'] / other['wall']:.2f}x wall, {cold['cpu'] / other['cpu']:.2f}x CPU")
    print(f"pandas baseline      : {base['wall']:.2f} s wall, {base['cpu']:.2f} s CPU, {base['rows']:,} rows, "
          f"peak RSS {base['rss_mib']:.0f} MiB")
    print(f"lower bound          : {floor['wall']:.2f} s wall, {floor['cpu']:.2f} s CPU, {floor['rows']:,} nationwide rows "
          f"loaded as text by DuckDB's reader + every workbook read by calamine, nothing validated; best reachable "
          f"ratio {base['wall'] / floor['wall']:.2f}x wall")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a loaded machine slows "
          "the multi-threaded build more than the single-threaded baseline)")
    print("targets: build <= 10 s, baseline/build >= 2, peak RSS < 2048 MiB")


if __name__ == "__main__":
    main()
