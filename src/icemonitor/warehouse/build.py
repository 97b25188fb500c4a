"""Build the warehouse: read every source file, encode its codes, flag duplicates and precedence, and write
a DuckDB file beside the old one, swapped in only when complete."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from icemonitor.codes.encoder import encode
from icemonitor.errors import InputError
from icemonitor.readers import SourceFile, read
from icemonitor.warehouse import precedence
from icemonitor.warehouse.schema import Table, tables

log = logging.getLogger(__name__)

# Columns that are not part of a record's content when looking for identical rows.
NOT_CONTENT = {"source_file", "source_sheet", "source_row"}


@dataclass(frozen=True)
class BuildSource:
    """One raw file to load, with what the catalog says about it."""

    release_id: str
    name: str
    path: Path
    reader: str
    sha256: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildReport:
    path: Path
    rows: dict[str, int]
    files: list[dict[str, Any]]


Progress = Callable[[str, int, int], None]


def fiscal_year(col: str = "event_date") -> pl.Expr:
    d = pl.col(col)
    return (d.dt.year() + (d.dt.month() >= 10).cast(pl.Int32)).cast(pl.Int16).alias("fy")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _finish(frames: list[pl.DataFrame], table: Table, loaded: set[str], rules) -> pl.DataFrame:
    """Concatenate one table's frames, add fy, duplicate groups and the counted flag, in schema order."""
    df = pl.concat(frames, how="vertical_relaxed")
    content = [c for c in table.names("reader") if c not in NOT_CONTENT] + ["release_id"]
    order = pl.int_range(pl.len(), dtype=pl.Int64)
    df = df.with_columns(fiscal_year(), order.alias("_order")).with_columns(
        pl.col("_order").min().over(content).alias("duplicate_group"),
        pl.len().over(content).cast(pl.Int32).alias("duplicate_count"),
    )
    flags = [
        precedence.counted(table.name, rid, loaded, rules)
        for rid in df.select(pl.col("release_id").unique()).to_series().to_list()
    ]
    counted = pl.lit(None, dtype=pl.Boolean)
    for rid, flag in zip(df.select(pl.col("release_id").unique()).to_series().to_list(), flags):
        counted = pl.when(pl.col("release_id") == rid).then(flag).otherwise(counted)
    df = df.with_columns(counted.alias("counted"))
    return df.select([pl.col(c.name).cast(c.polars_type) for c in table.columns])


def read_sources(
    sources: Sequence[BuildSource], progress: Progress | None = None
) -> tuple[dict[str, list[pl.DataFrame]], list[dict[str, Any]]]:
    """Read and encode every source; return frames per table and one provenance record per file and table."""
    per_table: dict[str, list[pl.DataFrame]] = {}
    files: list[dict[str, Any]] = []
    schema = tables()
    for i, src in enumerate(sources):
        if progress:
            progress(src.name, i, len(sources))
        digest = _sha256(src.path)
        if src.sha256 and digest != src.sha256:
            from icemonitor.errors import ChecksumError

            raise ChecksumError(
                f"checksum mismatch: expected {src.sha256}, got {digest}", file=src.name
            )
        out = read(SourceFile(src.path, src.name, src.release_id, src.reader, src.options))
        if not out:
            raise InputError("the reader found no records", file=src.name)
        for tname, frame in out.items():
            if tname not in schema:
                raise InputError(f"reader {src.reader!r} produced unknown table {tname!r}", file=src.name)
            encoded = encode(frame, schema[tname]).with_columns(
                pl.lit(src.release_id).alias("release_id")
            )
            per_table.setdefault(tname, []).append(encoded)
            files.append(
                {
                    "release_id": src.release_id,
                    "file_name": src.name,
                    "sha256": digest,
                    "bytes": src.path.stat().st_size,
                    "reader": src.reader,
                    "table_name": tname,
                    "rows_read": frame.height,
                    "rows_loaded": encoded.height,
                    "rows_rejected": frame.height - encoded.height,
                    "rejected_by_reason": json.dumps({}),
                }
            )
            log.info("%s: %d rows read into %s", src.name, frame.height, tname)
    if progress:
        progress("", len(sources), len(sources))
    return per_table, files


RELEASES_DDL = """CREATE TABLE releases (
  release_id VARCHAR, file_name VARCHAR, sha256 VARCHAR, bytes BIGINT, reader VARCHAR,
  table_name VARCHAR, rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT,
  rejected_by_reason VARCHAR, rows_counted BIGINT, duplicate_rows BIGINT,
  date_min DATE, date_max DATE
)"""


def build(
    sources: Sequence[BuildSource],
    target: Path,
    *,
    extra_tables: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    progress: Progress | None = None,
) -> BuildReport:
    """Build the warehouse at `target` atomically: a temporary file beside it is swapped in when complete."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.building-{os.getpid()}")
    for stale in (tmp, tmp.with_name(tmp.name + ".wal")):
        stale.unlink(missing_ok=True)
    try:
        per_table, files = read_sources(sources, progress)
        loaded = {s.release_id for s in sources}
        rules = precedence.load_rules()
        con = duckdb.connect(str(tmp))
        rows: dict[str, int] = {}
        try:
            for tname, table in tables().items():
                con.execute(table.ddl())
                if tname not in per_table:
                    rows[tname] = 0
                    continue
                df = _finish(per_table.pop(tname), table, loaded, rules)
                con.register("_frame", df.to_arrow())
                con.execute(f'INSERT INTO "{tname}" SELECT * FROM _frame')
                con.unregister("_frame")
                rows[tname] = df.height
                log.info("%s: %d rows written", tname, df.height)
            _write_releases(con, files)
            if extra_tables:
                extra_tables(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        raise
    return BuildReport(target, rows, files)


def _write_releases(con: duckdb.DuckDBPyConnection, files: list[dict[str, Any]]) -> None:
    con.execute(RELEASES_DDL)
    for f in files:
        t = f["table_name"]
        counted, dups, dmin, dmax = con.execute(
            f'SELECT count(*) FILTER (WHERE counted), count(*) FILTER (WHERE duplicate_count > 1), '
            f'min(event_date), max(event_date) FROM "{t}" WHERE release_id = ? AND source_file = ?',
            [f["release_id"], f["file_name"]],
        ).fetchone()
        con.execute(
            "INSERT INTO releases VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                f["release_id"], f["file_name"], f["sha256"], f["bytes"], f["reader"], t,
                f["rows_read"], f["rows_loaded"], f["rows_rejected"], f["rejected_by_reason"],
                counted, dups, dmin, dmax,
            ],
        )
