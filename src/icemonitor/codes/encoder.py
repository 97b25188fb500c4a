"""The encoder: maps raw values to canonical codes with the data in codes/data, and stops on unknown ones.

Known values map to their code (the raw value stays beside it); FOIA redaction markers become NULL and the
column's name is added to `redacted`; a value no map knows raises UnknownCodeError naming file, row,
column and value. Lookups run on each column's distinct values, then map the column in one pass.
"""

from __future__ import annotations

import polars as pl

from icemonitor.codes.maps import REDACTION_LIKE, CodeMaps, load_maps, normalise
from icemonitor.errors import UnknownCodeError
from icemonitor.schema import Table

# Reader columns that hold raw codes mapped by the encoder (kept as they are).
CODED_RAW = {"aor_raw", "method_raw", "criminality_raw", "criminality_field", "operation_raw", "apprehension_type_raw"}
PROVENANCE = {"source_file", "source_sheet"}
SEP = "\x1f"


def _distinct(df: pl.DataFrame, column: str) -> list[str | None]:
    return df.get_column(column).unique().to_list()


def _unknown(df: pl.DataFrame, where: pl.Expr, column: str, value: str | None, what: str) -> UnknownCodeError:
    """The error for an unknown value, located at the first row that carries it."""
    file, row = df.filter(where).select("source_file", "source_row").row(0)
    return UnknownCodeError(
        f"unknown {what}: add it to src/icemonitor/codes/data with its meaning",
        file=file, row=row, field=column, value=value,
    )


def _equals(column: str, value: str | None) -> pl.Expr:
    return pl.col(column).is_null() if value is None else (pl.col(column) == value).fill_null(False)


def map_column(
    df: pl.DataFrame, column: str, mapping: dict[str, str | None], what: str, *, any_case: bool = False
) -> pl.Expr:
    """Map a raw column through `mapping` (keyed by normalised value); unknown values stop. With `any_case`,
    a value known in another letter case maps too (AOR names, which some extracts lower-case)."""
    folded = {k.casefold(): v for k, v in mapping.items()} if any_case else {}
    lookup: dict[str, str | None] = {}
    for raw in _distinct(df, column):
        key = normalise(raw)
        if key not in mapping and key.casefold() in folded:
            mapping = {**mapping, key: folded[key.casefold()]}
        if key not in mapping:
            raise _unknown(df, _equals(column, raw), column, raw, what)
        if raw is not None:
            lookup[raw] = mapping[key]
    null_code = mapping.get("")
    return (
        pl.col(column)
        .replace_strict(lookup, default=None, return_dtype=pl.String)
        .fill_null(pl.when(pl.col(column).is_null()).then(pl.lit(null_code, dtype=pl.String)))
    )


def marker_candidates(df: pl.DataFrame, column: str, markers: frozenset[str]) -> list[str | None]:
    """The column's distinct values that may be or look like a redaction marker: those holding a '(' (as every
    REDACTION_LIKE value does) or a marker's text. A high-cardinality column (identifiers, landmarks) is narrowed
    in Polars before the exact test in Python."""
    values = df.get_column(column).unique()
    needles = sorted({"(", *markers} - {""})
    hit = values.str.contains_any(needles)
    if "" in markers:  # a blank marker: every value may be one once stripped
        hit = hit | values.str.strip_chars().eq("") | values.is_null()
    return values.filter(hit.fill_null(False)).to_list()


def redaction_columns(table: Table) -> list[str]:
    """The plain text columns whose redaction markers become NULL (flagged in `redacted`), in table order."""
    return [c.name for c in table.columns
            if c.source == "reader" and c.type == "VARCHAR" and c.name not in CODED_RAW | PROVENANCE]


def markers_of(df: pl.DataFrame, column: str, candidates: list[str | None], maps: CodeMaps) -> list[str]:
    """Which of a column's candidate values (see `marker_candidates`) are redaction markers; a value that looks like
    one but is not known stops, naming the first row of `df` with it."""
    markers = []
    for raw in candidates:
        key = normalise(raw)
        if key in maps.redaction_markers:
            markers.append(raw)
        elif REDACTION_LIKE.match(key):
            raise _unknown(df, _equals(column, raw), column, raw, "redaction marker")
    return markers


def _redactions(df: pl.DataFrame, table: Table, maps: CodeMaps) -> tuple[list[pl.Expr], list[tuple[str, pl.Expr]]]:
    """Null the redaction markers of plain text columns; return new columns and per-column flags (name, whether the
    row's value was a marker)."""
    exprs, flags = [], []
    for name in redaction_columns(table):
        markers = markers_of(df, name, marker_candidates(df, name, maps.redaction_markers), maps)
        if markers:
            hit = pl.col(name).is_in(markers).fill_null(False)
            exprs.append(pl.when(hit).then(None).otherwise(pl.col(name)).alias(name))
            flags.append((name, hit))
    return exprs, flags


