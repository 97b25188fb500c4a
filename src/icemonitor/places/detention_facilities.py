"""Detention facilities placed: ICE's published facility lists (Facilities sheet of each detention-statistics
posting) joined to the facility codes of ICE's individual records (DDP's facility daily population), each placed
in a county, with the facilities the records use but ICE never lists reported as such.

The join goes through the UWCHR facility gazetteer (aor/uwchr_detention_facilities_geocoded.csv: code, name, city,
state, county from latitude/longitude): an ICE-list row matches a code by its name and state (city when the name
repeats within the state), else by the records' own facility name when that name is unique. Nothing is guessed:
an unmatched row keeps facility_code NULL and says so in match_rule."""

from __future__ import annotations

import csv
import re
from functools import cache
from importlib import resources

import duckdb
import polars as pl

from icemonitor.places.landmark_reference import CITIES, FACILITIES, _read_csv
from icemonitor.places.ref import Ref

_NOT_WORD = re.compile(r"[^A-Z0-9 ]")
_ASIDE = re.compile(r"\(([^)]*)\)")


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql).to_arrow_table())


@cache
def _words() -> dict[str, str]:
    text = (resources.files("icemonitor.places") / "data" / "facility_name_words.csv").read_text(encoding="utf-8")
    return {r["abbreviation"]: r["word"] for r in csv.DictReader(l for l in text.splitlines() if not l.startswith("#"))}


def name_key(name: str | None) -> str | None:
    """A facility name as compared: upper case, asides in brackets and punctuation dropped ('C. I.' -> 'CI'),
    abbreviations written out (data/facility_name_words.csv), spaces collapsed."""
    if name is None:
        return None
    text = re.sub(r"\([^)]*\)", " ", name.upper())  # '(CLIPC)', '(FL)': asides, not the name
    text = re.sub(r"\b([A-Z])\. ?(?=[A-Z]\.)", r"\1", text)  # initials: C. I. -> CI
    words = [_words().get(w, w) for w in _NOT_WORD.sub(" ", text.replace(".", "")).split()]
    return " ".join(words) or None


def aside_key(name: str | None) -> str | None:
    """The name key of a name's first aside in brackets ('TACOMA ICE PROCESSING CENTER (NORTHWEST DET CTR)' ->
    'NORTHWEST DETENTION CENTER'): ICE's lists give a facility's other or former name there."""
    m = _ASIDE.search(name or "")
    return name_key(m.group(1)) if m else None


def similarity(a: str | None, b: str | None) -> float:
    """Share of words two name keys have in common (Jaccard)."""
    if not a or not b:
        return 0.0
    x, y = set(a.split()), set(b.split())
    return len(x & y) / len(x | y)


def _key(col: str) -> pl.Expr:
    return pl.col(col).map_elements(name_key, return_dtype=pl.String)


def gazetteer(ref: Ref) -> pl.DataFrame:
    """code, name key, city key, state, county_fips (from lat/long, else derived), from the UWCHR gazetteer."""
    g = _read_csv(ref, FACILITIES, ["detloc", "name", "city", "state", "county_fips5_from_latlong",
                                    "county_fips5_derived", "lat", "long"])
    fips = pl.coalesce(
        pl.when(pl.col(c).str.contains(r"^\d{4,5}$")).then(pl.col(c).str.zfill(5))
        for c in ("county_fips5_from_latlong", "county_fips5_derived"))
    return g.select(pl.col("detloc").alias("facility_code"), _key("name").alias("name_key"),
                    _key("city").alias("city_key"), pl.col("state").str.to_uppercase().alias("state"),
                    fips.alias("county_fips"), *_coordinates()).unique()


def _coordinates(lat: str = "lat", lon: str = "long") -> list[pl.Expr]:
    """latitude, longitude from text columns ('NA' and blanks are no coordinates)."""
    return [pl.col(c).cast(pl.Float64, strict=False).alias(name) for c, name in ((lat, "latitude"), (lon, "longitude"))]


def city_counties(ref: Ref) -> pl.DataFrame:
    """city key + state -> county_fips and the city's centre, for cities whose name is unique within the state."""
    c = _read_csv(ref, CITIES, ["city_ascii", "state_id", "county_fips", "lat", "lng"])
    c = c.select(_key("city_ascii").alias("city_key"), pl.col("state_id").alias("state"),
                 pl.col("county_fips").str.zfill(5).alias("county_fips"), *_coordinates("lat", "lng"))
    return c.filter(pl.len().over(["city_key", "state"]) == 1)


def listed_facilities(con: duckdb.DuckDBPyConnection, ref: Ref) -> pl.DataFrame:
    """One row per facility (name, city, state) in ICE's published lists, with its records' code and county."""
    rows = _frame(
        con, "SELECT r.name, r.city, upper(r.state) AS state, first(r.aor ORDER BY r.stated_as_of DESC, r.aor) AS aor, "
        "min(r.stated_as_of) AS first_listed, max(r.stated_as_of) AS last_listed, "
        "count(DISTINCT r.source_file) AS n_postings FROM detention_facility_rows r "
        "WHERE r.name IS NOT NULL GROUP BY ALL")
    return match_codes(con, rows, ref)


