"""Panels of the ATD and Semiannual sheets of ICE's detention-statistics postings, as last reported with the range
across postings and the sheet and cell of the value used; and the checks that keep a doubtful value out of them.

- detention_atd: Alternatives to Detention, per date ICE states (title "as of ..." or the "Data from BI Inc. ...
  Report, MM.DD.YYYY" note): active participants and daily technology cost by technology; participants and
  average length in program by status; participants and average length in program by AOR and technology.
- detention_semiannual: arrests, book-ins and removals of members of the U.S. armed forces, U.S. citizens,
  parents of U.S. citizens and nationals of TPS countries, per fiscal year.
Checks, written to detention_exclusions: a label the label map does not know in a place where the panel needs one
(the table of that posting is left out: a new technology, a moved AOR row or a 'Grand Total' under an AOR must not
be read as something else); an ATD table without a stated date (left out: it has no date to stand for); a 0 in a
Semiannual table where an earlier posting reported a number for the same fiscal year (ICE refills its tables with
0 before updating them: the 0 is left out, the earlier number stands).
"""

from __future__ import annotations

import re

import polars as pl

from icemonitor.messages import Message, msg, to_json

ATD_TABLES = {"atd_by_technology": "by_technology", "atd_by_status": "by_status",
              "atd_by_aor_technology": "by_aor_technology"}
ATD_MEASURES = {"atd_by_technology": ("count", "daily_tech_cost"), "atd_by_status": ("count", "alip"),
                "atd_by_aor_technology": ("count", "alip")}
SEMIANNUAL = re.compile(r"^semiannual_(armed_forces|us_citizens|parents_of_us_citizens|tps_countries)_"
                        r"(arrests|bookins|removals)$")
_FY = re.compile(r"FY ?(\d{4})", re.I)
SEGREGATION = "segregation_vulnerable_by_reason"
SEGREGATION_MEASURES = ("placements", "avg_consecutive_days", "avg_cumulative_days")


def _category_ok(table: str) -> pl.Expr:
    """The label keys a table's rows must have to enter the panel."""
    row, group = pl.col("row_key"), pl.col("group_key")
    tech = row.str.starts_with("tech_")
    if table == "atd_by_technology":
        return group.is_null() & (tech | (row == "total"))
    if table == "atd_by_status":
        return group.is_null() & (row.str.starts_with("status_") | (row == "total"))
    return (group.is_null() & ((row == "total") | row.str.starts_with("aor:"))) | (
        group.str.starts_with("aor:") & tech)


def evidence_columns(evidence: Message) -> dict:
    """The evidence as English text and as its message (id and parameters, JSON) for pages in other languages."""
    return {"evidence": str(evidence), "evidence_message": to_json(evidence)}


def atd_label_problems(values: pl.DataFrame) -> list[dict]:
    """One excluded table per ATD table of a posting holding a row or column label the panel cannot place."""
    out = []
    for table, _stat in ATD_TABLES.items():
        v = values.filter(pl.col("table_key") == table)
        bad = v.filter(~(_category_ok(table).fill_null(False) & pl.col("column_key").is_in(ATD_MEASURES[table])))
        for (file, sheet), g in bad.group_by(["source_file", "source_sheet"], maintain_order=True):
            cells = ", ".join(f"{r['cell']} ({r['row_group'] + ' / ' if r['row_group'] else ''}{r['row_label']}"
                              f" | {r['column_label']})" for r in g.head(5).to_dicts())
            out.append({"release_id": g["release_id"][0], "source_file": file, "source_sheet": sheet,
                        "table_key": table, "reason": "unknown_label", "excluded": True,
                        **evidence_columns(msg("{n} value(s) under labels the label map (readers/data/"
                                               "detention_labels.csv) does not place in this table: {cells}",
                                               n=g.height, cells=cells))})
    return out


def segregation_label_problems(values: pl.DataFrame) -> list[dict]:
    """One excluded table per segregation table of a posting with a placement reason or column the label map does
    not know (a new reason must not be summed into another)."""
    v = values.filter(pl.col("table_key") == SEGREGATION)
    bad = v.filter(~((pl.col("row_key").str.starts_with("reason_") | (pl.col("row_key") == "total")).fill_null(False)
                     & pl.col("column_key").is_in(SEGREGATION_MEASURES)))
    return [{"release_id": g["release_id"][0], "source_file": file, "source_sheet": sheet, "table_key": SEGREGATION,
             "reason": "unknown_label", "excluded": True,
             **evidence_columns(msg("table {title!r}: labels the label map does not place: {cells}", title=title,
                                    cells=", ".join(f"{r['cell']} ({r['row_label']} | {r['column_label']})"
                                                    for r in g.head(5).to_dicts())))}
            for (file, sheet, title), g in bad.group_by(["source_file", "source_sheet", "table_title"],
                                                        maintain_order=True)]


