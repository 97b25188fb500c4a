"""The intake's local enforcement context: what the monitor knows about the county or city a person typed.

Shown to staff on an intake request's page (IntakeSettings.context_provider). The text is resolved to a place
without guessing: a county name, FIPS, AOR code or state (icemonitor.places.place_names.parse_place), the
same with "County" added, or a city through its primary county in geo/simplemaps_uscities_slim.csv. Anything
else, or a name that fits several counties, is reported as not recognised. For the place it gives: the dates
the records cover, the sanctuary status today and on the last covered date (the default definition, named),
and the most recent sweeps in the county or its AOR(s) over the last 90 covered days
(icemonitor.analysis.sweeps), each with its dates, observed and expected counts and release. Values are plain
text; the intake escapes them.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import duckdb
import polars as pl

from icemonitor.errors import IcemonitorError
from icemonitor.places.ref import Ref

CITIES_FILE = "geo/simplemaps_uscities_slim.csv"
SWEEP_DAYS = 90
TOP_SWEEPS = 3
MAX_TEXT = 200
CACHE_SIZE = 64
NOT_RECOGNISED = "Place"
_COUNTY_WORDS = (" county", " parish", " borough", " census area", " municipality", " municipio")
_SPANISH_PREFIX = re.compile(r"^(?:el |la )?(?:condado|parroquia|municipio) de(?:l)? ", re.IGNORECASE)
LEVEL_NAMES = {"county": "county", "aor": "ICE area of responsibility", "state": "state", "group": "named group"}


def _plain(text: str) -> str:
    """Lower case, accents and punctuation dropped, spaces collapsed ('Condado de Los Ángeles' -> 'condado de los angeles')."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"[.'\u2019]", "", text.lower())
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9, -]", " ", text)).strip(" ,-")


def _bare(name: str) -> str:
    n = _plain(name)
    for word in _COUNTY_WORDS:
        if n.endswith(word):
            return n[: -len(word)]
    return n


@dataclass(frozen=True)
class Names:
    """County and city names from the reference files, normalised for lookup."""

    states: dict[str, str]  # plain state code or name -> code
    counties: dict[tuple[str, str], frozenset[str]]  # (bare county name, state) -> fips
    counties_any: dict[str, frozenset[str]]  # bare county name -> fips in any state
    cities: dict[tuple[str, str], frozenset[str]]  # (plain city, state) -> primary county fips
    cities_any: dict[str, frozenset[str]]
    labels: dict[str, str]  # fips -> "Name County, ST"


def _group(pairs) -> dict:
    out: dict = {}
    for k, v in pairs:
        out.setdefault(k, set()).add(v)
    return {k: frozenset(v) for k, v in out.items()}


@lru_cache(maxsize=4)
def names(ref: Ref) -> Names:
    from icemonitor.places.counties import load_counties

    counties = load_counties(ref).select("county_fips", "county_name", "state", "state_name")
    rows = [r for r in counties.iter_rows() if r[1] and r[2]]
    states = {}
    for _, _, st, st_name in rows:
        states[st.lower()] = st
        if st_name:
            states[_plain(st_name)] = st
    cities = pl.read_csv(ref(CITIES_FILE), infer_schema_length=0, encoding="utf8-lossy").select(
        "city", "city_ascii", "state_id", "county_fips")
    city_pairs = []
    for city, ascii_name, st, fips in cities.iter_rows():
        for n in {_plain(city or ""), _plain(ascii_name or "")}:
            if n and fips:
                city_pairs.append(((n, st), fips.zfill(5)))
    return Names(
        states=states,
        counties=_group(((_bare(name), st), f) for f, name, st, _ in rows),
        counties_any=_group((_bare(name), f) for f, name, st, _ in rows),
        cities=_group(city_pairs),
        cities_any=_group((k[0], f) for k, f in city_pairs),
        labels={f: f"{name}, {st}" for f, name, st, _ in rows},
    )


@dataclass(frozen=True)
class Resolved:
    """The place a text was matched to (None when it was not recognised) and how."""

    place: object | None  # icemonitor.places.place_filter.Place
    how: str


def _split_state(text: str, nm: Names) -> tuple[str, str | None]:
    """'Santa Monica, CA' / 'Santa Monica CA' / 'Santa Monica California' -> ('santa monica', 'CA')."""
    if "," in text:
        name, st = text.rsplit(",", 1)
        return _plain(name), nm.states.get(_plain(st))
    words = text.split(" ")
    for k in (3, 2, 1):  # longest state name first ('district of columbia', 'new york')
        if len(words) > k and (st := nm.states.get(" ".join(words[-k:]))):
            return " ".join(words[:-k]), st
    return text, None


