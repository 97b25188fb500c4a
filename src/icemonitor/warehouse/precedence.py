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


def _covers(rule: Rule) -> tuple[str, list]:
    """SQL test (and its parameters) of a row covered by `rule`."""
    if rule.aor == "*":
        aor_ok, params = "TRUE", []
    elif rule.aor == BLANK_AOR:
        aor_ok, params = "aor IS NULL", []
    else:
        aor_ok, params = "coalesce(aor = ?, FALSE)", [rule.aor]
    return f"({aor_ok} AND (event_date IS NULL OR event_date BETWEEN ? AND ?))", params + [rule.date_from, rule.date_to]


def counted(table: str, release_id: str, loaded: set[str], rules: list[Rule]) -> tuple[str, list]:
    """The `counted` flag for the rows of one release in one table: an SQL expression over the row's `aor` and
    `event_date`, with its parameters."""
    own = [r for r in rules if r.table == table and r.release_id == release_id]
    if not own:
        raise InputError(
            f"no precedence rule for release {release_id!r} in table {table!r}: add one to warehouse/{PRECEDENCE_FILE}"
        )
    best = min(r.rank for r in own)
    tests = [_covers(r) for r in own]
    sql = "(" + " OR ".join(t for t, _ in tests) + ")"
    params = [p for _, ps in tests for p in ps]
    for r in rules:
        if r.table == table and r.release_id != release_id and r.release_id in loaded and r.rank < best:
            test, ps = _covers(r)
            sql += f" AND NOT {test}"
            params += ps
    return sql, params


def depends_on(table: str, release_id: str, rules: list[Rule]) -> set[str]:
    """Releases whose rows of `table` have their `counted` flag decided partly by whether `release_id` is loaded
    (it ranks better than they do in that table): what adding or removing it re-derives."""
    ranks = [r.rank for r in rules if r.table == table and r.release_id == release_id]
    if not ranks:
        return set()
    best = min(ranks)
    return {r.release_id for r in rules if r.table == table and r.release_id != release_id
            and min(x.rank for x in rules if x.table == table and x.release_id == r.release_id) > best}


def covered_by(table: str, release_id: str, rules: list[Rule]) -> tuple[str, list]:
    """SQL test of the rows any rule of `release_id` in `table` covers: the only rows of other releases whose
    `counted` flag can change when it is added or removed."""
    tests = [_covers(r) for r in rules if r.table == table and r.release_id == release_id]
    if not tests:
        return "FALSE", []
    return "(" + " OR ".join(t for t, _ in tests) + ")", [p for _, ps in tests for p in ps]
