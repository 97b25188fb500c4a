"""DDP's Feather files read in bounded chunks: the same rows as a whole read, in several batches or one huge batch
(lz4, zstd or uncompressed), and a peak memory that stays flat as the file grows while a whole read's grows."""

from __future__ import annotations

import polars as pl
import pytest

from icemonitor.readers import SourceFile, read, read_chunks

from ddp_feather_support import NAME, peak_read_bytes, write_detentions

MIB = 1 << 20


def _source(path) -> SourceFile:
    return SourceFile(path, path.name, "ddp-ice-2012-2023", "ddp_ice", {"table": "detention_stints"})


@pytest.mark.parametrize("batch_rows,compression", [(700, "lz4"), (5_000, "zstd"), (5_000, None), (1_500, None)],
                         ids=["batches-lz4", "one-batch-zstd", "one-batch-plain", "batches-plain"])
def test_chunks_give_the_rows_of_a_whole_read(tmp_path, batch_rows, compression):
    path = write_detentions(tmp_path / NAME, 5_000, batch_rows=batch_rows, compression=compression)
    whole = read(_source(path))["detention_stints"]
    chunks = [c["detention_stints"] for c in read_chunks(_source(path), 1_000)]
    assert len(chunks) >= 5 and max(c.height for c in chunks) <= 1_000
    joined = pl.concat(chunks)
    assert joined.height == whole.height == 5_000
    assert joined["source_row"].to_list() == list(range(1, 5_001))  # the file's rows, in order, across batches
    assert joined.equals(whole)
    assert joined["facility_code"].n_unique() == 400 and joined["book_in_at"].null_count() == 0


@pytest.mark.parametrize("compression,batch_rows", [("lz4", 65_536), (None, None)], ids=["R-batches-lz4", "one-batch-plain"])
def test_peak_memory_stays_flat_as_the_file_grows(tmp_path, compression, batch_rows):
    """Peak anonymous memory while reading (a fresh process each time): a whole read grows with the file, a chunked
    read (20,000 rows) does not; DDP's R writer makes 65,536-row batches, the other file is one uncompressed batch."""
    peaks = {}
    for rows in (100_000, 600_000):
        path = write_detentions(tmp_path / f"{rows}-{NAME}", rows, batch_rows=batch_rows or rows, compression=compression)
        peaks[rows] = {mode: peak_read_bytes(path, mode, 20_000) for mode in ("whole", "chunks")}
        assert {p["rows"] for p in peaks[rows].values()} == {rows}
    small, big = ({m: p["peak_bytes"] for m, p in peaks[r].items()} for r in (100_000, 600_000))
    assert big["whole"] > small["whole"] + 120 * MIB, peaks  # a whole read of 6x the rows takes much more
    assert big["chunks"] < small["chunks"] + 60 * MIB, peaks  # chunked: bounded, whatever the file's size
    assert big["chunks"] < big["whole"] / 1.5, peaks
