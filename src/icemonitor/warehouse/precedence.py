"""Release precedence: which release counts for a table, AOR and date, so events are never added twice.

Rules live in precedence.csv (aor: a code, '*' for any, '(blank)' for rows without one). A row is `counted` when its release's rule covers the row's AOR and date
and no loaded release with a better (lower) rank covers them too. An undated row is covered by a rule
whose AOR matches.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from importlib import resources

import polars as pl

from icemonitor.errors import InputError

PRECEDENCE_FILE = "precedence.csv"
BLANK_AOR = "(blank)"  # a rule for the rows whose AOR the release leaves empty


@dataclass(frozen=True)
class Rule:
    table: str
    release_id: str
    aor: str  # '*' = any
    date_from: date
    date_to: date
    rank: int
    note: str


def load_rules() -> list[Rule]:
    path = resources.files("icemonitor.warehouse") / PRECEDENCE_FILE
    rules = []
    with path.open(encoding="utf-8", newline="") as fh:
        for n, r in enumerate(csv.DictReader(fh), start=2):
            try:
                rule = Rule(
                    r["table"], r["release_id"], r["aor"], date.fromisoformat(r["date_from"]),
                    date.fromisoformat(r["date_to"]), int(r["rank"]), r["note"],
                )
            except ValueError as exc:
                raise InputError(str(exc), file=PRECEDENCE_FILE, row=n) from None
            if rule.date_to < rule.date_from:
                raise InputError("date_to before date_from", file=PRECEDENCE_FILE, row=n, field="date_to")
            rules.append(rule)
    return rules


def _covers(rule: Rule) -> pl.Expr:
    if rule.aor == "*":
        aor_ok = pl.lit(True)
    elif rule.aor == BLANK_AOR:
        aor_ok = pl.col("aor").is_null()
    else:
        aor_ok = (pl.col("aor") == rule.aor).fill_null(False)
    date_ok = pl.col("event_date").is_null() | pl.col("event_date").is_between(
        pl.lit(rule.date_from), pl.lit(rule.date_to)
    )
    return aor_ok & date_ok


def counted(table: str, release_id: str, loaded: set[str], rules: list[Rule]) -> pl.Expr:
    """The `counted` flag for the rows of one release in one table."""
    own = [r for r in rules if r.table == table and r.release_id == release_id]
    if not own:
        raise InputError(
            f"no precedence rule for release {release_id!r} in table {table!r}: add one to warehouse/{PRECEDENCE_FILE}"
        )
    best = min(r.rank for r in own)
    expr = pl.lit(False)
    for r in own:
        expr = expr | _covers(r)
    for r in rules:
        if r.table == table and r.release_id != release_id and r.release_id in loaded and r.rank < best:
            expr = expr & ~_covers(r)
    return expr.alias("counted")
