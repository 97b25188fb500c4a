"""Which files a build loads: the catalog's event releases, as archived in the raw folder.

Releases fetched by default must all be archived (a missing file stops the build). Releases marked
``fetch: on_request`` (large national files) are built once they are archived and otherwise left out; `lacking`
names them so the build can say which releases its warehouse does not hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from icemonitor.catalog import pins
from icemonitor.catalog.catalog import Catalog, Release, load_catalog
from icemonitor.catalog.fetch import archived_path, missing_optional
from icemonitor.errors import InputError
from icemonitor.warehouse.build import BuildSource


def _archived(release: Release, home: Path | None) -> bool:
    return all(pins.find_archived(release, f, home) is not None for f in release.files)


def lacking(home: Path | None = None) -> list[Release]:
    """Event releases fetched only on request that are not (wholly) archived: a default build leaves them out."""
    return [r for r in load_catalog().event_releases() if r.fetch == "on_request" and not _archived(r, home)]


def check_readers(catalog: Catalog) -> None:
    """Every reader the catalog names is registered (icemonitor.readers.READERS): a misspelt name fails before any
    file is read, naming the release. (The catalog, below the readers, does not know them.)"""
    from icemonitor.readers import READERS

    for rel in catalog.releases:
        for f in rel.files:
            if f.reader is not None and f.reader not in READERS:
                raise InputError(
                    f"release {rel.id}: unknown reader {f.reader!r} (known: {', '.join(sorted(READERS))})",
                    file=str(catalog.path), field="reader", value=f.reader,
                )


def catalog_sources(release_ids: Sequence[str] | None = None, *, home: Path | None = None) -> list[BuildSource]:
    """Build sources for the given event releases (by default: every release fetched by default, and the
    on_request ones already archived), in catalog order; optional files that are not archived are left out (see
    `missing_optional`)."""
    catalog = load_catalog()
    check_readers(catalog)
    if release_ids:
        releases = [catalog.release(r) for r in release_ids]
    else:
        releases = [r for r in catalog.event_releases() if r.fetch == "always" or _archived(r, home)]
    absent = {(r.id, f.name) for r, f in missing_optional([r.id for r in releases], home=home, catalog=catalog)}
    out = []
    for release in releases:
        for f in release.files:
            if not f.reader or (release.id, f.name) in absent:  # optional and not fetched: left out
                continue
            path = archived_path(release.id, f.name, home=home, catalog=catalog)
            want = pins.expected(release, f, home)
            out.append(
                BuildSource(
                    release_id=release.id,
                    name=f.name,
                    path=path,
                    reader=f.reader,
                    sha256=want[0] if want else None,
                    options=dict(f.options or {}),
                )
            )
    return out
