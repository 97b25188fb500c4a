"""Fetching into the raw archive: from the mirror (../shared/data) and over HTTP from a local server on
127.0.0.1 that serves the mirror (never the real network)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import stat
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icemonitor.catalog import archive
from icemonitor.catalog.catalog import DEFAULT_PATH as DEFAULT_CATALOG, load_catalog
from icemonitor.catalog.fetch import FetchError, archived_path, fetch, reference_resolver
from icemonitor.errors import ChecksumError, InputError

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
UPSTREAM = "https://raw.githubusercontent.com/"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(home: Path) -> list[dict]:
    p = home / "raw" / "manifest.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines()] if p.exists() else []


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory):
    """A home with every catalog file fetched from ../shared/data."""
    home = tmp_path_factory.mktemp("home")
    first = fetch(None, home=home, mirror=SHARED_DATA)
    return home, first


def test_fetch_from_mirror_builds_archive_and_manifest(mirrored):
    home, first = mirrored
    catalog = load_catalog()
    expected = [(r.id, f) for r in catalog.default_releases() for f in r.files if not f.input_only]
    assert len(first) == len(expected) and all(a.new for a in first)
    lines = manifest(home)
    assert len(lines) == len(expected)
    for (rid, f), a, line in zip(expected, first, lines):
        src = SHARED_DATA / f.mirror_path  # curated tables and the map come from the package, with the same bytes
        origin = f"package:{f.package_data}" if f.package_data else str(src)
        assert a.path.parent.parent == home / "raw" / rid  # raw/<release>/<YYYY-MM-DD>/<name>
        assert len(a.path.parent.name) == 10 and a.path.parent.name[4] == "-"
        assert a.path.name == f.name
        assert a.path.read_bytes() == src.read_bytes()
        assert sha256(a.path) == f.sha256
        assert not a.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        assert line["release_id"] == rid and line["name"] == f.name and line["sha256"] == sha256(src)
        assert line["bytes"] == src.stat().st_size and line["origin"] == origin
        assert (home / "raw" / line["path"]) == a.path
    assert not list((home / "raw").rglob("*.part")) and not list((home / "raw").rglob("*.tmp"))


def test_second_fetch_is_a_no_op(mirrored):
    home, first = mirrored
    before = (home / "raw" / "manifest.jsonl").read_bytes()
    mtimes = {a.path: a.path.stat().st_mtime_ns for a in first}
    again = fetch(None, home=home, mirror=SHARED_DATA)
    assert [a.path for a in again] == [a.path for a in first]
    assert not any(a.new for a in again)
    assert (home / "raw" / "manifest.jsonl").read_bytes() == before
    assert {a.path: a.path.stat().st_mtime_ns for a in again} == mtimes


def test_archived_path_and_reference_resolver(mirrored):
    home, _ = mirrored
    p = archived_path("uwchr-ice-enforce-fy16-19", "EROArrests_FY2017.csv.gz", home=home, full_check=True)
    assert p.read_bytes() == (SHARED_DATA / "ice/uwchr-ice-enforce-fy16-19/EROArrests_FY2017.csv.gz").read_bytes()
    ref = reference_resolver(home)
    for path in ("geo/counties_fips.csv", "aor/county_aor_crosswalk.csv", "geo/addfips/states.csv"):
        assert ref(path).read_bytes() == (SHARED_DATA / path).read_bytes()
        assert str(ref(path)).startswith(str(home / "raw"))
    with pytest.raises(InputError, match="no catalog file"):
        ref("geo/nowhere.csv")


def test_archived_path_when_not_fetched(tmp_path):
    with pytest.raises(InputError, match=r"not fetched: run `icemonitor fetch uwchr-i213-sea-22-25`"):
        archived_path("uwchr-i213-sea-22-25", "sea-i213s-2026-02-13.csv.gz", home=tmp_path)
    with pytest.raises(InputError, match="unknown release"):
        archived_path("nope", "x.csv", home=tmp_path)


def test_archived_path_rejects_a_truncated_copy(tmp_path):
    [a] = fetch("mn-ddp-st-cloud-detainers", home=tmp_path, mirror=SHARED_DATA)
    os.chmod(a.path, 0o644)
    a.path.write_bytes(a.path.read_bytes()[:-10])
    with pytest.raises(InputError, match="not fetched"):
        archived_path("mn-ddp-st-cloud-detainers", "st_cloud_denied.csv", home=tmp_path)
    [b] = fetch("mn-ddp-st-cloud-detainers", home=tmp_path, mirror=SHARED_DATA)  # re-fetched beside it
    assert b.new and b.path != a.path and sha256(b.path) == b.sha256
    assert archived_path("mn-ddp-st-cloud-detainers", "st_cloud_denied.csv", home=tmp_path) == b.path


def test_mirror_laid_out_like_the_ice_folder(tmp_path):
    got = fetch(["uwchr-seattle-cap-fy17-18"], home=tmp_path, mirror=SHARED_DATA / "ice")
    assert len(got) == 6 and all(a.new for a in got)
    assert all(sha256(a.path) == a.sha256 for a in got)


def test_mirror_with_altered_bytes_is_refused(tmp_path):
    mirror = tmp_path / "mirror"
    src = SHARED_DATA / "ice/mn-ddp-extracts/st_cloud_denied.csv"
    dst = mirror / "ice/mn-ddp-extracts/st_cloud_denied.csv"
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes().replace(b"MEXICO", b"MEXICA", 1))
    home = tmp_path / "home"
    with pytest.raises(ChecksumError) as err:
        fetch("mn-ddp-st-cloud-detainers", home=home, mirror=mirror)
    msg = str(err.value)
    assert "st_cloud_denied.csv" in msg and sha256(src) in msg and sha256(dst) in msg
    assert not (home / "raw" / "mn-ddp-st-cloud-detainers").exists()
    assert manifest(home) == []
    assert [p.name for p in (home / "raw").rglob("*") if p.is_file()] == [".fetch.lock"]


def test_optional_file_without_url_is_skipped_and_listed(tmp_path):
    from icemonitor.catalog.fetch import missing_optional

    assert fetch("bln-la-aor-arrests-2025-06", home=tmp_path, mirror=tmp_path) == []
    assert {(r.id, f.name) for r, f in missing_optional(home=tmp_path)} == {
        ("bln-la-aor-arrests-2025-06", "la_arrests_2025-06-01_10_transcribed.csv"),
        ("nc-ddp-arrests-2023-25", "nc_ice_arrests_raw_columns.csv"),
    }
    [a] = fetch("bln-la-aor-arrests-2025-06", home=tmp_path, mirror=SHARED_DATA)  # a mirror still provides it
    assert a.new and [r.id for r, _ in missing_optional(home=tmp_path)] == ["nc-ddp-arrests-2023-25"]


def test_file_without_any_source_needs_a_mirror(tmp_path):
    catalog = tmp_path / "releases.yaml"
    catalog.write_text(DEFAULT_CATALOG.read_text().replace("    optional: true\n", ""))
    with pytest.raises(FetchError, match="la_arrests_2025-06-01_10_transcribed.csv has no upstream URL, derivation"):
        fetch("bln-la-aor-arrests-2025-06", home=tmp_path, mirror=tmp_path, catalog=load_catalog(catalog))


# ---------------------------------------------------------------- HTTP (local server on 127.0.0.1)

class MirrorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, files: dict[str, Path]):
        super().__init__(("127.0.0.1", 0), Handler)
        self.files = files
        self.mode = "normal"  # normal | corrupt | drop | ignore_range
        self.drops = 0  # how many responses to cut short (mode "drop")
        self.drop_after = 0  # absolute file offset where a cut-short response stops
        self.requests: list[tuple[str, str | None]] = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def do_GET(self):
        srv: MirrorServer = self.server
        rng = self.headers.get("Range")
        srv.requests.append((unquote(self.path), rng))
        path = srv.files.get(unquote(self.path))
        if path is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = path.read_bytes()
        if srv.mode == "corrupt":
            data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
        start = 0
        if rng and srv.mode == "range_from_zero":  # a 206 that starts at 0 whatever was asked
            self.send_response(206)
            self.send_header("Content-Range", f"bytes 0-{len(data) - 1}/{len(data)}")
        elif rng and srv.mode != "ignore_range":
            start = int(rng.split("=", 1)[1].split("-", 1)[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if srv.mode == "drop" and srv.drops > 0:
            srv.drops -= 1
            self.wfile.write(body[: max(0, srv.drop_after - start)])  # the connection dies at byte drop_after
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)


@contextlib.contextmanager
def serving():
    """A MirrorServer on 127.0.0.1 serving ../shared/data at the catalog's upstream paths."""
    catalog = load_catalog()
    files = {}
    for r in catalog.releases:
        for f in r.files:
            if f.url:
                files["/" + unquote(f.url[len(UPSTREAM):])] = SHARED_DATA / f.mirror_path
    srv = MirrorServer(files)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    srv.base = f"http://127.0.0.1:{srv.server_address[1]}/"
    srv.catalog = load_catalog(url_rewrite=f"{UPSTREAM}={srv.base}")
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture()
def server():
    with serving() as srv:
        yield srv


