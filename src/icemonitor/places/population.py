"""Population denominators: total and non-citizen population per county, aggregated to AOR and state.

Vintages available in shared/data/population (see its SOURCE.md):
* ACS 2013–2017 5-year (year 2017): population/county_noncitizen_acs5_2013_2017.csv — total population (B01003)
  and non-citizens derived as total − citizens (Census CVAP special tabulation `cit`).
* ACS 2012–2016 5-year (year 2016): total population from population/medsl_election_context_2018.csv
  (MEDSL, `total_population`, Alaska missing) and citizens from population/cvap_cit_county_long_2009_2023.csv
  (`cit`, acs5_end_year 2016); non-citizens = total − citizens.
No other year has both totals and citizens; a requested year without an estimate uses the nearest vintage
available for that county (`year_used`, `imputed`). Small negative non-citizen estimates (CVAP counts are
rounded to 5) are clipped to 0 and flagged (`noncitizen_clipped`).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Literal

import polars as pl

from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.places.counties import county_aors_on, load_counties
from icemonitor.places.ref import Ref

MAIN_FILE = "population/county_noncitizen_acs5_2013_2017.csv"
MEDSL_FILE = "population/medsl_election_context_2018.csv"
CVAP_FILE = "population/cvap_cit_county_long_2009_2023.csv"

VINTAGE_LABEL = {
    2017: "ACS 2013-2017 5-year (total B01003; non-citizens = total - CVAP-tabulation citizens)",
    2016: "ACS 2012-2016 5-year (total from MEDSL election-context 2018; non-citizens = total - CVAP-tabulation citizens)",
}
DEFINITION = msg("total_pop = ACS 5-year total population; noncitizen_pop = total_pop - citizens (Census CVAP "
                 "special tabulation `cit`), negative values clipped to 0")

Level = Literal["county", "aor", "state"]


def county_estimates(ref: Ref) -> pl.DataFrame:
    """All county estimates, one row per county and vintage year: county_fips, year, total_pop, noncitizen_pop,
    noncitizen_raw (before clipping), noncitizen_clipped, vintage, source_file."""
    return _county_estimates_cached(str(ref(MAIN_FILE)), str(ref(MEDSL_FILE)), str(ref(CVAP_FILE))).clone()


@lru_cache(maxsize=4)
def _county_estimates_cached(main_path: str, medsl_path: str, cvap_path: str) -> pl.DataFrame:
    main = pl.read_csv(main_path, schema_overrides={"fips5": pl.Utf8}, infer_schema_length=10000)
    for col in ("total_pop_acs5_2017", "citizens_acs5_2017"):
        if col not in main.columns:
            raise InputError("expected column missing", file=MAIN_FILE, field=col)
    v2017 = main.select(
        pl.col("fips5").alias("county_fips"),
        pl.lit(2017).alias("year"),
        pl.col("total_pop_acs5_2017").cast(pl.Float64).alias("total_pop"),
        (pl.col("total_pop_acs5_2017").cast(pl.Float64) - pl.col("citizens_acs5_2017").cast(pl.Float64)).alias("noncitizen_raw"),
        pl.lit(MAIN_FILE).alias("source_file"),
    )
    medsl = pl.read_csv(medsl_path, null_values=["NA"], infer_schema_length=10000)
    cvap = pl.read_csv(cvap_path, schema_overrides={"fips5": pl.Utf8}, null_values=["NA", ""], infer_schema_length=10000)
    cit16 = cvap.filter(pl.col("acs5_end_year") == 2016).select(pl.col("fips5").alias("county_fips"),
                                                               pl.col("cit").cast(pl.Float64))
    v2016 = (
        medsl.select(pl.col("fips").cast(pl.Int64).cast(pl.Utf8).str.zfill(5).alias("county_fips"),
                     pl.col("total_population").cast(pl.Float64).alias("total_pop"))
        .join(cit16, on="county_fips", how="inner")
        .select("county_fips", pl.lit(2016).alias("year"), "total_pop",
                (pl.col("total_pop") - pl.col("cit")).alias("noncitizen_raw"),
                pl.lit(f"{MEDSL_FILE} + {CVAP_FILE}").alias("source_file"))
    )
    est = pl.concat([v2017, v2016]).filter(pl.col("total_pop").is_not_null())
    return est.with_columns(
        (pl.col("noncitizen_raw") < 0).alias("noncitizen_clipped"),
        pl.col("noncitizen_raw").clip(lower_bound=0).alias("noncitizen_pop"),
        pl.col("year").replace_strict(VINTAGE_LABEL, return_dtype=pl.Utf8).alias("vintage"),
    ).select("county_fips", "year", "total_pop", "noncitizen_pop", "noncitizen_raw", "noncitizen_clipped", "vintage",
             "source_file").sort("county_fips", "year")


def _county_year(ref: Ref, year: int) -> pl.DataFrame:
    """Per county: the estimate of the vintage nearest to `year` (ties go to the later vintage)."""
    est = county_estimates(ref).with_columns((pl.col("year") - year).abs().alias("_dist"))
    best = est.sort(["county_fips", "_dist", "year"], descending=[False, False, True]).group_by(
        "county_fips", maintain_order=True).first()
    return best.rename({"year": "year_used"}).with_columns(
        pl.lit(year).alias("year"), (pl.col("year_used") != year).alias("imputed")).drop("_dist")


def population(level: Level, year: int, ref: Ref) -> pl.DataFrame:
    """Total and non-citizen population for `year` at county, AOR or state level.

    Every row states its vintage(s) and how many of its counties were imputed from another year or clipped."""
    if level not in ("county", "aor", "state"):
        raise InputError("level must be county, aor or state", field="level", value=level)
    if not isinstance(year, int) or not 1900 <= year <= 2100:
        raise InputError("year must be a four-digit year", field="year", value=year)
    cy = _county_year(ref, year)
    counties = load_counties(ref).select("county_fips", "state", "county_name")
    day = dt.date(year, 7, 1)
    periods = county_aors_on(day, ref).rename({"vintage": "aor_map"})
    cy = cy.join(counties, on="county_fips", how="left").join(periods, on="county_fips", how="left")
    if level == "county":
        return cy.select("county_fips", "county_name", "state", "aor", "year", "year_used", "imputed", "total_pop",
                         "noncitizen_pop", "noncitizen_clipped", "vintage", "source_file", "aor_map",
                         pl.lit(str(DEFINITION)).alias("definition")).sort("county_fips")
    key = "aor" if level == "aor" else "state"
    out = (
        cy.filter(pl.col(key).is_not_null() & (pl.col(key) != ""))
        .group_by(key)
        .agg(
            pl.col("total_pop").sum(),
            pl.col("noncitizen_pop").sum(),
            pl.len().alias("n_counties"),
            pl.col("imputed").sum().alias("n_imputed"),
            pl.col("noncitizen_clipped").sum().alias("n_clipped"),
            pl.col("year_used").unique().sort().cast(pl.Utf8).str.join(";").alias("years_used"),
            pl.col("vintage").unique().sort().str.join(" | ").alias("vintage"),
        )
        .with_columns(pl.lit(year).alias("year"), (pl.col("n_imputed") > 0).alias("imputed"),
                      pl.lit(str(DEFINITION)).alias("definition"))
        .sort(key)
    )
    if level == "aor":
        out = out.with_columns(pl.lit(f"AOR map as of {day.isoformat()} (places.county_aor_periods)").alias("aor_map"))
    return out.select(key, "year", "years_used", "imputed", "n_imputed", "n_clipped", "n_counties", "total_pop",
                      "noncitizen_pop", "vintage", *(["aor_map"] if level == "aor" else []), "definition")

