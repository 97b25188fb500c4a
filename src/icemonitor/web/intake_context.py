"""The intake's local enforcement context: what the monitor knows about the county or city a person typed.

Shown to staff on an intake request's page (IntakeSettings.context_provider). The text is resolved to a place
without guessing by the one place reader (icemonitor.places.place_names.parse_place): a county name, FIPS, AOR
code or state, in English or Spanish, or a city through its primary county in geo/simplemaps_uscities_slim.csv.
Anything else, or a name that fits several places, is reported as not recognised. For the place it gives: the dates
the records cover, the sanctuary status today and on the last covered date (the default definition, named),
and the most recent sweeps in the county or its AOR(s) over the last 90 covered days
(icemonitor.analysis.sweeps), each with its dates, observed and expected counts and release: the figures of one
analysis (icemonitor.analysis.local_context), rendered here as plain text; the intake escapes them.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from icemonitor.errors import IcemonitorError
from icemonitor.places.ref import Ref

CITIES_FILE = "geo/simplemaps_uscities_slim.csv"
MAX_TEXT = 200
CACHE_SIZE = 64
NOT_RECOGNISED = "Place"
LEVEL_NAMES = {"county": "county", "aor": "ICE area of responsibility", "state": "state", "group": "named group"}
_TRAILING_STATE = re.compile(r"^(?P<name>.*\S)\s+(?P<state>[A-Za-z]{2})$")  # 'los angeles county ca'


@dataclass(frozen=True)
class Resolved:
    """The place a text was matched to (None when it was not recognised) and how."""

    place: object | None  # icemonitor.places.place_filter.Place
    how: str


def resolve(text: str, ref: Ref) -> Resolved:
    """Match what the person typed to a place with the one place reader (places.place_names.parse_place: counties,
    cities, FIPS, AOR codes, states, English and Spanish), or say it was not recognised (never a guess)."""
    from icemonitor.places.place_filter import AmbiguousPlace
    from icemonitor.places.place_names import parse_place

    raw = (text or "").strip()[:MAX_TEXT]
    if not raw:
        return Resolved(None, "no county or city was given")
    tail = _TRAILING_STATE.match(raw)
    place = None
    for candidate in (raw, f"{tail['name']}, {tail['state']}" if tail and "," not in raw else None):
        if candidate is None:
            continue
        try:
            place = parse_place(candidate, ref)
            break
        except AmbiguousPlace as err:
            options = [label for _, label in err.choices]
            more = f" and {len(options) - 8} more" if len(options) > 8 else ""
            return Resolved(None, "matches several counties, cities or offices (" + "; ".join(options[:8]) + more
                            + "); staff should ask which one")
        except IcemonitorError:
            continue
    if place is None:
        return Resolved(None, "not recognised as a county, city, FIPS code, AOR code or state")
    if place.city:  # the reader took a city as its primary county
        return Resolved(place, f"read as a city ({place.city}); its primary county per {CITIES_FILE} ({place.label})")
    return Resolved(place, f"read as the {LEVEL_NAMES.get(place.level, place.level)} {place.code} "
                           "(icemonitor.places.place_names.parse_place)")


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    from icemonitor.warehouse import connect

    return connect(path, read_only=True)


def status_line(s: dict) -> str:
    """A sanctuary status (analysis.local_context.sanctuary) as a line of text."""
    if s.get("error"):
        return f"not available for this place ({s['error']})"
    return f"{s['answer']}: {s['reason']}. Definition '{s['definition']}' (the default): {s['definition_text']}"


def _searched_text(place, searched: list[dict]) -> list[str]:
    out = []
    for x in searched:
        if x["error"]:
            out.append(f"{place.label if x['target'] == place.code else x['target']} ({x['level']} level: could not "
                       f"be computed, {x['error']})")
        elif x["not_measurable"]:
            out.append(f"{x['label']} ({x['level']} level: cannot be measured, {x['not_measurable']})")
        else:
            out.append(f"{x['label']} ({x['level']} level)")
    return out


def _sweep_text(r: dict, labels: dict[str, str]) -> str:
    where = labels.get(str(r["place"]), str(r["place"]))
    level = {"aor": "AOR", "county": "county", "state": "state"}.get(r["level"], r["level"])
    return (f"{r['start']} to {r['end']} ({r['days']} days), {level} {where}: {r['observed']} counted arrests observed "
            f"vs {float(r['expected']):.1f} expected (ratio {float(r['ratio']):.2f}, z = {float(r['score']):.1f}); "
            f"release {', '.join(r['releases']) or 'not recorded'}")


class IntakeContext:
    """context_provider(text) -> {label: value} over the warehouse at `warehouse` with reference files `ref`."""

    def __init__(self, warehouse: Path | str, ref: Ref | None, today: Callable[[], dt.date] = dt.date.today) -> None:
        self.warehouse = Path(warehouse)
        self.ref = ref
        self.today = today
        self._cache: OrderedDict[tuple, dict[str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, text: str) -> dict[str, str]:
        if self.ref is None:
            return {"Place": "the reference files are not available (run `icemonitor refresh`), so the place "
                             "cannot be matched"}
        try:
            found = resolve(text, self.ref)
        except (OSError, IcemonitorError) as err:  # reference files not fetched yet
            return {"Place": f"the reference files could not be read ({type(err).__name__}; run `icemonitor "
                             "refresh`), so the place cannot be matched"}
        if found.place is None:
            return {"Place": f"Not matched to a place: {found.how}. No enforcement context is shown."}
        if not self.warehouse.is_file():
            return {"Place": self._place_text(found), "Records": f"no warehouse at {self.warehouse} yet"}
        # cached by the matched place (never by the typed text) and the warehouse version
        key = (found.place.level, found.place.code, self.warehouse.stat().st_mtime, self.today())
        with self._lock:
            hit = self._cache.get(key)
        if hit is None:
            hit = self._compute(found.place)
            with self._lock:
                self._cache[key] = hit
                while len(self._cache) > CACHE_SIZE:
                    self._cache.popitem(last=False)
        return {"Place": self._place_text(found), **hit}

    @staticmethod
    def _place_text(found: Resolved) -> str:
        p = found.place
        aors = f"; ICE area(s) of responsibility: {', '.join(p.aors)}" if p.aors else ""
        return f"{p.label} ({LEVEL_NAMES.get(p.level, p.level)} {p.code}){aors}. The text given was {found.how}."

    def _compute(self, place) -> dict[str, str]:
        """The place's context (analysis.local_context) as lines of text."""
        from icemonitor.analysis.local_context import SWEEP_DAYS, TOP_SWEEPS, local_context

        today = self.today()
        con = _connect(self.warehouse)
        try:
            res = local_context(con, place, today, self.ref, SWEEP_DAYS, TOP_SWEEPS)
        finally:
            con.close()
        x = res.extra
        day = lambda v: dt.date.fromisoformat(v) if v else None  # noqa: E731
        here, everywhere = day(x["last_here"]), day(x["last_everywhere"])
        out: dict[str, str] = {}
        if here is None:
            out["Records"] = "the warehouse holds no counted arrests for this place's AOR(s)"
        else:
            scope = f"AOR(s) {', '.join(place.aors)}" if place.aors else "the warehouse"
            out["Records"] = (f"counted arrests (table arrests, rows with counted = true) in {scope} run to {here}, "
                              f"{(today - here).days} days before today; the warehouse as a whole to {everywhere}")
        out[f"Sanctuary status today ({today})"] = status_line(x["status_today"])
        if here is None:
            return out
        out[f"Sanctuary status on {here} (last covered date)"] = status_line(x["status_last"])
        start = day(x["window"]["from"])
        labels = {place.code: place.label} if place.level == "county" else {}
        title = f"Sweeps {start} to {here}"
        searched = _searched_text(place, x["searched"])
        note = (f" (the records hold arrests on {x['days_with_records']} of these {x['window']['days']} days; a sweep is "
                "measured against the 8 weeks before it)")
        if not searched:
            out[title] = "county and state sweeps need the landmark resolution, which this warehouse lacks"
        elif not res.figures and all(s["not_measurable"] for s in x["searched"]):
            out[title] = f"cannot be measured (this is not 'no sweep'): {'; '.join(searched)}{note}"
        elif not res.figures:
            out[title] = f"none detected in {'; '.join(searched)}{note}"
        else:
            for i, r in enumerate(res.figures, 1):
                out[f"Sweep {i} (most recent first)"] = _sweep_text(r, labels)
            out[title] = f"searched {'; '.join(searched)}; the {len(res.figures)} most recent shown{note}"
        d = res.definitions
        out["Sweep definition"] = (f"{d['sweep']} Expected: {d['expected']} "
                                   "Counted arrests only (icemonitor.analysis.sweeps).")
        return out
