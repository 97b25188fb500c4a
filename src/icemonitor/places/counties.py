"""Counties (FIPS), their state and their ICE Area of Responsibility (AOR), by date.

Sources (shared/data layout): geo/counties_fips.csv (county list), aor/county_aor_crosswalk.csv (two AOR map
vintages: UWCHR c. 2020 and deportationdata 2026). Which vintage applies on which dates is a hand-kept rule in
places/data/aor_map_vintages.csv (with its evidence).

polars is imported by the functions that read the tables, not with the module: the web server imports the place
classes before it answers and loads polars in its warm-up (web/app.py).
"""

from __future__ import annotations

import csv
import datetime as dt
from functools import lru_cache
from importlib import resources
from pathlib import Path

from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.places.ref import Ref

COUNTIES_FILE = "geo/counties_fips.csv"
CROSSWALK_FILE = "aor/county_aor_crosswalk.csv"
AOR_CODES_FILE = "aor/aor_codes.csv"
TOPOJSON_FILE = "geo/us_atlas_counties-10m.topojson.json"
TOPOJSON_ALBERS_FILE = "geo/us_atlas_counties-albers-10m.topojson.json"
VINTAGES_FILE = "aor_map_vintages.csv"


def _data_path(name: str) -> Path:
    return Path(str(resources.files("icemonitor.places") / "data" / name))


def _date_or_none(text: str, file: str, row: int, field: str) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise InputError("not an ISO date", file=file, row=row, field=field, value=text) from exc


def aor_map_vintages() -> pl.DataFrame:
    """The AOR map vintages and the dates each applies to (places/data/aor_map_vintages.csv)."""
    import polars as pl

    path = _data_path(VINTAGES_FILE)
    rows = []
    with path.open(newline="", encoding="utf-8") as fh:
        for i, rec in enumerate(csv.DictReader(fh), start=2):
            start = _date_or_none(rec["valid_from"], path.name, i, "valid_from")
            end = _date_or_none(rec["valid_to"], path.name, i, "valid_to")
            if start and end and end < start:
                raise InputError("valid_to before valid_from", file=path.name, row=i, field="valid_to", value=rec["valid_to"])
            rows.append({**rec, "valid_from": start, "valid_to": end})
    return pl.DataFrame(rows, schema_overrides={"valid_from": pl.Date, "valid_to": pl.Date})


def _read_str_csv(path: Path) -> pl.DataFrame:
    import polars as pl

    return pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")


def load_counties(ref: Ref) -> pl.DataFrame:
    """One row per county FIPS: county_fips, state, state_fips, state_name, county_name, aor (current map),
    aor_2020 (UWCHR c. 2020 map), aor_filled_from_state, in_us_atlas_2017, in_addfips_2020."""
    return _load_counties_cached(str(ref(COUNTIES_FILE)), str(ref(CROSSWALK_FILE))).clone()


@lru_cache(maxsize=4)
def _load_counties_cached(counties_path: str, crosswalk_path: str) -> pl.DataFrame:
    import polars as pl

    geo = _read_str_csv(Path(counties_path))
    xw = _read_str_csv(Path(crosswalk_path))
    base = geo.select(
        pl.col("fips5").alias("county_fips"),
        pl.col("state_abbr").alias("state"),
        "state_fips",
        "state_name",
        "county_name",
        (pl.col("in_us_atlas_2017") == "1").alias("in_us_atlas_2017"),
        (pl.col("in_addfips_2020") == "1").alias("in_addfips_2020"),
    )
    extras = xw.filter(~pl.col("fips5").is_in(base["county_fips"].implode())).select(
        pl.col("fips5").alias("county_fips"),
        pl.col("state_abbr").alias("state"),
        pl.col("fips5").str.slice(0, 2).alias("state_fips"),
        "state_name",
        "county_name",
        pl.lit(False).alias("in_us_atlas_2017"),
        pl.lit(False).alias("in_addfips_2020"),
    )
    allc = pl.concat([base, extras])
    codes = xw.select(
        pl.col("fips5").alias("county_fips"),
        pl.col("dd2026_aor_code").alias("aor"),
        pl.col("uwchr_aor_code").alias("aor_2020"),
    )
    out = allc.join(codes, on="county_fips", how="left")
    # Counties missing from the crosswalk (retired FIPS such as 46113, 51560) get their state's AOR when the
    # whole state lies in one AOR; flagged so it is never mistaken for a listed assignment.
    state_single = (
        out.filter(pl.col("aor").is_not_null())
        .group_by("state_fips")
        .agg(pl.col("aor").n_unique().alias("_n"), pl.col("aor").first().alias("_aor"),
             pl.col("aor_2020").drop_nulls().n_unique().alias("_n2"), pl.col("aor_2020").drop_nulls().first().alias("_aor2"))
    )
    out = out.join(state_single, on="state_fips", how="left")
    fill = pl.col("aor").is_null() & (pl.col("_n") == 1)
    out = out.with_columns(
        fill.fill_null(False).alias("aor_filled_from_state"),
        pl.when(fill).then(pl.col("_aor")).otherwise(pl.col("aor")).alias("aor"),
        pl.when(pl.col("aor_2020").is_null() & (pl.col("_n2") == 1)).then(pl.col("_aor2"))
        .otherwise(pl.col("aor_2020")).alias("aor_2020"),
    ).drop("_n", "_aor", "_n2", "_aor2")
    return out.with_columns(pl.col("state").fill_null(""), pl.col("aor").replace("", None),
                            pl.col("aor_2020").replace("", None)).sort("county_fips")