def resolve(text: str, ref: Ref) -> Resolved:
    """Match what the person typed to a place, or say it was not recognised (never a guess)."""
    from icemonitor.places.place_names import parse_place

    raw = (text or "").strip()[:MAX_TEXT]
    if not raw:
        return Resolved(None, "no county or city was given")

    def parsed(candidate: str):
        try:
            return parse_place(candidate, ref)
        except IcemonitorError:
            return None

    nm = names(ref)
    direct = parsed(raw) or parsed(_plain(raw))
    if direct is not None and direct.level == "county" and not re.fullmatch(r"\s*\d{4,5}\s*", raw):
        # 'Houston, TX' names Houston County and the city of Houston (Harris County): say so, never pick one
        name, st = _split_state(_plain(raw), nm)
        cities = nm.cities.get((name, st), frozenset()) if st and _bare(name) == name else frozenset()
        if cities - {direct.code}:
            options = sorted({f"{nm.labels.get(direct.code, direct.code)} (the county of that name)",
                              *(f"{nm.labels.get(f, f)} (the city's primary county)" for f in cities)})
            return Resolved(None, "matches several counties (" + "; ".join(options) + "); staff should ask which one")
    if direct is not None and direct.city:  # the parser read a city as its primary county
        return Resolved(direct, f"read as a city ({direct.city}); its primary county per {CITIES_FILE} "
                                f"({direct.label})")
    if direct is not None:
        return Resolved(direct, f"read as the {LEVEL_NAMES.get(direct.level, direct.level)} {direct.code} "
                                "(icemonitor.places.place_names.parse_place)")
    plain = _plain(raw)
    spanish = _SPANISH_PREFIX.match(plain)
    if spanish:
        plain = plain[spanish.end():]
    name, st = _split_state(plain, nm)
    county_said = bool(spanish) or _bare(name) != name
    bare = _bare(name)
    if st:
        county_hits = nm.counties.get((bare, st), frozenset())
        city_hits = frozenset() if county_said else nm.cities.get((name, st), frozenset())
    else:
        county_hits = nm.counties_any.get(bare, frozenset())
        city_hits = frozenset() if county_said else nm.cities_any.get(name, frozenset())
    fips = county_hits | city_hits
    if len(fips) == 1:
        (f,) = fips
        place = parsed(f)
        if place is not None:
            how = ("read as the county name " if county_hits else
                   f"read as a city; its primary county per {CITIES_FILE} ") + f"({nm.labels.get(f, f)})"
            return Resolved(place, how)
    if len(fips) > 1:
        options = sorted(nm.labels.get(f, f) for f in fips)
        more = f" and {len(options) - 8} more" if len(options) > 8 else ""
        return Resolved(None, "matches several counties (" + "; ".join(options[:8]) + more +
                        "); staff should ask which one")
    return Resolved(None, "not recognised as a county, city, FIPS code, AOR code or state")


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    from icemonitor.warehouse import connect

    return connect(path, read_only=True)


def last_covered(con: duckdb.DuckDBPyConnection, aors: tuple[str, ...] = ()) -> dt.date | None:
    """The latest event_date of counted arrests (in these AORs when given)."""
    if aors:
        marks = ", ".join("?" for _ in aors)
        row = con.execute(f"SELECT max(event_date) FROM arrests WHERE counted AND aor IN ({marks})", list(aors)).fetchone()
    else:
        row = con.execute("SELECT max(event_date) FROM arrests WHERE counted").fetchone()
    return row[0] if row else None


def sanctuary_line(place, day: dt.date, ref: Ref) -> str:
    from icemonitor.places.sanctuary import status

    try:
        s = status(place, day, None, ref)
    except IcemonitorError as err:
        return f"not available for this place ({err})"
    return (f"{s.answer}: {s.reason}. Definition '{s.definition}' (the default): {' '.join(s.definition_text.split())}")


def _sweep_targets(place, resolved: bool) -> list[tuple[str, tuple[str, ...]]]:
    if place.level == "county":
        own = [(place.code, ("county",))] if resolved else []
        return own + [(a, ("aor",)) for a in place.aors]
    if place.level == "aor":
        return [(place.code, ("aor",))]
    if place.level == "state":
        return [(place.code, ("state",))] if resolved else []
    return [(place.code, ("aor",))]


