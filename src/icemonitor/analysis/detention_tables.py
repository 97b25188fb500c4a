"""The ATD, Semiannual, segregation, ICLOS and bond panels of ICE's detention-statistics postings as analyses (one
question, one number for the CLI and whoever else asks): each row with its posting, sheet and cell, the definitions
from schema.yaml, and "no figure" said when the panel has no row (not zero)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

from icemonitor.analysis.common import has_table
from icemonitor.analysis.result import AnalysisResult
from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.schema import aggregate_tables

PANELS = {"atd": "detention_atd", "semiannual": "detention_semiannual", "segregation": "detention_segregation",
          "iclos": "detention_iclos", "bond": "detention_bond"}


def _definitions(table: str) -> dict[str, str]:
    t = aggregate_tables()[table]
    return {table: t.description, **{c.name: c.description for c in t.columns
                                     if c.name not in ("source_file", "source_sheet", "cell", "release_id")}}


def panel(con: duckdb.DuckDBPyConnection, name: str, filters: dict[str, Any], order: list[str],
          limit: int = 1000, days: tuple[str, dt.date | None, dt.date | None] | None = None) -> AnalysisResult:
    """Rows of one panel matching `filters` (column -> value; None: any) and, with `days` (column, first, last),
    dated within that range, in `order`."""
    table = PANELS[name]
    if not has_table(con, table):
        raise InputError(f"no {table} table in this warehouse: build it with the detention releases "
                         "(`icemonitor build`)", field="table", value=table)
    given = {k: v for k, v in filters.items() if v is not None}
    unknown = set(given) - set(aggregate_tables()[table].names())
    if unknown:
        raise InputError(msg("unknown column(s) {columns}", columns=", ".join(sorted(unknown))), field="filter",
                         value=sorted(unknown))
    where = " AND ".join(f'"{k}" = ?' for k in given) or "TRUE"
    params = list(given.values())
    if days is not None:
        where += f' AND (? IS NULL OR "{days[0]}" >= ?) AND (? IS NULL OR "{days[0]}" <= ?)'
        params += [days[1], days[1], days[2], days[2]]
    cur = con.execute(f'SELECT * FROM "{table}" WHERE {where} ORDER BY {", ".join(order)} LIMIT ?', [*params, limit])
    names = [d[0] for d in cur.description]
    figures = [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    caveats = [] if figures else [msg("No posting reports a figure for this selection: no figure (not zero).")]
    if name == "semiannual":
        caveats.append(msg("A 0 ICE put where an earlier posting had a number (its tables refilled before an update) "
                           "is left out; the earlier number stands (detention_exclusions, reason zero_placeholder)."))
    return AnalysisResult(name=f"detention_{name}", parameters=given, figures=figures,
                          definitions=_definitions(table), releases=sorted({f["release_id"] for f in figures}),
                          caveats=caveats)


def atd(con: duckdb.DuckDBPyConnection, statistic: str = "by_aor_technology", aor: str | None = None,
        as_of: dt.date | None = None, measure: str | None = "count") -> AnalysisResult:
    """Alternatives to Detention on ICE's latest stated date on or before `as_of` (default: the latest)."""
    day = None
    if has_table(con, "detention_atd"):
        (day,) = con.execute("SELECT max(as_of) FROM detention_atd WHERE statistic = ? AND (? IS NULL OR as_of <= ?)",
                             [statistic, as_of, as_of]).fetchone()
    res = panel(con, "atd", {"statistic": statistic, "aor": aor, "measure": measure, "as_of": day},
                ["aor", "category", "measure"], limit=1000 if day else 0)
    res.parameters["as_of"] = as_of.isoformat() if as_of else None
    return res


def semiannual(con: duckdb.DuckDBPyConnection, population: str | None = None, event: str | None = None,
               country: str | None = "all") -> AnalysisResult:
    """Arrests, book-ins and removals of the Semiannual populations per fiscal year."""
    return panel(con, "semiannual", {"population": population, "event": event, "country": country},
                 ["population", "event", "country", "fiscal_year"])


def segregation(con: duckdb.DuckDBPyConnection, fiscal_year: int | None = None,
                measure: str | None = "placements") -> AnalysisResult:
    """Segregation placements of vulnerable and special populations per fiscal-year quarter and reason."""
    return panel(con, "segregation", {"fiscal_year": fiscal_year, "measure": measure},
                 ["fiscal_year", "quarter", "reason", "measure"])


def iclos(con: duckdb.DuckDBPyConnection, measure: str = "average_days", population: str | None = "total",
          stay: str | None = None, since: dt.date | None = None, until: dt.date | None = None) -> AnalysisResult:
    """In-custody length of stay (average days, or people by length-of-stay band) per population on the 15th and
    the last day of each month, between `since` and `until` (default: every day reported)."""
    res = panel(con, "iclos", {"measure": measure, "population": population, "stay": stay},
                ["population", "stay", "day"], limit=100_000, days=("day", since, until))
    res.parameters.update(since=since.isoformat() if since else None, until=until.isoformat() if until else None)
    return res


def bond(con: duckdb.DuckDBPyConnection, measure: str | None = None, since: dt.date | None = None,
         until: dt.date | None = None) -> AnalysisResult:
    """ICE's monthly bond statistics (final releases or book-outs, with bond posted, share, amount, length of
    stay) between `since` and `until`."""
    res = panel(con, "bond", {"measure": measure}, ["measure", "month"], limit=100_000, days=("month", since, until))
    res.parameters.update(since=since.isoformat() if since else None, until=until.isoformat() if until else None)
    res.caveats.append(msg("ICE counted final releases until FY2024 and final book-outs from FY2025: different "
                           "counts, kept apart. A month not complete in the last posting reporting it is marked."))
    return res
