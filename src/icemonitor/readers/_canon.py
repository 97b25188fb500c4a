"""Turn raw source columns into a canonical frame: pick, rename, parse dates, add provenance.

Generic helpers only; each format module says which source column feeds which canonical column.
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import polars as pl

from icemonitor.errors import InputError
from icemonitor.readers._text import SOURCE_ROW
from icemonitor.schema import tables

if TYPE_CHECKING:
    from icemonitor.readers import SourceFile

log = logging.getLogger(__name__)

US_DATE = "%m/%d/%Y"  # M/D/YYYY, padding optional (LESA exports)
ISO_DATE = "%Y-%m-%d"
# Hidden column: a 64-bit hash of the whole source record as read (not stored in the warehouse).
RECORD_HASH = "_record_hash"
# A parseable date outside this range is a placeholder (0001-01-01, 0999-07-02), not a real date.
PLAUSIBLE_FROM = date(1900, 1, 1)
PLAUSIBLE_TO = date(2100, 1, 1)


@cache
def reader_columns() -> dict[str, dict[str, str]]:
    """table -> {column: DuckDB type} for columns a reader supplies (schema.yaml ``from: reader``)."""
    return {name: {c.name: c.type for c in t.columns if c.source == "reader"} for name, t in tables().items()}


def _polars_type(duck: str) -> pl.DataType:
    return {"DATE": pl.Date(), "INTEGER": pl.Int32(), "BOOLEAN": pl.Boolean(), "TIMESTAMP": pl.Datetime("us")}.get(
        duck, pl.String()
    )


@dataclass(frozen=True)
class TableMap:
    """How one format fills one canonical table."""

    table: str
    text: Mapping[str, str | pl.Expr] = field(default_factory=dict)  # canonical -> source column or expression
    dates: Mapping[str, str] = field(default_factory=dict)  # canonical date column -> source column
    constants: Mapping[str, Any] = field(default_factory=dict)  # canonical -> constant value
    date_formats: Sequence[str] = (US_DATE,)


def _parse(values: pl.Series, formats: Sequence[str]) -> pl.Series:
    parsed = values.str.strptime(pl.Date, formats[0], strict=False)
    for fmt in formats[1:]:
        if not (values.is_not_null() & parsed.is_null()).any():
            break
        parsed = pl.select(pl.coalesce(parsed, values.str.strptime(pl.Date, fmt, strict=False))).to_series()
    return parsed


def parse_date_column(
    frame: pl.DataFrame, source_col: str, formats: Sequence[str], file: str, *, strict_range: bool
) -> pl.Series:
    """Parse one raw date column to pl.Date.

    A non-empty value no format parses raises InputError (file, physical row, field, value). A parsed date
    outside 1900-2100 raises too when ``strict_range`` (the event date); otherwise it becomes NULL and is
    logged (placeholders such as 0001-01-01 in secondary dates).
    """
    raw = frame.get_column(source_col)
    if raw.dtype.is_temporal():  # typed already (a processed file's dates): only the range is checked
        return _in_range(raw.cast(pl.Date), raw, source_col, file, frame, strict_range=strict_range)
    parsed = _parse(raw, formats)
    bad = raw.is_not_null() & parsed.is_null()
    if bad.any():  # second chance: surrounding spaces, a time suffix (T00:00:00Z)
        cleaned = raw.str.strip_chars().str.replace(r"T\d{2}:\d{2}:\d{2}(\.\d+)?Z?$", "")
        parsed = pl.select(pl.coalesce(parsed, _parse(cleaned, formats))).to_series()
        bad = raw.is_not_null() & parsed.is_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise InputError(
            "unparseable date",
            file=file,
            row=int(frame.get_column(SOURCE_ROW)[i]),
            field=source_col,
            value=raw[i],
        )
    return _in_range(parsed, raw, source_col, file, frame, strict_range=strict_range)


def _shown(raw: pl.Series, i: int) -> str | None:
    """Row i's value as its file's reader showed it (a typed date-time as text, for messages only)."""
    if isinstance(raw.dtype, pl.Datetime):
        return raw[i : i + 1].dt.strftime("%Y-%m-%d %H:%M:%S")[0]
    return raw[i : i + 1].cast(pl.String)[0]


def _in_range(parsed: pl.Series, raw: pl.Series, source_col: str, file: str, frame: pl.DataFrame, *,
              strict_range: bool) -> pl.Series:
    """Dates outside 1900-2100: an error for the event date (`strict_range`), else NULL and logged."""
    out_of_range = parsed.is_not_null() & ((parsed < PLAUSIBLE_FROM) | (parsed >= PLAUSIBLE_TO))
    if out_of_range.any():
        i = int(out_of_range.arg_true()[0])
        if strict_range:
            raise InputError(
                "implausible event date (outside 1900-2099)",
                file=file,
                row=int(frame.get_column(SOURCE_ROW)[i]),
                field=source_col,
                value=_shown(raw, i),
            )
        log.warning(
            "%s: %d placeholder date(s) in %r set to NULL (first at source_row %s: %r)",
            file,
            int(out_of_range.sum()),
            source_col,
            frame.get_column(SOURCE_ROW)[i],
            _shown(raw, i),
        )
        parsed = pl.select(pl.when(out_of_range).then(None).otherwise(parsed)).to_series()
    return parsed


def canonical(
    frame: pl.DataFrame, source: SourceFile, mapping: TableMap, *, sheet: str | None = None
) -> pl.DataFrame:
    """Build the canonical frame for ``mapping.table`` from raw source columns (see TableMap)."""
    return next(canonical_chunks(frame, source, mapping, None, sheet=sheet))


def canonical_chunks(
    frame: pl.DataFrame, source: SourceFile, mapping: TableMap, rows: int | None, *, sheet: str | None = None
) -> Iterator[pl.DataFrame]:
    """`canonical` in chunks of at most `rows` records (None: one chunk), so a large file's canonical and encoded
    columns are in memory a chunk at a time; the dates are checked over the whole frame first (a bad one stops
    before any chunk, the placeholders are logged once per file). Text mappings are per row (no aggregations)."""
    allowed = reader_columns()[mapping.table]
    record = [c for c in frame.columns if c != SOURCE_ROW and not c.startswith("__")]
    exprs: list[pl.Expr] = [
        pl.lit(source.name, dtype=pl.String).alias("source_file"),
        pl.lit(sheet, dtype=pl.String).alias("source_sheet"),
        pl.col(SOURCE_ROW).cast(pl.Int32).alias("source_row"),
    ]
    for col, src in mapping.text.items():
        expr = pl.col(src) if isinstance(src, str) else src
        exprs.append(expr.cast(pl.String).alias(col))
    for col, value in mapping.constants.items():
        exprs.append(pl.lit(value, dtype=_polars_type(allowed[col])).alias(col))
    dates: dict[str, pl.Series] = {}
    for col, src in sorted(mapping.dates.items(), key=lambda kv: kv[0] != "event_date"):  # event date first
        same = next((dates[c] for c, s in mapping.dates.items() if s == src and c in dates), None)
        dates[col] = same if same is not None else parse_date_column(
            frame, src, mapping.date_formats, source.name, strict_range=(col == "event_date")
        )
    frame = frame.with_columns(series.alias(f"__date_{col}") for col, series in dates.items())
    exprs.extend(pl.col(f"__date_{col}").alias(col) for col in dates)
    # a hash of every source field read (all but always-redacted ones), for the build's duplicate flags
    exprs.append(pl.struct(record).hash(seed=0).alias(RECORD_HASH))
    names = [e.meta.output_name() for e in exprs]
    if len(set(names)) != len(names):  # a programming error in a format module
        raise ValueError(f"a column of schema table {mapping.table} mapped twice: {sorted(names)}")
    unknown = [c for c in names if c not in allowed and c != RECORD_HASH]
    if unknown:  # a programming error in a format module, not bad input
        raise ValueError(f"columns not in schema table {mapping.table}: {unknown}")
    # every reader column of the table, in schema order (NULL where this format has none), so frames of
    # different formats concatenate directly
    by_name = dict(zip(names, exprs, strict=True))
    ordered = [by_name[c] if c in by_name else pl.lit(None, dtype=_polars_type(t)).alias(c) for c, t in allowed.items()]
    ordered.append(by_name[RECORD_HASH])
    step = rows or max(frame.height, 1)
    for start in range(0, max(frame.height, 1), step):
        yield frame.slice(start, step).select(ordered)


def read_pipe_export(
    source: SourceFile, headers: Mapping[str, Any], mappings: Mapping[str, TableMap], reader: str
) -> dict[str, pl.DataFrame]:
    """A pipe-delimited LESA export holding one table: the table from the catalog option ``table`` or, without
    it, from whichever header matches -> {table: frame}."""
    return next(read_pipe_export_chunks(source, headers, mappings, reader, None))


def read_pipe_export_chunks(
    source: SourceFile, headers: Mapping[str, Any], mappings: Mapping[str, TableMap], reader: str, rows: int | None
) -> Iterator[dict[str, pl.DataFrame]]:
    """`read_pipe_export` in canonical chunks of at most `rows` records; the raw text is read and checked whole
    (EROEncounters_FY2017 parsed alone: peak RSS +292 MiB over the RSS before it, +382 MiB read whole)."""
    from icemonitor.readers._text import read_text_table

    table = source.options.get("table")
    if table is not None and table not in headers:
        raise InputError(f"{reader}: unknown table option {table!r}", file=source.name)
    specs = [headers[table]] if table else list(headers.values())
    raw = read_text_table(source.path, source.name, separator="|", specs=specs)
    for frame in canonical_chunks(raw.frame, source, mappings[raw.spec.name], rows):
        yield {raw.spec.name: frame}


def concat_tables(parts: Sequence[tuple[str, pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    """Group (table, frame) pairs into table -> one frame (diagonal concat, same schema order)."""
    grouped: dict[str, list[pl.DataFrame]] = {}
    for table, frame in parts:
        grouped.setdefault(table, []).append(frame)
    return {t: pl.concat(fs, how="diagonal") if len(fs) > 1 else fs[0] for t, fs in grouped.items()}


@cache
def _states() -> dict[str, str]:
    path = resources.files("icemonitor.readers").joinpath("data/us_states.csv")
    with path.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    out: dict[str, str] = {}
    for r in rows:
        out[r["name"].upper()] = r["usps"]
        out[r["usps"].upper()] = r["usps"]
    return out


def state_codes(frame: pl.DataFrame, source_col: str, file: str) -> pl.Series:
    """Map a state name as written ("WASHINGTON") to its 2-letter code (data/us_states.csv); unknown raises."""
    states = _states()
    raw = frame.get_column(source_col)
    key = raw.str.strip_chars().str.to_uppercase()
    mapped = key.replace_strict(states, default=None, return_dtype=pl.String)
    bad = raw.is_not_null() & mapped.is_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise InputError(
            "unknown state name (readers/data/us_states.csv)",
            file=file,
            row=int(frame.get_column(SOURCE_ROW)[i]),
            field=source_col,
            value=raw[i],
        )
    return mapped
