"""The release catalog against the real files in ../shared/data (checksums computed here, independently)."""

from __future__ import annotations

import hashlib
import re
import sys
import types
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml

from icemonitor.catalog.catalog import DEFAULT_PATH, RECORD_KINDS, load_catalog
from icemonitor.errors import InputError

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
ICE = SHARED_DATA / "ice"
DOCS = {"SOURCE.md", "README.md"}
REFERENCE_FOLDERS = {"geo": "ref-geo", "aor": "ref-aor", "population": "ref-population",
                     "sanctuary": "ref-sanctuary", "287g": "ref-287g"}
# Folders / files holding person- or event-level records (per ice/README.md and each SOURCE.md).
EVENT_FILES = (
    [p for p in (ICE / "uwchr-ice-enforce-fy16-19").iterdir() if p.name not in DOCS]
    + [p for p in (ICE / "uwchr-seattle-aor-fy12-19").iterdir() if p.name not in DOCS]
    + [p for p in (ICE / "uwchr-i213-sea-22-25").iterdir() if p.name not in DOCS]
    + [p for p in (ICE / "bln-la-aor-arrests").iterdir() if p.name not in DOCS]
    + [ICE / "uwchr-ddp-wa-joined" / "joined_df_wa.csv", ICE / "mn-ddp-extracts" / "st_cloud_denied.csv"]
    + [ICE / "nc-ddp-arrests-2023-25" / "nc_ice_arrests_raw_columns.csv"]
)
BRIEF_READERS = {"lesa_nationwide", "seattle_aor_csv", "seattle_aor_xlsx", "seattle_cap_csv", "seattle_cap_xlsx",
                 "i213_csv", "i213_xlsx", "ddp_bln_arrests", "ddp_joined", "ddp_detainers", "ddp_ice"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def by_path(catalog):
    out = {f.mirror_path: (r, f) for r in catalog.releases for f in r.files}
    out.update({n.mirror_path: (None, n) for n in catalog.not_loaded})
    return out


def rel(p: Path) -> str:
    return p.relative_to(SHARED_DATA).as_posix()


def test_every_event_file_is_in_an_event_release_with_its_real_checksum(catalog, by_path):
    assert len(EVENT_FILES) == 11 + 12 + 2 + 1 + 2 + 1
    for p in EVENT_FILES:
        release, f = by_path[rel(p)]
        assert release is not None and release.kind == "event", p
        assert f.reader, p
        assert f.sha256 == sha256(p), p
        assert f.bytes == p.stat().st_size, p
        assert f.name == p.name


def test_every_file_under_ice_is_catalogued_once(by_path):
    files = [p for p in ICE.rglob("*") if p.is_file() and p.name not in DOCS]
    assert files
    for p in files:
        assert rel(p) in by_path, f"{rel(p)} is neither a release file nor listed under not_loaded"
        assert by_path[rel(p)][1].sha256 == sha256(p)


def test_not_loaded_are_only_aggregates_with_reasons(catalog):
    names = {n.name for n in catalog.not_loaded}
    assert "sea_crim_state_month.csv" in names and "daily_arrests.csv" in names
    assert not names & {p.name for p in EVENT_FILES}
    assert all(n.reason for n in catalog.not_loaded)


def test_every_catalog_file_exists_in_the_mirror_with_its_checksum(catalog):
    n = 0
    for r in catalog.default_releases():  # on_request releases are not in the mirror (tests/test_ddp_catalog.py)
        for f in r.files:
            if f.input_only:  # upstream inputs of derivations: checked in test_catalog_origins
                continue
            p = SHARED_DATA / f.mirror_path
            assert p.is_file(), f.mirror_path
            assert p.stat().st_size == f.bytes, f.mirror_path
            assert sha256(p) == f.sha256, f.mirror_path
            n += 1
    detention = [ICE / "ice-detention-stats", ICE / "ddp-facility-daily-population", SHARED_DATA / "facilities"]
    assert n == 29 + 3 + sum(
        1 for folder in REFERENCE_FOLDERS for p in (SHARED_DATA / folder).rglob("*") if p.is_file() and p.name not in DOCS
    ) + sum(1 for folder in detention for p in folder.rglob("*") if p.is_file() and p.name not in DOCS)


def test_reference_folders_are_complete(catalog):
    for folder, rid in REFERENCE_FOLDERS.items():
        release = catalog.release(rid)
        assert release.kind == "reference"
        paths = {f.mirror_path for f in release.files if not f.input_only}  # upstream inputs of derivations
        on_disk = {rel(p) for p in (SHARED_DATA / folder).rglob("*") if p.is_file() and p.name not in DOCS}
        assert paths == on_disk, folder
        for f in release.files:
            assert f.reader is None
            assert f.url or f.note, f"{f.mirror_path}: without a URL the file needs a note saying where it comes from"


def test_urls_point_at_the_recorded_origin(catalog):
    for r in catalog.event_releases():
        if r.fetch == "on_request":  # DDP's LFS and share-link addresses: tests/test_ddp_catalog.py
            continue
        source_md = (SHARED_DATA / r.origin.source_md).read_text()
        assert r.origin.commit and r.origin.commit in source_md, r.id
        for f in r.files:
            if f.url is None:
                assert f.note and "mirror" in f.note
                continue
            m = re.match(r"^https://raw\.githubusercontent\.com/([^/]+/[^/]+)/([0-9a-f]{40})/(.+)$", f.url)
            assert m, f.url
            assert m.group(1) == r.origin.repository and m.group(2) == r.origin.commit
            assert unquote(m.group(3)).endswith(f.name)
            assert " " not in f.url


def test_release_metadata(catalog):
    ids = [r.id for r in catalog.releases]
    assert ids[:10] == [
        "uwchr-ice-enforce-fy16-19", "uwchr-seattle-aor-fy12-19", "uwchr-seattle-aor-fy12-19-xlsx",
        "uwchr-seattle-cap-fy17-18", "uwchr-seattle-cap-fy17-18-xlsx", "uwchr-i213-sea-22-25",
        "uwchr-i213-sea-22-25-geocoded", "bln-la-aor-arrests-2025-06", "uwchr-ddp-wa-joined", "mn-ddp-st-cloud-detainers",
    ]
    nat = catalog.release("uwchr-ice-enforce-fy16-19")
    assert nat.foia_request == "2019-ICFO-53623"
    assert {f.options["table"] for f in nat.files} == {"arrests", "encounters", "removals"}
    assert sum(f.options["table"] == "encounters" for f in nat.files) == 3  # FY2018 encounters are missing
    assert catalog.release("uwchr-seattle-cap-fy17-18").foia_request == "2018-ICFO-36170"
    assert len(catalog.release("uwchr-seattle-cap-fy17-18").files) == 6
    assert {f.reader for r in catalog.event_releases() for f in r.files if f.reader} == BRIEF_READERS
    for r in catalog.event_releases():
        assert r.coverage and r.coverage.from_ <= r.coverage.to
        assert set(r.record_kinds) <= set(RECORD_KINDS)


def test_readers_known_to_the_readers_stage(catalog):
    try:
        from icemonitor.readers import READERS
    except ImportError:
        pytest.skip("icemonitor.readers.READERS not on this branch yet")
    for r in catalog.event_releases():
        for f in r.files:
            assert f.reader in READERS or (f.reader is None and r.fetch == "on_request" and "Not read yet" in f.note)


def test_unknown_release_lists_known_ids(catalog):
    with pytest.raises(InputError) as err:
        catalog.release("no-such-release")
    assert "uwchr-ice-enforce-fy16-19" in str(err.value) and "no-such-release" in str(err.value)


def _variant(tmp_path: Path, edit) -> Path:
    data = yaml.safe_load(DEFAULT_PATH.read_text())
    edit(data)
    p = tmp_path / "releases.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def test_validation_rejects_duplicate_ids(tmp_path):
    p = _variant(tmp_path, lambda d: d["releases"].append(dict(d["releases"][0])))
    with pytest.raises(InputError, match="ids repeat"):
        load_catalog(p)


def test_validation_rejects_bad_sha256(tmp_path):
    def edit(d):
        d["releases"][0]["files"][0]["sha256"] = "ABC"
    with pytest.raises(InputError, match="SHA-256") as err:
        load_catalog(_variant(tmp_path, edit))
    assert "sha256" in str(err.value)


def test_validation_rejects_unknown_reader(tmp_path, monkeypatch):
    fake = types.ModuleType("icemonitor.readers")
    fake.READERS = {name: None for name in BRIEF_READERS - {"ddp_detainers"}}
    monkeypatch.setitem(sys.modules, "icemonitor.readers", fake)
    monkeypatch.setattr("icemonitor.catalog.catalog._CACHE", {})
    from icemonitor.warehouse.sources import catalog_sources, check_readers

    with pytest.raises(InputError, match="unknown reader 'ddp_detainers'"):
        check_readers(load_catalog())
    with pytest.raises(InputError, match="unknown reader 'ddp_detainers'"):  # the build's sources check it first
        catalog_sources()


def test_url_rewrite_argument_and_environment(monkeypatch):
    c = load_catalog(url_rewrite="https://raw.githubusercontent.com/=http://127.0.0.1:1/")
    urls = [f.url for r in c.releases for f in r.files if f.url and r.fetch == "always"]
    assert urls and all(u.startswith("http://127.0.0.1:1/") for u in urls)
    monkeypatch.setenv("ICEMONITOR_URL_REWRITE", "https://raw.githubusercontent.com/=http://mirror.invalid/x/")
    c2 = load_catalog()
    assert c2.releases[0].files[0].url.startswith("http://mirror.invalid/x/UWCHR/ice-enforce/")
    monkeypatch.delenv("ICEMONITOR_URL_REWRITE")
    assert load_catalog().releases[0].files[0].url.startswith("https://raw.githubusercontent.com/")
