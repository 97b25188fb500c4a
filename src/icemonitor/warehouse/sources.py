"""Which files a build loads: the catalog's event releases, as archived in the raw folder."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from icemonitor.catalog.catalog import load_catalog
from icemonitor.catalog.fetch import archived_path, missing_optional
from icemonitor.warehouse.build import BuildSource


def catalog_sources(release_ids: Sequence[str] | None = None, *, home: Path | None = None) -> list[BuildSource]:
    """Build sources for the given event releases (all by default), in catalog order; optional files that are not
    archived are left out (see `missing_optional`)."""
    catalog = load_catalog()
    releases = (
        [catalog.release(r) for r in release_ids] if release_ids else catalog.event_releases()
    )
    absent = {(r.id, f.name) for r, f in missing_optional([r.id for r in releases], home=home, catalog=catalog)}
    out = []
    for release in releases:
        for f in release.files:
            if not f.reader or (release.id, f.name) in absent:  # optional and not fetched: left out
                continue
            out.append(
                BuildSource(
                    release_id=release.id,
                    name=f.name,
                    path=archived_path(release.id, f.name, home=home),
                    reader=f.reader,
                    sha256=f.sha256,
                    options=dict(f.options or {}),
                )
            )
    return out