def redacted_lists(df: pl.DataFrame, flags: list[tuple[str, pl.Expr]]) -> pl.Series:
    """The `redacted` column: per row, the names of the flags (name, hit) that hit, in flag order. Each distinct
    combination of hits is a bit mask whose list is built once, then gathered per row (a list built per row,
    concat_list of the flags, took 0.25 s CPU per 440,000 rows with a single flag; this 0.01 s)."""
    if not flags:
        return pl.repeat(pl.lit([], dtype=pl.List(pl.String)), df.height, eager=True).alias("redacted")
    if len(flags) > 63:  # a programming error: the schema's tables have up to 16 flags
        raise ValueError(f"{len(flags)} redaction flags do not fit a 64-bit mask")
    mask = df.select(
        pl.sum_horizontal(hit.cast(pl.UInt64) * pl.lit(1 << i, dtype=pl.UInt64) for i, (_, hit) in enumerate(flags))
    ).to_series()
    masks = mask.unique().sort()
    lists = pl.Series("redacted", [[name for i, (name, _) in enumerate(flags) if m >> i & 1] for m in masks],
                      dtype=pl.List(pl.String))
    return lists.gather(masks.search_sorted(mask))


def operation_of(df: pl.DataFrame, maps: CodeMaps) -> tuple[pl.Expr, pl.Expr | None]:
    """Operation name (NULL when blank, a placeholder or redacted) and the redaction flag."""
    blanks = maps.blank_values.get("operation", frozenset())
    nulls, redacted = [], []
    for raw in _distinct(df, "operation_raw"):
        key = normalise(raw)
        if raw is None:
            continue
        if key in maps.redaction_markers:
            redacted.append(raw)
            nulls.append(raw)
        elif key == "" or key in blanks:
            nulls.append(raw)
        elif REDACTION_LIKE.match(key):
            raise _unknown(df, _equals("operation_raw", raw), "operation_raw", raw, "redaction marker")
    name = pl.col("operation_raw")
    operation = pl.when(name.is_in(nulls).fill_null(True)).then(None).otherwise(name.str.strip_chars())
    flag = pl.when(name.is_in(redacted).fill_null(False)).then(pl.lit("operation")) if redacted else None
    return operation.alias("operation"), flag


def criminality_codes(df: pl.DataFrame, maps: CodeMaps) -> pl.Expr:
    """Criminality looked up by (criminality_field, criminality_raw), before the recorded-from rules; unknown fields
    and values stop."""
    pairs = df.select("criminality_field", "criminality_raw").unique()
    lookup: dict[str, str] = {}
    for field, raw in pairs.iter_rows():
        if field not in maps.criminality_fields:
            raise _unknown(df, _equals("criminality_field", field), "criminality_field", field, "criminality field")
        key = normalise(raw)
        code = maps.criminality.get((field, key))
        if code is None and key:
            code = maps.criminality.get((field, "*"))
        if code is None:
            where = _equals("criminality_field", field) & _equals("criminality_raw", raw)
            raise _unknown(df, where, "criminality_raw", raw, f"{field} value")
        lookup[f"{field}{SEP}{'' if raw is None else raw}"] = code
    key = pl.col("criminality_field") + pl.lit(SEP) + pl.col("criminality_raw").fill_null("")
    return key.replace_strict(lookup, default=None, return_dtype=pl.String)


def criminality_rules(table: Table, maps: CodeMaps) -> list[tuple[str, str]]:
    """(criminality field, ISO date) pairs of the table: before that date the field was not recorded ('unknown')."""
    return [(field, start) for (field, tname), start in maps.criminality_recorded_from.items() if tname == table.name]


def _criminality(df: pl.DataFrame, table: Table, maps: CodeMaps) -> pl.Expr:
    expr = criminality_codes(df, maps)
    for field, start in criminality_rules(table, maps):
        not_yet = (pl.col("criminality_field") == field) & (pl.col("event_date") < pl.lit(start).str.to_date())
        expr = pl.when(not_yet.fill_null(False)).then(pl.lit("unknown")).otherwise(expr)
    return expr.alias("criminality")


def encode(df: pl.DataFrame, table: Table, maps: CodeMaps | None = None) -> pl.DataFrame:
    """Add the encoder's columns (aor, method_class, criminality, operation, redacted) to a reader's frame."""
    maps = maps or load_maps()
    schema = table.polars_schema()
    missing = [c for c in table.names("reader") if c not in df.columns]
    df = df.with_columns([pl.lit(None, dtype=schema[c]).alias(c) for c in missing])
    df = df.with_columns(pl.col("criminality_field").fill_null("not_recorded"))
    nulled, flags = _redactions(df, table, maps)
    operation, op_flag = operation_of(df, maps)
    if op_flag is not None:
        flags.append(("operation", op_flag.is_not_null()))
    redacted = redacted_lists(df, flags)
    extra = []
    if "apprehension_type" in schema:
        extra.append(
            map_column(df, "apprehension_type_raw", maps.apprehension_type, "apprehension type")
            .alias("apprehension_type")
        )
    return df.with_columns(
        *extra,
        map_column(df, "aor_raw", maps.aor, "AOR name", any_case=True).alias("aor"),
        map_column(df, "method_raw", maps.method, "apprehension method").alias("method_class"),
        _criminality(df, table, maps),
        operation,
        redacted,
    ).with_columns(nulled)
