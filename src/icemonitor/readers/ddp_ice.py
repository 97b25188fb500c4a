"""ICE's DDP-era individual records (2023-2026 releases obtained by the Deportation Data Project) -> one canonical
table (catalog option ``table``, default ``arrests``).

Three carriers of the same records, one column map (``readers/data/ddp_columns.csv``):
- ICE's raw workbooks (``.xlsx``): header on row 7, the records split over several sheets, stacked in sheet order;
  ``source_sheet`` names the sheet and ``source_row`` the spreadsheet row.
- extracts of them as CSV (``.csv``, header on line 1; e.g. the North Carolina selection, whose reporter lower-cased
  state, AOR and landmark: the state and AOR maps ignore letter case);
- DDP's processed files (``.parquet``, ``.feather``), snake_case names; ``source_row`` is the 1-based row in that file.
A column the map does not know stops the build (file, sheet, header row, column); several sources of one canonical
column (``Apprehension Site Landmark`` / ``Event Landmark``) are coalesced in the map's order.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from icemonitor.errors import InputError
from icemonitor.readers._canon import ISO_DATE, TableMap, canonical, concat_tables, reader_columns, state_codes
from icemonitor.readers._text import SOURCE_ROW, HeaderSpec, read_text_table
from icemonitor.readers._xlsx import open_workbook, read_sheet
from icemonitor.schema import table, tables

if TYPE_CHECKING:
    from icemonitor.readers import SourceFile

MAP_FILE = "ddp_columns.csv"
ISO_DATETIME = "%Y-%m-%d %H:%M:%S"
NOT_KEPT = "-"
# canonical columns the reader transforms before `canonical` (state names -> codes; the flag -> boolean)
STATE, FLAG, TIME = "__state", "__duplicate_likely", "__time_"
# columns the build otherwise derives, supplied by a processed file (DDP's detention stays): added after `canonical`
BUILT = "__built_"
CRIMINALITY_FIELD = {
    "arrests": "ddp_apprehension_criminality", "encounters": "ddp_encounter_criminality",
    "detainers": "detainer_prepared_criminality", "detention_stints": "ddp_book_in_criminality",
    "removals": "ddp_case_criminality", "detention_stays": "ddp_book_in_criminality",
}
# a file with no criminality column (the 2012-2023 linked set) records none: criminality_field 'not_recorded'
NOT_RECORDED = "not_recorded"
# a DATE column read from several sources is coalesced into this helper column first (not part of the record)
DATE_SRC = "__date_src_"
# processed files write missing values as NA in text columns (R)
NA_TEXT = ("NA",)


@dataclass(frozen=True)
class ColumnMap:
    """One table's known source columns as (source, canonical) pairs ('-' = known, not kept); a source may feed
    several canonical columns (written 'a|b' in the map)."""

    table: str
    pairs: tuple[tuple[str, str], ...]

    @property
    def known(self) -> set[str]:
        return {s for s, _ in self.pairs}

    def canonical_columns(self) -> list[str]:
        return list(dict.fromkeys(c for _, c in self.pairs if c != NOT_KEPT))

    def sources(self, canonical_col: str, present: list[str]) -> list[str]:
        return [s for s, c in self.pairs if c == canonical_col and s in present]

    def date_sources(self) -> list[str]:
        return [s for s, c in self.pairs if c == "event_date"]


@cache
def column_maps() -> dict[str, ColumnMap]:
    """table -> its column map, from readers/data/ddp_columns.csv."""
    path = resources.files("icemonitor.readers").joinpath(f"data/{MAP_FILE}")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    out: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        out.setdefault(r["table"], []).extend((r["source"], c) for c in r["canonical"].split("|"))
    return {t: ColumnMap(t, tuple(m)) for t, m in out.items()}


def _column_map(source: SourceFile) -> ColumnMap:
    table = source.options.get("table", "arrests")
    maps = column_maps()
    if table not in maps:
        raise InputError(f"ddp_ice: no column map for table {table!r} (known: {', '.join(maps)})", file=source.name)
    return maps[table]


def check_columns(columns: list[str], cmap: ColumnMap, file: str, sheet: str | None, row: int | None) -> None:
    """Stop on a column the map does not know, naming file, sheet, header row and column."""
    unknown = [c for c in columns if c not in cmap.known]
    if unknown:
        where = f" of sheet {sheet!r}" if sheet else ""
        raise InputError(
            f"unknown column in the header{where}: add it to readers/{'data/' + MAP_FILE} with its meaning",
            file=file, row=row, field=unknown[0], value=unknown[0],
        )


def _mapping(frame: pl.DataFrame, cmap: ColumnMap, file: str) -> tuple[pl.DataFrame, TableMap]:
    """Coalesce each canonical column's sources; states to codes; the DDP flag to boolean."""
    present = frame.columns
    types = reader_columns()[cmap.table]
    built = {c.name: c.type for c in table(cmap.table).columns if c.source == "build"}
    text: dict[str, str | pl.Expr] = {}
    extra: list[pl.Expr] = []
    dates: dict[str, str] = {}
    for col in cmap.canonical_columns():
        srcs = cmap.sources(col, present)
        if col == "event_date" or not srcs:
            continue
        expr = pl.coalesce(*(as_text(frame, s) for s in srcs)) if len(srcs) > 1 else as_text(frame, srcs[0])
        if col not in types and built.get(col) != "TIMESTAMP":  # derived by the build elsewhere (stays)
            frame = frame.with_columns(expr.alias(f"{BUILT}{col}"))
        elif types.get(col) == "DATE":  # secondary dates (removals: departed, apprehension)
            if len(srcs) > 1:
                typed = all(typed_temporal(frame.schema[s]) for s in srcs)
                both = pl.coalesce(*(pl.col(s) for s in srcs)) if typed else expr
                frame = frame.with_columns(both.alias(f"{DATE_SRC}{col}"))
            dates[col] = f"{DATE_SRC}{col}" if len(srcs) > 1 else srcs[0]
        elif types.get(col) == "TIMESTAMP" or built.get(col) == "TIMESTAMP":
            frame = frame.with_columns(parse_datetimes(frame, srcs, file).alias(f"{TIME}{col}"))
        elif col == "state":
            extra.append(expr.alias(STATE))
        elif col == "duplicate_likely":
            extra.append(expr.cast(pl.String).str.to_uppercase().is_in(["TRUE", "T", "1"]).alias(FLAG))
        else:
            text[col] = expr
    frame = frame.with_columns(extra)
    if STATE in frame.columns:
        frame = frame.with_columns(state_codes(frame, STATE, file).alias(STATE))
        text["state"] = STATE
    event = cmap.sources("event_date", present)
    if not event:
        raise InputError(f"no event date column (one of {', '.join(cmap.date_sources())})", file=file)
    return frame, TableMap(
        table=cmap.table, text=text, dates={"event_date": event[0], **dates},
        constants={"criminality_field": criminality_field(cmap, present)}, date_formats=(ISO_DATETIME, ISO_DATE),
    )


