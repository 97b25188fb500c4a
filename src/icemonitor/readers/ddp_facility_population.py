"""Deportation Data Project's people held per ICE facility per day (Parquet): one row per facility and day."""

from __future__ import annotations

import polars as pl

from icemonitor.errors import InputError
from icemonitor.readers import SourceFile

COLUMNS = {
    "detention_facility_code": pl.String, "detention_facility": pl.String, "date": pl.Date,
    "n_detained": pl.Int32, "n_detained_at_midnight": pl.Int32, "n_detained_male": pl.Int32,
    "n_detained_female": pl.Int32, "n_detained_convicted_criminal": pl.Int32, "n_detained_possibly_under_18": pl.Int32,
}


def read(source: SourceFile) -> dict[str, pl.DataFrame]:
    """The file's columns as written (counts typed as integers), with the source file and Parquet row."""
    try:
        df = pl.read_parquet(source.path)
    except Exception as exc:  # polars raises several error types for a file that is not Parquet
        raise InputError(f"not a readable Parquet file: {exc}", file=source.name) from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(f"column(s) missing or renamed: {', '.join(missing)}", file=source.name, field=missing[0])
    return {
        "detention_facility_days": df.select(
            pl.lit(source.name).alias("source_file"),
            (pl.int_range(pl.len(), dtype=pl.Int32) + 1).alias("source_row"),
            *[pl.col(c).cast(t, strict=True) for c, t in COLUMNS.items()],
        )
    }
