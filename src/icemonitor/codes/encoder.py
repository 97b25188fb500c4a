"""The encoder: maps raw values to canonical codes with the data in codes/data, and stops on unknown ones.

Known values map to their code (the raw value stays beside it); FOIA redaction markers become NULL and the
column's name is added to `redacted`; a value no map knows raises UnknownCodeError naming file, row,
column and value.
"""

from __future__ import annotations

import polars as pl

from icemonitor.codes.maps import REDACTION_LIKE, CodeMaps, load_maps, normalise
from icemonitor.errors import UnknownCodeError
from icemonitor.warehouse.schema import Table

# Reader columns that hold raw codes mapped by the encoder (kept as they are).
CODED_RAW = {"aor_raw", "method_raw", "criminality_raw", "criminality_field", "operation_raw"}
PROVENANCE = {"source_file", "source_sheet"}


def _unknown(
    df: pl.DataFrame, column: str, keys: pl.Expr, key: str, what: str, shown: str | None = None
) -> UnknownCodeError:
    """The error for an unknown value, located at the first row that carries it."""
    file, row = df.filter(keys == key).select("source_file", "source_row").row(0)
    return UnknownCodeError(
        f"unknown {what}: add it to src/icemonitor/codes/data with its meaning",
        file=file,
        row=row,
        field=column,
        value=key if shown is None else shown,
    )


def _key(column: str) -> pl.Expr:
    return pl.col(column).fill_null("").str.strip_chars()


def _map_column(df: pl.DataFrame, column: str, mapping: dict[str, str | None], what: str) -> pl.Expr:
    keys = _key(column)
    seen = df.select(keys.unique()).to_series().to_list()
    for value in seen:
        if value not in mapping:
            raise _unknown(df, column, keys, value, what)
    return keys.replace_strict(mapping, default=None, return_dtype=pl.String)


def _redactions(df: pl.DataFrame, table: Table, maps: CodeMaps) -> tuple[list[pl.Expr], pl.Expr]:
    """Null the redaction markers of plain text columns; return the new columns and the `redacted` list."""
    exprs, flags = [], []
    for col in table.columns:
        if col.source != "reader" or col.type != "VARCHAR" or col.name in CODED_RAW | PROVENANCE:
            continue
        if col.name not in df.columns:
            continue
        stripped = pl.col(col.name).str.strip_chars()
        values = df.select(stripped.filter(stripped.str.contains(r"^\(\s*[bB]\s*\)")).unique()).to_series()
        for value in values.to_list():
            if value not in maps.redaction_markers and REDACTION_LIKE.match(value):
                raise _unknown(df, col.name, stripped, value, "redaction marker")
        is_marker = stripped.is_in(list(maps.redaction_markers)).fill_null(False)
        if not values.is_empty():
            exprs.append(pl.when(is_marker).then(None).otherwise(pl.col(col.name)).alias(col.name))
            flags.append(pl.when(is_marker).then(pl.lit(col.name)))
    operation = _key("operation_raw")
    flags.append(pl.when(operation.is_in(list(maps.redaction_markers))).then(pl.lit("operation")))
    redacted = pl.concat_list(flags).list.drop_nulls().alias("redacted")
    return exprs, redacted


def _criminality_key() -> pl.Expr:
    return pl.col("criminality_field") + pl.lit("\x1f") + _key("criminality_raw")


def _criminality(df: pl.DataFrame, table: Table, maps: CodeMaps) -> pl.Expr:
    pairs = df.select(pl.col("criminality_field"), _key("criminality_raw").alias("k")).unique()
    lookup: dict[str, str] = {}
    for field, raw in pairs.iter_rows():
        if field not in maps.criminality_fields:
            raise _unknown(df, "criminality_field", pl.col("criminality_field"), field, "criminality field")
        code = maps.criminality.get((field, raw))
        if code is None and raw:
            code = maps.criminality.get((field, "*"))
        if code is None:
            key = f"{field}\x1f{raw}"
            raise _unknown(df, "criminality_raw", _criminality_key(), key, f"{field} value", raw)
        lookup[f"{field}\x1f{raw}"] = code
    expr = _criminality_key().replace_strict(lookup, default=None, return_dtype=pl.String)
    for (field, tname), start in maps.criminality_recorded_from.items():
        if tname != table.name:
            continue
        not_yet = (pl.col("criminality_field") == field) & (pl.col("event_date") < pl.lit(start).str.to_date())
        expr = pl.when(not_yet.fill_null(False)).then(pl.lit("unknown")).otherwise(expr)
    return expr.alias("criminality")


def encode(df: pl.DataFrame, table: Table, maps: CodeMaps | None = None) -> pl.DataFrame:
    """Add the encoder's columns (aor, method_class, criminality, operation, redacted) to a reader's frame."""
    maps = maps or load_maps()
    missing = [c for c in table.names("reader") if c not in df.columns]
    df = df.with_columns(
        [pl.lit(None, dtype=table.polars_schema()[c]).alias(c) for c in missing]
    )
    df = df.with_columns(pl.col("criminality_field").fill_null("not_recorded"))
    nulled, redacted = _redactions(df, table, maps)
    operation = _key("operation_raw")
    blanks = list(maps.blank_values.get("operation", ())) + list(maps.redaction_markers)
    return df.with_columns(
        _map_column(df, "aor_raw", maps.aor, "AOR name").alias("aor"),
        _map_column(df, "method_raw", maps.method, "apprehension method").alias("method_class"),
        _criminality(df, table, maps),
        pl.when((operation == "") | operation.is_in(blanks)).then(None).otherwise(operation).alias("operation"),
        redacted,
    ).with_columns(nulled)
