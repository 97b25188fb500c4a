"""Benchmark: peak memory of reading a large DDP Feather file (the 1.1 GB `ice-detentions-2012-2023.feather` layout)
in the build's chunks against a whole read, in the same run.

A synthetic file in DDP's column names (tests/ddp_feather_support.py) is written twice: as DDP's R writer makes it
(lz4, 65,536-row batches) and as one zstd batch. Each read runs in a fresh process; the figure is the growth of its
anonymous resident memory (RssAnon, sampled every 2 ms; the memory-mapped file's pages are page cache, not counted).
Baseline: `readers.read` (the whole file as one frame). Ours: `readers.read_chunks` with the build's CHUNK_ROWS.
`--before PATH` also measures the chunked read of another checkout's src (e.g. main's) for a before/after figure.
Usage: python bench/bench_feather.py [--rows N] [--before /work/main/src]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests"), str(REPO / "src")]

from ddp_feather_support import NAME, peak_read_bytes, write_detentions  # noqa: E402

from icemonitor.warehouse.build import CHUNK_ROWS  # noqa: E402

MIB = 1 << 20


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--before", help="src folder of another checkout whose chunked read to measure too")
    args = ap.parse_args()
    src = str(REPO / "src")
    with tempfile.TemporaryDirectory() as tmp:
        for label, batch_rows, compression in (("R batches, lz4", 65_536, "lz4"), ("one batch, zstd", args.rows, "zstd")):
            path = write_detentions(Path(tmp) / NAME, args.rows, batch_rows=batch_rows, compression=compression)
            whole = peak_read_bytes(path, "whole", CHUNK_ROWS, pythonpath=src)
            ours = peak_read_bytes(path, "chunks", CHUNK_ROWS, pythonpath=src)
            line = (f"{label}: {args.rows:,} rows, {path.stat().st_size / MIB:.0f} MiB file; peak memory growth: "
                    f"whole read {whole['peak_bytes'] / MIB:.0f} MiB, chunks of {CHUNK_ROWS:,} "
                    f"{ours['peak_bytes'] / MIB:.0f} MiB (ratio {ours['peak_bytes'] / whole['peak_bytes']:.2f})")
            if args.before:
                before = peak_read_bytes(path, "chunks", CHUNK_ROWS, pythonpath=args.before)
                line += f"; before ({args.before}) {before['peak_bytes'] / MIB:.0f} MiB"
            assert whole["rows"] == ours["rows"] == args.rows
            print(line, flush=True)
            path.unlink()


if __name__ == "__main__":
    main()
