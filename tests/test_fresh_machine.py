"""A user's fresh machine: no mirror. `icemonitor fetch && icemonitor build` with ICEMONITOR_MIRROR empty, the
upstream addresses answered by a loopback server (ICEMONITOR_URL_REWRITE) that serves only the catalog files that
have an upstream address; everything else is derived by code or shipped in the package. The result must equal a
mirror build (the session's `built_home`) in every places table and in the arrests counted per county.

The loopback server takes the upstream files from ../shared/data; upstream inputs that shared/data does not hold
yet (its `<folder>/upstream/` paths) are read from ICEMONITOR_TEST_UPSTREAM when set. Derived files whose upstream
inputs the test cannot serve (and files no source provides, test_catalog_origins.PENDING: none now) are put in the
raw archive beforehand, as if fetched earlier; with every upstream input at hand the test asserts that nothing is.
"""

from __future__ import annotations

import json
import shutil
import threading
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pytest
from typer.testing import CliRunner

from icemonitor import config
from icemonitor.catalog import archive
from icemonitor.catalog.catalog import URL_REWRITE_ENV, load_catalog

from test_catalog_origins import EXTRA, PENDING, SHARED_DATA, raw_input
from test_fetch import UPSTREAM, MirrorServer

LA = ("bln-la-aor-arrests-2025-06", "la_arrests_2025-06-01_10_transcribed.csv")
NC = ("nc-ddp-arrests-2023-25", "nc_ice_arrests_raw_columns.csv")  # optional too: a curator's selection
PLACES_TABLES = ("counties", "county_aor_periods", "population", "policies", "sanctuary_definitions",
                 "landmark_resolution")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A home built by the CLI with no mirror; returns (home, fetch output, build output, seeded files)."""
    catalog = load_catalog()
    files, unservable = {}, set()
    for r in catalog.releases:
        for f in r.files:
            if f.url:
                path = raw_input(f.mirror_path)
                if path is None:
                    unservable.add(f.mirror_path)
                else:
                    files["/" + unquote(f.url[len(UPSTREAM):])] = path
    seeded = set(PENDING) | {f.mirror_path for r in catalog.releases for f in r.files
                             if f.derive and set(f.inputs) & unservable}
    home = tmp_path_factory.mktemp("fresh-home")
    by_path = catalog.by_mirror_path()
    for p in sorted(seeded):  # no source yet: as if an earlier fetch had archived them
        r, f = by_path[p]
        staged = archive.staging_file(r.id, f.name, home)
        shutil.copyfile(SHARED_DATA / p, staged)
        archive.store(staged, release_id=r.id, name=f.name, sha256=f.sha256, origin=f"seeded by the test: {p}", home=home)
    srv = MirrorServer(files)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{srv.server_address[1]}/"
    mp = pytest.MonkeyPatch()
    mp.setenv("ICEMONITOR_HOME", str(home))
    mp.setenv("ICEMONITOR_MIRROR", "")
    mp.setenv(URL_REWRITE_ENV, f"{UPSTREAM}={base}")
    try:
        from icemonitor.cli import app

        runner = CliRunner()
        fetched = runner.invoke(app, ["fetch"])
        built = runner.invoke(app, ["build"])
    finally:
        mp.undo()
        srv.shutdown()
        srv.server_close()
    return home, fetched, built, seeded, unservable, srv.requests


def test_fetch_and_build_succeed_without_a_mirror(fresh):
    home, fetched, built, seeded, unservable, requests = fresh
    assert fetched.exit_code == 0, fetched.output
    assert built.exit_code == 0, built.output
    assert "not fetched (optional): bln-la-aor-arrests-2025-06/" + LA[1] in fetched.output.replace("\n", "")
    assert "missing (optional): bln-la-aor-arrests-2025-06/" + LA[1] in built.output.replace("\n", "")
    if EXTRA is not None or not unservable:  # every upstream input served: only the pending files were seeded
        assert seeded == PENDING
    manifest = [json.loads(line) for line in (home / "raw" / "manifest.jsonl").read_text().splitlines()]
    origins = {m["origin"].split(":", 1)[0] for m in manifest}
    assert origins <= {"http", "package", "derived", "seeded by the test"}
    assert not any(m["origin"].startswith(str(SHARED_DATA)) for m in manifest)  # nothing came from a mirror
    derived = {m["name"] for m in manifest if m["origin"].startswith("derived:")}
    assert {"counties_fips.csv", "county_aor_crosswalk.csv", "states.csv"} <= derived
    packaged = {m["name"] for m in manifest if m["origin"].startswith("package:")}
    assert {"state_immigration_cooperation_laws.csv", "us_atlas_counties-albers-10m.topojson.json"} <= packaged
    assert len(requests) >= 10 and all(rng is None for _, rng in requests)


def test_places_policies_population_and_maps_are_present(fresh):
    home = fresh[0]
    with duckdb.connect(str(config.warehouse_path(home)), read_only=True) as con:
        n = {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in PLACES_TABLES}  # noqa: S608
        assert all(v > 0 for v in n.values()), n
        la = con.execute("SELECT count(*) FROM arrests WHERE release_id = ?", [LA[0]]).fetchone()[0]
        assert la == 0  # the optional extract was not fetched
    from fastapi.testclient import TestClient

    from icemonitor.catalog.fetch import reference_resolver
    from icemonitor.web.app import create_app

    with TestClient(create_app(config.warehouse_path(home), ref=reference_resolver(home))) as client:
        res = client.get("/geo/counties.topojson")
        assert res.status_code == 200
        assert res.content == (SHARED_DATA / "geo/us_atlas_counties-albers-10m.topojson.json").read_bytes()
        assert len(json.loads(res.content)["objects"]["counties"]["geometries"]) == 3142  # 50 states + DC


def _county_arrests(path: Path) -> list[tuple]:
    """Counted arrests per resolved county (the optional LA and NC extracts left out: the fresh build has no copy)."""
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "SELECT r.county_fips, count(*) FROM arrests a JOIN landmark_resolution r "
            "ON a.aor IS NOT DISTINCT FROM r.aor AND a.landmark IS NOT DISTINCT FROM r.landmark "
            "WHERE a.counted AND r.county_fips IS NOT NULL AND a.release_id NOT IN (?, ?) GROUP BY 1 ORDER BY 1",
            [LA[0], NC[0]]
        ).fetchall()


def _table(path: Path, name: str, drop: tuple[str, ...] = ()) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as con:
        cols = [c for (c,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [name]).fetchall() if c not in drop]
        sel = ", ".join(f'"{c}"' for c in cols)
        return con.execute(f'SELECT {sel} FROM "{name}" ORDER BY ALL').fetchall()  # noqa: S608


def test_county_figures_equal_a_mirror_build(fresh, warehouse_path):
    fresh_path = config.warehouse_path(fresh[0])
    figures = _county_arrests(fresh_path)
    assert len(figures) > 1000 and figures == _county_arrests(warehouse_path)
    for name in PLACES_TABLES[:-1]:
        assert _table(fresh_path, name) == _table(warehouse_path, name), name
    # The mirror build also resolves the LA extract's landmarks (and counts its arrests): the same resolution
    # for every other (aor, landmark), and nothing else.
    fresh_rows = _table(fresh_path, "landmark_resolution", drop=("n_arrests",))
    mirror_rows = _table(warehouse_path, "landmark_resolution", drop=("n_arrests",))
    assert set(fresh_rows) <= set(mirror_rows)
    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        la_pairs = set(con.execute("SELECT DISTINCT aor, landmark FROM arrests WHERE release_id IN (?, ?)",
                                   [LA[0], NC[0]]).fetchall())
    extra = set(mirror_rows) - set(fresh_rows)
    assert extra and {row[:2] for row in extra} <= la_pairs