def match_codes(con: duckdb.DuckDBPyConnection, rows: pl.DataFrame, ref: Ref) -> pl.DataFrame:
    """rows (name, city, state, ...) with the records' facility_code and the match_rule that found it."""
    rows = rows.with_columns(_key("name").alias("name_key"), _key("city").alias("city_key"))
    gaz = gazetteer(ref)
    by_state = gaz.group_by("name_key", "state").agg(pl.col("facility_code").unique())
    by_city = gaz.group_by("name_key", "city_key", "state").agg(pl.col("facility_code").unique().alias("city_codes"))
    days = _frame(con, "SELECT detention_facility_code AS facility_code, arg_max(detention_facility, date) AS ddp_name "
                       "FROM detention_facility_days GROUP BY 1").with_columns(_key("ddp_name").alias("name_key"))
    ddp_unique = days.filter(pl.len().over("name_key") == 1).select("name_key", pl.col("facility_code").alias("ddp_code"))
    out = (rows.join(by_state, on=["name_key", "state"], how="left")
           .join(by_city, on=["name_key", "city_key", "state"], how="left")
           .join(ddp_unique, on="name_key", how="left"))
    one = pl.col("facility_code").list.len() == 1
    one_city = pl.col("city_codes").list.len() == 1
    out = out.with_columns(
        pl.when(one).then(pl.col("facility_code").list.first())
        .when(one_city).then(pl.col("city_codes").list.first())
        .otherwise(pl.col("ddp_code")).alias("facility_code"),
        pl.when(one).then(pl.lit("gazetteer_name_state")).when(one_city).then(pl.lit("gazetteer_name_city_state"))
        .when(pl.col("ddp_code").is_not_null()).then(pl.lit("records_name"))
        .when(pl.col("facility_code").list.len() > 1).then(pl.lit("unmatched_ambiguous"))
        .otherwise(pl.lit("unmatched")).alias("match_rule"),
    )
    out = out.drop("city_codes", "ddp_code")
    # still unmatched: the name in brackets, when it is one gazetteer facility's name in the state
    aside = by_state.filter(pl.col("facility_code").list.len() == 1).select(
        pl.col("name_key").alias("aside_key"), "state", pl.col("facility_code").list.first().alias("aside_code"))
    found = pl.col("facility_code").is_null() & pl.col("aside_code").is_not_null()
    out = (out.with_columns(pl.col("name").map_elements(aside_key, return_dtype=pl.String).alias("aside_key"))
           .join(aside, on=["aside_key", "state"], how="left")
           .with_columns(pl.when(found).then(pl.col("aside_code")).otherwise(pl.col("facility_code")).alias("facility_code"),
                         pl.when(found).then(pl.lit("gazetteer_aside_name_state")).otherwise(pl.col("match_rule"))
                         .alias("match_rule"))
           .drop("aside_key", "aside_code"))
    return _similar_in_city(out, gaz)


OVER72 = "facilities/Over72HourFacilities.xlsx"
OVER72_RELEASE = "ref-ice-facilities-over72"


@cache
def _list_aors() -> dict[str, str]:
    text = (resources.files("icemonitor.places") / "data" / "facility_list_aors.csv").read_text(encoding="utf-8")
    return {r["aor_name"].lower(): r["aor"] for r in csv.DictReader(l for l in text.splitlines() if not l.startswith("#"))}


def authorised_facilities(con: duckdb.DuckDBPyConnection, ref: Ref) -> pl.DataFrame | None:
    """ICE's authorised over-72-hour facility list by AOR, each row with its AOR code and the records' facility
    code (the same matching as the published lists); None when the list's file is not available."""
    from icemonitor.errors import InputError
    from icemonitor.readers.over72_facilities import read_over72

    try:
        path = ref(OVER72)
    except InputError:
        return None
    if not path.exists():
        return None
    rows = read_over72(path).with_columns(
        pl.col("aor_name").map_elements(lambda n: _list_aors().get(n.lower()), return_dtype=pl.String).alias("aor"),
        pl.lit(OVER72_RELEASE).alias("release_id"))
    gaz = gazetteer(ref).select("facility_code", "county_fips").unique("facility_code", keep="first")
    return (match_codes(con, rows, ref).join(gaz, on="facility_code", how="left")
            .drop("name_key", "city_key").sort("aor_name", "source_row"))


SIMILAR_NAME = 0.5  # least share of common words for a match within the same city and state


