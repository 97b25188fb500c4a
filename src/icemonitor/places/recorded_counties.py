"""The county a release records (DDP-era arrests and removals: `county_raw` with the recorded `state`), mapped to a
county FIPS code by name within that state, using the Census county list of the places layer (counties table).

Nothing is guessed. A name maps only when exactly one county of the recorded state carries it:
- 'HARRIS' / 'Harris County' / 'HARRIS CO' -> Harris County, TX; letter case, accents, dots, 'Saint'/'St' and the
  spaces inside a name ('DE KALB' / 'DeKalb') do not matter;
- a bare name that is both a county and an independent city of the state ('BALTIMORE': Baltimore County or Baltimore
  city, MD; 'FAIRFAX', VA) is `ambiguous`; 'BALTIMORE COUNTY' and 'BALTIMORE CITY' map;
- a name no county of the state carries is `unknown_name`; a county without a recorded state is `no_state`.
Unmapped names are kept in the table with their status and row counts, so they are reported, never dropped.
"""

from __future__ import annotations

import re

import duckdb
import polars as pl

from icemonitor.places.place_names import fold

TABLE = "recorded_counties"
SOURCE_TABLES = ("arrests", "removals")
MAPPED, AMBIGUOUS, UNKNOWN, NO_STATE = "mapped", "ambiguous", "unknown_name", "no_state"
# words after a county's name that say it is a county (Census names and the ways records write them)
COUNTY_SUFFIX = re.compile(r" (county|co|cnty|parish|borough|census area|city and borough|municipality|municipio)$")
CITY_SUFFIX = " city"
SCHEMA = {"state": pl.String, "county_raw": pl.String, "county_fips": pl.String, "county_name": pl.String,
          "status": pl.String, "candidates": pl.String, "arrests": pl.Int64, "removals": pl.Int64}


def _squeeze(text: str) -> str:
    """Spaces, hyphens and apostrophes dropped: 'de kalb' and 'dekalb', 'o brien' and "o'brien" compare equal."""
    return re.sub(r"[\s'\-]", "", text)


def name_key(name: str) -> tuple[str, bool]:
    """(comparable name, whether the text itself says 'county'): 'Harris County' -> ('harris', True),
    'Baltimore city' -> ('baltimorecity', False)."""
    folded = fold(name)
    said_county = bool(COUNTY_SUFFIX.search(folded))
    return _squeeze(COUNTY_SUFFIX.sub("", folded)), said_county


def county_index(counties: pl.DataFrame) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(state, name key) -> [(county_fips, county_name)] from the places layer's counties table."""
    index: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for fips, state, name in counties.select("county_fips", "state", "county_name").iter_rows():
        if state and name:
            index.setdefault((state, name_key(name)[0]), []).append((fips, name))
    return index


def map_county(state: str | None, county: str, index: dict) -> tuple[str | None, str | None, str, str]:
    """(county_fips, county_name, status, candidates) for one recorded county name."""
    if not state:
        return None, None, NO_STATE, ""
    key, said_county = name_key(county)
    found = list(index.get((state, key), []))
    if not said_county and not key.endswith(_squeeze(CITY_SUFFIX)):
        found += index.get((state, key + _squeeze(CITY_SUFFIX)), [])  # 'FAIRFAX': the county or the city?
    if len(found) == 1:
        return found[0][0], found[0][1], MAPPED, ""
    if not found:
        return None, None, UNKNOWN, ""
    return None, None, AMBIGUOUS, " | ".join(f"{n} ({f})" for f, n in found)


def _recorded(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Distinct (state, county_raw) of the tables that record a county, with counted rows per table."""
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.columns "
                                       "WHERE column_name = 'county_raw'").fetchall()}
    parts = []
    for table in SOURCE_TABLES:
        if table in names:
            rows = con.execute(f"SELECT state, county_raw, count(*) FILTER (WHERE counted) FROM {table} "  # noqa: S608
                               "WHERE county_raw IS NOT NULL AND trim(county_raw) <> '' GROUP BY ALL").fetchall()
            parts.append(pl.DataFrame(rows, schema={"state": pl.String, "county_raw": pl.String, table: pl.Int64},
                                      orient="row"))
    out = pl.DataFrame(schema={"state": pl.String, "county_raw": pl.String})
    for part in parts:
        out = out.join(part, on=["state", "county_raw"], how="full", coalesce=True, nulls_equal=True)
    return out.with_columns(pl.col(t).fill_null(0) if t in out.columns else pl.lit(0, dtype=pl.Int64).alias(t)
                            for t in SOURCE_TABLES)


def recorded_county_table(con: duckdb.DuckDBPyConnection, counties: pl.DataFrame) -> pl.DataFrame:
    """One row per recorded (state, county name): its FIPS where exactly one county matches, and its status."""
    index = county_index(counties)
    rows = [(state, county, *map_county(state, county, index), a, r)
            for state, county, a, r in _recorded(con).select("state", "county_raw", *SOURCE_TABLES).iter_rows()]
    return pl.DataFrame(rows, schema=SCHEMA, orient="row").sort("state", "county_raw", nulls_last=True)


def unmapped(con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The recorded county names that map to no county (status other than mapped), most arrests first."""
    return [dict(zip(("state", "county_raw", "status", "candidates", "arrests", "removals"), r)) for r in con.execute(
        f"SELECT state, county_raw, status, candidates, arrests, removals FROM {TABLE} WHERE status <> ? "
        "ORDER BY arrests DESC, removals DESC, state, county_raw", [MAPPED]).fetchall()]