def criminality_field(cmap: ColumnMap, present: list[str]) -> str:
    """The table's criminality field where the file has a criminality column; 'not_recorded' where it has none
    (the 2012-2023 arrests, removals and detentions, risk-classification decisions)."""
    if cmap.table in CRIMINALITY_FIELD and cmap.sources("criminality_raw", present):
        return CRIMINALITY_FIELD[cmap.table]
    return NOT_RECORDED


def typed_temporal(dtype: pl.DataType) -> bool:
    """A date or a date-time without time zone: kept typed from a processed file to the warehouse."""
    return dtype == pl.Date or (isinstance(dtype, pl.Datetime) and dtype.time_zone is None)


def as_text(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A source column as the text a processed file's value reads as (a typed date-time as ISO_DATETIME)."""
    dtype = frame.schema[column]
    if isinstance(dtype, pl.Datetime) and typed_temporal(dtype):
        return pl.col(column).dt.strftime(ISO_DATETIME)
    return pl.col(column).cast(pl.String) if dtype == pl.Date else pl.col(column)


def parse_datetimes(frame: pl.DataFrame, sources: list[str], file: str) -> pl.Series:
    """Date-times from the first non-empty source: ``YYYY-MM-DD HH:MM[:SS]``, ``...T...`` (workbooks) or a bare date
    (a workbook cell at midnight); anything else stops, naming row, field and value."""
    if all(typed_temporal(frame.schema[s]) for s in sources):  # a processed file's typed columns: no parsing
        return pl.select(pl.coalesce(*(frame.get_column(s).cast(pl.Datetime("us")) for s in sources))).to_series()
    out = None
    for src in sources:
        raw = frame.select(as_text(frame, src)).to_series()
        text = raw.str.strip_chars().str.replace("T", " ", literal=True)
        parsed = text.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M:%S", strict=False)
        bad = raw.is_not_null() & parsed.is_null()
        if bad.any():  # the other forms, only where the first one did not parse
            parsed = pl.select(pl.coalesce(
                parsed,
                text.str.strptime(pl.Datetime("us"), "%Y-%m-%d %H:%M", strict=False),
                text.str.strptime(pl.Date, ISO_DATE, strict=False).cast(pl.Datetime("us")),
            )).to_series()
            bad = raw.is_not_null() & parsed.is_null()
        if bad.any():
            i = int(bad.arg_true()[0])
            raise InputError("unparseable date-time", file=file, row=int(frame.get_column(SOURCE_ROW)[i]),
                             field=src, value=raw[i])
        out = parsed if out is None else pl.select(pl.coalesce(out, parsed)).to_series()
    return out


def _canonical(frame: pl.DataFrame, source: SourceFile, cmap: ColumnMap, sheet: str | None) -> pl.DataFrame:
    frame, mapping = _mapping(frame, cmap, source.name)
    out = canonical(frame, source, mapping, sheet=sheet)
    extra = [frame.get_column(c).alias(c[len(TIME):]) for c in frame.columns if c.startswith(TIME)]
    extra += [_typed(frame, c[len(BUILT):], cmap, source.name) for c in frame.columns if c.startswith(BUILT)]
    have = set(out.columns) | {s.name for s in extra}
    extra += [pl.lit(None, dtype=c.polars_type).alias(c.name) for c in _derived(cmap.table) if c.name not in have]
    if FLAG in frame.columns:
        extra.append(frame.get_column(FLAG).alias("duplicate_likely"))
    return out.with_columns(extra) if extra else out


def _derived(name: str) -> list:
    """The table's own columns the build derives (detention stays: stints, first facility...), not the common ones."""
    common = set.intersection(*({c.name for c in t.columns} for t in tables().values()))
    return [c for c in table(name).columns if c.source == "build" and c.name not in common]


def _typed(frame: pl.DataFrame, col: str, cmap: ColumnMap, file: str) -> pl.Series:
    """A column the build otherwise derives, cast to its schema type; a value that does not cast stops."""
    raw = frame.get_column(f"{BUILT}{col}")
    out = raw.cast(table(cmap.table).polars_schema()[col], strict=False)
    bad = raw.is_not_null() & out.is_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise InputError(f"not a valid {col}", file=file, row=int(frame.get_column(SOURCE_ROW)[i]),
                         field=cmap.sources(col, frame.columns)[0], value=raw[i])
    return out.alias(col)


def _read_text(source: SourceFile, cmap: ColumnMap) -> pl.DataFrame:
    specs = [HeaderSpec(f"ddp {cmap.table}", (s,)) for s in cmap.date_sources()]
    raw = read_text_table(source.path, source.name, separator=",", specs=specs, all_columns=True)
    check_columns([c for c in raw.frame.columns if c != SOURCE_ROW], cmap, source.name, None, raw.header_line)
    return _canonical(raw.frame, source, cmap, None)


def _read_workbook(source: SourceFile, cmap: ColumnMap) -> pl.DataFrame:
    wb = open_workbook(source.path, source.name)
    specs = [HeaderSpec(f"ddp {cmap.table}", (s,)) for s in cmap.date_sources()]
    parts = []
    for sheet in wb.sheet_names:
        frame, _ = read_sheet(wb, sheet, source.name, specs, all_columns=True)
        header_row = int(frame.get_column(SOURCE_ROW).min() or 2) - 1 if frame.height else None
        check_columns([c for c in frame.columns if c != SOURCE_ROW], cmap, source.name, sheet, header_row)
        if frame.height:
            parts.append(("t", _canonical(frame, source, cmap, sheet)))
    if not parts:
        raise InputError("no records in any sheet", file=source.name)
    return concat_tables(parts)["t"]


def _open_processed(source: SourceFile):  # noqa: ANN202 - a pyarrow reader
    """The file's record batches: Parquet row groups, or the Feather/Arrow IPC file's batches read from a memory map
    (an uncompressed batch is not copied; a compressed one is decompressed one batch at a time)."""
    import pyarrow as pa
    import pyarrow.ipc
    import pyarrow.parquet as pq

    try:
        if source.name.endswith(".parquet"):
            return pq.ParquetFile(Path(source.path))
        return pyarrow.ipc.open_file(pa.memory_map(str(source.path), "r"))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"not a readable {Path(source.name).suffix} file: {exc}", file=source.name) from exc


