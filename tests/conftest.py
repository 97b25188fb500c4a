"""Shared fixtures: the real data in ../shared/data, and a warehouse built from it once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ICE_DATA = SHARED_DATA / "ice"


@pytest.fixture(autouse=True, scope="session")
def _no_user_state():
    """Tests never read the user's data folder or mirror: each test names its own."""
    saved = {k: os.environ.pop(k) for k in ("ICEMONITOR_HOME", "ICEMONITOR_MIRROR") if k in os.environ}
    yield
    os.environ.update(saved)


def shared_ref(path: str) -> Path:
    """Reference files in the shared/data layout (what the catalog's resolver gives the product)."""
    return SHARED_DATA / path


@pytest.fixture(scope="session")
def built_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ICEMONITOR_HOME with every release fetched from ../shared/data and the warehouse built as `icemonitor
    build` builds it: event tables, places tables, detention tables."""
    from icemonitor import config
    from icemonitor.catalog.fetch import fetch
    from icemonitor.warehouse.build import build
    from icemonitor.places.build_step import catalog_stage
    from icemonitor.analysis.sweeps_stored import sweeps_stage
    from icemonitor.catalog.fetch import reference_resolver
    from icemonitor.warehouse.sources import catalog_sources

    home = tmp_path_factory.mktemp("icemonitor-home")
    fetch(None, home=home, mirror=SHARED_DATA)
    build(
        catalog_sources(home=home),
        config.warehouse_path(home),
        extra_tables=catalog_stage(home),
        answer_tables=sweeps_stage(reference_resolver(home)),
    )
    return home


@pytest.fixture(scope="session")
def warehouse_path(built_home: Path) -> Path:
    from icemonitor import config

    return config.warehouse_path(built_home)


@pytest.fixture(scope="session")
def without_count_tables(warehouse_path: Path, tmp_path_factory) -> Path:
    """A copy of the built warehouse (in its data folder's place: reference files by link) without its count tables
    (event_days, state_days, aor_days, their month tables, event_methods): every figure then comes from the event
    rows."""
    import shutil

    import duckdb

    home = tmp_path_factory.mktemp("no-count-tables")
    for name in ("raw", "cache"):
        if (warehouse_path.parent / name).exists():
            (home / name).symlink_to(warehouse_path.parent / name)
    copy = home / "warehouse.duckdb"
    shutil.copyfile(warehouse_path, copy)
    con = duckdb.connect(str(copy))
    for table in ("event_days", "state_days", "aor_days", "event_months", "state_months", "aor_months",
                  "event_methods"):
        con.execute(f"DROP TABLE {table}")
    con.close()
    return copy


@pytest.fixture(scope="module")
def warehouse_con(warehouse_path: Path):
    """A read-only connection to the built warehouse."""
    import duckdb

    con = duckdb.connect(str(warehouse_path), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def warehouse_client(warehouse_path: Path):
    """The web app over the built warehouse, reference files from ../shared/data."""
    from fastapi.testclient import TestClient

    from icemonitor.web.app import create_app

    return TestClient(create_app(warehouse_path, ref=shared_ref))
