"""DDP's processed Parquet files read by DuckDB SQL: the canonical columns of ``ddp_ice``'s Polars reader of the same
file (readers/ddp_ice.py), as one SELECT over ``read_parquet``, so a national file is never turned into Python frames.

The same map (readers/data/ddp_columns.csv) and the same rules: text read as written, ``NA`` and blank as missing;
dates and date-times kept typed (a date-time cut to the second); several sources of one column coalesced in the map's
order; state names to their 2-letter codes; DDP's duplicate flag to a boolean; ``source_row`` the 1-based row of the
file; a hash of every source field (``record_hash``, the Polars reader's ``_record_hash``) for the build's groups of
identical records. Mappings of values (state names) run the Polars reader's own functions on the file's distinct
values, kept as a small Parquet file beside the SELECT (`SqlRead.folder`) and joined. Bad input stops with the same
errors, naming file, row and field (the first row of the file that has it).

A file this SQL does not read exactly as the Polars reader does gives ``None``: the caller reads it with ``ddp_ice``
(Feather files; a column of another type than text, integer, boolean, date or date-time without time zone; a date
read from text; a date feeding a text column; the columns of DDP's own detention stays).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from icemonitor.errors import InputError
from icemonitor.readers._canon import PLAUSIBLE_FROM, PLAUSIBLE_TO, reader_columns, state_codes
from icemonitor.readers._text import SOURCE_ROW
from icemonitor.readers.ddp_ice import (
    NA_TEXT,
    ColumnMap,
    _column_map,
    _derived,
    check_columns,
    criminality_field,
)
from icemonitor.schema import table

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

    from icemonitor.readers import SourceFile

log = logging.getLogger(__name__)

TEXT, INTEGER, BOOLEAN, DATE, DATETIME = "text", "integer", "boolean", "date", "datetime"
TEMPORAL = (DATE, DATETIME)
RAW = "__raw"  # the FROM clause's subquery: the file's columns, its row number and helper columns
FLAG_TRUE = ("TRUE", "T", "1")


@dataclass
class SqlRead:
    """A SELECT over one file with named parameters (`params`). Decisions taken on its distinct values are small
    Parquet files in `folder`, named by the parameters in `files` and kept by file name, so the folder can move (the
    parse cache's temporary folder is renamed when complete) and the SELECT be run again later (`bound`)."""

    select: str
    params: dict[str, Any]
    folder: Path
    files: dict[str, str] = field(default_factory=dict)

    def bound(self, **values: Any) -> dict[str, Any]:
        """The parameters with each decision file's path in `folder` (and `values` set)."""
        return {**self.params, **{k: str(self.folder / n) for k, n in self.files.items()}, **values}

    def keep(self, param: str, frame: pl.DataFrame) -> str:
        """Write a decision table into `folder` under the parameter `param`; returns the SQL reading it."""
        name = f"{param}.parquet"
        frame.write_parquet(self.folder / name)
        self.files[param] = name
        return f"read_parquet(${param})"

    def as_json(self) -> dict[str, Any]:
        return {"select": self.select, "params": self.params, "files": self.files}

    @classmethod
    def from_json(cls, data: dict[str, Any], folder: Path) -> SqlRead:
        return cls(data["select"], data["params"], folder, data["files"])


@dataclass
class ProcessedSql(SqlRead):
    """One processed file as SQL: `select` gives the canonical reader columns (schema order, no record hash);
    `record_hash` hashes every source field of RAW, the rows of `raw_from`."""

    table: str = ""
    file: str = ""
    raw_from: str = ""
    record_hash: str = ""


def quoted(name: str) -> str:
    """An SQL identifier (column names come from the file, checked against the column map)."""
    return '"' + name.replace('"', '""') + '"'


def _kind(dtype: pa.DataType) -> str | None:
    """How the SQL reads a column of this Arrow type, or None where it would not read it as the Polars reader does."""
    import pyarrow as pa

    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return TEXT
    if pa.types.is_integer(dtype):
        return INTEGER
    if pa.types.is_boolean(dtype):
        return BOOLEAN
    if pa.types.is_date32(dtype):
        return DATE
    if pa.types.is_timestamp(dtype) and dtype.tz is None:
        return DATETIME
    return None


def normalised(name: str, kind: str, qualifier: str = RAW) -> str:
    """A source column as the Polars reader holds it: text with NA and blank as NULL, integers and booleans as text
    (TRUE / FALSE), dates as they are, date-times cut to the second."""
    col = f"{qualifier}.{quoted(name)}" if qualifier else quoted(name)
    if kind == TEXT:
        return f"nullif(nullif({col}, '{NA_TEXT[0]}'), '')"
    if kind == INTEGER:
        return f"CAST({col} AS VARCHAR)"
    if kind == BOOLEAN:
        return f"upper(CAST({col} AS VARCHAR))"
    if kind == DATETIME:
        return f"CAST(date_trunc('second', {col}) AS TIMESTAMP)"
    return col


def shown(expr: str, kind: str) -> str:
    """A normalised value as the Polars reader shows it in a message (a date-time as YYYY-MM-DD HH:MM:SS)."""
    return f"strftime({expr}, '%Y-%m-%d %H:%M:%S')" if kind == DATETIME else f"CAST({expr} AS VARCHAR)"


def _schema(source: SourceFile) -> pa.Schema:
    import pyarrow.parquet as pq

    try:
        return pq.read_schema(Path(source.path))
    except Exception as exc:  # pyarrow raises several types for a damaged file
        raise InputError(f"not a readable .parquet file: {exc}", file=source.name) from exc


def _coalesce(exprs: list[str]) -> str:
    return exprs[0] if len(exprs) == 1 else f"coalesce({', '.join(exprs)})"


class _Plan:
    """The canonical columns of one file as SQL expressions over RAW (see `build`)."""

    def __init__(self, source: SourceFile, cmap: ColumnMap, kinds: dict[str, str]) -> None:
        self.source, self.cmap, self.kinds = source, cmap, kinds
        self.present = list(kinds)
        self.types = reader_columns()[cmap.table]
        self.exprs: dict[str, str] = {}  # canonical column -> expression
        self.dates: dict[str, tuple[str, str]] = {}  # secondary DATE column -> (expression, source named in logs)
        self.state: tuple[str, list[str]] | None = None  # (coalesced text, its sources)
        self.event = cmap.sources("event_date", self.present)[:1]  # the first source present only, as ddp_ice

    def norm(self, src: str) -> str:
        return normalised(src, self.kinds[src])

    def build(self) -> bool:
        """Fill the expressions as ddp_ice's `_mapping` does; False where the file needs the Polars reader."""
        built = {c.name: c.type for c in table(self.cmap.table).columns if c.source == "build"}
        if _derived(self.cmap.table) or any(self.kinds[s] not in TEMPORAL for s in self.event):
            return False  # DDP's own detention stays (columns the build derives); an event date read from text
        for col in self.cmap.canonical_columns():
            srcs = self.cmap.sources(col, self.present)
            if col == "event_date" or not srcs:
                continue
            temporal = [self.kinds[s] in TEMPORAL for s in srcs]
            if col not in self.types:
                return False  # a column the build otherwise derives, supplied by the file
            if self.types[col] in ("DATE", "TIMESTAMP") or built.get(col) == "TIMESTAMP":
                if not all(temporal):
                    return False  # dates read from text: the Polars reader's formats
                if self.types[col] == "DATE":
                    self.dates[col] = (_coalesce([self.norm(s) for s in srcs]), srcs[0])
                else:
                    self.exprs[col] = _coalesce([f"CAST({self.norm(s)} AS TIMESTAMP)" for s in srcs])
                continue
            if any(temporal):
                return False  # a typed date as text: the Polars reader's format
            text = _coalesce([self.norm(s) for s in srcs])
            if col == "state":
                self.state = (text, srcs)
            elif col == "duplicate_likely":
                self.exprs[col] = f"upper({text}) IN ({', '.join(repr(v) for v in FLAG_TRUE)})"
            else:
                self.exprs[col] = text
        return True

    def raw_from(self) -> str:
        """The file's columns, its 1-based row (__row) and the coalesced state text (__state_text), as RAW."""
        state = f", {self.state[0]} AS __state_text" if self.state else ""
        return (f"(SELECT *, CAST(file_row_number + 1 AS INTEGER) AS __row{state} "
                f"FROM read_parquet($path, file_row_number = true) {RAW}) {RAW}")


def processed_select(source: SourceFile, con: duckdb.DuckDBPyConnection, folder: Path) -> ProcessedSql | None:
    """The canonical SELECT of one DDP processed Parquet file (checked: columns, state names, event dates; its state
    names' decisions written into `folder`), or None where the file needs the Polars reader (see the module's note)."""
    if Path(source.name).suffix.lower() != ".parquet":
        return None
    cmap = _column_map(source)
    schema = _schema(source)
    check_columns(list(schema.names), cmap, source.name, None, None)
    kinds = {f.name: _kind(f.type) for f in schema}
    if any(k is None for k in kinds.values()):
        return None
    plan = _Plan(source, cmap, kinds)  # type: ignore[arg-type]
    if not plan.build():
        return None
    out = ProcessedSql("", {"path": str(source.path), "file": source.name}, folder, table=cmap.table,
                       file=source.name, raw_from=plan.raw_from())
    _select(plan, out, con)
    return out


def _select(plan: _Plan, out: ProcessedSql, con: duckdb.DuckDBPyConnection) -> None:
    source, cmap = plan.source, plan.cmap
    raw_from = out.raw_from
    joins = ""
    if plan.state:
        joins = f" LEFT JOIN {_state_map(plan, out, con)} AS states ON states.state_text = {RAW}.__state_text"
        plan.exprs["state"] = "states.state"
    if not plan.event:
        raise InputError(f"no event date column (one of {', '.join(cmap.date_sources())})", file=source.name)
    src = plan.event[0]
    event = f"CAST({plan.norm(src)} AS DATE)"
    _check_range(con, raw_from, out.params, event, shown(plan.norm(src), plan.kinds[src]), src, plan, strict=True)
    exprs = {"source_file": "$file", "source_sheet": "CAST(NULL AS VARCHAR)", "source_row": f"{RAW}.__row",
             "event_date": event, **plan.exprs}
    for col, (expr, src) in plan.dates.items():
        day = f"CAST({expr} AS DATE)"
        if _check_range(con, raw_from, out.params, day, f"CAST({day} AS VARCHAR)", src, plan, strict=False):
            day = f"CASE WHEN {_in_range(day)} THEN {day} END"
        exprs[col] = day
    out.params["criminality_field"] = criminality_field(cmap, plan.present)
    exprs["criminality_field"] = "CAST($criminality_field AS VARCHAR)"
    columns = [f"{exprs.get(c, f'CAST(NULL AS {t})')} AS {quoted(c)}" for c, t in plan.types.items()]
    out.select = f"SELECT {', '.join(columns)} FROM {raw_from}{joins}"
    out.record_hash = f"hash({', '.join(plan.norm(s) for s in plan.present)})"


def _in_range(day: str) -> str:
    return f"({day} >= DATE '{PLAUSIBLE_FROM.isoformat()}' AND {day} < DATE '{PLAUSIBLE_TO.isoformat()}')"


def _check_range(con: duckdb.DuckDBPyConnection, raw_from: str, params: dict, day: str, value: str, src: str,
                 plan: _Plan, *, strict: bool) -> bool:
    """Dates outside 1900-2100: an error for the event date (`strict`), else they become NULL and are logged, as the
    Polars reader does; returns whether there are any."""
    sql = (f"SELECT count(*), min(__row), arg_min({value}, __row) FROM {raw_from} "
           f"WHERE {day} IS NOT NULL AND NOT {_in_range(day)}")
    n, row, shown_value = query(con, sql, params, plan.source.name)[0]
    if not n:
        return False
    if strict:
        raise InputError("implausible event date (outside 1900-2099)", file=plan.source.name, row=row, field=src,
                         value=shown_value)
    log.warning("%s: %d placeholder date(s) in %r set to NULL (first at source_row %s: %r)", plan.source.name, n,
                src, row, shown_value)
    return True


def query(con: duckdb.DuckDBPyConnection, sql: str, params: dict, file: str) -> list[tuple]:
    """Run SQL over a file with the parameters it names and fetch its rows; a file DuckDB cannot read stops, naming
    it."""
    with _readable(file):
        return con.execute(sql, named(sql, params)).fetchall()


def query_frame(con: duckdb.DuckDBPyConnection, sql: str, params: dict, file: str) -> pl.DataFrame:
    """`query`'s rows as a frame, typed as DuckDB gives them (few rows: distinct values)."""
    with _readable(file):
        return pl.from_arrow(con.sql(sql, params=named(sql, params)).to_arrow_table())  # type: ignore[return-value]


def named(sql: str, params: dict) -> dict:
    """The parameters `sql` names."""
    return {k: v for k, v in params.items() if re.search(rf"\${k}\b", sql)}


@contextmanager
def _readable(file: str) -> Iterator[None]:
    import duckdb

    try:
        yield
    except (duckdb.BinderException, duckdb.ParserException, duckdb.CatalogException):
        raise  # the SQL, not the file
    except duckdb.Error as exc:  # a damaged file or row group (DuckDB raises several types)
        raise InputError(f"not a readable .parquet file: {exc}", file=file) from exc


def _state_map(plan: _Plan, out: ProcessedSql, con: duckdb.DuckDBPyConnection) -> str:
    """The file's distinct state texts mapped by the Polars reader's `state_codes` (an unknown name stops, naming the
    first row with it and the source column holding it), kept in the folder; returns the SQL reading them."""
    assert plan.state is not None
    srcs = plan.state[1]
    which = _coalesce([f"CASE WHEN {plan.norm(s)} IS NOT NULL THEN {i} END" for i, s in enumerate(srcs)])
    distinct = query_frame(con, (
        f"SELECT __state_text AS state_text, min(__row) AS {SOURCE_ROW}, arg_min({which}, __row) AS src "
        f"FROM {out.raw_from} WHERE __state_text IS NOT NULL GROUP BY 1"), out.bound(), plan.source.name)
    try:
        codes = state_codes(distinct, "state_text", plan.source.name)
    except InputError as exc:
        src = distinct.filter(pl.col(SOURCE_ROW) == exc.row)["src"][0]
        raise InputError("unknown state name (readers/data/us_states.csv)", file=plan.source.name, row=exc.row,
                         field=srcs[src], value=exc.value) from None
    return out.keep("states", distinct.select("state_text", codes.alias("state")))


__all__ = ["ProcessedSql", "normalised", "named", "processed_select", "query", "query_frame", "quoted"]
