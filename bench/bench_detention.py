"""Benchmark: the detention-statistics reader over all 155 postings against plain python-calamine.

Ours: icemonitor.readers.read (reader detention_stats) for every posting under
../shared/data/ice/ice-detention-stats: every table found by title, every number with its cell, labels, stated
date, facility rows. Baseline: python-calamine opening the same files and reading every sheet into Python lists
(to_python), nothing else. Each side runs in its own process, three times, alternating; the fastest run counts.
Targets (issue #13): ours <= 30 s, and at most 3x the baseline in the same run.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STATS = REPO.parent / "shared" / "data" / "ice" / "ice-detention-stats"

OURS = r"""
import json, sys, time
from pathlib import Path
from icemonitor.readers import SourceFile, read
files = sorted(Path(sys.argv[1]).rglob("*.xlsx"))
t = time.perf_counter()
n = sum(read(SourceFile(p, p.name, "bench", "detention_stats"))["detention_values"].height for p in files)
print(json.dumps({"seconds": time.perf_counter() - t, "files": len(files), "values": n}))
"""

BASELINE = r"""
import json, sys, time
from pathlib import Path
from python_calamine import CalamineWorkbook
files = sorted(Path(sys.argv[1]).rglob("*.xlsx"))
t = time.perf_counter()
cells = 0
for p in files:
    wb = CalamineWorkbook.from_path(str(p))
    for name in wb.sheet_names:
        cells += sum(len(r) for r in wb.get_sheet_by_name(name).to_python(skip_empty_area=False))
print(json.dumps({"seconds": time.perf_counter() - t, "files": len(files), "cells": cells}))
"""


def _run(code: str) -> dict:
    env = {"PYTHONPATH": str(REPO / "src")}
    out = subprocess.run([sys.executable, "-c", code, str(STATS)], capture_output=True, text=True, check=True,
                         env={**__import__("os").environ, **env})
    return json.loads(out.stdout)


def main() -> None:
    ours, base = [], []
    for _ in range(3):
        ours.append(_run(OURS))
        base.append(_run(BASELINE))
    o = min(ours, key=lambda r: r["seconds"])
    b = min(base, key=lambda r: r["seconds"])
    ratio = o["seconds"] / b["seconds"]
    print(f"detention reader: {o['files']} postings, {o['values']:,} values in {o['seconds']:.1f} s (target <= 30 s)")
    print(f"baseline (python-calamine, every sheet): {b['cells']:,} cells in {b['seconds']:.1f} s")
    print(f"ratio ours / baseline: {ratio:.2f} (target <= 3)")
    print("PASS" if o["seconds"] <= 30 and ratio <= 3 else "FAIL")


if __name__ == "__main__":
    main()
