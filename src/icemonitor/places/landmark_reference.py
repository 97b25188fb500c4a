"""Reference tables the landmark resolver needs: counties with their AOR, cities, detention facilities.

Every loader takes `ref` (see places/ref.py). The county list and county -> AOR crosswalk are read here
privately until `icemonitor.places.counties.load_counties` exists on main.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import csv
from importlib import resources
from pathlib import Path

import polars as pl

from icemonitor.errors import InputError
from icemonitor.places.landmark_text import name_variants, normalize
from icemonitor.places.ref import Ref

COUNTIES = "geo/counties_fips.csv"
CROSSWALK = "aor/county_aor_crosswalk.csv"
CITIES = "geo/simplemaps_uscities_slim.csv"
FACILITIES = "aor/uwchr_detention_facilities_geocoded.csv"

# County-type words that may follow a county name in landmark text, by the suffix of the official name.
_SUFFIX_WORDS = {
    "COUNTY": ("COUNTY", "CNTY", "CTY", "CO", "COUNTIES", "COUTY", "COUNY", "CONTY", "COUNTRY"),
    "PARISH": ("PARISH", "PARRISH", "PAR", "COUNTY", "CO"),
    "CITY": ("CITY",),
    "BOROUGH": ("BOROUGH", "BORO"),
    "MUNICIPIO": ("MUNICIPIO", "MUNICIPALITY"),
    "CENSUS AREA": ("CENSUS",),
    "MUNICIPALITY": ("MUNICIPALITY",),
}


def _read_csv(ref: Ref, name: str, columns: list[str]) -> pl.DataFrame:
    path: Path = ref(name)
    try:
        df = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except (OSError, pl.exceptions.ComputeError) as exc:
        raise InputError(f"cannot read reference file: {exc}", file=str(path)) from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError("reference file lacks a required column", file=str(path), field=missing[0])
    return df


def load_county_aor(ref: Ref, vintage: str = "uwchr") -> pl.DataFrame:
    """Counties with state and AOR code: columns fips5, state_abbr, state_name, county_name, aor.

    vintage 'uwchr' (UWCHR c. 2019-2020, fits FY2012-2023 records) or 'dd2026' (deportationdata 2026).
    """
    col = {"uwchr": "uwchr_aor_code", "dd2026": "dd2026_aor_code"}.get(vintage)
    if col is None:
        raise InputError("unknown AOR vintage", field="vintage", value=vintage)
    from icemonitor.places.counties import load_counties

    c = load_counties(ref)
    aor_col = "aor_2020" if vintage == "uwchr" else "aor"
    out = c.select(pl.col("county_fips").alias("fips5"), pl.col("state").alias("state_abbr"), "state_name",
                   "county_name", pl.col(aor_col).replace("", None).alias("aor"))
    bad = out.filter(~pl.col("fips5").str.contains(r"^\d{5}$"))
    if bad.height:
        raise InputError("county FIPS is not 5 digits", file=str(ref(CROSSWALK)), field="fips5",
                         value=bad["fips5"][0])
    return out


@dataclass(frozen=True)
class CountyName:
    fips5: str
    state: str
    words: tuple[str, ...]  # county words that may follow the name (COUNTY, CO, PARISH, CITY...)


@dataclass
class Reference:
    """Everything the resolver looks up, built once per `ref`."""

    counties: pl.DataFrame
    county_state: dict[str, str]
    county_aor: dict[str, str | None]
    aor_states: dict[str, set[str]]
    state_names: dict[str, str]  # normalised state name -> abbr
    county_names: dict[str, list[CountyName]]  # normalised name variant -> counties
    county_words: frozenset[str]
    county_list: frozenset[str]  # FIPS of geo/counties_fips.csv (legacy CT counties, no planning regions)
    counties_by_state_name: dict[tuple[str, str], set[str]]  # (state, normalised base name) -> fips
    cities: dict[tuple[str, str], list[tuple[str, int]]]  # (normalised city, state) -> [(fips, pop)]
    facilities: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)  # name -> [(fips, aor, detloc)]


def _base_and_suffix(name: str) -> tuple[str, str]:
    up = normalize(name)
    for suf in ("CENSUS AREA", "COUNTY", "PARISH", "CITY", "BOROUGH", "MUNICIPIO", "MUNICIPALITY"):
        if up.endswith(" " + suf):
            return up[: -len(suf) - 1], suf
    return up, ""


def _county_patterns(counties: pl.DataFrame) -> tuple[dict[str, list[CountyName]], dict[tuple[str, str], set[str]]]:
    out: dict[str, list[CountyName]] = {}
    by_name: dict[tuple[str, str], set[str]] = {}
    for fips, st, name, aor in counties.select("fips5", "state_abbr", "county_name", "aor").iter_rows():
        base, suffix = _base_and_suffix(name)
        if not suffix:
            continue  # planning regions, unsuffixed areas: not named in landmark text
        words = _SUFFIX_WORDS[suffix]
        for v in name_variants(base):
            by_name.setdefault((st, v), set()).add(fips)
            out.setdefault(v, []).append(CountyName(fips, st, words))
    return out, by_name


_CACHE: dict[tuple, Reference] = {}


def _build(ref: Ref, vintage: str) -> Reference:
    counties = load_county_aor(ref, vintage)
    county_state = dict(zip(counties["fips5"], counties["state_abbr"]))
    county_aor = dict(zip(counties["fips5"], counties["aor"]))
    aor_states: dict[str, set[str]] = {}
    for st, aor in counties.select("state_abbr", "aor").iter_rows():
        if aor:
            aor_states.setdefault(aor, set()).add(st)
    state_names = {normalize(n): a for a, n in counties.select("state_abbr", "state_name").unique().iter_rows()}
    names, by_name = _county_patterns(counties)
    cities_df = _read_csv(ref, CITIES, ["city_ascii", "state_id", "county_fips", "population"])
    cities: dict[tuple[str, str], list[tuple[str, int]]] = {}
    variants: dict[str, set[str]] = {}  # a third of the cities share a name with another
    for city, st, fips, pop in cities_df.select("city_ascii", "state_id", "county_fips", "population").iter_rows():
        fips = (fips or "").zfill(5)
        if city not in variants:
            variants[city] = name_variants(city)
        for v in variants[city]:
            cities.setdefault((v, st), []).append((fips, int(float(pop or 0))))
    # Connecticut: the cities file gives 2022 planning regions; use the legacy county of each listed town.
    ct_path = resources.files("icemonitor.places") / "data" / "ct_towns_legacy_county.csv"
    with ct_path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            key = (normalize(row["town"]), "CT")
            pop = max((p for _, p in cities.get(key, [])), default=0)
            cities[key] = [(row["county_fips"], pop)]
    fac = _read_csv(ref, FACILITIES, ["detloc", "name", "aor", "county_fips5_derived", "county_fips5_from_latlong",
                                      "geometry.location_type"])
    facilities: dict[str, list[tuple[str, str, str]]] = {}
    for detloc, name, aor, derived, latlong, loc in fac.select(
        "detloc", "name", "aor", "county_fips5_derived", "county_fips5_from_latlong", "geometry.location_type"
    ).iter_rows():
        fips = latlong if (loc == "ROOFTOP" and latlong) else (derived or latlong)
        if fips and name:
            facilities.setdefault(normalize(name), []).append((fips.zfill(5), aor, detloc))
    words = frozenset(w for ws in _SUFFIX_WORDS.values() for w in ws)
    county_list = frozenset(_read_csv(ref, COUNTIES, ["fips5"])["fips5"])
    return Reference(counties, county_state, county_aor, aor_states, state_names, names, words, county_list, by_name,
                     cities, facilities)


def load_reference(ref: Ref, vintage: str = "uwchr") -> Reference:
    """Build (and cache per resolved file paths) the lookup tables."""
    key = (vintage,) + tuple(str(ref(p)) for p in (COUNTIES, CROSSWALK, CITIES, FACILITIES))
    if key not in _CACHE:
        _CACHE[key] = _build(ref, vintage)
    return _CACHE[key]