_LEVEL_COLUMN = {"county": "res_county_fips", "aor": "aor", "state": "res_state"}


def _sweep_releases(con, source: str, sweep: dict) -> list[str]:
    col = _LEVEL_COLUMN.get(sweep["level"])
    if col is None or str(sweep["place"]).startswith("unresolved:"):
        return []
    rows = con.execute(
        f"SELECT DISTINCT release_id FROM {source} WHERE counted AND {col} = ? AND event_date BETWEEN ? AND ?",
        [sweep["place"], sweep["start"], sweep["end"]]).fetchall()
    return sorted(r[0] for r in rows if r[0])


def recent_sweeps(con, place, start: dt.date, end: dt.date, ref: Ref) -> tuple[list[dict], list[str]]:
    """The most recent sweeps (newest first, at most TOP_SWEEPS) in the place and its AORs, and what was searched."""
    from icemonitor.analysis.common import event_source, resolution_available
    from icemonitor.analysis.sweeps import sweeps

    resolved = resolution_available(con)
    found: dict[tuple, dict] = {}
    searched = []
    for target, levels in _sweep_targets(place, resolved):
        try:
            result = sweeps(con, place=target, date_from=start, date_to=end, levels=levels, limit=10, ref=ref)
        except (IcemonitorError, ValueError) as err:  # e.g. no events at all at that level in the window
            searched.append(f"{place.label if target == place.code else target} ({levels[0]} level: could not be "
                            f"computed, {type(err).__name__})")
            continue
        searched.append(f"{result.parameters['place']} ({levels[0]} level)")
        for r in result.figures:
            key = (r["level"], r["place"], str(r["start"]))
            found.setdefault(key, {**r, "releases": result.releases})
    rows = sorted(found.values(), key=lambda r: (str(r["end"]), float(r["score"])), reverse=True)[:TOP_SWEEPS]
    source = event_source(con, "arrests")
    for r in rows:
        r["releases"] = _sweep_releases(con, source, r) or r["releases"]
    return rows, searched


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
        today = self.today()
        out: dict[str, str] = {}
        con = _connect(self.warehouse)
        try:
            everywhere = last_covered(con)
            here = last_covered(con, tuple(place.aors)) if place.aors else everywhere
            if here is None:
                out["Records"] = "the warehouse holds no counted arrests for this place's AOR(s)"
            else:
                scope = f"AOR(s) {', '.join(place.aors)}" if place.aors else "the warehouse"
                out["Records"] = (f"counted arrests (table arrests, rows with counted = true) in {scope} run to {here}, "
                                  f"{(today - here).days} days before today; the warehouse as a whole to {everywhere}")
            out[f"Sanctuary status today ({today})"] = sanctuary_line(place, today, self.ref)
            if here is not None:
                out[f"Sanctuary status on {here} (last covered date)"] = sanctuary_line(place, here, self.ref)
                start = here - dt.timedelta(days=SWEEP_DAYS - 1)
                rows, searched = recent_sweeps(con, place, start, here, self.ref)
                labels = {place.code: place.label} if place.level == "county" else {}
                title = f"Sweeps {start} to {here}"
                marks = ", ".join("?" for _ in place.aors) or "NULL"
                days = con.execute(
                    "SELECT count(DISTINCT event_date) FROM arrests WHERE counted AND event_date BETWEEN ? AND ?"
                    + (f" AND aor IN ({marks})" if place.aors else ""), [start, here, *place.aors]).fetchone()[0]
                note = (f" (the records hold arrests on {days} of these {SWEEP_DAYS} days; a sweep is measured "
                        "against the 8 weeks before it)")
                if not searched:
                    out[title] = "county and state sweeps need the landmark resolution, which this warehouse lacks"
                elif not rows:
                    out[title] = f"none detected in {'; '.join(searched)}{note}"
                else:
                    for i, r in enumerate(rows, 1):
                        out[f"Sweep {i} (most recent first)"] = _sweep_text(r, labels)
                    out[title] = f"searched {'; '.join(searched)}; the {len(rows)} most recent shown{note}"
                from icemonitor.analysis.sweeps import SWEEP_DEFINITIONS

                out["Sweep definition"] = (f"{SWEEP_DEFINITIONS['sweep']} Expected: {SWEEP_DEFINITIONS['expected']} "
                                           "Counted arrests only (icemonitor.analysis.sweeps).")
        finally:
            con.close()
        return out
