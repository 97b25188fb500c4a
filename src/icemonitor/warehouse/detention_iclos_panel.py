"""Panel detention_iclos: ICE's "ICLOS and Detainees" sheet (average in-custody length of stay; people in custody by
length-of-stay band) per population and point in time (the 15th = ICE's "mid", the month's last day = "end"), as
last reported (the posting with the latest stated date), with the range across postings and the sheet and cell of
the value used. A point after its posting's stated date is ICE's 0 placeholder and is left out; a table without a
stated date (no ICLOS footnote) cannot say which points it covers and is left out, listed in detention_exclusions."""

from __future__ import annotations

import polars as pl

from icemonitor.messages import msg
from icemonitor.warehouse.detention_more_panels import evidence_columns

ICLOS_TABLES = {"iclos_average_days": "average_days", "iclos_detainees_by_stay": "detainees"}
HALF_KEYS = {"mid_month": "mid", "end_of_month": "end"}
KEYS = ["measure", "population", "stay", "day"]


def iclos_undated(tables: pl.DataFrame) -> list[dict]:
    """ICLOS tables read without a stated date (their Footnotes sheet has no ICLOS section)."""
    t = tables.filter(pl.col("table_key").is_in(list(ICLOS_TABLES)) & (pl.col("status") == "read")
                      & pl.col("stated_as_of").is_null())
    return [{"release_id": r["release_id"], "source_file": r["source_file"], "source_sheet": r["source_sheet"],
             "table_key": r["table_key"], "reason": "no_stated_date", "excluded": True,
             **evidence_columns(msg("table '{title}' at {cell}: the Footnotes sheet states no 'ICLOS and Detainees Data "
                                    "are updated through' date, so its 0 placeholders cannot be told from counts",
                                    title=r["table_title"], cell=r["title_cell"]))} for r in t.to_dicts()]


def iclos_panel(usable: pl.DataFrame) -> pl.DataFrame:
    """measure, population, stay, day -> last reported value and range (usable: usable_values)."""
    v = usable.filter(pl.col("table_key").is_in(list(ICLOS_TABLES)) & pl.col("stated_as_of").is_not_null()
                      & pl.col("column_key").is_in(list(HALF_KEYS)) & pl.col("row_key").is_not_null())
    average = pl.col("table_key") == "iclos_average_days"
    rows = v.with_columns(
        pl.col("table_key").replace_strict(ICLOS_TABLES).alias("measure"),
        pl.when(average).then(pl.col("row_key")).otherwise(pl.col("group_key")).alias("population"),
        pl.when(average).then(pl.lit("all")).otherwise(pl.col("row_key")).alias("stay"),
        pl.col("column_key").replace_strict(HALF_KEYS).alias("half"),
        pl.when(pl.col("column_key") == "mid_month").then(pl.col("month").dt.offset_by("14d"))
          .otherwise(pl.col("month").dt.month_end()).alias("day"),
    ).filter(pl.col("population").is_not_null() & (pl.col("day") <= pl.col("stated_as_of")))
    return rows.sort(["stated_as_of", "posting_order"]).group_by(KEYS).agg(
        pl.col("half").last(), pl.col("value").last(), pl.col("unit").last(),
        pl.col("value").min().alias("value_min"), pl.col("value").max().alias("value_max"),
        pl.col("source_file").n_unique().cast(pl.Int32).alias("n_postings"),
        pl.col("stated_as_of").last(), pl.col("source_file").last(), pl.col("source_sheet").last(),
        pl.col("cell").last(), pl.col("release_id").last(),
    ).sort(KEYS)
