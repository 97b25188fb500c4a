"""Benchmark: the readers over every event-level file under ../shared/data/ice against a pandas baseline.

Ours: icemonitor.readers.read for each file (delimited and workbooks), timed wall-clock in its own process;
also the delimited files alone, for a like-for-like ratio. Baseline: pandas.read_csv (SOURCE.md recipe:
dtype=str, keep_default_na=False, skiprows per format) of the same delimited files, concatenated per table and
written to Parquet. Each side runs 3 times, alternating; the fastest run of each counts.
Target (issue "Warehouse"): readers >= 2x faster than the baseline on the same files.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

FILES = r"""
from pathlib import Path
ice = Path(sys.argv[1]) / "ice"
sea = ice / "uwchr-seattle-aor-fy12-19"
TEXT = ([(p, "lesa_nationwide", "|", 5) for p in sorted((ice / "uwchr-ice-enforce-fy16-19").glob("*.csv.gz"))]
        + [(p, "seattle_cap_csv" if p.name.startswith("CAP-") else "seattle_aor_csv", "|",
            5 if p.name.startswith("CAP-") else 6) for p in sorted(sea.glob("*.csv.gz"))]
        + [(ice / "uwchr-i213-sea-22-25" / "sea-i213s-2026-02-13.csv.gz", "i213_csv", "|", 0),
           (ice / "bln-la-aor-arrests" / "la_arrests_2025-06-01_10_transcribed.csv", "ddp_bln_arrests", ",", 0),
           (ice / "uwchr-ddp-wa-joined" / "joined_df_wa.csv", "ddp_joined", ",", 0),
           (ice / "mn-ddp-extracts" / "st_cloud_denied.csv", "ddp_detainers", ",", 0)])
BOOKS = [(sea / "redacted UW v. DHS - ICE Productions_LESA-STU_FINAL.xlsx", "seattle_aor_xlsx"),
         (next(sea.glob("3_25_19*.xlsx")), "seattle_cap_xlsx"),
         (ice / "uwchr-i213-sea-22-25" / "sea-i213s-2026-02-13-geocoded.xlsx", "i213_xlsx")]
"""

OURS = r"""
import json, logging, resource, sys, time
logging.disable(logging.WARNING)
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
""" + FILES + r"""
from icemonitor.readers import SourceFile, read
def run(items):
    rows = 0
    for path, reader, *_ in items:
        rows += sum(f.height for f in read(SourceFile(path, path.name, "bench", reader)).values())
    return rows
c = cpu(); t = time.perf_counter(); text_rows = run(TEXT); text_wall = time.perf_counter() - t; text_cpu = cpu() - c
t = time.perf_counter(); book_rows = run(BOOKS); book_wall = time.perf_counter() - t
print(json.dumps({"text_wall": text_wall, "text_cpu": text_cpu, "text_rows": text_rows, "book_wall": book_wall,
                  "book_rows": book_rows}))
"""

BASELINE = r"""
import json, resource, sys, tempfile, time
import pandas as pd
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF); return r.ru_utime + r.ru_stime
""" + FILES + r"""
c = cpu(); t = time.perf_counter()
frames, rows = {}, 0
for path, reader, sep, skip in TEXT:
    df = pd.read_csv(path, sep=sep, skiprows=skip, dtype=str, keep_default_na=False)
    rows += len(df)
    frames.setdefault(tuple(df.columns), []).append(df)
with tempfile.TemporaryDirectory() as out:
    for i, dfs in enumerate(frames.values()):
        pd.concat(dfs).to_parquet(f"{out}/part{i}.parquet")
print(json.dumps({"text_wall": time.perf_counter() - t, "text_cpu": cpu() - c, "text_rows": rows}))
"""


def run(code: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", code, str(SHARED)],
        capture_output=True, text=True, check=True, env={"PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"},
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(repeats: int = 3) -> None:
    """Alternate the two sides ``repeats`` times and keep each side's fastest run (the machine is shared)."""
    runs = [(run(OURS), run(BASELINE)) for _ in range(repeats)]
    ours = min((o for o, _ in runs), key=lambda r: r["text_wall"])
    base = min((b for _, b in runs), key=lambda r: r["text_wall"])
    print(f"readers, delimited files : {ours['text_wall']:.2f} s wall ({ours['text_cpu']:.2f} s CPU), "
          f"{ours['text_rows']:,} canonical rows")
    print(f"readers, workbooks       : {ours['book_wall']:.2f} s, {ours['book_rows']:,} canonical rows")
    print(f"pandas baseline (same delimited files, read+concat+parquet): {base['text_wall']:.2f} s wall "
          f"({base['text_cpu']:.2f} s CPU), {base['text_rows']:,} raw rows")
    print(f"ratio (baseline / readers, delimited files): {base['text_wall'] / ours['text_wall']:.2f}x wall, "
          f"{base['text_cpu'] / ours['text_cpu']:.2f}x CPU   target >= 2")


if __name__ == "__main__":
    main()
