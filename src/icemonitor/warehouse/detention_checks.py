"""ICE's errors in its detention-statistics postings, found as data: each finding is a row of
detention_exclusions with its reason and evidence (nothing is dropped silently)."""

from __future__ import annotations

import polars as pl

from icemonitor.messages import Message, Month, from_json, msg

from icemonitor.warehouse.detention_bond_panel import bond_undated
from icemonitor.warehouse.detention_iclos_panel import iclos_undated
from icemonitor.warehouse.detention_more_panels import (
    atd_label_problems,
    atd_undated,
    evidence_columns,
    segregation_label_problems,
    zero_placeholder_rows,
)
from icemonitor.warehouse.detention_panels import usable_values

# Statistics whose monthly values are compared between postings (the panels' statistics).
REVISED_TABLES = ("bookins_by_agency_month", "adp_by_agency_month_criminality", "bookouts_by_reason_month_criminality")


def _row(r: dict, reason: str, excluded: bool, evidence: Message, sheet=None, table=None) -> dict:  # noqa: ANN001
    return {"release_id": r["release_id"], "source_file": r["source_file"], "source_sheet": sheet,
            "table_key": table, "reason": reason, "excluded": excluded, **evidence_columns(evidence)}


def reposts(postings: pl.DataFrame) -> list[dict]:
    """Same bytes posted again (under the same or another name: the later copies are excluded), and a name
    re-posted with other bytes (both kept, flagged)."""
    out = []
    by_order = postings.sort("posting_order").to_dicts()
    first_by_sha: dict[str, dict] = {}
    for p in by_order:
        first = first_by_sha.setdefault(p["sha256"], p)
        if first is not p:
            out.append(_row(p, "same_bytes_reposted", True,
                            msg("bytes identical to {file} (SHA-256 {sha}...)", file=first["source_file"],
                                sha=p["sha256"][:12])))
    for name, group in postings.group_by("ice_file_name"):
        shas = group.unique("sha256")
        if shas.height > 1:
            files = ", ".join(f"{r['source_file']} ({r['sha256'][:12]}...)" for r in shas.sort("source_file").to_dicts())
            out.extend(_row(r, "repost_other_bytes", False,
                            msg("ICE file {name} posted with other bytes: {files}", name=name[0], files=files))
                       for r in group.to_dicts())
    return out


def stale_sheets(tables: pl.DataFrame, postings: pl.DataFrame) -> list[dict]:
    """A second sheet of the same kind from another fiscal year inside a posting (e.g. 'Detention EOFY2020' in a
    FY2021 file): its tables are excluded."""
    fy = dict(zip(postings["source_file"], postings["fiscal_year"], strict=True))
    read_ = tables.filter(pl.col("status") == "read")
    out = []
    for r in read_.unique(["source_file", "source_sheet"]).sort(["source_file", "source_sheet"]).to_dicts():
        posting_fy = fy.get(r["source_file"])
        if posting_fy is None or r["fiscal_year"] is None or r["fiscal_year"] == posting_fy:
            continue
        same = read_.filter((pl.col("source_file") == r["source_file"]) & (pl.col("table_key") == r["table_key"])
                            & (pl.col("fiscal_year") == posting_fy))
        if same.height:
            out.append(_row(r, "stale_sheet", True,
                            msg("sheet {sheet!r} holds FY{fy} tables inside a FY{posting_fy} posting that also has "
                                "sheet {other!r}", sheet=r["source_sheet"], fy=r["fiscal_year"], posting_fy=posting_fy,
                                other=same["source_sheet"][0]), sheet=r["source_sheet"]))
    return out


def stated_date_older(postings: pl.DataFrame) -> list[dict]:
    """A posting, in the order the archive saw them, that states an older currently-detained date than one seen
    before it (kept, flagged)."""
    seen = postings.filter(pl.col("archived_on").is_not_null() & pl.col("stated_as_of").is_not_null())
    out, latest = [], None
    for p in seen.sort(["archived_on", "source_file"]).to_dicts():
        if latest is not None and p["stated_as_of"] < latest["stated_as_of"]:
            out.append(_row(p, "stated_date_older", False,
                            msg("states {stated} (archived {archived}) after {other} stated {other_stated} "
                                "(archived {other_archived})", stated=p["stated_as_of"], archived=p["archived_on"],
                                other=latest["source_file"], other_stated=latest["stated_as_of"],
                                other_archived=latest["archived_on"])))
        if latest is None or p["stated_as_of"] > latest["stated_as_of"]:
            latest = p
    return out


