"""The detention stage of a build: read every detention-statistics posting and DDP's facility daily population,
record ICE's errors as exclusions, and derive the panels; written into the warehouse after the event tables."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import duckdb
import polars as pl

from icemonitor.errors import InputError
from icemonitor.readers import SourceFile, read
from icemonitor.warehouse.build import BuildSource, _sha256
from icemonitor.warehouse.detention_checks import exclusions
from icemonitor.warehouse.detention_bond_panel import bond_panel
from icemonitor.warehouse.detention_iclos_panel import iclos_panel
from icemonitor.warehouse.detention_more_panels import atd_panel, segregation_panel, semiannual_panel
from icemonitor.warehouse.detention_panels import monthly_panel, snapshot_panel, usable_values
from icemonitor.warehouse.schema import aggregate_tables

log = logging.getLogger(__name__)

POSTING_TABLES = ("detention_values", "detention_tables", "detention_facility_rows")
AGGREGATE_READERS = ("detention_stats", "ddp_facility_population")


def split_sources(sources: Sequence[BuildSource]) -> tuple[list[BuildSource], list[BuildSource]]:
    """(event sources, aggregate sources): the detention stage reads the aggregates, the event build the rest."""
    return ([s for s in sources if s.reader not in AGGREGATE_READERS],
            [s for s in sources if s.reader in AGGREGATE_READERS])


def aggregate_sources(*, home=None) -> list[BuildSource]:  # noqa: ANN001 - Path | None
    """Build sources for every aggregate release of the catalog, as archived, and every version of a posting
    discovered on ICE's page (catalog/detention_discovery.py), named '<archive folder>_<ICE's name>'."""
    from icemonitor.catalog.catalog import load_catalog
    from icemonitor.catalog.fetch import archived_path

    return [
        BuildSource(r.id, f.name, archived_path(r.id, f.name, home=home), f.reader, f.sha256, dict(f.options or {}))
        for r in load_catalog().aggregate_releases() for f in r.files
    ] + discovered_sources(home=home)


def discovered_sources(*, home=None) -> list[BuildSource]:  # noqa: ANN001 - Path | None
    """Every archived version of a posting discovered on ICE's page."""
    from icemonitor.catalog.detention_discovery import RELEASE_ID, discovered_versions
    from icemonitor.readers.detention_stats import fiscal_year_of

    return [
        BuildSource(RELEASE_ID, f"{v.path.parent.name}_{v.name}", v.path, "detention_stats", v.sha256,
                    {"fiscal_year": fiscal_year_of(v.name), "ice_file_name": v.name, "archived_on": v.fetched_at[:10]})
        for v in discovered_versions(home)
    ]


def _read(src: BuildSource) -> tuple[BuildSource, dict[str, pl.DataFrame] | None, str | None, str]:
    digest = _sha256(src.path)
    if src.sha256 and digest != src.sha256:
        return src, None, f"checksum mismatch: expected {src.sha256}, got {digest}", digest
    try:
        out = read(SourceFile(src.path, src.name, src.release_id, src.reader, src.options))
    except InputError as err:
        return src, None, str(err), digest
    return src, {k: v.with_columns(pl.lit(src.release_id).alias("release_id")) for k, v in out.items()}, None, digest


