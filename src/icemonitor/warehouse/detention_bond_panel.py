"""Panel detention_bond: ICE's Monthly Bond Statistics per month and measure (final releases or final book-outs,
those with a bond posted, the bond-posted share, average bond amount, average length of stay of the bonded-out), as
last reported (the posting with the latest stated date), with the range across postings that cover the whole month
and the sheet and cell of the value used. A month whose total count is 0 in a posting is ICE's placeholder (months
before the fiscal year, months not reached) and that posting's column is left out; a month after the posting's
stated date is left out; a table without a stated date is left out and listed in detention_exclusions."""

from __future__ import annotations

import polars as pl

from icemonitor.messages import msg
from icemonitor.warehouse.detention_more_panels import evidence_columns

BOND = "bond_by_month"
TOTALS = ("total_final_releases", "total_final_bookouts_or_releases", "total_final_bookouts")
KEYS = ["measure", "month"]


def bond_undated(tables: pl.DataFrame) -> list[dict]:
    """Bond tables read without a stated date (no Monthly Bond Statistics section in their Footnotes sheet)."""
    t = tables.filter((pl.col("table_key") == BOND) & (pl.col("status") == "read") & pl.col("stated_as_of").is_null())
    return [{"release_id": r["release_id"], "source_file": r["source_file"], "source_sheet": r["source_sheet"],
             "table_key": BOND, "reason": "no_stated_date", "excluded": True,
             **evidence_columns(msg("table '{title}' at {cell}: the Footnotes sheet states no 'Monthly Bond Statistics "
                                    "... updated through' date, so its partial and placeholder months cannot be told",
                                    title=r["table_title"], cell=r["title_cell"]))} for r in t.to_dicts()]


def bond_panel(usable: pl.DataFrame) -> pl.DataFrame:
    """measure, month -> last reported value, whether that report covers the whole month, range (usable:
    usable_values)."""
    v = usable.filter((pl.col("table_key") == BOND) & pl.col("stated_as_of").is_not_null()
                      & pl.col("row_key").is_not_null() & pl.col("month").is_not_null()
                      & (pl.col("month") <= pl.col("stated_as_of")))
    placeholders = v.filter(pl.col("row_key").is_in(TOTALS) & (pl.col("value") == 0)).select("source_file", "month")
    rows = v.join(placeholders, on=["source_file", "month"], how="anti").with_columns(
        pl.col("row_key").alias("measure"),
        ((pl.col("month").dt.month_end() <= pl.col("stated_as_of"))
         & ~pl.col("column_label").str.contains(r"(?i)thru")).alias("complete"))
    whole = pl.col("value").filter(pl.col("complete"))
    return rows.sort(["stated_as_of", "posting_order"]).group_by(KEYS).agg(
        pl.col("value").last(), pl.col("unit").last(), pl.col("complete").last(),
        whole.min().alias("value_min"), whole.max().alias("value_max"),
        pl.col("source_file").filter(pl.col("complete")).n_unique().cast(pl.Int32).alias("n_postings"),
        pl.col("column_label").last(), pl.col("stated_as_of").last(), pl.col("source_file").last(),
        pl.col("source_sheet").last(), pl.col("cell").last(), pl.col("release_id").last(),
    ).sort(KEYS)
