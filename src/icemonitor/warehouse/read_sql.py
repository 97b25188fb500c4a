"""DDP's processed Parquet files read straight into the warehouse by DuckDB SQL (readers/ddp_sql.py for the reader's
columns, codes/encoder_sql.py for the encoder's), instead of Python frames parsed into cached Parquet rows.

Parsing such a file (in the build's parse thread) checks it and takes every decision on its distinct values (state
names, codes, redaction markers: the Polars reader's and encoder's own functions, so the same rows and the same errors),
and finds its groups of identical records by a hash of every source field. The parse cache keeps them under the file's
key: `read.json` (the encoded SELECT and its parameters), the decision tables it joins, `<table>.dups.parquet` (the
rows with a duplicate: source_row, duplicate_group, duplicate_count) and files.json. Inserting runs the SELECT over the
source file itself (checked against the same SHA-256 in every build): the rows are never written to Parquet and read
back. Files the SQL does not read as the Polars reader does are parsed by it as before (build._parse).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from icemonitor.codes.encoder_sql import encoded_select
from icemonitor.readers import SourceFile
from icemonitor.readers.ddp_sql import SqlRead, processed_select, query, query_frame
from icemonitor.schema import tables
from icemonitor.warehouse.build_stages import StageLog

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger("icemonitor.warehouse.build")

READ_FILE = "read.json"
DUPS = pa.schema([("source_row", pa.int32()), ("duplicate_group", pa.int64()), ("duplicate_count", pa.int32())])


def kept(folder: Path) -> bool:
    """Whether a parse-cache folder holds a file read by SQL (its rows are read from the source when inserted)."""
    return (Path(folder) / READ_FILE).exists()


def parse(source: SourceFile, folder: Path, con: duckdb.DuckDBPyConnection,
          stages: StageLog | None = None) -> tuple[str, int, int] | None:
    """Check one DDP processed Parquet file and keep what inserting it needs in `folder` (see the module's note);
    returns (table, rows, rows with a duplicate), or None where the file needs the Polars reader."""
    if source.reader != "ddp_ice":
        return None
    canon = processed_select(source, con, folder)
    if canon is None:
        return None
    table = canon.table
    enc = encoded_select(con, canon, source.name, tables()[table])
    enc.select = f"SELECT *, CAST($release_id AS VARCHAR) AS release_id FROM ({enc.select})"
    enc.params["release_id"] = source.release_id
    n = int(query(con, "SELECT count(*) FROM read_parquet($path)", canon.bound(), source.name)[0][0])
    with (stages or StageLog()).stage(f"duplicates {source.name} ({table})", n) as s:
        s.rows_out = dup_rows = _duplicates(con, canon, folder / f"{table}.dups.parquet")
    del enc.params["path"]  # the source's path is given when inserting (a mirror or an archive: same checksum)
    (folder / READ_FILE).write_text(json.dumps({"table": table, **enc.as_json()}))
    log.info("%s: %d rows checked and encoded by SQL for %s", source.name, n, table)
    return table, n, dup_rows


def _duplicates(con: duckdb.DuckDBPyConnection, canon: Any, out: Path) -> int:
    """The file's groups of identical records (duplicate_group = source_row of the group's first row, as the Polars
    path's duplicates), written to `out` for the rows of groups of two or more; returns how many rows those are."""
    groups = query_frame(con, (f"SELECT {canon.record_hash} AS h, CAST(min(__row) AS BIGINT) AS duplicate_group, "
                               f"CAST(count(*) AS INTEGER) AS duplicate_count FROM {canon.raw_from} "
                               "GROUP BY 1 HAVING count(*) > 1"), canon.bound(), canon.file)
    if not groups.height:
        pq.write_table(DUPS.empty_table(), out)
        return 0
    read = SqlRead("", {}, out.parent)
    source = read.keep("dup_groups", groups)
    query(con, (f"COPY (SELECT __row AS source_row, g.duplicate_group, g.duplicate_count FROM {canon.raw_from} "
                f"JOIN {source} AS g ON g.h = {canon.record_hash}) TO $out (FORMAT parquet)"),
          {**canon.bound(), **read.bound(), "out": str(out)}, canon.file)
    return int(groups["duplicate_count"].sum())


def rows_select(folder: Path, path: Path) -> tuple[SqlRead, dict[str, Any]]:
    """The kept SELECT of a file read by SQL (its rows, encoded, with release_id) and its parameters, reading the
    source at `path`."""
    read = SqlRead.from_json(json.loads((Path(folder) / READ_FILE).read_text()), Path(folder))
    return read, read.bound(path=str(path))


__all__ = ["READ_FILE", "kept", "parse", "rows_select"]