def read_all(sources: Sequence[BuildSource], workers: int = 2) -> dict[str, pl.DataFrame]:
    """Every aggregate file read; postings and exclusions derived; panels built. Table name -> frame."""
    schema = aggregate_tables()
    frames: dict[str, list[pl.DataFrame]] = {t: [] for t in schema}
    postings, unreadable = [], []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for src, out, error, digest in pool.map(_read, sources):
            if src.reader == "detention_stats":
                postings.append(_posting(src, digest, error))
            if error:
                log.warning("%s: %s", src.name, error)
                unreadable.append({"release_id": src.release_id, "source_file": src.name, "reason": "unreadable_file",
                                   "excluded": True, "evidence": error})
                continue
            for name, df in out.items():
                frames[name].append(df)
    tables = {name: _cast(pl.concat(fs, how="diagonal_relaxed") if fs else None, schema[name])
              for name, fs in frames.items() if name in POSTING_TABLES + ("detention_facility_days",)}
    posts = _order(pl.DataFrame(postings), tables["detention_tables"]) if postings else None
    tables["detention_postings"] = _cast(posts, schema["detention_postings"])
    excl = exclusions(tables["detention_postings"], tables["detention_tables"], tables["detention_values"])
    if unreadable:
        excl = pl.concat([pl.DataFrame(unreadable), excl], how="diagonal_relaxed")
    tables["detention_exclusions"] = _cast(excl, schema["detention_exclusions"])
    args = tables["detention_values"], tables["detention_postings"], tables["detention_exclusions"]
    tables["detention_monthly"] = _cast(monthly_panel(*args), schema["detention_monthly"])
    tables["detention_snapshots"] = _cast(snapshot_panel(*args), schema["detention_snapshots"])
    usable = usable_values(*args)
    tables["detention_atd"] = _cast(atd_panel(usable), schema["detention_atd"])
    tables["detention_semiannual"] = _cast(semiannual_panel(usable, tables["detention_postings"]),
                                           schema["detention_semiannual"])
    tables["detention_segregation"] = _cast(segregation_panel(usable, tables["detention_postings"]),
                                            schema["detention_segregation"])
    tables["detention_iclos"] = _cast(iclos_panel(usable), schema["detention_iclos"])
    tables["detention_bond"] = _cast(bond_panel(usable), schema["detention_bond"])
    return tables


def _posting(src: BuildSource, digest: str, error: str | None) -> dict:
    archived = src.options.get("archived_on")
    return {
        "release_id": src.release_id, "source_file": src.name, "ice_file_name": src.options.get("ice_file_name", src.name),
        "fiscal_year": src.options.get("fiscal_year"),
        "archived_on": dt.date.fromisoformat(archived) if archived else None,
        "sha256": digest, "bytes": src.path.stat().st_size, "status": "unreadable" if error else "read",
    }


def _order(posts: pl.DataFrame, tables: pl.DataFrame) -> pl.DataFrame:
    """Stated dates per posting (the currently-detained snapshot; earliest and latest of any table) and the
    posting order: by stated date, then archive date, then file name."""
    read_tables = tables.filter(pl.col("status") == "read")
    snap = (read_tables.filter(pl.col("table_key") == "currently_detained_by_criminality_agency")
            .group_by("source_file").agg(pl.col("stated_as_of").max()))
    span = read_tables.group_by("source_file").agg(pl.col("stated_as_of").min().alias("stated_min"),
                                                   pl.col("stated_as_of").max().alias("stated_max"))
    out = posts.join(snap, on="source_file", how="left").join(span, on="source_file", how="left")
    out = out.sort(["stated_as_of", "archived_on", "source_file"], nulls_last=True)
    return out.with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int32).alias("posting_order"))


def _cast(df: pl.DataFrame | None, table) -> pl.DataFrame:  # noqa: ANN001 - schema.Table
    if df is None or df.height == 0:
        return pl.DataFrame(schema=table.polars_schema())
    return df.select([(pl.col(c.name) if c.name in df.columns else pl.lit(None)).cast(c.polars_type).alias(c.name)
                      for c in table.columns])


FacilityTables = Callable[[duckdb.DuckDBPyConnection], dict[str, pl.DataFrame]]


def _write(con: duckdb.DuckDBPyConnection, name: str, df: pl.DataFrame) -> None:
    con.register("_detention_frame", df.to_arrow())
    con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _detention_frame')
    con.unregister("_detention_frame")
    log.info("%s: %d rows written", name, df.height)


def detention_stage(sources: Sequence[BuildSource], facilities: FacilityTables | None = None
                    ) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """The build hook that writes the detention tables from the given aggregate sources; with `facilities` (the
    places stage's facility_tables bound to its reference resolver), also the facility tables: ICE's lists joined
    to the records' codes, placed in counties (the composition happens in the command line: places is above)."""

    def write(con: duckdb.DuckDBPyConnection) -> None:
        for name, df in read_all(sources).items():
            _write(con, name, df)
        if facilities is not None:
            schema = aggregate_tables()
            for name, df in facilities(con).items():
                _write(con, name, _cast(df, schema[name]))

    return write
