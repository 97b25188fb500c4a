"""The encoder in DuckDB SQL: the columns `encode` adds to a reader's rows (aor, method_class, apprehension_type,
criminality, operation, redacted; redaction markers set to NULL), as a SELECT over a reader's canonical SELECT, so a
national file is encoded without Python frames of its rows.

Every code is decided by `encode`'s own functions (codes/encoder.py), run on the column's distinct values, each with
the first row that has it (so an unknown value stops naming the same file, row, field and value); the decisions are
kept as small Parquet files beside the SELECT (readers.ddp_sql.SqlRead) and joined. Only the criminality rules by
date (`criminality_rules`) and the NULLing of markers are per row, in SQL.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import polars as pl

from icemonitor.codes.encoder import (
    criminality_codes,
    criminality_rules,
    map_column,
    marker_candidates,
    markers_of,
    operation_of,
    redaction_columns,
)
from icemonitor.codes.maps import CodeMaps, load_maps
from icemonitor.readers.ddp_sql import SqlRead, query_frame, quoted

if TYPE_CHECKING:
    import duckdb

    from icemonitor.schema import Table

ROWS = "c"  # the reader's canonical rows in the encoded SELECT


class _Encoder:
    def __init__(self, con: duckdb.DuckDBPyConnection, rows: SqlRead, file: str, table: Table,
                 maps: CodeMaps) -> None:
        self.con, self.file, self.table, self.maps = con, file, table, maps
        select = (f"SELECT * REPLACE (coalesce(criminality_field, 'not_recorded') AS criminality_field) "
                  f"FROM ({rows.select}) {ROWS}")
        self.rows = replace(rows, select=select, params=dict(rows.params), files=dict(rows.files))
        self.joins: list[str] = []

    def values(self, columns: list[str], where: str = "") -> pl.DataFrame:
        """The distinct values of `columns` (a filter in `where`), each with the file and its first row."""
        cols = ", ".join(quoted(c) for c in columns)
        sql = (f"SELECT {cols}, any_value(source_file) AS source_file, min(source_row) AS source_row "
               f"FROM ({self.rows.select}) {ROWS} {where} GROUP BY ALL")
        return query_frame(self.con, sql, self.rows.bound(), self.file)

    def join(self, decided: pl.DataFrame, keys: list[str]) -> str:
        """Keep a table of decisions keyed by `keys` (a NULL key matches NULL) and join it; returns its alias."""
        name = f"codes_{len(self.joins)}"
        on = " AND ".join(f"{name}.{quoted(k)} IS NOT DISTINCT FROM {ROWS}.{quoted(k)}" for k in keys)
        self.joins.append(f"LEFT JOIN {self.rows.keep(name, decided)} AS {name} ON {on}")
        return name

    def mapped(self, column: str, mapping: dict[str, str | None], what: str, *, any_case: bool = False) -> str:
        d = self.values([column])
        decided = d.select(column, map_column(d, column, mapping, what, any_case=any_case).alias("code"))
        return f"{self.join(decided, [column])}.code"

    def criminality(self) -> str:
        d = self.values(["criminality_field", "criminality_raw"])
        decided = d.select("criminality_field", "criminality_raw", criminality_codes(d, self.maps).alias("code"))
        expr = f"{self.join(decided, ['criminality_field', 'criminality_raw'])}.code"
        for i, (fld, start) in enumerate(criminality_rules(self.table, self.maps)):
            self.rows.params[f"rule_field_{i}"], self.rows.params[f"rule_start_{i}"] = fld, start
            expr = (f"CASE WHEN coalesce({ROWS}.criminality_field = $rule_field_{i} AND {ROWS}.event_date < "
                    f"CAST($rule_start_{i} AS DATE), false) THEN 'unknown' ELSE {expr} END")
        return expr

    def operation(self) -> tuple[str, str | None]:
        d = self.values(["operation_raw"])
        name_expr, flag = operation_of(d, self.maps)
        decided = d.select("operation_raw", name_expr.alias("operation"),
                           (flag if flag is not None else pl.lit(None, dtype=pl.String)).alias("flag"))
        name = self.join(decided, ["operation_raw"])
        return f"{name}.operation", (f"{name}.flag" if flag is not None else None)

    def markers(self, column: str) -> list[str]:
        """The column's redaction markers (a value like one but unknown stops)."""
        known = self.maps.redaction_markers
        needles = sorted({"(", *known} - {""})
        needles = [n for n in needles if n == "(" or "(" not in n]  # a marker holding '(' is found by '(' already
        where = ""
        if "" not in known:  # a blank marker would make every value a candidate
            tests = []
            for i, n in enumerate(needles):
                tests.append(f"contains({ROWS}.{quoted(column)}, $needle_{i})")
                self.rows.params[f"needle_{i}"] = n
            where = "WHERE " + " OR ".join(tests)
        d = self.values([column], where)
        return markers_of(d, column, marker_candidates(d, column, known), self.maps)


def encoded_select(con: duckdb.DuckDBPyConnection, rows: SqlRead, file: str, table: Table,
                   maps: CodeMaps | None = None) -> SqlRead:
    """The encoded SELECT over a reader's canonical SELECT of one file (`rows`: every reader column of `table`): the
    reader columns (markers NULL), then the encoder's columns, as `encode` adds them; its decisions kept beside the
    reader's (in `rows.folder`)."""
    enc = _Encoder(con, rows, file, table, maps or load_maps())
    table, maps = enc.table, enc.maps
    columns = {c: f"{ROWS}.{quoted(c)}" for c in table.names("reader")}
    flags = []
    for i, name in enumerate(redaction_columns(table)):
        markers = enc.markers(name)
        if markers:
            enc.rows.params[f"markers_{i}"] = markers
            hit = f"coalesce(list_contains($markers_{i}, {ROWS}.{quoted(name)}), false)"
            columns[name] = f"CASE WHEN {hit} THEN NULL ELSE {ROWS}.{quoted(name)} END"
            flags.append(f"CASE WHEN {hit} THEN '{name}' END")
    operation, op_flag = enc.operation()
    if op_flag is not None:
        flags.append(op_flag)
    out = [f"{expr} AS {quoted(c)}" for c, expr in columns.items()]
    if "apprehension_type" in table.polars_schema():
        out.append(f"{enc.mapped('apprehension_type_raw', maps.apprehension_type, 'apprehension type')} "
                   "AS apprehension_type")
    out += [f"{enc.mapped('aor_raw', maps.aor, 'AOR name', any_case=True)} AS aor",
            f"{enc.mapped('method_raw', maps.method, 'apprehension method')} AS method_class",
            f"{enc.criminality()} AS criminality",
            f"{operation} AS operation",
            (f"list_filter([{', '.join(flags)}], lambda x: x IS NOT NULL)" if flags else "CAST([] AS VARCHAR[])")
            + " AS redacted"]
    select = f"SELECT {', '.join(out)} FROM ({enc.rows.select}) {ROWS} {' '.join(enc.joins)}"
    return replace(enc.rows, select=select)


__all__ = ["encoded_select"]
