"""Parse a place the user typed (AOR code, state, county FIPS or name, named group) and turn it into SQL filters."""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict

from icemonitor.errors import InputError
from icemonitor.messages import msg, semicolons
from icemonitor.places.counties import COUNTIES_FILE, aor_codes, county_aor_periods, load_counties
from icemonitor.places.ref import Ref

GROUPS_FILE = "place_groups.yaml"
_SUFFIXES = (" county", " parish", " borough", " census area", " city and borough", " municipality", " municipio",
             " city", " planning region", " island district", " district")


class Place(BaseModel):
    """A place: its level, code, label and the counties, AORs and states it covers."""

    model_config = ConfigDict(frozen=True)

    level: Literal["aor", "state", "county", "group"]
    code: str
    label: str
    county_fips: tuple[str, ...]
    aors: tuple[str, ...]
    states: tuple[str, ...]
    # the coarsest exact units for filtering event tables that may lack county_fips
    filter_aors: tuple[str, ...] = ()
    filter_states: tuple[str, ...] = ()
    filter_counties: tuple[str, ...] = ()
    source: str = ""
    # how the person's words were read, when not literally (place_names.py): the words, the reading
    # ("alias", "city", "county name", "largest city"), the city's own label, and other readings worth offering
    asked: str = ""
    read_as: str = ""
    city: str = ""
    alternatives: tuple[str, ...] = ()

    def sql_filter(self, aor_col: str = "aor", state_col: str = "state", county_col: str = "county_fips") -> tuple[str, list[str]]:
        """A parameterised SQL condition (DuckDB `?` placeholders) and its parameters, for a table with columns
        aor, state, county_fips. Column names must be plain identifiers.

        County and group filters match rows by county_fips; AORs or states that lie wholly inside the place also
        match by aor/state, so rows without a county are kept when their AOR or state is entirely inside."""
        for col in (aor_col, state_col, county_col):
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", col):
                raise InputError("column name must be a plain identifier", field="column", value=col)
        parts, params = [], []
        for col, values in ((aor_col, self.filter_aors), (state_col, self.filter_states), (county_col, self.filter_counties)):
            if values:
                parts.append(f"{col} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
        if not parts:
            return "FALSE", []
        return ("(" + " OR ".join(parts) + ")"), params


class AmbiguousPlace(InputError):
    """The words name several places: `choices` are (value, label) pairs, each value a text parse_place reads as
    exactly one place. Front ends ask the person which one."""

    def __init__(self, text: str, choices: list[tuple[str, str]]) -> None:
        self.choices = choices
        listed = semicolons([msg("{label} [{value}]", label=label, value=value) for value, label in choices])
        super().__init__(msg("{text!r} can mean several places: {listed}", text=text, listed=listed), field="place",
                         value=text,
                         hint=msg("give one of the values in brackets, e.g. --place {value}",
                                  value=_quoted(choices[0][0])))


def _quoted(value: str) -> str:
    return f'"{value}"' if " " in value else value


@lru_cache(maxsize=1)
def place_groups() -> list[dict]:
    """The named groups (places/data/place_groups.yaml)."""
    path = Path(str(resources.files("icemonitor.places") / "data" / GROUPS_FILE))
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return list(data.get("groups", []))


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower().replace("\u2019", "'"))


def _strip_suffix(name: str) -> str:
    n = _norm(name)
    for suf in _SUFFIXES:
        if n.endswith(suf):
            return n[: -len(suf)]
    return n


AOR_MAP_VINTAGES = ("uwchr_2020", "dd2026")  # the county-to-AOR maps; rows of vintage 'all' belong to each


class _Index:
    def __init__(self, ref: Ref):
        self.counties = load_counties(ref)
        self.periods = county_aor_periods(ref)
        self.aor_names = {c: n for c, n in aor_codes(ref).iter_rows()}
        self.aor_counties: dict[str, set[str]] = {}
        self.county_aors: dict[str, set[str]] = {}  # the AORs of each county under any map vintage
        for f, a in self.periods.select("county_fips", "aor").iter_rows():
            if a:
                self.aor_counties.setdefault(a, set()).add(f)
                self.county_aors.setdefault(f, set()).add(a)
        # per vintage, for "AOR wholly inside a place"
        self.aor_by_vintage: list[dict[str, set[str]]] = []
        for v in AOR_MAP_VINTAGES:
            m: dict[str, set[str]] = {}
            for f, a, vin in self.periods.select("county_fips", "aor", "vintage").iter_rows():
                if a and vin in (v, "all"):
                    m.setdefault(a, set()).add(f)
            self.aor_by_vintage.append(m)
        self.states = {s: n for s, n in self.counties.select("state", "state_name").unique().iter_rows() if s and n}
        self.state_by_name = {_norm(n): s for s, n in self.states.items()}
        self.state_counties: dict[str, set[str]] = {}
        for f, s in self.counties.select("county_fips", "state").iter_rows():
            if s:
                self.state_counties.setdefault(s, set()).add(f)
        self.county_rows = {r["county_fips"]: r for r in self.counties.iter_rows(named=True)}
        self.by_name: dict[tuple[str, str], list[str]] = {}
        for f, r in self.county_rows.items():
            if not r["state"] or not r["county_name"]:
                continue
            for key in {_norm(r["county_name"]), _strip_suffix(r["county_name"])}:
                self.by_name.setdefault((key, r["state"]), []).append(f)

    def aors_of(self, fips: set[str]) -> tuple[str, ...]:
        return tuple(sorted({a for f in fips for a in self.county_aors.get(f, ())}))

    def make(self, level, code, label, fips: set[str], source="") -> Place:
        states = tuple(sorted({self.county_rows[f]["state"] for f in fips if self.county_rows[f]["state"]}))
        whole_states = {s for s in states if self.state_counties[s] <= fips}
        covered = set().union(*(self.state_counties[s] for s in whole_states)) if whole_states else set()
        # an AOR lying wholly inside the place matches by its code too, so its unplaced events count
        whole_aors = {a for m in self.aor_by_vintage for a, cs in m.items() if cs and cs <= fips}
        rest = {f for f in fips if f not in covered and not any(f in self.aor_counties[a] for a in whole_aors)}
        return Place(level=level, code=code, label=label, county_fips=tuple(sorted(fips)), aors=self.aors_of(fips),
                     states=states, filter_aors=tuple(sorted(whole_aors)), filter_states=tuple(sorted(whole_states)),
                     filter_counties=tuple(sorted(rest)), source=source)

    def candidates(self) -> list[str]:
        out = list(self.aor_counties) + list(self.states) + list(self.states.values())
        out += [g["name"] for g in place_groups()]
        out += [f"{r['county_name']}, {r['state']}" for r in self.county_rows.values() if r["state"] and r["county_name"]]
        return out


