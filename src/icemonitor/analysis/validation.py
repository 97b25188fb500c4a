"""Checking sweeps against what is known: announced operations, holidays, data artefacts, other known events."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from icemonitor.analysis.sweeps import federal_holidays
from icemonitor.errors import InputError
from icemonitor.messages import msg

TOLERANCE_DAYS = 1  # announced dates are often derived ("five-day operation that ended Wednesday")
EXACT_DATING = ("stated", "derived")  # sources that give (or let us derive) the days; see announced_operations.csv


@dataclass(frozen=True)
class KnownWindow:
    name: str
    start: dt.date | None  # None: the source gives no date (dating 'undated')
    end: dt.date | None
    aors: tuple[str, ...]
    arrests: int | None
    scope: str
    source_url: str
    dating: str = "stated"

    @property
    def days(self) -> int | None:
        return None if self.start is None or self.end is None else (self.end - self.start).days + 1


DATINGS = ("stated", "derived", "approximate", "undated")


def _date(text: str) -> dt.date | None:
    return dt.date.fromisoformat(text) if text.strip() else None


def _checked(name: str, rows: list[dict[str, str]], dates_required: bool) -> list[dict[str, str]]:
    """Rows of a hand-kept window file, with a clear error for a malformed row (file, row, field)."""
    path = f"analysis/data/{name}"
    for i, r in enumerate(rows, start=1):
        if None in r or any(v is None for v in r.values()):
            raise InputError("wrong number of fields (quote text containing commas)", file=path, row=i,
                             field=r.get("name"), value=r.get(None))
        for f in ("start", "end"):
            try:
                d = _date(r[f])
            except ValueError:
                raise InputError("date must be YYYY-MM-DD", file=path, row=i, field=f, value=r[f]) from None
            if d is None and (dates_required or r.get("dating") != "undated"):
                raise InputError("date missing (only 'undated' rows may leave it blank)", file=path, row=i, field=f)
        if "dating" in r and r["dating"] not in DATINGS:
            raise InputError(f"dating must be one of {', '.join(DATINGS)}", file=path, row=i, field="dating",
                             value=r["dating"])
    return rows


def _read(name: str) -> list[dict[str, str]]:
    return [dict(r) for r in _parsed(name)]


@cache
def _parsed(name: str) -> tuple[dict[str, str], ...]:
    """A curated file of the package, read once per process (it ships with the code; every sweep is explained
    against it)."""
    text = resources.files("icemonitor.analysis.data").joinpath(name).read_text()
    return tuple(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def announced_operations() -> list[KnownWindow]:
    """ICE-announced multi-day operations FY2016-FY2019 (data/announced_operations.csv)."""
    return list(_announced())


@cache
def _announced() -> tuple[KnownWindow, ...]:
    """announced_operations, checked and read once per process (every shown sweep is explained against them)."""
    return tuple(
        KnownWindow(msg(r["name"]), _date(r["start"]), _date(r["end"]), tuple(r["aors"].split(";")),
                    int(r["announced_arrests"]) if r["announced_arrests"].strip() else None, r["scope"],
                    r["source_url"], r.get("dating") or "stated")
        for r in _checked("announced_operations.csv", _read("announced_operations.csv"), dates_required=False)
    )


def known_events() -> list[KnownWindow]:
    """Non-operation events that move arrest counts (data/known_events.csv)."""
    return list(_known())


@cache
def _known() -> tuple[KnownWindow, ...]:
    """known_events, checked and read once per process."""
    return tuple(
        KnownWindow(msg(r["name"]), dt.date.fromisoformat(r["start"]), dt.date.fromisoformat(r["end"]),
                    tuple(r["aors"].split(";")), None, r["kind"], r["source_url"])
        for r in _checked("known_events.csv", _read("known_events.csv"), dates_required=True)
    )


def recall_set(min_arrests: int = 100, max_days: int = 10) -> list[KnownWindow]:
    """Announced operations with >= min_arrests in one AOR lasting 2..max_days days, with days stated or derived."""
    return [o for o in announced_operations()
            if o.scope == "aor" and o.arrests is not None and o.arrests >= min_arrests and o.dating in EXACT_DATING
            and 2 <= o.days <= max_days]


def overlaps(start: dt.date, end: dt.date, w: KnownWindow, tol: int = TOLERANCE_DAYS) -> bool:
    """The run [start, end] meets the window (+/- tol days). Approximate windows ('last week') must contain the run;
    undated windows match nothing."""
    if w.start is None or w.end is None:
        return False
    if w.dating == "approximate":
        return w.start <= start and end <= w.end
    return start <= w.end + dt.timedelta(days=tol) and end >= w.start - dt.timedelta(days=tol)


def _places(sweep: dict[str, Any]) -> set[str]:
    """The AORs a sweep concerns: an AOR sweep's place; for national sweeps the top two AORs by excess; for state,
    county and landmark sweeps the AORs their events fall in (row key "aors")."""
    if sweep.get("level") == "national":
        return {c["part"] for c in (sweep.get("concentration") or [])[:2]}
    if sweep.get("level") in ("state", "county", "landmark") and sweep.get("aors"):
        return set(sweep["aors"])
    return {sweep["place"]}


def explain(sweep: dict[str, Any], recorded: list[KnownWindow] | None = None) -> str | None:
    """Why a detected sweep happened, if known: announced operation, known event, holiday or data artefact.

    `recorded` adds operations named in the release itself (recorded_operations), checked after announced ones.
    Only sources that date the operation count (dating stated, derived or, containing the run, approximate).
    """
    s, e = sweep["start"], sweep["end"]
    s = dt.date.fromisoformat(s) if isinstance(s, str) else s
    e = dt.date.fromisoformat(e) if isinstance(e, str) else e
    places = _places(sweep)
    for op in announced_operations() + list(recorded or []):
        if overlaps(s, e, op) and ("ALL" in op.aors or places & set(op.aors)):
            return msg("announced operation: {name}", name=op.name)
    for ev in known_events():
        if overlaps(s, e, ev, tol=0) and ("ALL" in ev.aors or places & set(ev.aors)):
            return msg("known event: {name}", name=ev.name)
    hol = federal_holidays()
    d = s
    while d <= e:
        if d in hol or (d - dt.timedelta(days=1)) in hol:
            return msg("federal holiday within or just before the run")
        d += dt.timedelta(days=1)
    if places & {"unknown"}:
        return msg("data artefact: AOR blank in the release")
    mix = sweep.get("method_mix") or {}
    total = sum(mix.values())
    if total and (mix.get("other", 0) + mix.get("not recorded", 0)) / total > 0.5:
        return msg("data artefact: mostly non-enforcement methods (inspections, border patrol, placeholders)")
    return None


def recorded_operations(con: Any, release: str, table: str = "arrests", min_events: int = 10) -> list[KnownWindow]:
    """Operations named in a release's own Operation field (e.g. Seattle CAP '6B8 - SAFE CITIES'), with their span.

    One window per operation name with >= min_events rows: first to last event date of those rows, the AORs they
    fall in, and the row count. Redacted names ('(B)(7)(E)...') are left out. Not announced: scope 'recorded'.
    """
    from icemonitor.analysis.common import check_table

    check_table(con, table)  # a known event table, so the name is safe to put in the SQL
    rows = con.execute(
        f"""SELECT operation_raw, min(event_date), max(event_date), string_agg(DISTINCT coalesce(aor, 'unknown'), ';'),
                   count(*) FROM {table}
            WHERE release_id = ? AND nullif(trim(operation_raw), '') IS NOT NULL AND operation_raw NOT LIKE '(B)(7)(E)%'
              AND event_date IS NOT NULL
            GROUP BY 1 HAVING count(*) >= ? ORDER BY 5 DESC""", [release, min_events]).fetchall()
    return [KnownWindow(f"recorded operation: {name}", d0, d1, tuple(sorted(aors.split(";"))), n, "recorded",
                        f"release {release}, Operation field", "stated")
            for name, d0, d1, aors, n in rows]


def check_recorded(con: Any, series_release: str, names_release: str, measure: str = "at_large",
                   max_days: int = 31, date_from: str = "2012-01-01", date_to: str = "2019-12-31") -> list[dict[str, Any]]:
    """Recorded operations of `names_release` (its Operation field) checked against sweeps in `series_release`.

    For each named operation spanning <= max_days days: the sweeps the detector finds in the series release's
    own AOR counts that overlap it, and the operation's own days scored with the sweep baseline (window_score),
    so an operation too small to be flagged shows how far below the thresholds it stayed.
    """
    from icemonitor.analysis.common import MEASURES
    from icemonitor.analysis.sweeps import level_counts, sweeps, window_score
    from icemonitor.analysis.common import Where

    found = sweeps(con, date_from=date_from, date_to=date_to, measure=measure, levels=("aor",), limit=0,
                   release=series_release).figures
    where = Where().add("release_id = ?", series_release).add(MEASURES[measure][0])
    cover = Where().add("release_id = ?", series_release)
    out = []
    for op in recorded_operations(con, names_release):
        if op.days is None or op.days > max_days:
            continue
        d0 = op.start - dt.timedelta(days=120)
        grid = level_counts(con, "arrests", where, "aor", d0, op.end + dt.timedelta(days=7), cover)
        hits = [f for f in found if f["place"] in op.aors
                and overlaps(dt.date.fromisoformat(str(f["start"])), dt.date.fromisoformat(str(f["end"])), op)]
        scores = [window_score(grid, a, op.start, op.end) for a in op.aors if a in grid.places]
        out.append({"operation": op.name, "start": op.start, "end": op.end, "aors": list(op.aors),
                    "recorded_rows": op.arrests, "sweeps": [f"{f['place']} {f['start']}..{f['end']} (score {f['score']})"
                                                            for f in hits],
                    "window": scores})
    return out
