"""The places tables the warehouse build writes into DuckDB."""

from __future__ import annotations

import datetime as dt

import polars as pl

from icemonitor.places.counties import county_aor_periods, load_counties
from icemonitor.places.policies import load_policies
from icemonitor.places.population import population
from icemonitor.places.ref import Ref
from icemonitor.places.sanctuary import definitions_table

FIRST_POPULATION_YEAR = 2012


def population_years(last_year: int | None = None) -> list[int]:
    """Years covered by the `population` table (the enforcement data's years, 2012 .. this year)."""
    return list(range(FIRST_POPULATION_YEAR, (last_year or dt.date.today().year) + 1))


def place_tables(ref: Ref, last_year: int | None = None) -> dict[str, pl.DataFrame]:
    """counties, county_aor_periods, population (county x year, nearest vintage, flagged), policies,
    sanctuary_definitions."""
    pop = pl.concat([population("county", y, ref) for y in population_years(last_year)])
    return {
        "counties": load_counties(ref),
        "county_aor_periods": county_aor_periods(ref),
        "population": pop,
        "policies": load_policies(ref),
        "sanctuary_definitions": definitions_table(),
    }
