"""Where each catalog file comes from without a mirror (docs/catalog.md): an upstream address, a derivation by
code from upstream files, or the package itself (curated knowledge, shipped assets).

Derivations are checked against the curator's copies in ../shared/data: each is run on the shared raw inputs and
must give the shared derived file byte for byte. Upstream workbooks and tables that shared/data does not hold yet
(its `<folder>/upstream/` paths) are read from ICEMONITOR_TEST_UPSTREAM, a folder laid out the same way, when set.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from icemonitor.catalog.catalog import load_catalog
from icemonitor.catalog.derive import DERIVATIONS
from icemonitor.catalog.fetch import package_file

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
EXTRA = Path(os.environ["ICEMONITOR_TEST_UPSTREAM"]) if os.environ.get("ICEMONITOR_TEST_UPSTREAM") else None

# Files the build needs that have no source besides a mirror (none now: keep it so, or list them here and the
# end-to-end test puts exactly these in the archive beforehand).
PENDING: set[str] = set()


def raw_input(path: str) -> Path | None:
    """A catalog file in the shared layout: from shared/data, or from ICEMONITOR_TEST_UPSTREAM."""
    for base in (SHARED_DATA, EXTRA):
        if base is not None and (base / path).is_file():
            return base / path
    return None


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


CATALOG = load_catalog()
FILES = [(r, f) for r in CATALOG.releases for f in r.files]
DERIVED = [(r, f) for r, f in FILES if f.derive]


def test_every_file_has_a_source_besides_a_mirror():
    no_source = {f.mirror_path for r, f in FILES if not f.sources and not f.optional and r.fetch == "always"}
    assert no_source == PENDING
    # Fetched only on request, and only from a mirror: the March 2026 release's download addresses are not known.
    on_request = {f.mirror_path for r, f in FILES if not f.sources and r.fetch == "on_request"}
    assert on_request == {f.mirror_path for f in CATALOG.release("ddp-ice-2026-03").files}
    optional = {f.mirror_path for _, f in FILES if f.optional}
    assert optional == {"ice/bln-la-aor-arrests/la_arrests_2025-06-01_10_transcribed.csv",
                        "ice/nc-ddp-arrests-2023-25/nc_ice_arrests_raw_columns.csv"}
    for _, f in FILES:  # the class says where the bytes come from; none only for mirror-only files
        assert (f.origin_class is None) == (f.mirror_path in PENDING | optional | on_request)
        assert f.origin_class != "derived" or f.derive
        assert f.origin_class != "curated" or (f.package_data and not f.url and not f.derive)


def test_derivation_inputs_are_catalog_files_fetched_first():
    by_path = CATALOG.by_mirror_path()
    for _, f in DERIVED:
        assert f.derive in DERIVATIONS, f.name
        for p in f.inputs:
            assert p in by_path, (f.name, p)
            assert p != f.mirror_path
    inputs = {p for _, f in DERIVED for p in f.inputs}
    for _, f in FILES:
        if f.input_only:  # fetched only for a derivation, at an upstream address pinned by checksum
            assert f.mirror_path in inputs and f.url and "/upstream/" in f.mirror_path, f.name


@pytest.mark.parametrize("release,f", [(r, f) for r, f in FILES if f.package_data],
                         ids=lambda x: getattr(x, "name", ""))
def test_packaged_files_are_the_catalog_bytes(release, f):
    """Curated tables and shipped assets: the package's copy hashes to the catalog checksum and equals the
    shared copy (now only a test fixture)."""
    data = package_file(f).read_bytes()
    assert sha256(data) == f.sha256 and len(data) == f.bytes
    assert data == (SHARED_DATA / f.mirror_path).read_bytes()


def test_shipped_map_has_its_licence_notice():
    folder = package_file(CATALOG.release("ref-geo").file("us_atlas_counties-10m.topojson.json")).parent
    notice = (folder / "LICENSE.txt").read_text()
    assert "Copyright 2013-2019 Michael Bostock" in notice and "Permission to use, copy, modify" in notice
    assert "us-atlas 3.0.1" in (folder / "README.md").read_text()


def test_curated_tables_cite_their_sources():
    text = (package_file(CATALOG.release("ref-sanctuary").file("state_immigration_cooperation_laws.csv"))
            .parents[1] / "SOURCES.md").read_text()
    for r, f in FILES:
        if f.origin_class == "curated":
            assert f.name in text, f.name


@pytest.mark.parametrize("release,f", DERIVED, ids=[f.name for _, f in DERIVED])
def test_derivation_reproduces_the_shared_file(release, f):
    inputs = {p: raw_input(p) for p in f.inputs}
    absent = sorted(p for p, path in inputs.items() if path is None)
    if absent:
        pytest.skip(f"upstream input not in shared/data (set ICEMONITOR_TEST_UPSTREAM): {', '.join(absent)}")
    for p, path in inputs.items():
        want = CATALOG.by_mirror_path()[p][1]
        assert sha256(path.read_bytes()) == want.sha256, p
    data = DERIVATIONS[f.derive](inputs, f.name)
    assert data == (SHARED_DATA / f.mirror_path).read_bytes()
    assert sha256(data) == f.sha256


def test_a_changed_input_changes_the_derivation(tmp_path):
    """The crosswalk follows its inputs: an AOR moved in UWCHR's table moves in the derived file."""
    f = CATALOG.release("ref-aor").file("county_aor_crosswalk.csv")
    inputs = {p: SHARED_DATA / p for p in f.inputs}
    changed = tmp_path / "uwchr_county_aor.csv"
    changed.write_text(inputs["aor/uwchr_county_aor.csv"].read_text().replace(
        '"king county, washington",SEA', '"king county, washington",SFR'))
    inputs["aor/uwchr_county_aor.csv"] = changed
    rows = DERIVATIONS[f.derive](inputs, f.name).decode().splitlines()
    assert [r for r in rows if r.startswith("53033,")] == [
        "53033,WA,Washington,King County,Seattle,SEA,entire_state,SFR"]
