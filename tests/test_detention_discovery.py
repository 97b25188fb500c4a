"""Discovering postings on a Detention Management page played from a loopback server: new postings archived
with the time seen, an .xlsx link answering with an HTML error page rejected, a re-post with other bytes kept as a
new version, and the build reading every version (the re-post flagged)."""

from __future__ import annotations

import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest

from detention_workbooks import posting
from icemonitor.catalog.archive import read_manifest, sha256_file
from icemonitor.catalog.detention_discovery import RELEASE_ID, discover, posting_links
from icemonitor.warehouse.detention_step import discovered_sources, read_all

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL = SHARED / "ice" / "ice-detention-stats" / "later" / "FY26_detentionStats_04092026.xlsx"

PAGE = """<html><body><h1>Detention Management</h1>
<p><a href="/doclib/detention/FY26_detentionStats_04092026.xlsx">FY 2026 Detention Statistics</a></p>
<p><a href="/doclib/detention/FY26_detentionStats_05072026.xlsx">FY 2026 Detention Statistics (May)</a></p>
<p><a href="/doclib/detention/FY25_detentionStats.xlsx">FY 2025</a></p>
<p><a href="/doclib/other/dmcp-authorized-facilities.xlsx">Facilities</a> <a href="/about">About</a></p>
</body></html>"""


class Site(ThreadingHTTPServer):
    files: dict[str, bytes]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server API
        body = self.server.files.get(self.path)  # type: ignore[attr-defined]
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        kind = "text/html" if body.lstrip().startswith(b"<") else "application/vnd.ms-excel"
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass


@pytest.fixture()
def site(tmp_path: Path):
    fy25 = posting(tmp_path / "fy25.xlsx", dt.date(2025, 9, 27)).read_bytes()
    server = Site(("127.0.0.1", 0), Handler)
    server.files = {
        "/detain/detention-management": PAGE.encode(),
        "/doclib/detention/FY26_detentionStats_04092026.xlsx": REAL.read_bytes(),
        "/doclib/detention/FY26_detentionStats_05072026.xlsx":
            b"<!DOCTYPE html><html><body>Access Denied. Reference #18.2f</body></html>",
        "/doclib/detention/FY25_detentionStats.xlsx": fy25,
        "/doclib/other/dmcp-authorized-facilities.xlsx": b"PK\x03\x04not a posting",
    }
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _url(server: Site) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/detain/detention-management"


def test_links_are_the_postings_only() -> None:
    links = posting_links(PAGE, "https://www.ice.gov/detain/detention-management")
    assert [name for _, name in links] == ["FY26_detentionStats_04092026.xlsx", "FY26_detentionStats_05072026.xlsx",
                                           "FY25_detentionStats.xlsx"]
    assert links[0][0] == "https://www.ice.gov/doclib/detention/FY26_detentionStats_04092026.xlsx"


def test_discovery_archives_every_version(site: Site, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = discover(_url(site), home=home)
    assert sorted(e.name for e in first.new) == ["FY25_detentionStats.xlsx", "FY26_detentionStats_04092026.xlsx"]
    (bad_url, why), = first.rejected
    assert bad_url.endswith("FY26_detentionStats_05072026.xlsx") and "an HTML page" in why
    real = next(e for e in first.new if e.name == "FY26_detentionStats_04092026.xlsx")
    assert sha256_file(real.path) == sha256_file(REAL) and real.origin.startswith("http://127.0.0.1")
    assert dt.datetime.fromisoformat(real.fetched_at).tzinfo is not None  # the time it was seen

    again = discover(_url(site), home=home)
    assert again.new == [] and sorted(again.unchanged) == ["FY25_detentionStats.xlsx", "FY26_detentionStats_04092026.xlsx"]

    # ICE re-posts FY25_detentionStats.xlsx with other bytes: a new version, the old one kept
    site.files["/doclib/detention/FY25_detentionStats.xlsx"] = posting(tmp_path / "fy25b.xlsx", dt.date(2025, 10, 4)).read_bytes()
    third = discover(_url(site), home=home)
    assert [e.name for e in third.new] == ["FY25_detentionStats.xlsx"]
    versions = [e for e in read_manifest(home) if e.release_id == RELEASE_ID and e.name == "FY25_detentionStats.xlsx"]
    assert len(versions) == 2 and versions[0].sha256 != versions[1].sha256 and all(v.path.exists() for v in versions)

    # the build reads every discovered version; the re-post is flagged with both checksums
    discovered = discovered_sources(home=home)
    assert len(discovered) == 3
    out = read_all(discovered)
    assert out["detention_postings"]["status"].to_list() == ["read"] * 3
    repost = out["detention_exclusions"].filter(pl.col("reason") == "repost_other_bytes")
    assert repost.height == 2 and all(v.sha256[:12] in repost["evidence"][0] for v in versions)
    snap = out["detention_snapshots"].filter((pl.col("agency") == "total") & (pl.col("criminality") == "total"))
    assert dict(zip(snap["as_of"], snap["value"], strict=True))[dt.date(2026, 4, 4)] == 60311


def test_page_unreachable_is_reported(tmp_path: Path) -> None:
    found = discover("http://127.0.0.1:9/detain/detention-management", home=tmp_path / "home", timeout=2)
    assert found.new == [] and "page not read" in found.rejected[0][1]