def segregation_panel(usable: pl.DataFrame, postings: pl.DataFrame) -> pl.DataFrame:
    """fiscal_year, quarter, reason, measure -> last reported value (segregation placements of vulnerable and
    special populations, Vulnerable & Special Population sheet)."""
    v = usable.drop("posting_order").filter(
        (pl.col("table_key") == SEGREGATION) & (pl.col("row_key").str.starts_with("reason_") | (pl.col("row_key") == "total"))
        & pl.col("column_key").is_in(SEGREGATION_MEASURES))
    rows = v.with_columns(
        pl.col("table_title").str.extract(r"(\d{4}) Quarter [1-4]", 1).cast(pl.Int16).alias("fy"),
        pl.col("table_title").str.extract(r"\d{4} Quarter ([1-4])", 1).cast(pl.Int16).alias("quarter"),
        pl.col("row_key").alias("reason"), pl.col("column_key").alias("measure"),
    ).drop("fiscal_year").rename({"fy": "fiscal_year"}).join(seen_order(postings), on="source_file")
    return _last(rows, ["fiscal_year", "quarter", "reason", "measure"])


def atd_undated(tables: pl.DataFrame) -> list[dict]:
    """ATD tables read without a stated date."""
    t = tables.filter(pl.col("table_key").is_in(list(ATD_TABLES)) & (pl.col("status") == "read")
                      & pl.col("stated_as_of").is_null())
    return [{"release_id": r["release_id"], "source_file": r["source_file"], "source_sheet": r["source_sheet"],
             "table_key": r["table_key"], "reason": "no_stated_date", "excluded": True,
             **evidence_columns(msg("table {title!r} at {cell}: neither its title nor a 'Data from ...' note under "
                                    "it states a date", title=r["table_title"], cell=r["title_cell"]))}
            for r in t.to_dicts()]


def seen_order(postings: pl.DataFrame) -> pl.DataFrame:
    """source_file, posting_order renumbered in the order the postings were seen (archive date, else the latest
    date the posting states): a table without a date of its own, such as the Semiannual ones, is as new as the
    posting, whatever date its currently-detained table states (ICE sometimes leaves an old one)."""
    seen = pl.coalesce(pl.col("archived_on"), pl.col("stated_max"))
    return postings.sort([seen, pl.col("posting_order")], nulls_last=True).select(
        "source_file", pl.int_range(1, pl.len() + 1, dtype=pl.Int32).alias("posting_order"))


def _semiannual_rows(values: pl.DataFrame, postings: pl.DataFrame) -> pl.DataFrame:
    """Semiannual values with population, event, fiscal year, country and posting order."""
    v = values.filter(pl.col("table_key").str.starts_with("semiannual_"))
    if v.height == 0:
        return v.with_columns(*(pl.lit(None, pl.String).alias(c) for c in ("population", "event", "country")),
                              pl.lit(None, pl.Int16).alias("fy"), pl.lit(None, pl.Boolean).alias("partial_year"),
                              pl.lit(None, pl.Int32).alias("posting_order"))
    tps = pl.col("table_key").str.contains("tps_countries")
    year_label = pl.when(tps).then(pl.col("column_label")).otherwise(pl.col("row_label"))
    title_last = pl.col("table_title").str.extract_all(r"\d{4}").list.last().cast(pl.Int16, strict=False)
    fy = year_label.str.extract(r"(?i)FY ?(\d{4})").cast(pl.Int16, strict=False)
    partial = (year_label.str.contains(r"(?i)YTD|\(") | (pl.col("table_title").str.contains(r"(?i)\bYTD")
                                                          & ~pl.col("table_title").str.contains(r"(?i)EOFY")
                                                          & (fy == title_last))).fill_null(False)
    return v.with_columns(
        pl.col("table_key").str.extract(SEMIANNUAL.pattern, 1).alias("population"),
        pl.col("table_key").str.extract(SEMIANNUAL.pattern, 2).alias("event"),
        fy.alias("fy"),
        pl.when(tps).then(pl.col("row_label")).otherwise(pl.lit("all")).alias("country"),
        partial.alias("partial_year"),
    ).join(seen_order(postings), on="source_file")