def _similar_in_city(listed: pl.DataFrame, gaz: pl.DataFrame) -> pl.DataFrame:
    """Unmatched rows: the gazetteer facility of the same city and state whose name shares the most words (at
    least SIMILAR_NAME, and no tie)."""
    by_place: dict[tuple, list[tuple[str, str]]] = {}
    for code, key, city, state in gaz.select("facility_code", "name_key", "city_key", "state").iter_rows():
        by_place.setdefault((city, state), []).append((code, key))
    codes, rules = [], []
    for code, rule, key, city, state in listed.select("facility_code", "match_rule", "name_key", "city_key",
                                                      "state").iter_rows():
        if code is None:
            scored = sorted(((similarity(key, k), c) for c, k in by_place.get((city, state), [])), reverse=True)
            if scored and scored[0][0] >= SIMILAR_NAME and (len(scored) == 1 or scored[1][0] < scored[0][0]):
                code, rule = scored[0][1], "gazetteer_city_similar_name"
        codes.append(code)
        rules.append(rule)
    return listed.with_columns(pl.Series("facility_code", codes, dtype=pl.String), pl.Series("match_rule", rules))


def facility_tables(con: duckdb.DuckDBPyConnection, ref: Ref) -> dict[str, pl.DataFrame]:
    """detention_facility_list (ICE's list, matched), detention_authorised_facilities (ICE's over-72-hour list,
    matched) and detention_facility_places (records' codes, placed, with whether either list shows them)."""
    listed = listed_facilities(con, ref)
    authorised = authorised_facilities(con, ref)
    gaz = gazetteer(ref).select("facility_code", "county_fips", "latitude", "longitude").unique("facility_code", keep="first")
    cities = city_counties(ref)
    codes = _frame(
        con, "SELECT detention_facility_code AS facility_code, arg_max(detention_facility, date) AS ddp_name, "
        "min(date) AS first_day, max(date) AS last_day, max(n_detained) AS max_held, "
        "arg_max(n_detained, date) AS held_on_last_day, any_value(release_id) AS release_id "
        "FROM detention_facility_days GROUP BY 1")
    matched = listed.filter(pl.col("facility_code").is_not_null())
    # city, state and AOR of the code's latest listing (ties: by name, city): the same on every build
    matched = matched.sort(["facility_code", "last_listed", "name", "city", "state"],
                           descending=[False, True, False, False, False], nulls_last=True)
    ice_names = matched.group_by("facility_code", maintain_order=True).agg(
        pl.col("name").unique().sort().str.join(" | ").alias("ice_names"),
        pl.col("city").first().alias("ice_city"), pl.col("state").first().alias("ice_state"),
        pl.col("aor").first().alias("ice_aor"), pl.col("first_listed").min(), pl.col("last_listed").max())
    placed = (codes.join(gaz, on="facility_code", how="left")
              .join(ice_names, on="facility_code", how="left")
              .with_columns(_key("ice_city").alias("city_key"), pl.col("ice_state").alias("state"))
              .join(cities.rename({"county_fips": "city_fips", "latitude": "city_lat", "longitude": "city_lon"}),
                    on=["city_key", "state"], how="left"))
    # drawn where the gazetteer geocoded the address; else, when ICE's listed city placed it, at the city's centre
    by_city = pl.col("county_fips").is_null() & pl.col("city_fips").is_not_null()
    has_address = pl.col("county_fips").is_not_null() & pl.col("latitude").is_not_null() & pl.col("longitude").is_not_null()
    placed = placed.with_columns(
        pl.col("ice_names").is_not_null().alias("matched_to_ice_list"),
        pl.coalesce("county_fips", "city_fips").alias("county_fips"),
        pl.when(pl.col("county_fips").is_not_null()).then(pl.lit("gazetteer"))
        .when(pl.col("city_fips").is_not_null()).then(pl.lit("ice_list_city")).otherwise(pl.lit(None))
        .alias("placed_by"),
        pl.when(has_address).then(pl.col("latitude")).when(by_city).then(pl.col("city_lat")).alias("latitude"),
        pl.when(has_address).then(pl.col("longitude")).when(by_city).then(pl.col("city_lon")).alias("longitude"),
        pl.when(has_address).then(pl.lit("address")).when(by_city & pl.col("city_lat").is_not_null())
        .then(pl.lit("city_centre")).alias("located_by"),
    ).drop("city_key", "state", "city_fips", "city_lat", "city_lon")
    if authorised is None:  # the list is not available: whether it shows a facility is unknown, not 'no'
        placed = placed.with_columns(pl.lit(None, pl.Boolean).alias("in_authorised_list"),
                                     pl.lit(None, pl.String).alias("authorised_aor"))
    else:
        shown = authorised.filter(pl.col("facility_code").is_not_null()).group_by("facility_code").agg(
            pl.col("aor").first().alias("authorised_aor"))
        placed = placed.join(shown, on="facility_code", how="left").with_columns(
            pl.col("facility_code").is_in(shown["facility_code"].implode()).alias("in_authorised_list"))
    listed = listed.join(gaz.select("facility_code", pl.col("county_fips").alias("gaz_fips")), on="facility_code",
                         how="left").with_columns(pl.col("gaz_fips").alias("county_fips")).drop("gaz_fips", "name_key", "city_key")
    out = {"detention_facility_list": listed.sort("state", "name", "city"),
           "detention_facility_places": placed.sort("facility_code")}
    if authorised is not None:
        out["detention_authorised_facilities"] = authorised
    return out
