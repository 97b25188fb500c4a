"""The warehouse: canonical tables in one DuckDB file, built atomically."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from icemonitor import config
from icemonitor.errors import NoWarehouse
from icemonitor.messages import msg

if TYPE_CHECKING:  # imported by connect(): the CLI registers the warehouse's commands without loading DuckDB
    import duckdb


def connect(path: Path | None = None, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse (read-only by default); a clear error if it has not been built."""
    path = Path(path) if path else config.warehouse_path()
    if read_only and not path.exists():
        raise NoWarehouse(msg("no warehouse at {path}: run `icemonitor build` first", path=str(path)))
    import duckdb

    return duckdb.connect(str(path), read_only=read_only)