def zero_placeholders(values: pl.DataFrame, postings: pl.DataFrame) -> pl.DataFrame:
    """Semiannual 0s where an earlier posting reported a number (not 0) for the same table, fiscal year and
    country: source_file, source_sheet, table_key, cell, evidence."""
    keys = ["table_key", "fy", "country"]
    rows = _semiannual_rows(values, postings).filter(pl.col("fy").is_not_null()).sort("posting_order")
    earlier = rows.filter(pl.col("value") != 0).group_by(keys).agg(
        pl.col("posting_order").min().alias("first_nonzero"), pl.col("source_file").first().alias("nonzero_file"),
        pl.col("cell").first().alias("nonzero_cell"), pl.col("value").first().alias("nonzero_value"))
    hit = rows.filter(pl.col("value") == 0).join(earlier, on=keys).filter(
        pl.col("posting_order") > pl.col("first_nonzero"))
    return hit.select(
        "release_id", "source_file", "source_sheet", "table_key", "cell",
        pl.format("{} FY{} {}: 0 at {}, where {} reported {} at {}", pl.col("table_key"), pl.col("fy"),
                  pl.col("country"), pl.col("cell"), pl.col("nonzero_file"), pl.col("nonzero_value"),
                  pl.col("nonzero_cell")).alias("evidence"))


def zero_placeholder_rows(values: pl.DataFrame, postings: pl.DataFrame) -> list[dict]:
    """zero_placeholders as exclusion rows (one per posting and table; the cells in the evidence)."""
    z = zero_placeholders(values, postings)
    out = []
    for (rid, file, sheet, table), g in z.group_by(["release_id", "source_file", "source_sheet", "table_key"],
                                                   maintain_order=True):
        out.append({"release_id": rid, "source_file": file, "source_sheet": sheet, "table_key": table,
                    "reason": "zero_placeholder", "excluded": True,
                    "evidence": "; ".join(g["evidence"].head(5).to_list())
                                + (f" (and {g.height - 5} more)" if g.height > 5 else "")})
    return out


def _last(rows: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    return rows.sort("posting_order").group_by(keys).agg(
        pl.col("value").last(), pl.col("unit").last(), pl.col("value").min().alias("value_min"),
        pl.col("value").max().alias("value_max"), pl.col("source_file").n_unique().cast(pl.Int32).alias("n_postings"),
        pl.col("source_file").last(), pl.col("source_sheet").last(), pl.col("cell").last(),
        pl.col("release_id").last(),
    ).sort(keys)


def atd_panel(usable: pl.DataFrame) -> pl.DataFrame:
    """statistic, aor, category, measure, as_of -> last reported value and range (usable: usable_values)."""
    parts = []
    for table, stat in ATD_TABLES.items():
        v = usable.filter((pl.col("table_key") == table) & pl.col("stated_as_of").is_not_null()
                          & _category_ok(table).fill_null(False) & pl.col("column_key").is_in(ATD_MEASURES[table]))
        grouped = pl.col("group_key").is_not_null()
        aor_row = pl.col("row_key").str.starts_with("aor:").fill_null(False)
        parts.append(v.with_columns(
            pl.lit(stat).alias("statistic"),
            pl.when(grouped).then(pl.col("group_key").str.strip_prefix("aor:"))
              .when(aor_row).then(pl.col("row_key").str.strip_prefix("aor:")).otherwise(pl.lit("total")).alias("aor"),
            pl.when(grouped | ~aor_row).then(pl.col("row_key")).otherwise(pl.lit("total")).alias("category"),
            pl.col("column_key").alias("measure"), pl.col("stated_as_of").alias("as_of")))
    rows = pl.concat(parts, how="diagonal_relaxed")
    return _last(rows, ["statistic", "aor", "category", "measure", "as_of"])


def semiannual_panel(usable: pl.DataFrame, postings: pl.DataFrame) -> pl.DataFrame:
    """population, event, country, fiscal_year -> last reported value (ICE's 0 placeholders left out)."""
    rows = _semiannual_rows(usable.drop("posting_order"), postings).filter(pl.col("fy").is_not_null())
    zeros = zero_placeholders(usable.drop("posting_order"), postings).select("source_file", "cell")
    rows = rows.join(zeros, on=["source_file", "cell"], how="anti").drop("fiscal_year").rename({"fy": "fiscal_year"})
    last = _last(rows, ["population", "event", "country", "fiscal_year"])
    partial = rows.sort("posting_order").group_by(["population", "event", "country", "fiscal_year"]).agg(
        pl.col("partial_year").last())
    return last.join(partial, on=["population", "event", "country", "fiscal_year"])
