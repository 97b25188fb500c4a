"""Where icemonitor keeps its state: one data folder (ICEMONITOR_HOME) and an optional mirror."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "icemonitor"
# Largest request body the intake's forms take (bytes): its own check and the server's streaming limit share it.
INTAKE_MAX_BODY = 64 * 1024


def home() -> Path:
    """The data folder: ICEMONITOR_HOME, else the user's data directory."""
    env = os.environ.get("ICEMONITOR_HOME")
    path = Path(env) if env else Path(platformdirs.user_data_dir(APP_NAME))
    return path.expanduser()


def raw_dir(base: Path | None = None) -> Path:
    """The raw archive: files kept untouched under their original names."""
    return (base or home()) / "raw"


def warehouse_path(base: Path | None = None) -> Path:
    """The DuckDB warehouse file."""
    return (base or home()) / "warehouse.duckdb"


def state_db_path(base: Path | None = None) -> Path:
    """The small state database (watches, deliveries), kept apart from the warehouse."""
    return (base or home()) / "state.sqlite"


def cache_dir(base: Path | None = None) -> Path:
    """Derived data that can be deleted at any time (parsed files keyed by checksum and code version)."""
    return (base or home()) / "cache" / "parsed"


def mirror() -> Path | None:
    """A local mirror folder laid out like shared/data (ICEMONITOR_MIRROR), if set."""
    env = os.environ.get("ICEMONITOR_MIRROR")
    return Path(env).expanduser() if env else None
