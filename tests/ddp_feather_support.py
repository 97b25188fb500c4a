"""Synthetic Feather files in the layout of DDP's `ice-detentions-2012-2023.feather` (column names of DDP's
code/detentions-2012-2023.R) of any size, written with pyarrow as DDP's R arrow writes them (IPC file, lz4 or zstd
buffers, batches of `batch_rows` rows), and the peak memory of reading one in a fresh process (Linux /proc)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.feather as feather

# code/detentions-2012-2023.R col_types, janitor names
DETENTIONS = ["detention_id", "case_id", "subject_id", "stay_book_in_date", "detention_book_in_date", "detention_facility",
              "detention_facility_code", "detention_book_out_date", "detention_release_reason", "stay_book_out_date",
              "stay_release_reason", "religion", "marital", "gender", "birth_date", "ethnicity", "alien_file_number",
              "birth_year", "entry_status", "bond_posted_date", "bond_posted_amount", "initial_bond_set_amount",
              "case_status", "case_category", "final_order_yes_no", "final_order_date", "departed_date",
              "departure_country", "case_threat_level", "charge", "charge_code", "charge_section_code",
              "anonymized_identifier", "file", "sheet", "row"]
NAME = "ice-detentions-2012-2023.feather"


def detentions_frame(rows: int) -> pl.DataFrame:
    """`rows` stints, computed (not random): dates from Oct 2011, 400 facilities, 40-character person identifiers."""
    i = pl.int_range(0, rows, dtype=pl.Int64)
    start = pl.lit(dt.date(2011, 10, 1)) + pl.duration(days=i % 4000)
    filled = {
        "stay_book_in_date": start, "detention_book_in_date": start,
        "detention_book_out_date": start + pl.duration(days=i % 90 + 1),
        "stay_book_out_date": start + pl.duration(days=i % 90 + 1),
        "detention_facility": pl.format("DETENTION FACILITY NUMBER {}", i % 400),
        "detention_facility_code": pl.format("FAC{}", i % 400),
        "detention_release_reason": pl.when(i % 3 == 0).then(pl.lit("Removed")).otherwise(pl.lit("Transferred")),
        "stay_release_reason": pl.lit("Removed"), "gender": pl.when(i % 5 == 0).then(pl.lit("Female")).otherwise(pl.lit("Male")),
        "departure_country": pl.lit("MEXICO"), "case_status": pl.lit("8-Excluded/Removed - Inadmissibility"),
        "charge": pl.lit("IMMIGRANT WITHOUT AN IMMIGRANT VISA"),
        "anonymized_identifier": pl.format("{}{}", (i // 2).hash(1).cast(pl.String).str.pad_start(20, "0"),
                                           (i // 2).hash(2).cast(pl.String).str.pad_start(20, "0")),
        "file": pl.lit("ICE Detentions_FY2015.xlsx"), "sheet": pl.lit("Sheet1"), "row": (i + 7).cast(pl.Int32),
    }
    base = pl.select(i.alias("__i"))
    return base.select([filled.get(c, pl.lit(None, dtype=pl.String)).alias(c) for c in DETENTIONS])


def write_detentions(path: Path, rows: int, *, batch_rows: int, compression: str | None) -> Path:
    """Write the frame as a Feather (Arrow IPC) file: `compression` lz4 / zstd / None, one batch per `batch_rows`."""
    feather.write_feather(detentions_frame(rows).to_arrow(), str(path), compression=compression or "uncompressed",
                          chunksize=batch_rows)
    return path


_MEASURE = r"""
import json, sys, threading, time
from pathlib import Path
from icemonitor.readers import SourceFile, read, read_chunks

def anon():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) * 1024

peak, done = [0], threading.Event()
def sample():
    while not done.is_set():
        peak[0] = max(peak[0], anon())
        time.sleep(0.002)

path, mode, rows = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
src = SourceFile(path, path.name, "ddp-ice-2012-2023", "ddp_ice", {"table": "detention_stints"})
base = anon()
sampler = threading.Thread(target=sample)
sampler.start()
n = 0
if mode == "whole":
    frame = read(src)["detention_stints"]
    n = frame.height
    peak[0] = max(peak[0], anon())
else:
    for chunk in read_chunks(src, rows):
        n += chunk["detention_stints"].height
done.set()
sampler.join()
print(json.dumps({"rows": n, "peak_bytes": peak[0] - base}))
"""


def peak_read_bytes(path: Path, mode: str, rows: int = 100_000, pythonpath: str | None = None) -> dict:
    """Read `path` in a fresh process, whole (`mode` 'whole') or in chunks of `rows`; returns rows read and the growth
    of the process's anonymous resident memory (RssAnon, sampled every 2 ms) during the read: the memory-mapped
    file's pages are page cache, not counted."""
    env = dict(os.environ, PYTHONPATH=pythonpath or os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", _MEASURE, str(path), mode, str(rows)], env=env, check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