def _arrow_batches(reader, rows: int) -> Iterator:  # noqa: ANN001 - a pyarrow reader
    """The reader's record batches cut into slices of at most `rows` rows before any conversion: a file written as one
    huge batch (or a few) never becomes one huge frame."""
    if hasattr(reader, "iter_batches"):
        yield from reader.iter_batches(batch_size=rows)
        return
    for i in range(reader.num_record_batches):
        batch = reader.get_batch(i)
        for start in range(0, batch.num_rows, rows):
            yield batch.slice(start, rows)
        del batch


def _processed_batches(source: SourceFile, rows: int) -> Iterator[pl.DataFrame]:
    """The processed file as frames of at most `rows` rows, in file order."""
    reader = _open_processed(source)
    try:
        empty = True
        for batch in _arrow_batches(reader, rows):
            if batch.num_rows:
                empty = False
                yield pl.from_arrow(batch)
        if empty:  # a file without records still has its columns checked
            schema = reader.schema_arrow if hasattr(reader, "schema_arrow") else reader.schema
            yield pl.from_arrow(schema.empty_table())
    except InputError:
        raise
    except Exception as exc:  # a damaged row group or batch
        raise InputError(f"not a readable {Path(source.name).suffix} file: {exc}", file=source.name) from exc


def _processed_chunk(raw: pl.DataFrame, source: SourceFile, cmap: ColumnMap, first_row: int) -> pl.DataFrame:
    """One chunk of a processed file, canonical; `first_row` is the 1-based file row of its first record. Dates and
    date-times stay typed (a date-time cut to the second, as its text would be: the same rows and the same groups of
    identical records as through text); every other column is read as text, NA and blank as missing."""
    columns = []
    for name, dtype in raw.schema.items():
        if typed_temporal(dtype):  # kept typed, at the second the text form (ISO_DATETIME) would keep
            second = pl.col(name).dt.truncate("1s").cast(pl.Datetime("us"))
            columns.append(pl.col(name) if dtype == pl.Date else second)
        elif dtype.is_temporal() and dtype != pl.Date:
            columns.append(pl.col(name).dt.strftime(ISO_DATETIME))
        elif dtype == pl.Boolean:
            columns.append(pl.col(name).cast(pl.String).str.to_uppercase())
        else:
            expr = pl.col(name).cast(pl.String)
            columns.append(pl.when(expr.is_in(NA_TEXT) | (expr == "")).then(None).otherwise(expr).alias(name))
    frame = raw.select(columns).with_columns(
        pl.int_range(first_row, first_row + raw.height, dtype=pl.Int32).alias(SOURCE_ROW))
    return _canonical(frame, source, cmap, None)


