"""Detention panels from all postings: one value per statistic and month (book-ins, average daily population,
book-outs) and per stated date (people currently detained), as last reported, with the range across postings."""

from __future__ import annotations

import polars as pl

PANEL_KEYS = ["statistic", "agency", "criminality"]
# exclusions of single values (the panels leave those values out themselves), not of their whole table
VALUE_REASONS = ("value_revised", "zero_placeholder")


def usable_values(values: pl.DataFrame, postings: pl.DataFrame, exclusions: pl.DataFrame) -> pl.DataFrame:
    """Values outside every excluded file, sheet or table, with their posting's order."""
    ex = exclusions.filter(pl.col("excluded"))
    files = ex.filter(pl.col("source_sheet").is_null())["source_file"].to_list()
    sheets = ex.filter(pl.col("source_sheet").is_not_null() & pl.col("table_key").is_null()).select(
        "source_file", "source_sheet")
    tables = ex.filter(pl.col("table_key").is_not_null() & ~pl.col("reason").is_in(VALUE_REASONS)).select(
        "source_file", "source_sheet", "table_key")
    v = values.filter(~pl.col("source_file").is_in(files))
    v = v.join(sheets, on=["source_file", "source_sheet"], how="anti")
    v = v.join(tables, on=["source_file", "source_sheet", "table_key"], how="anti")
    return v.join(postings.select("source_file", "posting_order"), on="source_file")


def _monthly_rows(v: pl.DataFrame) -> pl.DataFrame:
    agency_rows = pl.col("group_key").is_null()
    bookins = v.filter(pl.col("table_key") == "bookins_by_agency_month").with_columns(
        pl.lit("bookins").alias("statistic"), pl.col("row_key").alias("agency"), pl.lit("total").alias("criminality"))
    adp = v.filter(pl.col("table_key") == "adp_by_agency_month_criminality").with_columns(
        pl.lit("adp").alias("statistic"),
        pl.when(agency_rows).then(pl.col("row_key")).otherwise(pl.col("group_key")).alias("agency"),
        pl.when(agency_rows).then(pl.lit("total")).otherwise(pl.col("row_key")).alias("criminality"))
    bookouts = v.filter((pl.col("table_key") == "bookouts_by_reason_month_criminality")
                        & (pl.col("group_key") == "total") & (pl.col("row_key") == "total")).with_columns(
        pl.lit("bookouts").alias("statistic"), pl.lit("total").alias("agency"), pl.lit("total").alias("criminality"))
    out = pl.concat([bookins, adp, bookouts], how="diagonal_relaxed")
    # months after the date ICE states are placeholders (ICE fills the rest of the year with 0)
    return out.filter(pl.col("month").is_not_null() & pl.col("stated_as_of").is_not_null()
                      & (pl.col("month") <= pl.col("stated_as_of")) & pl.col("agency").is_not_null()
                      & pl.col("criminality").is_not_null())


def _last_reported(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """The value of the latest posting; the range over postings that report the period complete."""
    rows = rows.sort("posting_order")
    whole = pl.col("value").filter(pl.col("complete"))
    return rows.group_by(keys).agg(
        pl.col("value").last(),
        pl.col("complete").last(),
        whole.min().alias("value_min"),
        whole.max().alias("value_max"),
        pl.col("source_file").filter(pl.col("complete")).n_unique().cast(pl.Int32).alias("n_postings"),
        pl.col("source_file").last(),
        pl.col("source_sheet").last(),
        pl.col("cell").last(),
        pl.col("stated_as_of").last(),
        pl.col("release_id").last(),
    ).sort(keys)


def monthly_panel(values: pl.DataFrame, postings: pl.DataFrame, exclusions: pl.DataFrame) -> pl.DataFrame:
    """statistic (bookins / adp / bookouts), agency, criminality, month -> last reported value and range."""
    rows = _monthly_rows(usable_values(values, postings, exclusions)).with_columns(
        (pl.col("stated_as_of") >= pl.col("month").dt.month_end()).alias("complete"))
    return _last_reported(rows, [*PANEL_KEYS, "month"])


def snapshot_panel(values: pl.DataFrame, postings: pl.DataFrame, exclusions: pl.DataFrame) -> pl.DataFrame:
    """People currently detained on each stated date, by arresting agency and criminality, as last reported."""
    v = usable_values(values, postings, exclusions).filter(
        (pl.col("table_key") == "currently_detained_by_criminality_agency")
        & pl.col("column_key").is_in(["ice", "cbp", "total"]) & pl.col("row_key").is_not_null()
        & pl.col("stated_as_of").is_not_null())
    rows = v.with_columns(pl.lit("currently_detained").alias("statistic"), pl.col("column_key").alias("agency"),
                          pl.col("row_key").alias("criminality"), pl.col("stated_as_of").alias("as_of"),
                          pl.lit(True).alias("complete"))
    return _last_reported(rows, [*PANEL_KEYS, "as_of"]).drop("stated_as_of", "complete")
