"""Checking sweeps against what is known: announced operations, holidays, data artefacts, other known events."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from importlib import resources
from typing import Any

from icemonitor.analysis.sweeps import federal_holidays

TOLERANCE_DAYS = 1  # announced dates are often derived ("five-day operation that ended Wednesday")


@dataclass(frozen=True)
class KnownWindow:
    name: str
    start: dt.date
    end: dt.date
    aors: tuple[str, ...]
    arrests: int | None
    scope: str
    source_url: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


def _read(name: str) -> list[dict[str, str]]:
    text = resources.files("icemonitor.analysis.data").joinpath(name).read_text()
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def announced_operations() -> list[KnownWindow]:
    """ICE-announced multi-day operations FY2016-FY2019 (data/announced_operations.csv)."""
    return [
        KnownWindow(r["name"], dt.date.fromisoformat(r["start"]), dt.date.fromisoformat(r["end"]),
                    tuple(r["aors"].split(";")), int(r["announced_arrests"]), r["scope"], r["source_url"])
        for r in _read("announced_operations.csv")
    ]


def known_events() -> list[KnownWindow]:
    """Non-operation events that move arrest counts (data/known_events.csv)."""
    return [
        KnownWindow(r["name"], dt.date.fromisoformat(r["start"]), dt.date.fromisoformat(r["end"]),
                    tuple(r["aors"].split(";")), None, r["kind"], r["source_url"])
        for r in _read("known_events.csv")
    ]


def recall_set(min_arrests: int = 100, max_days: int = 10) -> list[KnownWindow]:
    """Announced operations with >= min_arrests in one AOR lasting 2..max_days days."""
    return [o for o in announced_operations()
            if o.scope == "aor" and o.arrests >= min_arrests and 2 <= o.days <= max_days]


def overlaps(start: dt.date, end: dt.date, w: KnownWindow, tol: int = TOLERANCE_DAYS) -> bool:
    return start <= w.end + dt.timedelta(days=tol) and end >= w.start - dt.timedelta(days=tol)


def _places(sweep: dict[str, Any]) -> set[str]:
    """The AORs a sweep concerns: its place, or for national sweeps the top two AORs by excess."""
    if sweep.get("level") == "national":
        return {c["part"] for c in (sweep.get("concentration") or [])[:2]}
    return {sweep["place"]}


def explain(sweep: dict[str, Any]) -> str | None:
    """Why a detected sweep happened, if known: announced operation, known event, holiday or data artefact."""
    s, e = sweep["start"], sweep["end"]
    s = dt.date.fromisoformat(s) if isinstance(s, str) else s
    e = dt.date.fromisoformat(e) if isinstance(e, str) else e
    places = _places(sweep)
    for op in announced_operations():
        if overlaps(s, e, op) and places & set(op.aors):
            return f"announced operation: {op.name}"
    for ev in known_events():
        if overlaps(s, e, ev, tol=0) and ("ALL" in ev.aors or places & set(ev.aors)):
            return f"known event: {ev.name}"
    hol = federal_holidays()
    d = s
    while d <= e:
        if d in hol or (d - dt.timedelta(days=1)) in hol:
            return "federal holiday within or just before the run"
        d += dt.timedelta(days=1)
    if places & {"unknown"}:
        return "data artefact: AOR blank in the release"
    mix = sweep.get("method_mix") or {}
    total = sum(mix.values())
    if total and (mix.get("other", 0) + mix.get("not recorded", 0)) / total > 0.5:
        return "data artefact: mostly non-enforcement methods (inspections, border patrol, placeholders)"
    return None