def unchanged_tables(tables: pl.DataFrame, postings: pl.DataFrame) -> list[dict]:
    """A table identical (labels and numbers) to the same table of an earlier posting while its stated date is
    newer: the copy is excluded (its date cannot be right)."""
    order = postings.select("source_file", "posting_order", "sha256")
    t = (tables.filter((pl.col("status") == "read") & pl.col("content_sha256").is_not_null())
         .join(order, on="source_file").sort("posting_order"))
    out = []
    for (_key, _fy), g in t.group_by(["table_key", "fiscal_year"]):
        first: dict[str, dict] = {}
        for r in g.sort("posting_order").to_dicts():
            prev = first.setdefault(r["content_sha256"], r)
            if prev is r or prev["sha256"] == r["sha256"]:
                continue  # first appearance, or the whole file is a byte copy (reported once as such)
            if r["stated_as_of"] and prev["stated_as_of"] and r["stated_as_of"] > prev["stated_as_of"]:
                out.append(_row(r, "unchanged_table", True,
                                msg("table identical to {other} ({other_sheet}!{other_cell}, stated {other_stated}) "
                                    "but stated {stated}", other=prev["source_file"], other_sheet=prev["source_sheet"],
                                    other_cell=prev["title_cell"], other_stated=prev["stated_as_of"],
                                    stated=r["stated_as_of"]),
                                sheet=r["source_sheet"], table=r["table_key"]))
    return out


def revised_values(values: pl.DataFrame) -> list[dict]:
    """A month's value that changed from one posting to the next, among usable values with their posting order
    (kept: the panels take the last reported; the range across postings shows the revision)."""
    v = values.filter(pl.col("table_key").is_in(REVISED_TABLES) & pl.col("month").is_not_null()).sort("posting_order")
    keys = ["table_key", "row_group", "row_label", "column_label", "month"]
    v = v.with_columns(
        pl.col("value").shift(1).over(keys).alias("before"),
        pl.col("source_file").shift(1).over(keys).alias("file_before"),
        pl.col("cell").shift(1).over(keys).alias("cell_before"),
    ).filter(pl.col("before").is_not_null() & (pl.col("before") != pl.col("value")))
    return [
        _row(r, "value_revised", False,
             msg("{month} {label}: {before:g} in {file_before} {cell_before} -> {value:g} at {cell}",
                 month=Month(r["month"]), label=f"{r['row_group'] or ''} {r['row_label']}".strip(),
                 before=r["before"], file_before=r["file_before"], cell_before=r["cell_before"], value=r["value"],
                 cell=r["cell"]),
             sheet=r["source_sheet"], table=r["table_key"])
        for r in v.to_dicts()
    ]


def table_problems(tables: pl.DataFrame) -> list[dict]:
    """Tables the reader stopped, and titles it does not know, with the reader's reason (its message)."""
    bad = tables.filter(pl.col("status").is_in(["stopped", "unknown_title"]))
    out = []
    for r in bad.to_dicts():
        detail = from_json(r["message_json"]) if r.get("message_json") else msg("{detail}", detail=r["message"])
        out.append(_row(r, "table_stopped" if r["status"] == "stopped" else "unknown_title", True,
                        detail if r["status"] == "stopped" else
                        msg("{detail}: {title!r}", detail=detail, title=r["table_title"]),
                        sheet=r["source_sheet"], table=r["table_key"]))
    return out


def exclusions(postings: pl.DataFrame, tables: pl.DataFrame, values: pl.DataFrame) -> pl.DataFrame:
    rows = reposts(postings) + table_problems(tables) + stale_sheets(tables, postings)
    rows += stated_date_older(postings) + unchanged_tables(tables, postings)
    rows += atd_label_problems(values) + atd_undated(tables) + zero_placeholder_rows(values, postings)
    rows += segregation_label_problems(values) + iclos_undated(tables) + bond_undated(tables)
    schema = {"release_id": pl.String, "source_file": pl.String, "source_sheet": pl.String, "table_key": pl.String,
              "reason": pl.String, "excluded": pl.Boolean, "evidence": pl.String, "evidence_message": pl.String}
    found = pl.DataFrame(rows, schema=schema)
    revised = revised_values(usable_values(values, postings, found))
    return pl.concat([found, pl.DataFrame(revised, schema=schema)])