I213 = ("uwchr-i213-sea-22-25", "sea-i213s-2026-02-13.csv.gz")


def _get(srv, home, **kw):
    kw.setdefault("retries", 2)
    kw.setdefault("backoff", 0.0)
    kw.setdefault("timeout", 10.0)
    return fetch(I213[0], home=home, catalog=srv.catalog, **kw)


def test_download(server, tmp_path):
    [a] = _get(server, tmp_path)
    src = SHARED_DATA / "ice/uwchr-i213-sea-22-25" / I213[1]
    assert a.new and a.path.read_bytes() == src.read_bytes()
    assert a.origin == server.base + "UWCHR/i-213-sea-22-25/c101a30facd75c50a4584be3044c318cbffcd6e9/clean/output/" + I213[1]
    assert manifest(tmp_path)[0]["origin"] == a.origin
    assert len(server.requests) == 1 and server.requests[0][1] is None
    assert not list((tmp_path / "raw").rglob("*.part"))
    # a workbook whose upstream path has spaces
    got = fetch("uwchr-seattle-cap-fy17-18-xlsx", home=tmp_path, catalog=server.catalog, retries=0)
    assert sha256(got[0].path) == got[0].sha256


def test_download_via_environment_rewrite(server, tmp_path, monkeypatch):
    monkeypatch.setenv("ICEMONITOR_URL_REWRITE", f"{UPSTREAM}={server.base}")
    [a] = fetch("mn-ddp-st-cloud-detainers", home=tmp_path, retries=0, timeout=10.0)
    assert a.new and sha256(a.path) == a.sha256 and a.origin.startswith(server.base)


