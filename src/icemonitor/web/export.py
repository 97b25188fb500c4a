"""Downloads of a filtered view as CSV (provenance in '#' header lines) or Parquet (provenance in key-value metadata)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from icemonitor.analysis import overview
from icemonitor.query.filters import Filters
from icemonitor.web import analyses
from icemonitor.web.db import Warehouse

LEVELS = ("summary", "events")
BATCH_ROWS = 65536  # rows per record batch of an event-level download: one CSV chunk or Parquet row group each


def summary_table(wh: Warehouse, f: Filters, by: list[str]) -> tuple[pa.Table, list[str]]:
    """The grouped counts (analysis.overview.counts, as the data page shows them) as an Arrow table, and the
    release ids behind them."""
    result = analyses.counts(wh, f, by)
    rows = result.figures
    names = [*by, "n"]
    table = pa.Table.from_pylist(rows) if rows else pa.table({n: pa.array([], pa.string()) for n in names})
    return table.select(names), result.releases


def events_query(wh: Warehouse, f: Filters) -> tuple[str, list, list[str]]:
    """SQL for the counted rows themselves (list columns joined with ';'), its parameters, the release ids: the
    event-level download streams the rows the figures count (query.Selection's WHERE), not a figure."""
    q = overview.compiled(wh.cursor(), f, wh.columns)
    w = q.where
    cols = wh.ordered_columns(f.table)
    select = ", ".join(f"array_to_string(\"{c}\", ';') AS \"{c}\"" if c == "redacted" else f'"{c}"' for c in cols)
    # No ORDER BY: DuckDB keeps the table's insertion order (the build's release, file, row order) and can stream
    # the result; sorting a whole table first would hold it in memory.
    sql = f"SELECT {select} FROM {f.table} WHERE {w.sql()}"
    return sql, w.params, overview.releases_used(wh.cursor(), q)


def event_batches(wh: Warehouse, sql: str, params: list) -> pa.RecordBatchReader:
    """The event-level download (events_query's SQL): DuckDB streams record batches, each written out and sent
    before the next."""
    return wh.batches(sql, params, BATCH_ROWS)


def table_batches(wh: Warehouse, table: str) -> pa.RecordBatchReader:
    """A whole warehouse table streamed as record batches; `table` must come from an allow-list."""
    return wh.batches(f'SELECT * FROM "{table}"', (), BATCH_ROWS)


def provenance_lines(prov: dict[str, Any]) -> list[str]:
    """The provenance as '# key: value' lines for the top of a CSV."""
    lines = ["# icemonitor download. Lines starting with '#' describe the data; the CSV header follows them."]
    lines.append(f"# generated_at: {prov['generated_at']}")
    lines.append(f"# warehouse: {prov['warehouse']['file']} (modified {prov['warehouse']['modified']})")
    lines.append(f"# table: {prov['table']}; level: {prov['level']}; group_by: {','.join(prov['group_by']) or '-'}")
    lines.append("# filters: " + "; ".join(f"{k}={v}" for k, v in prov["filters"].items()))
    for r in prov["releases"]:
        files = ", ".join(r.get("files", []))
        lines.append(f"# release: {r['release_id']}" + (f" (FOIA {r['foia_request']})" if r.get("foia_request") else "")
                     + (f"; {r['title']}" if r.get("title") else "")
                     + (f"; files: {files}" if files else ""))
    for k, v in prov["definitions"].items():
        lines.append(f"# definition {k}: {v}")
    return [line.replace("\n", " ").replace("\r", " ") for line in lines]


def csv_chunks(batches: Iterable[pa.RecordBatch] | pa.Table, schema: pa.Schema, prov: dict[str, Any]) -> Iterator[bytes]:
    """The CSV, provenance lines first, one chunk per record batch (downloads are streamed)."""
    yield ("\n".join(provenance_lines(prov)) + "\n").encode("utf-8")
    buf = io.BytesIO()
    writer = pacsv.CSVWriter(buf, schema)
    if isinstance(batches, pa.Table):
        batches = batches.to_batches()
    wrote = False
    for batch in batches:
        writer.write_batch(batch)
        wrote = True
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if not wrote:
        writer.write_table(schema.empty_table())
    writer.close()
    if buf.getvalue():
        yield buf.getvalue()


def to_csv(table: pa.Table, prov: dict[str, Any]) -> bytes:
    return b"".join(csv_chunks(table, table.schema, prov))


def parquet_metadata(prov: dict[str, Any]) -> dict[bytes, bytes]:
    return {
        b"icemonitor.provenance": json.dumps(prov, ensure_ascii=False).encode("utf-8"),
        b"icemonitor.releases": ",".join(r["release_id"] for r in prov["releases"]).encode("utf-8"),
        b"icemonitor.definitions": json.dumps(prov["definitions"], ensure_ascii=False).encode("utf-8"),
        b"icemonitor.filters": json.dumps(prov["filters"]).encode("utf-8"),
    }


class _Pipe:
    """A write-only file for pyarrow's ParquetWriter whose bytes are taken out as they come (take())."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def write(self, data) -> int:  # noqa: ANN001 - bytes-like
        chunk = bytes(data)
        self._parts.append(chunk)
        self._written += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def parquet_chunks(batches: Iterable[pa.RecordBatch] | pa.Table, schema: pa.Schema,
                   prov: dict[str, Any]) -> Iterator[bytes]:
    """The Parquet file, one row group per record batch, each sent as soon as it is written (the footer, with the
    provenance metadata, comes last): a download never holds more than one batch."""
    meta = {**(schema.metadata or {}), **parquet_metadata(prov)}
    schema = schema.with_metadata(meta)
    if isinstance(batches, pa.Table):
        batches = batches.to_batches()
    pipe = _Pipe()
    with pq.ParquetWriter(pipe, schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            if chunk := pipe.take():
                yield chunk
    if chunk := pipe.take():
        yield chunk