def county_aor_periods(ref: Ref) -> pl.DataFrame:
    """The AOR of each county by date: county_fips, aor, valid_from, valid_to (null = open), vintage.

    Counties whose AOR is the same in every map vintage get one open-ended row; the South Texas counties that
    moved (Harlingen carved out of San Antonio/Houston; HOU/SNA boundary) get one row per vintage."""
    return _county_aor_periods_cached(str(ref(COUNTIES_FILE)), str(ref(CROSSWALK_FILE))).clone()


@lru_cache(maxsize=4)
def _county_aor_periods_cached(counties_path: str, crosswalk_path: str) -> pl.DataFrame:
    """county_aor_periods of the counties of these files (read once per process: the build's population table
    asks for the map of every year)."""
    import polars as pl

    counties = _load_counties_cached(counties_path, crosswalk_path)
    vint = aor_map_vintages()
    col_of = {"uwchr_aor_code": "aor_2020", "dd2026_aor_code": "aor"}
    parts = []
    for v in vint.iter_rows(named=True):
        parts.append(counties.select(
            "county_fips",
            pl.col(col_of[v["crosswalk_column"]]).alias("aor"),
            pl.lit(v["valid_from"], dtype=pl.Date).alias("valid_from"),
            pl.lit(v["valid_to"], dtype=pl.Date).alias("valid_to"),
            pl.lit(v["vintage"]).alias("vintage"),
        ))
    long = pl.concat(parts)
    n_distinct = long.filter(pl.col("aor").is_not_null()).group_by("county_fips").agg(
        pl.col("aor").n_unique().alias("n_aor"))
    long = long.join(n_distinct, on="county_fips", how="left")
    stable = (
        long.filter(pl.col("n_aor").fill_null(0) <= 1)
        .group_by("county_fips")
        .agg(pl.col("aor").drop_nulls().first().alias("aor"))
        .with_columns(pl.lit(None, dtype=pl.Date).alias("valid_from"), pl.lit(None, dtype=pl.Date).alias("valid_to"),
                      pl.lit("all").alias("vintage"))
        .filter(pl.col("aor").is_not_null())
    )
    changed = long.filter(pl.col("n_aor") > 1).drop("n_aor")
    return pl.concat([stable.select(changed.columns), changed]).sort("county_fips", "valid_from", nulls_last=False)


def as_date(value: dt.date | str, field: str = "date") -> dt.date:
    """A date from a date or an ISO string; InputError otherwise."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise InputError(msg("not an ISO date (YYYY-MM-DD)"), field=field, value=value) from exc


def check_fips(county_fips: str, ref: Ref) -> str:
    """Return the 5-digit FIPS if it is a known county; else InputError naming it."""
    code = str(county_fips).strip()
    if code.isdigit() and len(code) < 5:
        code = code.zfill(5)
    known = set(load_counties(ref)["county_fips"].to_list())
    if code not in known:
        raise InputError(f"unknown county FIPS {county_fips!r}", file=COUNTIES_FILE, field="fips5", value=county_fips)
    return code


def county_aors_on(date: dt.date | str, ref: Ref) -> pl.DataFrame:
    """The AOR map in force on a date: county_fips, aor, vintage (one row per county that has an AOR)."""
    import polars as pl

    day = as_date(date)
    return county_aor_periods(ref).filter(
        (pl.col("valid_from").is_null() | (pl.col("valid_from") <= day))
        & (pl.col("valid_to").is_null() | (pl.col("valid_to") >= day))
    ).select("county_fips", "aor", "vintage")


def aor_of(county_fips: str, date: dt.date | str, ref: Ref) -> str | None:
    """The AOR code of a county on a date (None if the county has no AOR, e.g. American Samoa)."""
    import polars as pl

    code = check_fips(county_fips, ref)
    hit = county_aors_on(date, ref).filter(pl.col("county_fips") == code)
    return hit["aor"][0] if hit.height else None


def aor_codes(ref: Ref) -> pl.DataFrame:
    """AOR code ↔ field office name (aor/aor_codes.csv)."""
    return _read_str_csv(ref(AOR_CODES_FILE)).select("aor_code", "field_office_name")


def county_topojson_path(ref: Ref, projection: str = "lonlat") -> Path:
    """The us-atlas 2017 county TopoJSON (object `counties`, id = 5-digit FIPS), served in place, never copied.

    projection: 'lonlat' (unprojected) or 'albers' (pre-projected to a 975×610 viewport)."""
    if projection not in ("lonlat", "albers"):
        raise InputError("projection must be 'lonlat' or 'albers'", field="projection", value=projection)
    path = ref(TOPOJSON_FILE if projection == "lonlat" else TOPOJSON_ALBERS_FILE)
    if not Path(path).exists():
        raise InputError("county TopoJSON not found", file=str(path))
    return Path(path)
