"""The place stage of a build: reference tables (counties, AORs by date, population, policies, sanctuary
definitions), the landmark resolution, the recorded counties' FIPS codes and the first-facility county signal, written
into the warehouse after the event tables."""

from __future__ import annotations

import logging
from collections.abc import Callable

import duckdb
import polars as pl

from icemonitor.places.ref import Ref

log = logging.getLogger(__name__)


def _write(con: duckdb.DuckDBPyConnection, name: str, df: pl.DataFrame) -> None:
    con.register("_place_frame", df.to_arrow())
    con.execute(f'CREATE TABLE "{name}" AS SELECT * FROM _place_frame')
    con.unregister("_place_frame")
    log.info("%s: %d rows written", name, df.height)


def place_stage(ref: Ref) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """The build hook that writes the places tables, from reference files resolved by `ref`."""

    def write(con: duckdb.DuckDBPyConnection) -> None:
        from icemonitor.places.detention_facilities import gazetteer
        from icemonitor.places.facility_signal import write_facility_signal
        from icemonitor.places.landmarks import landmark_table
        from icemonitor.places.recorded_counties import TABLE as RECORDED_COUNTIES, recorded_county_table
        from icemonitor.places.tables import place_tables

        ((last,),) = con.execute(
            "SELECT max(year(event_date)) FROM arrests WHERE event_date <= current_date"
        ).fetchall()
        tables = place_tables(ref, last_year=last)
        for name, df in tables.items():
            _write(con, name, df)
        _write(con, "landmark_resolution", landmark_table(con, ref))
        _write(con, RECORDED_COUNTIES, recorded_county_table(con, tables["counties"]))
        # facilities placed by the gazetteer here; `icemonitor build` writes it again after the detention stage
        write_facility_signal(con, gazetteer(ref))

    return write


def catalog_stage(home=None, say: Callable[[str], None] | None = None  # noqa: ANN001 - Path | None
                  ) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """Everything a catalog build (`icemonitor build`, the shared test warehouse) writes after the event tables:
    the places tables from the archived reference files, then the detention tables from every aggregate release
    (ICE's postings, DDP's facility days) with the facilities placed in counties. `say` names each step."""
    from icemonitor.catalog.fetch import reference_resolver
    from icemonitor.places.detention_facilities import facility_tables, gazetteer
    from icemonitor.places.facility_signal import write_facility_signal
    from icemonitor.warehouse.detention_step import aggregate_sources, detention_stage

    ref = reference_resolver(home)
    places = place_stage(ref)
    detention = detention_stage(aggregate_sources(home=home), facilities=lambda con: facility_tables(con, ref))
    say = say or (lambda step: None)

    def write(con: duckdb.DuckDBPyConnection) -> None:
        say("places: counties, population, policies, landmark resolution")
        places(con)
        say("detention: statistics postings, exclusions, panels")
        detention(con)
        write_facility_signal(con, gazetteer(ref))  # again, with the facilities the detention stage placed

    return write