def test_corrupted_download_is_refused_and_archive_intact(server, tmp_path):
    [kept] = fetch("mn-ddp-st-cloud-detainers", home=tmp_path, catalog=server.catalog, retries=0)
    kept_bytes, kept_manifest = kept.path.read_bytes(), manifest(tmp_path)
    server.mode = "corrupt"
    with pytest.raises(ChecksumError) as err:
        _get(server, tmp_path)
    f = server.catalog.release(I213[0]).file(I213[1])
    assert I213[1] in str(err.value) and f.sha256 in str(err.value) and err.value.expected == f.sha256
    assert err.value.actual != f.sha256 and err.value.actual in str(err.value)
    assert not (tmp_path / "raw" / I213[0]).exists()
    assert not list((tmp_path / "raw").rglob("*.part"))
    assert manifest(tmp_path) == kept_manifest and kept.path.read_bytes() == kept_bytes
    with pytest.raises(InputError, match="not fetched"):
        archived_path(*I213, home=tmp_path)


def test_dropped_connection_resumes_with_range(server, tmp_path):
    server.mode, server.drops, server.drop_after = "drop", 1, 200_000
    [a] = _get(server, tmp_path)
    assert sha256(a.path) == a.sha256
    assert [r for _, r in server.requests] == [None, "bytes=200000-"]


