"""The canonical tables, read from warehouse/schema.yaml: one definition drives DDL, casting and validation.
Below every stage (readers, codes, warehouse and query use it)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:  # polars is imported by the readers and the build that need it, not by every command's start
    import polars as pl


@cache
def polars_types() -> dict[str, pl.DataType]:
    """The Polars type of each column type of schema.yaml."""
    import polars as pl

    return {
        "VARCHAR": pl.String(),
        "DATE": pl.Date(),
        "INTEGER": pl.Int32(),
        "SMALLINT": pl.Int16(),
        "BIGINT": pl.Int64(),
        "BOOLEAN": pl.Boolean(),
        "TIMESTAMP": pl.Datetime("us"),
        "DOUBLE": pl.Float64(),
        "VARCHAR[]": pl.List(pl.String()),
    }


def load_yaml(text: str) -> Any:
    """YAML's safe subset, parsed by libyaml (PyYAML's C parser; the pure-Python one took a tenth of a second of
    every command's start on schema.yaml alone)."""
    return yaml.load(text, Loader=yaml.CSafeLoader)  # noqa: S506 - CSafeLoader is the safe loader in C


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    source: str  # reader / encoder / build
    description: str
    recorded_if: str | None = None  # SQL test of a row recording the field, where not simply 'value present'

    @property
    def polars_type(self) -> pl.DataType:
        return polars_types()[self.type]


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]

    def names(self, source: str | None = None) -> list[str]:
        return [c.name for c in self.columns if source is None or c.source == source]

    def ddl(self) -> str:
        cols = ",\n  ".join(f'"{c.name}" {c.type}' for c in self.columns)
        return f'CREATE TABLE "{self.name}" (\n  {cols}\n)'

    def polars_schema(self) -> dict[str, pl.DataType]:
        return {c.name: c.polars_type for c in self.columns}


def _column(d: dict) -> Column:
    return Column(d["name"], d["type"], d["from"], d.get("description", ""), d.get("recorded_if"))


@cache
def _spec() -> dict[str, Any]:
    return load_yaml((resources.files("icemonitor.warehouse") / "schema.yaml").read_text())


@cache
def tables() -> dict[str, Table]:
    """Every canonical event table, common columns first."""
    spec = _spec()
    common = [_column(c) for c in spec["common_columns"]]
    out = {}
    for name, t in spec["tables"].items():
        extra = [_column(c) for c in t.get("columns") or []]
        out[name] = Table(name, t.get("description", ""), tuple(common + extra))
    return out


def table(name: str) -> Table:
    try:
        return tables()[name]
    except KeyError:
        raise KeyError(f"unknown table {name!r}; known: {', '.join(tables())}") from None


@cache
def aggregate_tables() -> dict[str, Table]:
    """Tables of published aggregates and what the build derives from them (no common columns)."""
    return _section("aggregate_tables")


@cache
def derived_tables() -> dict[str, Table]:
    """Tables the build derives from the event tables in SQL (schema.yaml's derived_tables: event_days)."""
    return _section("derived_tables")


def _section(key: str) -> dict[str, Table]:
    """The tables of one section of schema.yaml that has no common columns."""
    spec = _spec()
    return {
        name: Table(name, t.get("description", ""), tuple(_column(c) for c in t.get("columns") or []))
        for name, t in (spec.get(key) or {}).items()
    }