@lru_cache(maxsize=4)
def _index(ref: Ref) -> _Index:
    return _Index(ref)


def parse_exact(raw: str, ref: Ref) -> Place:
    """The literal forms: AOR code or '<AOR name> AOR', state code or name, county FIPS, group, 'Name County, ST'."""
    idx = _index(ref)
    up = raw.upper()
    low = _norm(raw)
    # AOR code or "<name> AOR" / "<name> Area of Responsibility"
    if up in idx.aor_counties:
        return idx.make("aor", up, f"{idx.aor_names.get(up, up)} AOR ({up})", idx.aor_counties[up],
                        source="aor/county_aor_crosswalk.csv (counties under any map vintage)")
    m = re.fullmatch(r"(.+?)\s+(aor|area of responsibility|field office)", low)
    if m:
        for code, name in idx.aor_names.items():
            if _norm(name) == m.group(1) and code in idx.aor_counties:
                return idx.make("aor", code, f"{name} AOR ({code})", idx.aor_counties[code],
                                source="aor/county_aor_crosswalk.csv")
    # state
    if up in idx.states:
        return idx.make("state", up, idx.states[up], idx.state_counties[up], source=COUNTIES_FILE)
    if low in idx.state_by_name:
        s = idx.state_by_name[low]
        return idx.make("state", s, idx.states[s], idx.state_counties[s], source=COUNTIES_FILE)
    # county FIPS
    if re.fullmatch(r"\d{4,5}", raw):
        f = raw.zfill(5)
        if f not in idx.county_rows:
            raise InputError(msg("unknown county FIPS {fips!r}", fips=raw), file=COUNTIES_FILE, field="fips5",
                             value=raw)
        r = idx.county_rows[f]
        return idx.make("county", f, f"{r['county_name']}, {r['state']}", {f}, source=COUNTIES_FILE)
    # named group
    for g in place_groups():
        names = [g["name"], *g.get("aliases", [])]
        if low in {_norm(n) for n in names}:
            fips: set[str] = set(g.get("counties", []))
            for a in g.get("aors", []):
                fips |= idx.aor_counties.get(a, set())
            for s in g.get("states", []):
                fips |= idx.state_counties.get(s, set())
            unknown = [f for f in fips if f not in idx.county_rows]
            if unknown:
                raise InputError("group lists an unknown county", file=GROUPS_FILE, field="counties", value=unknown[0])
            return idx.make("group", g["name"], g["name"], fips, source=g.get("source", ""))
    # county name, "Name County, ST" or "Name, State"
    if "," in raw:
        name, st = raw.rsplit(",", 1)
        st_code = st.strip().upper() if st.strip().upper() in idx.states else idx.state_by_name.get(_norm(st))
        if st_code:
            for key in (_norm(name), _strip_suffix(name)):
                hits = idx.by_name.get((key, st_code))
                if hits and len(hits) == 1:
                    r = idx.county_rows[hits[0]]
                    return idx.make("county", hits[0], f"{r['county_name']}, {r['state']}", {hits[0]}, source=COUNTIES_FILE)
                if hits and len(hits) > 1:
                    labels = ", ".join(f"{idx.county_rows[h]['county_name']} ({h})" for h in sorted(hits))
                    raise InputError(msg("ambiguous county name {place!r}: {choices}; give the FIPS code", place=raw,
                                         choices=labels), field="place", value=raw)
    raise UnknownPlace(raw)


class UnknownPlace(InputError):
    """No reading of the words names a place."""

    def __init__(self, raw: str, close: list[str] | None = None) -> None:
        text = (msg("unknown place {place!r}; did you mean: {close}?", place=raw, close=", ".join(close)) if close
                else msg("unknown place {place!r}", place=raw))
        super().__init__(text, field="place", value=raw, hint=PLACE_HINT)


PLACE_HINT = msg("a place is a state (CA, California), a county (Los Angeles County, 06037), a city (Pomona, CA), "
                 "an ICE field office (Los Angeles field office, LOS) or a region (Southern California); "
                 "`icemonitor places find WORDS` lists the matches")


def close_names(raw: str, ref: Ref) -> list[str]:
    """Up to five known place names close to the words (for 'did you mean')."""
    lowered = {c.lower(): c for c in _index(ref).candidates()}
    return [lowered[c] for c in difflib.get_close_matches(raw.lower(), list(lowered), n=5, cutoff=0.6)]

