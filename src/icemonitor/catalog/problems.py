"""Problems publishers document in their own releases (known_problems.csv), matched to a table, releases and dates."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from icemonitor.messages import Given, Message, msg

PROBLEMS_FILE = Path(__file__).with_name("known_problems.csv")


@dataclass(frozen=True)
class Problem:
    release_id: str
    catalogued: bool
    table: str
    date_from: dt.date
    date_to: dt.date
    problem_en: str
    problem_es: str
    source: str


@cache
def known_problems() -> tuple[Problem, ...]:
    with PROBLEMS_FILE.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    return tuple(
        Problem(r["release_id"], r["catalogued"] == "yes", r["table"], dt.date.fromisoformat(r["date_from"]),
                dt.date.fromisoformat(r["date_to"]), r["problem_en"], r["problem_es"], r["source"])
        for r in rows
    )


def problems_for(table: str, releases: Iterable[str], date_from: dt.date | None = None,
                 date_to: dt.date | None = None) -> list[Problem]:
    """The documented problems of `releases` in `table` that overlap [date_from, date_to] (open ends allowed)."""
    wanted = set(releases)
    return [
        p for p in known_problems()
        if p.table == table and p.release_id in wanted
        and (date_to is None or p.date_from <= date_to) and (date_from is None or p.date_to >= date_from)
    ]


def caveat(p: Problem) -> Message:
    """The caveat shown beside a figure drawn from an affected table (the problem in the file's own languages)."""
    return msg("Known problem in {release}: {problem} (source: {source})", release=p.release_id,
               problem=Given(p.problem_en, es=p.problem_es), source=p.source)


def as_records(problems: Iterable[Problem]) -> list[dict[str, str]]:
    """The problems as they appear in an analysis result's `known_problems` (EN and ES)."""
    return [{"release_id": p.release_id, "en": p.problem_en, "es": p.problem_es, "source": p.source} for p in problems]
