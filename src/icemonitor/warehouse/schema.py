"""The canonical tables: defined in warehouse/schema.yaml, loaded by icemonitor.schema (below codes, so the code
encoder can use it). Kept here so `icemonitor.warehouse.schema` stays a valid import."""

from icemonitor.schema import Column, Table, aggregate_tables, table, tables  # noqa: F401