def _read_processed(source: SourceFile, cmap: ColumnMap, rows: int = 1 << 62) -> Iterator[pl.DataFrame]:
    first = 1
    for raw in _processed_batches(source, rows):
        if first == 1:
            check_columns(raw.columns, cmap, source.name, None, None)
        yield _processed_chunk(raw, source, cmap, first)
        first += raw.height


def read_chunks(source: SourceFile, rows: int) -> Iterator[dict[str, pl.DataFrame]]:
    """Like `read`, in chunks of at most `rows` records for DDP's processed files (Parquet row groups, Feather
    batches), so a national file never sits in memory whole; workbooks and CSV come as one chunk."""
    cmap = _column_map(source)
    if Path(source.name).suffix.lower() in (".parquet", ".feather", ".arrow"):
        for frame in _read_processed(source, cmap, rows):
            yield {cmap.table: frame}
    else:
        yield read(source)


def read(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read one DDP-era file -> {table: frame}; the carrier is chosen by the file name's extension."""
    cmap = _column_map(source)
    suffix = Path(source.name).suffix.lower()
    if suffix == ".xlsx":
        frame = _read_workbook(source, cmap)
    elif suffix in (".parquet", ".feather", ".arrow"):
        parts = list(_read_processed(source, cmap))
        frame = pl.concat(parts) if len(parts) > 1 else parts[0]
    elif suffix in (".csv", ".gz"):
        frame = _read_text(source, cmap)
    else:
        raise InputError(f"ddp_ice: unknown file type {suffix!r} (xlsx, csv, parquet, feather)", file=source.name)
    return {cmap.table: frame}
