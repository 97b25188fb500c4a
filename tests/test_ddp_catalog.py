"""The Deportation Data Project releases in the catalog, files fetched only on request, and checksums recorded at first
fetch, over a loopback HTTP server (never the network)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from icemonitor.catalog import pins
from icemonitor.catalog.catalog import load_catalog
from icemonitor.catalog.fetch import archived_path, fetch
from icemonitor.errors import ChecksumError
from icemonitor.warehouse.sources import catalog_sources, lacking

# LFS pointers of deportationdata/ice at this commit (oid = SHA-256 of the content), as issue #12 gives them
DDP_COMMIT = "533ccce9793beabd2214f807fcc530c07961a28e"
LFS = {
    "arrests-latest.parquet": ("2b0e6bdc990d2da198ce03b80e559819ad4d00382e2a152e08b86e3992867d09", 29460683),
    "detainers-latest.parquet": ("43bbb30edba96bf4d73ca03b372185419b7faa16ac86f36659760fefc4b6c713", 23821979),
    "detention-stays-latest.parquet": ("cf689865b2165b40a10c49ecc4217048a08f25e62dcf370c939fa885c7688446", 109630322),
    "detention-stints-latest.parquet": ("286c00f63cc35d4878a2010704ffa91697e80213010cd948fc07c1f5b90af964", 252930354),
    "encounters-latest.feather": ("6e25332417036607595f4858205288f99c28513187990e312ea308dc49329a10", 169201290),
    "ice-arrests-2012-2023.feather": ("2648ce4e972c07e8e3330a879b03672111111f7abd7377945cc858f7b76d2e67", 114836282),
    "ice-removals-2012-2023.feather": ("9ce77fe4cc35b7076ff0365a2fa588154b10d2f05ac041fe601ea330c9b7934f", 478142762),
    "ice-detentions-2012-2023.feather": ("4258220c75de4bc34f7e747bbd14e9ba47d8136ebeeedefb4669732f1c8ee9cf", 1134243394),
}
BOX_IDS = ("8o9t933aq750z7eblcch11z7twexjbn5", "k699orsf5wm8i9ehr1x4foownlj5zuyn", "c6tfgtq90er5df898vaq912okchn9o66",
           "tp02l4356coo3vzjbbksk51olobzis73", "hrofkgyefmmvki95f487rpk1wigcefd5")
DDP_RELEASES = ("ddp-ice-2012-2023", "ddp-ice-2025-07", "ddp-ice-2025-10", "ddp-ice-2026-03", "ddp-ice-processed-latest")
# the 15 Oct 2025 release: DDP code/*-latest.R at 23b8c3f (arrests, detainers, detentions) and the removals link of DDP's
# news post of 17 Feb 2026; no address of its encounters workbook was found
OCTOBER_BOX = {"tvdx5ulcg4hj3ul91qhggs3yxcdjdcib": "arrests", "w3di8ek30zco6b4dzggpi3sl6hyp19oe": "detainers",
               "l55xu3n0r7xnovjrc5ak1fksan2dsj70": "detention_stints", "8sf3s6hqfdcko9hngnl7mg6dabt0boy8": "removals"}


def test_every_ddp_file_is_catalogued_with_its_address_and_checksum():
    catalog = load_catalog()
    files = {f.name: (r, f) for r in catalog.releases if r.id in DDP_RELEASES for f in r.files}
    for name, (sha, size) in LFS.items():
        r, f = files[name]
        assert (f.sha256, f.bytes) == (sha, size)
        # LFS content is served at the media address, not at raw.githubusercontent.com (that gives the pointer)
        assert f.url == f"https://media.githubusercontent.com/media/deportationdata/ice/{DDP_COMMIT}/data/{name}"
        assert r.origin.commit == DDP_COMMIT
    for box in BOX_IDS:
        r, f = files[f"{box}.xlsx"]
        assert r.id == "ddp-ice-2025-07" and f.url == f"https://ucla.box.com/shared/static/{box}.xlsx"
        assert f.pinned_at_first_fetch and f.bytes is None
    march = catalog.release("ddp-ice-2026-03")
    assert march.foia_request == "2026-ICLI-00005"
    assert {f.name for f in march.files} == {
        f"2026-ICLI-00005_{t}_FY23..FY26_20260311_Redacted.xlsx"
        for t in ("Arrests", "Detainers", "Detentions", "Encounters", "Removals")}
    assert catalog.release("ddp-ice-2012-2023").foia_request == "2023-ICFO-42034"
    assert catalog.release("ddp-ice-2025-07").foia_request.startswith("2025-ICLI-00019")
    assert all(catalog.release(r).fetch == "on_request" for r in DDP_RELEASES)


def test_october_2025_release_is_catalogued_with_its_box_addresses_and_documented_problems():
    from icemonitor.catalog.problems import problems_for

    october = load_catalog().release("ddp-ice-2025-10")
    assert october.foia_request == "2025-ICLI-00019 / 2024-ICFO-39357" and october.fetch == "on_request"
    assert (str(october.coverage.from_), str(october.coverage.to)) == ("2023-09-01", "2025-10-15")
    assert october.origin.commit == "23b8c3fee1285827cae3842eac874ac8c3adf243"
    assert {f.name: f.options["table"] for f in october.files} == {f"{b}.xlsx": t for b, t in OCTOBER_BOX.items()}
    for f in october.files:
        assert f.url == f"https://ucla.box.com/shared/static/{f.name}" and f.pinned_at_first_fetch and f.reader == "ddp_ice"
    assert "encounters" not in {f.options["table"] for f in october.files} and "not catalogued" in october.notes
    [removals] = problems_for("removals", ["ddp-ice-2025-10"])
    assert removals.catalogued and "significant errors" in removals.problem_en
    assert "2026-02-17-update-ICE-removals" in removals.source


def test_releases_absent_from_the_mirror_are_left_out_and_named(tmp_path):
    home = tmp_path
    assert not any(r.id in DDP_RELEASES for r in load_catalog().default_releases())
    assert {r.id for r in lacking(home)} == set(DDP_RELEASES)
    # a build without them needs none of their files
    from conftest import SHARED_DATA

    fetch(["nc-ddp-arrests-2023-25"], home=home, mirror=SHARED_DATA)
    assert [s.release_id for s in catalog_sources(["nc-ddp-arrests-2023-25"], home=home)] == ["nc-ddp-arrests-2023-25"]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.content: dict[str, bytes] = {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        body = self.server.content.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")


@contextlib.contextmanager
def _serving():
    srv = _Server()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield srv, f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


GOOD = b"processed records, version one\n" * 100


def _catalog(tmp_path: Path, base: str):
    doc = {"version": 1, "releases": [{
        "id": "test-ddp", "kind": "event", "fetch": "on_request", "title": "t", "publisher": "p",
        "record_kinds": ["arrests"], "files": [
            {"name": "pinned.parquet", "url": f"{base}/media/pinned.parquet", "sha256": hashlib.sha256(GOOD).hexdigest(),
             "bytes": len(GOOD), "mirror_path": "ice/test/pinned.parquet", "reader": None},
            {"name": "box.xlsx", "url": f"{base}/shared/static/box.xlsx", "sha256": None, "bytes": None,
             "mirror_path": "ice/test/box.xlsx", "reader": None},
        ]}]}
    path = tmp_path / "releases.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return load_catalog(path)


def test_pinned_file_good_bytes_accepted_other_bytes_refused(tmp_path):
    with _serving() as (srv, base):
        catalog = _catalog(tmp_path, base)
        srv.content["/shared/static/box.xlsx"] = b"workbook"
        srv.content["/media/pinned.parquet"] = GOOD[:-1] + b"X"
        with pytest.raises(ChecksumError):
            fetch("test-ddp", home=tmp_path / "a", catalog=catalog, retries=0, timeout=10.0)
        assert pins.latest("test-ddp", "box.xlsx", tmp_path / "a") is not None  # the other file went on
        srv.content["/media/pinned.parquet"] = GOOD
        got = fetch("test-ddp", home=tmp_path / "a", catalog=catalog, retries=0, timeout=10.0)
        assert got[0].path.read_bytes() == GOOD and got[0].new


def test_box_checksum_recorded_at_first_fetch_and_a_changed_file_refused(tmp_path):
    home = tmp_path / "home"
    first, changed = b"workbook, first version" * 50, b"workbook, changed upstream" * 50
    with _serving() as (srv, base):
        catalog = _catalog(tmp_path, base)
        srv.content["/media/pinned.parquet"] = GOOD
        srv.content["/shared/static/box.xlsx"] = first
        fetch("test-ddp", home=home, catalog=catalog, retries=0, timeout=10.0)
        pin = pins.latest("test-ddp", "box.xlsx", home)
        assert (pin.sha256, pin.bytes, pin.reason) == (hashlib.sha256(first).hexdigest(), len(first), pins.FIRST_FETCH)
        assert archived_path("test-ddp", "box.xlsx", home=home, catalog=catalog).read_bytes() == first
        # unchanged upstream: a recheck stores nothing new
        again = fetch("test-ddp", home=home, catalog=catalog, retries=0, timeout=10.0, recheck=True)
        assert not any(a.new for a in again)
        # changed upstream: refused, the first copy and its pin stay
        srv.content["/shared/static/box.xlsx"] = changed
        with pytest.raises(ChecksumError, match="differs from the copy first fetched") as err:
            fetch("test-ddp", home=home, catalog=catalog, retries=0, timeout=10.0, recheck=True)
        assert err.value.expected == pin.sha256 and err.value.actual == hashlib.sha256(changed).hexdigest()
        assert pins.latest("test-ddp", "box.xlsx", home) == pin
        assert archived_path("test-ddp", "box.xlsx", home=home, catalog=catalog).read_bytes() == first
        # accepted as a new version: archived beside the first, and pinned
        fetch("test-ddp", home=home, catalog=catalog, retries=0, timeout=10.0, recheck=True, accept_new_version=True)
        assert pins.latest("test-ddp", "box.xlsx", home).reason == pins.NEW_VERSION
        assert archived_path("test-ddp", "box.xlsx", home=home, catalog=catalog).read_bytes() == changed
