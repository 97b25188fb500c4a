"""Priorities: who is arrested (booked in, removed) by criminal history, per the release's own definition."""

from __future__ import annotations

import csv
import datetime as dt
from importlib import resources
from typing import Any

import duckdb

from icemonitor.analysis.common import (
    Where,
    counted_in_period,
    check_table,
    event_source,
    place_where,
    unresolved_in_place,
)
from icemonitor.analysis.result import AnalysisResult
from icemonitor.analysis.stats import wilson_interval
from icemonitor.catalog.problems import as_records, caveat, problems_for
from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.query.coverage import coverage
from icemonitor.query.selection import Selection

CLASSES = ("convicted", "pending_charges", "no_record", "unknown")
PERIODS = {"fy": "CAST(fy AS VARCHAR)", "month": "strftime(event_date, '%Y-%m')", "all": "'all'"}
PRIORITY_TABLES = ("arrests", "bookins", "removals", "i213")


def criminality_definitions() -> dict[str, dict[str, str]]:
    """criminality_field -> {proxy, definition, source}: the codes stage's criminality_fields.csv, plus ours for
    fields it does not list (analysis/data/criminality_definitions.csv)."""
    out: dict[str, dict[str, str]] = {}
    texts = []
    for pkg, name in (("icemonitor.analysis.data", "criminality_definitions.csv"), ("icemonitor.codes", "data/criminality_fields.csv")):
        try:
            texts.append(resources.files(pkg).joinpath(name).read_text())
        except (FileNotFoundError, ModuleNotFoundError, OSError):
            continue
    for text in texts:  # the codes file is read last and wins
        for r in csv.DictReader(line for line in text.splitlines() if not line.startswith("#")):
            key = r.get("criminality_field") or r.get("field") or ""
            proxy = (r.get("proxy") or r.get("is_proxy") or "no").strip().lower()
            out[key] = {"proxy": "yes" if proxy in ("yes", "true", "1") else "no",
                        "definition": msg((r.get("definition") or r.get("description") or "").removeprefix("PROXY.")
                                          .strip()),
                        "source": r.get("source") or ""}
    return out


def priorities(
    con: duckdb.DuckDBPyConnection, table: str = "arrests", place: str | None = None,
    date_from: str | dt.date | None = None, date_to: str | dt.date | None = None, period: str = "fy",
    by_method: bool = True, ref: Any = None,
) -> AnalysisResult:
    """Shares convicted / pending charges only / no record, per criminality field, period and method class."""
    if table not in PRIORITY_TABLES:
        raise InputError(msg("Priorities cover {tables}", tables=", ".join(PRIORITY_TABLES)), field="table",
                         value=table)
    if period not in PERIODS:
        raise InputError(msg("Unknown period; choose from {choices}", choices=", ".join(PERIODS)), field="by",
                         value=period)
    check_table(con, table)
    source = event_source(con, table)
    where, d0, d1 = counted_in_period(date_from, date_to)
    base = Where(list(where.parts), list(where.params))  # the same filters without the place
    label = place_where(con, place, where, ref)
    undecided = unresolved_in_place(con, source, base, place, ref)
    method = "coalesce(method_class, '(not recorded)')" if by_method else "'all'"
    counts = ", ".join(f"count(*) FILTER (criminality = '{c}') AS {c}" for c in CLASSES[:3])
    sql = (f"SELECT {PERIODS[period]} AS period, coalesce(criminality_field, 'not_recorded') AS field, {method} AS method, "
           f"count(*) AS events, {counts}, list_sort(list_distinct(list(DISTINCT release_id))) AS releases "
           f"FROM {source} WHERE {where.sql()} GROUP BY ALL ORDER BY 1, 2, 3")
    rows = con.execute(sql, where.params).fetchall()
    # add an all-methods total per period and field
    if by_method:
        tot: dict[tuple, list] = {}
        for r in rows:
            t = tot.setdefault((r[0], r[1]), [r[0], r[1], "all", 0, 0, 0, 0, set()])
            for i in range(3, 7):
                t[i] += r[i]
            t[7] |= set(r[7])
        rows = sorted(list(rows) + [tuple(t[:7]) + (sorted(t[7]),) for t in tot.values()], key=lambda r: (r[0], r[1], r[2] != "all", r[2]))
    defs = criminality_definitions()
    figures = []
    caveats: list[str] = []
    for period_v, field, meth, n, conv, pend, none, rels in rows:
        info = defs.get(field, {"proxy": "no", "definition": "", "source": ""})
        fig: dict[str, Any] = {"period": period_v, "criminality_field": field, "method_class": meth, "events": n}
        if field == "not_recorded":
            for c in CLASSES[:3]:
                fig[f"{c}_share"] = fig[f"{c}_low"] = fig[f"{c}_high"] = None
            fig["note"] = msg("criminal history not recorded in this release")
        else:
            for c, k in zip(CLASSES[:3], (conv, pend, none)):
                lo, hi = wilson_interval(k, n)
                fig[f"{c}_share"], fig[f"{c}_low"], fig[f"{c}_high"] = (k / n if n else None), lo, hi
            fig["note"] = msg("PROXY: {definition}", definition=info["definition"]) if info["proxy"] == "yes" else ""
        fig["releases"] = list(rels)
        figures.append(fig)
    fields = sorted({f["criminality_field"] for f in figures})
    cov = coverage(con, Selection.of(table, d0, d1, place).compile(con, ref))
    if not cov.countable:
        caveats.append(cov.no_count_caveat())
    elif cov.status == "partial":
        caveats.append(msg("Partial: {reason}.", reason=cov.reason))
    elif not figures:
        caveats.append(msg("No counted rows match these filters (no release with precedence covers them)."))
    if "not_recorded" in fields:
        caveats.append(msg("Some rows come from releases without any criminal-history field; no share is given for "
                           "them, and no proxy is substituted."))
    for f in fields:
        if defs.get(f, {}).get("proxy") == "yes":
            caveats.append(msg("'{field}' is a proxy, not a recorded criminal history: {text}", field=f,
                               text=defs[f]["definition"]))
    if undecided:
        caveats.append(msg("{text}.", text=undecided["text"]))
    releases = sorted({r for f in figures for r in f["releases"]})
    problems = problems_for(table, releases, d0, d1)
    caveats.extend(caveat(p) for p in problems)
    definitions = {f"criminality_field={f}": defs.get(f, {}).get("definition", msg("(no definition on file)"))
                   for f in fields}
    definitions.update({
        "convicted_share": msg("events with criminality = convicted / events, within the period, field and method "
                               "class"),
        "pending_charges_share": msg("events with only pending criminal charges / events"),
        "no_record_share": msg("events with neither conviction nor pending charge recorded / events"),
        "intervals": msg("Wilson score 95% intervals"),
        "events": msg("rows of {table} with counted = true", table=table),
    })
    return AnalysisResult(
        name="priorities",
        parameters={"table": table, "place": label, "from": d0, "to": d1, "by": period, "by_method": by_method},
        columns=["period", "criminality_field", "method_class", "events", "convicted_share", "convicted_low",
                 "convicted_high", "pending_charges_share", "pending_charges_low", "pending_charges_high",
                 "no_record_share", "no_record_low", "no_record_high", "note", "releases"],
        figures=figures, definitions=definitions,
        releases=releases, caveats=caveats,
        extra={"unresolved_in_place_aors": undecided, "known_problems": as_records(problems)},
        coverage=cov.to_dict(),
    )