def test_second_run_resumes_from_the_part_file(server, tmp_path):
    server.mode, server.drops, server.drop_after = "drop", 5, 300_000
    with pytest.raises(FetchError, match="resumes"):
        _get(server, tmp_path, retries=0)
    parts = list((tmp_path / "raw").rglob("*.part"))
    assert len(parts) == 1 and parts[0].stat().st_size == 300_000
    assert not (tmp_path / "raw" / I213[0]).exists()
    server.mode = "normal"
    [a] = _get(server, tmp_path)
    assert sha256(a.path) == a.sha256
    assert server.requests[-1][1] == "bytes=300000-"
    assert not list((tmp_path / "raw").rglob("*.part"))


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.mode, server.drops, server.drop_after = "drop", 2, 123_456
    with pytest.raises(FetchError):
        _get(server, tmp_path, retries=0)
    server.mode = "ignore_range"
    events = []
    [a] = _get(server, tmp_path, progress=lambda e, n, b: events.append((e, b)))
    assert sha256(a.path) == a.sha256
    assert server.requests[-1][1] == "bytes=123456-"  # asked to resume; got the whole file with 200
    advanced = sum(b for e, b in events if e == "advance")
    assert advanced == a.bytes  # progress was wound back when the download restarted


def test_persistent_failure_is_bounded(server, tmp_path):
    server.mode, server.drops, server.drop_after = "drop", 100, 0
    with pytest.raises(FetchError, match="after 2 retries"):
        _get(server, tmp_path, retries=2)
    assert len(server.requests) == 3


def test_http_error_is_reported(server, tmp_path):
    server.files.clear()
    with pytest.raises(FetchError, match="HTTP 404"):
        _get(server, tmp_path)
    assert len(server.requests) == 1


