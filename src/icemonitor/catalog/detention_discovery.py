"""Discover ICE detention-statistics postings on ICE's Detention Management page and archive every version.

ICE overwrites or removes earlier postings, so each workbook linked from the page is downloaded, checked to be a
workbook (an ``.xlsx`` link that answers with an HTML error page is rejected and reported) and kept byte for byte in
the raw archive under the release ``ice-detention-stats-discovered`` with the time it was seen. A re-post under
the same name with other bytes is a new version, archived beside the old one; the same bytes again are not stored
twice. The detention stage of the build reads every archived version (warehouse/detention_step.py)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from icemonitor import __version__
from icemonitor.catalog import archive
from icemonitor.catalog.archive import ArchivedFile
from icemonitor.messages import Message, msg

PAGE_URL = "https://www.ice.gov/detain/detention-management"
RELEASE_ID = "ice-detention-stats-discovered"
# ICE's names: FY26_detentionStats_04092026.xlsx, FY21_detention-stats_0414.xlsx, FY20-detentionstats.xlsx
POSTING_NAME = re.compile(r"^FY\d{2}[_-]?detention[-_]?stats.*\.xlsx$", re.I)
MAX_BYTES = 50 * 1024 * 1024
XLSX_MAGIC = b"PK\x03\x04"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def posting_links(html: str, base_url: str) -> list[tuple[str, str]]:
    """(absolute URL, file name) of every detention-statistics workbook the page links, in page order, once."""
    parser = _Links()
    parser.feed(html)
    seen, out = set(), []
    for href in parser.hrefs:
        url = urljoin(base_url, href)
        name = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        if POSTING_NAME.match(name) and url not in seen:
            seen.add(url)
            out.append((url, name))
    return out


@dataclass
class Discovery:
    """What one look at the page found."""

    page_url: str
    new: list[ArchivedFile] = field(default_factory=list)  # versions archived by this run
    unchanged: list[str] = field(default_factory=list)  # names whose bytes were already archived
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (url, reason: a message): nothing archived


def _known(name: str, sha: str, home: Path | None) -> bool:
    return any(e.sha256 == sha for e in archive.entries(RELEASE_ID, name, home))


def _download(client: httpx.Client, url: str) -> tuple[bytes | None, Message | None]:
    try:
        with client.stream("GET", url) as resp:
            if resp.status_code != 200:
                return None, msg("HTTP {status}", status=resp.status_code)
            data = bytearray()
            for chunk in resp.iter_bytes():
                data += chunk
                if len(data) > MAX_BYTES:
                    return None, msg("larger than {n:,} bytes", n=MAX_BYTES)
    except httpx.HTTPError as exc:
        return None, msg("download failed: {kind}", kind=type(exc).__name__)
    if not data.startswith(XLSX_MAGIC):
        if data.lstrip()[:1] == b"<":
            return None, msg("the link answered with an HTML page, not an .xlsx workbook ({n:,} bytes)", n=len(data))
        return None, msg("the link answered with something that is not a workbook ({n:,} bytes)", n=len(data))
    return bytes(data), None


def discover(page_url: str = PAGE_URL, *, home: Path | None = None, client: httpx.Client | None = None,
             timeout: float = 60.0) -> Discovery:
    """Read the page, archive every posting whose bytes are not archived yet, report the rest."""
    own = client is None
    client = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)), follow_redirects=True,
                                    headers={"User-Agent": f"icemonitor/{__version__}"})
    result = Discovery(page_url)
    try:
        page = client.get(page_url)
        if page.status_code != 200:
            result.rejected.append((page_url, msg("HTTP {status}", status=page.status_code)))
            return result
        for url, name in posting_links(page.text, str(page.url)):
            data, why = _download(client, url)
            if data is None:
                result.rejected.append((url, why or msg("unknown")))
                continue
            sha = hashlib.sha256(data).hexdigest()
            if _known(name, sha, home):
                result.unchanged.append(name)
                continue
            staged = archive.staging_file(RELEASE_ID, name, home)
            staged.write_bytes(data)
            result.new.append(archive.store(staged, release_id=RELEASE_ID, name=name, sha256=sha, origin=url,
                                            home=home))
    except httpx.HTTPError as exc:
        result.rejected.append((page_url, msg("page not read: {kind}", kind=type(exc).__name__)))
    finally:
        if own:
            client.close()
    return result


def discovered_versions(home: Path | None = None) -> list[ArchivedFile]:
    """Every archived version of a discovered posting, oldest first."""
    return [e for e in archive.read_manifest(home) if e.release_id == RELEASE_ID]
