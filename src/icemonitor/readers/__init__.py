"""Readers: one module per release format, each turning one raw file into canonical rows.

A reader takes a :class:`SourceFile` and returns ``{table name: polars.DataFrame}``. Each frame holds exactly
the columns of that canonical table (``warehouse/schema.yaml``) marked ``from: reader``, in schema order
(``source_file``, ``source_sheet``, ``source_row`` ... ), typed, NULL where the format has no such field. Strings are kept exactly as written; empty fields are NULL (never "").
See docs/readers.md for every format, its quirks and where each canonical column comes from.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from icemonitor.errors import InputError


@dataclass(frozen=True)
class SourceFile:
    """One raw file to read, as the catalog describes it."""

    path: Path  # local file (raw archive or mirror)
    name: str  # original file name -> goes into source_file
    release_id: str
    reader: str  # reader name (key of READERS)
    options: Mapping[str, Any] = field(default_factory=dict)  # reader options from the catalog


Reader = Callable[[SourceFile], dict[str, pl.DataFrame]]


def _readers() -> dict[str, Reader]:
    from icemonitor.readers import (
        ddp_bln_arrests,
        ddp_detainers,
        ddp_facility_population,
        ddp_ice,
        ddp_joined,
        detention_bond,  # noqa: F401 - registers its sheet layout with detention_stats
        detention_iclos,  # noqa: F401 - registers its sheet layout with detention_stats
        detention_stats,
        i213,
        lesa_nationwide,
        seattle_aor,
        seattle_cap,
    )

    return {
        "lesa_nationwide": lesa_nationwide.read,
        "seattle_aor_csv": seattle_aor.read_csv,
        "seattle_aor_xlsx": seattle_aor.read_xlsx,
        "seattle_cap_csv": seattle_cap.read_csv,
        "seattle_cap_xlsx": seattle_cap.read_xlsx,
        "i213_csv": i213.read_csv,
        "i213_xlsx": i213.read_xlsx,
        "ddp_bln_arrests": ddp_bln_arrests.read,
        "ddp_joined": ddp_joined.read,
        "ddp_detainers": ddp_detainers.read,
        "ddp_ice": ddp_ice.read,
        "detention_stats": detention_stats.read,
        "ddp_facility_population": ddp_facility_population.read,
    }


READERS: dict[str, Reader] = _readers()


def _chunk_readers() -> dict[str, Callable[[SourceFile, int], Iterator[dict[str, pl.DataFrame]]]]:
    from icemonitor.readers import ddp_ice, lesa_nationwide, seattle_aor, seattle_cap

    return {
        "ddp_ice": ddp_ice.read_chunks,
        "lesa_nationwide": lesa_nationwide.read_chunks,
        "seattle_aor_csv": seattle_aor.read_csv_chunks,
        "seattle_cap_csv": seattle_cap.read_csv_chunks,
    }


# Readers that yield a large file in bounded chunks (the others read their file whole: small files).
CHUNK_READERS = _chunk_readers()


def read(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read one raw file with the reader the catalog names; returns table name -> frame."""
    try:
        reader = READERS[source.reader]
    except KeyError:
        raise InputError(
            f"unknown reader {source.reader!r} (known: {', '.join(sorted(READERS))})", file=source.name
        ) from None
    return reader(source)


def read_chunks(source: SourceFile, rows: int) -> Iterator[dict[str, pl.DataFrame]]:
    """Read one raw file in chunks of at most `rows` records where its reader can (see CHUNK_READERS), else
    whole: yields table name -> frame, `source_row` counting through the whole file."""
    if source.reader in CHUNK_READERS:
        yield from CHUNK_READERS[source.reader](source, rows)
    else:
        yield read(source)


__all__ = ["CHUNK_READERS", "READERS", "Reader", "SourceFile", "read", "read_chunks"]
