"""Downloads of a filtered view as CSV (provenance in '#' header lines) or Parquet (provenance in key-value metadata)."""

from __future__ import annotations

import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from icemonitor.web import queries
from icemonitor.web.db import Warehouse
from icemonitor.web.queries import Filters

LEVELS = ("summary", "events")


def view_table(wh: Warehouse, f: Filters, by: list[str], level: str) -> tuple[pa.Table, list[str]]:
    """The rows of the view and the release ids behind them."""
    if level == "summary":
        result = queries.summary(wh, f, by)
        rows = result["rows"]
        names = [*by, "n"]
        table = pa.Table.from_pylist(rows) if rows else pa.table({n: pa.array([], pa.string()) for n in names})
        return table.select(names), result["releases"]
    w = queries.where(wh, f)
    cols = [c for c in _ordered_columns(wh, f.table)]
    select = ", ".join(f"array_to_string(\"{c}\", ';') AS \"{c}\"" if c == "redacted" else f'"{c}"' for c in cols)
    order = "event_date, release_id, source_file, source_row" if {"source_file", "source_row"} <= set(cols) else "1"
    table = wh.arrow(f"SELECT {select} FROM {f.table} WHERE {w.sql} ORDER BY {order}", w.params)
    return table, queries.releases_used(wh, f, w)


def _ordered_columns(wh: Warehouse, table: str) -> list[str]:
    rows = wh.query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
                    "AND table_name = ? ORDER BY ordinal_position", [table])
    return [r["column_name"] for r in rows]


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


def to_csv(table: pa.Table, prov: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    buf.write(("\n".join(provenance_lines(prov)) + "\n").encode("utf-8"))
    pacsv.write_csv(table, buf)
    return buf.getvalue()


def to_parquet(table: pa.Table, prov: dict[str, Any]) -> bytes:
    meta = dict(table.schema.metadata or {})
    meta.update({
        b"icemonitor.provenance": json.dumps(prov, ensure_ascii=False).encode("utf-8"),
        b"icemonitor.releases": ",".join(r["release_id"] for r in prov["releases"]).encode("utf-8"),
        b"icemonitor.definitions": json.dumps(prov["definitions"], ensure_ascii=False).encode("utf-8"),
        b"icemonitor.filters": json.dumps(prov["filters"]).encode("utf-8"),
    })
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(meta), buf)
    return buf.getvalue()