def test_cli_fetch_and_releases(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from icemonitor.cli import app

    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path))
    runner = CliRunner()
    res = runner.invoke(app, ["fetch", "mn-ddp-st-cloud-detainers", "--mirror", str(SHARED_DATA)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["releases", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    rows = {r["id"]: r for r in data["releases"]}
    assert rows["mn-ddp-st-cloud-detainers"]["files"][0]["archived"].startswith(str(tmp_path))
    assert rows["uwchr-ice-enforce-fy16-19"]["files"][0]["archived"] is None
    res = runner.invoke(app, ["fetch", "no-such-release"])
    assert res.exit_code == 2 and "unknown release" in res.output


def test_one_failure_does_not_stop_the_others(tmp_path):
    """Without a mirror, files with no upstream URL are reported together; the rest are still archived."""
    mirror = tmp_path / "mirror"
    for rel in ("ice/mn-ddp-extracts/st_cloud_denied.csv",):
        (mirror / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SHARED_DATA / rel, mirror / rel)
    home = tmp_path / "home"
    with pytest.raises(FetchError, match="7 files could not be archived") as err:
        fetch(["bln-la-aor-arrests-2025-06", "mn-ddp-st-cloud-detainers", "ref-sanctuary", "ref-aor"],
              home=home, mirror=mirror,
              client=_no_network(calls := []), retries=0, backoff=0.0)
    msg = str(err.value)
    assert calls == [1]  # one refused connection: the host is not tried again in this run
    assert "la_arrests" not in msg  # optional: skipped, not an error
    assert "has no upstream URL" not in msg  # every file has a source
    assert msg.count("could not be reached earlier in this run") == 6  # 3 with a URL, 3 derived from such files
    assert msg.count(": not derived, its input") == 3
    assert archived_path("ref-aor", "aor_codes.csv", home=home).read_bytes() == (SHARED_DATA / "aor/aor_codes.csv").read_bytes()
    for name in ("state_immigration_cooperation_laws.csv", "doj_sanctuary_jurisdictions_2025-08-05.csv"):
        assert archived_path("ref-sanctuary", name, home=home).read_bytes() == (SHARED_DATA / "sanctuary" / name).read_bytes()
    assert "secondary_kevinnbass_state_classifications_2026-01.csv failed" in msg  # has a URL; network refused
    assert sha256(archived_path("mn-ddp-st-cloud-detainers", "st_cloud_denied.csv", home=home)) == sha256(
        SHARED_DATA / "ice/mn-ddp-extracts/st_cloud_denied.csv")


def _no_network(calls: list):
    import httpx

    def refuse(request):
        calls.append(1)
        raise httpx.ConnectError("network disabled in tests", request=request)

    return httpx.Client(transport=httpx.MockTransport(refuse))


ST_CLOUD = SHARED_DATA / "ice/mn-ddp-extracts/st_cloud_denied.csv"


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=1, max_value=ST_CLOUD.stat().st_size - 1), drops=st.integers(1, 4))
def test_resume_from_any_cut(tmp_path_factory, cut, drops):
    """Wherever the connection dies, and however often it then fails, the archived bytes are the file's."""
    home = tmp_path_factory.mktemp("cut")
    with serving() as srv:
        srv.mode, srv.drops, srv.drop_after = "drop", drops, cut
        [a] = fetch("mn-ddp-st-cloud-detainers", home=home, catalog=srv.catalog, retries=3, backoff=0.0, timeout=10.0)
        assert a.path.read_bytes() == ST_CLOUD.read_bytes()
        assert [r for _, r in srv.requests] == [None] + [f"bytes={cut}-"] * drops


def test_partial_response_from_zero_restarts(server, tmp_path):
    server.mode, server.drops, server.drop_after = "drop", 2, 50_000
    with pytest.raises(FetchError):
        _get(server, tmp_path, retries=0)
    server.mode = "range_from_zero"
    [a] = _get(server, tmp_path)
    assert a.path.read_bytes() == (SHARED_DATA / "ice/uwchr-i213-sea-22-25" / I213[1]).read_bytes()


def test_manifest_read_once_until_the_file_changes(tmp_path, monkeypatch):
    """read_manifest keeps the parsed entries per file identity: an unchanged manifest is not read again, an append
    (store) or a rewrite in place is seen at once, and callers get their own list."""
    staged = archive.staging_file("r1", "a.csv", home=tmp_path)
    staged.write_bytes(b"a,b\n1,2\n")
    first = archive.store(staged, release_id="r1", name="a.csv", sha256="0" * 64, origin="test", home=tmp_path)
    assert [e.name for e in archive.read_manifest(tmp_path)] == ["a.csv"]

    reads = []
    real = Path.read_text
    monkeypatch.setattr(Path, "read_text", lambda self, *a, **k: reads.append(self) or real(self, *a, **k))
    got = archive.read_manifest(tmp_path)
    got.clear()
    assert archive.read_manifest(tmp_path)[0].path == first.path and reads == []

    staged = archive.staging_file("r1", "b.csv", home=tmp_path)
    staged.write_bytes(b"c\n3\n")
    archive.store(staged, release_id="r1", name="b.csv", sha256="1" * 64, origin="test", home=tmp_path)
    assert [e.name for e in archive.read_manifest(tmp_path)] == ["a.csv", "b.csv"] and len(reads) == 1

    manifest = tmp_path / "raw" / archive.MANIFEST
    lines = manifest.read_text().splitlines()
    before = manifest.stat().st_mtime_ns
    manifest.write_text(lines[1] + "\n" + lines[0].replace('"a.csv"', '"x.csv"') + "\n")  # same size, rewritten
    os.utime(manifest, ns=(before + 10**9, before + 10**9))  # a second later (the kernel's clock ticks coarsely)
    assert [e.name for e in archive.read_manifest(tmp_path)] == ["b.csv", "x.csv"]
