"""Places as people name them, in English and Spanish: short names ('LA County'), Spanish forms ('condado de Los
Ángeles', 'oficina de Houston', 'Luisiana'), county names without a state, cities (read as their county, saying
so) and ICE field offices by name. Words that name several places ('LA': Louisiana or Los Angeles?) raise
AmbiguousPlace with the choices instead of picking one.

Every reading ends in place_filter.parse_exact, the parser of the literal forms (codes, FIPS, 'Name County, ST').
Hand-kept tables: data/place_aliases.csv and data/state_names_es.csv (each with its sources); cities come from the
catalog's reference file geo/simplemaps_uscities_slim.csv (each city with its primary county)."""

from __future__ import annotations

import csv
import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from icemonitor.errors import InputError
from icemonitor.messages import Given, msg
from icemonitor.places.place_filter import (AmbiguousPlace, Place, UnknownPlace, _index, close_names, parse_exact,
                                            place_groups)
from icemonitor.places.ref import Ref

ALIASES_FILE = "place_aliases.csv"
STATES_ES_FILE = "state_names_es.csv"
NAMES_ES_FILE = "place_names_es.csv"
CITIES_FILE = "geo/simplemaps_uscities_slim.csv"
CITY_DOMINANCE = 10  # the largest of several same-named cities is meant when it is this many times the next
BIG_CITY = 100_000  # a city this large is meant over same-named counties elsewhere (Dallas: Dallas County, TX)
MAX_CHOICES = 8
COUNTY_WORDS = ("county", "parish", "borough", "census area", "city and borough", "municipio", "municipality")
OFFICE_WORDS = ("field office", "area of responsibility", "aor", "ice office", "ice", "ero")
# Spanish and English phrasings around a name (matched on folded text): what the person said the place is
PHRASES = [
    (re.compile(r"^(?:el )?condado de (?P<name>.+)$"), "county"),
    (re.compile(r"^(?:la )?parroquia de (?P<name>.+)$"), "county"),
    (re.compile(r"^(?:la )?(?:oficina(?: local| de campo| de ice)?|area de responsabilidad|aor) (?:de |del )?(?:ice )?(?:de |en )?(?P<name>.+)$"), "office"),
    (re.compile(r"^(?:ice|ero) (?P<name>.+)$"), "office"),
    (re.compile(r"^(?:el )?estado de (?P<name>.+)$"), "state"),
    (re.compile(r"^state of (?P<name>.+)$"), "state"),
    (re.compile(r"^(?P<name>.+) state$"), "state"),
    (re.compile(r"^(?:la )?ciudad de (?P<name>.+)$"), "city"),
    (re.compile(r"^city of (?P<name>.+)$"), "city"),
    (re.compile(r"^(?P<name>.+) (?:" + "|".join(COUNTY_WORDS) + r")$"), "county"),
    (re.compile(r"^(?P<name>.+) (?:" + "|".join(OFFICE_WORDS) + r")$"), "office"),
]


def fold(text: str) -> str:
    """Lower case, no accents, no dots, 'saint' as 'st', single spaces: 'Condado de Los Ángeles' -> 'condado de
    los angeles', 'L.A.' -> 'la', 'Saint Louis' -> 'st louis'."""
    text = unicodedata.normalize("NFKD", text.replace("\u2019", "'"))
    text = "".join(c for c in text if not unicodedata.combining(c)).lower().replace(".", "")
    text = re.sub(r"\bsaint\b", "st", re.sub(r"\bsainte\b", "ste", text))
    return re.sub(r"\s+", " ", text).strip(" ,")


def _data(name: str) -> list[dict[str, str]]:
    path = Path(str(resources.files("icemonitor.places") / "data" / name))
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


@dataclass(frozen=True)
class City:
    name: str
    state: str
    county_fips: str
    population: int

    @property
    def label(self) -> str:
        return f"{self.name}, {self.state}"


@dataclass
class Names:
    """The folded names of everything a person may type, each to what it means."""

    aliases: dict[str, list[str]] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)  # folded English or Spanish name or code -> USPS code
    offices: dict[str, str] = field(default_factory=dict)  # folded field-office name -> AOR code
    counties: dict[str, list[str]] = field(default_factory=dict)  # folded name without 'County' -> FIPS
    cities: dict[str, list[City]] = field(default_factory=dict)  # folded city name -> cities, largest first


@lru_cache(maxsize=1)
def _aliases() -> dict[str, list[str]]:
    """Folded alias -> the places it means (data/place_aliases: the package's own, whatever the reference files)."""
    return {fold(row["alias"]): [m.strip() for m in row["means"].split("|") if m.strip()] for row in _data(ALIASES_FILE)}


@lru_cache(maxsize=4)
def names(ref: Ref) -> Names:
    idx = _index(ref)
    nm = Names()
    nm.aliases.update(_aliases())
    for code, name in idx.states.items():
        nm.states[fold(name)] = code
        nm.states[fold(code)] = code
    for row in _data(STATES_ES_FILE):
        nm.states[fold(row["name_es"])] = row["usps"]
    for code, name in idx.aor_names.items():
        if code in idx.aor_counties:
            nm.offices[fold(name)] = code
            nm.offices[fold(code)] = code
    for fips, row in idx.county_rows.items():
        if row["county_name"] and row["state"]:
            nm.counties.setdefault(_bare(fold(row["county_name"])), []).append(fips)
    for city in _cities(ref, set(idx.county_rows)):
        nm.cities.setdefault(fold(city.name), []).append(city)
    for found in nm.cities.values():
        found.sort(key=lambda c: -c.population)
    return nm


def _cities(ref: Ref, known_fips: set[str]) -> list[City]:
    """The catalog's city list (name, state, primary county, population); none when the file cannot be had."""
    try:
        path = Path(ref(CITIES_FILE))
        with open(path, newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, InputError):
        return []
    out = []
    for r in rows:
        fips = (r.get("county_fips") or "").zfill(5)
        if fips in known_fips and r.get("city_ascii"):
            out.append(City(r["city_ascii"], r["state_id"], fips, int(float(r.get("population") or 0))))
    return out


def _bare(folded: str) -> str:
    for word in COUNTY_WORDS + ("city",):
        if folded.endswith(" " + word):
            return folded[: -len(word) - 1]
    return folded


def parse_place(text: str, ref: Ref) -> Place:
    """Parse a place as people name it, in English or Spanish: an AOR code ('LOS') or field office ('Los Angeles
    field office', 'oficina de Los Ángeles'), a state ('CA', 'California', 'Luisiana'), a county FIPS ('06037'),
    a county ('Los Angeles County, CA', 'Los Angeles County', 'condado de Los Ángeles'), a city (its county,
    saying so: 'Pomona, CA'), a short name ('LA County') or a named group ('Southern California').
    Words that name several places ('LA') raise AmbiguousPlace with the choices."""
    if text is None or not str(text).strip():
        raise InputError(msg("empty place"), field="place", value=text)
    return read(str(text).strip(), ref)


def read(raw: str, ref: Ref) -> Place:
    """The place the words name (see module docstring)."""
    key = fold(raw)
    if key in _aliases():
        return _from_alias(raw, _aliases()[key], ref)
    try:
        place = parse_exact(raw, ref)
    except UnknownPlace:
        place = None
    # the index of every name (94,000 cities) only for words that are not a code or an exact name: a web request
    # reads its place with a new resolver (`ref`), so names(ref)'s cache does not hold across requests
    if place is not None:
        if place.level == "county" and "," in raw and _bare(fold(raw.rsplit(",", 1)[0])) == fold(raw.rsplit(",", 1)[0]):
            # 'Houston, TX': Houston County, or the city of Houston (in Harris County)? Ask when they differ.
            _check_city_elsewhere(raw, place, fold(raw.rsplit(",", 1)[0]), names(ref), ref)
        return place
    nm = names(ref)
    name, state = _split_comma_state(key, nm)
    said, name = _what_was_said(name)
    if state is None and said != "state":
        name, state = _split_trailing_state(name, nm)
    if said is None and state is None and name in nm.states:
        return _noted(parse_exact(nm.states[name], ref), raw, "state name")
    if said in (None, "county") and f"{name} county" in nm.aliases:
        return _from_alias(raw, nm.aliases[f"{name} county"], ref)
    if said == "state":
        if name in nm.states:
            return parse_exact(nm.states[name], ref)
        raise UnknownPlace(raw, close_names(raw, ref))
    if said == "office" or (said is None and state is None and name in nm.offices and name not in nm.counties
                            and name not in nm.cities):
        if name in nm.offices:
            return _noted(parse_exact(nm.offices[name], ref), raw, "field office")
        raise UnknownPlace(raw, close_names(raw, ref))
    alternatives = (nm.offices[name],) if name in nm.offices else ()
    if said in (None, "county"):
        rows = _index(ref).county_rows
        counties = [f for f in nm.counties.get(name, []) if state is None or rows[f]["state"] == state]
        if said == "county":  # 'St. Louis County' is the county, not St. Louis city
            counties = [f for f in counties if _bare(fold(rows[f]["county_name"])) != fold(rows[f]["county_name"])
                        and not fold(rows[f]["county_name"]).endswith(" city")] or counties
        city = _largest_city(nm, name, state)
        if said is None and city is not None and city.county_fips not in counties and counties:
            counties = counties[: MAX_CHOICES - 2]
            choices = [_city_choice(city, ref)] + [_choice(f, ref) for f in counties]
            raise AmbiguousPlace(raw, choices + [_choice(a, ref) for a in alternatives])
        if said is None and len(counties) > 1 and city is not None and city.county_fips in counties \
                and city.population >= BIG_CITY and _dominant(nm, name, state):
            return _noted(parse_exact(city.county_fips, ref), raw, "city", city.label, alternatives)
        if len(counties) > 1:
            raise AmbiguousPlace(raw, [_choice(f, ref) for f in counties[:MAX_CHOICES]])
        if counties:
            place = _noted(parse_exact(counties[0], ref), raw, "county name", alternatives=alternatives)
            if said is None:
                _check_city_elsewhere(raw, place, name, nm, ref, state)
            return place
    if said in (None, "city"):
        cities = [c for c in nm.cities.get(name, []) if state is None or c.state == state]
        if cities:
            return _city(raw, cities, ref, alternatives)
    raise UnknownPlace(raw, close_names(raw, ref))


def _split_comma_state(key: str, nm: Names) -> tuple[str, str | None]:
    """'pomona, ca' -> ('pomona', 'CA'); else (key, None)."""
    if "," in key:
        name, st = (p.strip() for p in key.rsplit(",", 1))
        if st in nm.states:
            return name, nm.states[st]
    return key, None


def _split_trailing_state(name: str, nm: Names) -> tuple[str, str | None]:
    """'pomona california' -> ('pomona', 'CA') (a state's full name, not its code, after the name); else (name, None)."""
    words = name.split()
    for k in (3, 2, 1):
        if len(words) > k and (st := " ".join(words[-k:])) in nm.states and len(st) > 2:
            return " ".join(words[:-k]), nm.states[st]
    return name, None


def _dominant(nm: Names, name: str, state: str | None) -> bool:
    """Whether the largest city of that name is CITY_DOMINANCE times the next one (or the only one)."""
    cities = [c for c in nm.cities.get(name, []) if state is None or c.state == state]
    return len(cities) == 1 or cities[0].population >= CITY_DOMINANCE * max(cities[1].population, 1)


def _largest_city(nm: Names, name: str, state: str | None) -> City | None:
    cities = [c for c in nm.cities.get(name, []) if state is None or c.state == state]
    return cities[0] if cities else None


def _what_was_said(name: str) -> tuple[str | None, str]:
    """('county' | 'office' | 'state' | 'city' | None, the name without the words that said it)."""
    for pattern, said in PHRASES:
        m = pattern.match(name)
        if m:
            return said, m.group("name").strip()
    return None, name


def _noted(place: Place, raw: str, read_as: str, city: str = "", alternatives: tuple[str, ...] = ()) -> Place:
    return place.model_copy(update={"asked": raw, "read_as": read_as, "city": city, "alternatives": alternatives})


def _from_alias(raw: str, means: list[str], ref: Ref) -> Place:
    if len(means) == 1:
        return _noted(parse_exact(means[0], ref), raw, "alias")
    raise AmbiguousPlace(raw, [_choice(m, ref) for m in means])


def _city(raw: str, cities: list[City], ref: Ref, alternatives: tuple[str, ...]) -> Place:
    """A city read as its county: the only one, the only county, or by far the largest; else ask."""
    counties = {c.county_fips for c in cities}
    if len(counties) == 1:
        return _noted(parse_exact(cities[0].county_fips, ref), raw, "city", cities[0].label, alternatives)
    first = cities[0]
    if first.population >= CITY_DOMINANCE * max(cities[1].population, 1):
        return _noted(parse_exact(first.county_fips, ref), raw, "largest city", first.label, alternatives)
    seen, choices = set(), []
    for c in cities:
        if c.county_fips not in seen and len(choices) < MAX_CHOICES:
            seen.add(c.county_fips)
            choices.append(_city_choice(c, ref))
    raise AmbiguousPlace(raw, choices + [_choice(a, ref) for a in alternatives])


def _check_city_elsewhere(raw: str, county: Place, name: str, nm: Names, ref: Ref, state: str | None = None) -> None:
    """A county named like a city that lies in another county (Houston County, TX vs the city of Houston): ask."""
    state = state or (county.states[0] if county.states else None)
    cities = [c for c in nm.cities.get(name, []) if c.state == state]
    if cities and cities[0].county_fips != county.code:
        raise AmbiguousPlace(raw, [_choice(county.code, ref), _city_choice(cities[0], ref)])


def _choice(value: str, ref: Ref) -> tuple[str, str]:
    """(a text that parse_exact reads as exactly this place, a label saying what it is: a message)."""
    place = parse_exact(value, ref)
    if place.level == "state":
        name = place.label
        return ((name if fold(name) not in names(ref).aliases else f"{name} State"),
                msg("{name} (state)", name=place_label(place)))
    if place.level == "aor":
        name = _index(ref).aor_names.get(place.code, place.code)
        return place.code, msg("{name} field office (ICE AOR {code})", name=Given(name, es=spanish_name(name)),
                               code=place.code)
    if place.level == "group":
        return place.code, msg("{name} (region of {n} counties)", name=place_label(place), n=len(place.county_fips))
    return place.code, msg("{name} (county)", name=place_label(place))


def _city_choice(city: City, ref: Ref) -> tuple[str, str]:
    county = parse_exact(city.county_fips, ref)
    return f"city of {city.label}", msg("{city} (city; its figures are those of {county})", city=city.label,
                                        county=place_label(county))


def suggest(text: str, ref: Ref, limit: int = 8) -> list[tuple[str, str]]:
    """Place names starting with (then containing) the words, for a search box: (text to submit, label)."""
    key = fold(text)
    if len(key) < 2:
        return []
    nm, idx = names(ref), _index(ref)
    found: list[tuple[int, str, str]] = []  # (rank, value, label)
    for code, name in idx.states.items():
        found.append((0, name, f"{name} (state)"))
    for name, code in nm.offices.items():
        if len(name) > 3:
            found.append((1, f"{idx.aor_names[code]} field office", f"{idx.aor_names[code]} field office (ICE AOR {code})"))
    for g in place_groups():
        found.append((1, g["name"], g["name"]))
    for fips, row in idx.county_rows.items():
        if row["county_name"] and row["state"]:
            found.append((2, f"{row['county_name']}, {row['state']}", f"{row['county_name']}, {row['state']}"))
    for cities in nm.cities.values():
        for c in cities[:3]:
            if c.population >= 20000:
                found.append((3, c.label, f"{c.label} (city)"))
    starts = [(r, v, lab) for r, v, lab in found if fold(v).startswith(key)]
    within = [(r, v, lab) for r, v, lab in found if key in fold(v) and not fold(v).startswith(key)]
    if not starts and not within:  # a misspelling: names that look alike ('Fresnoo' -> Fresno County, Fresno)
        by_name: dict[str, list[tuple[int, str, str]]] = {}
        for item in found:
            by_name.setdefault(_bare(fold(item[1].split(",")[0])), []).append(item)
        for name in difflib.get_close_matches(key, list(by_name), n=4, cutoff=0.75):
            starts += by_name[name]
    out, seen = [], set()
    for _, value, label in sorted(starts, key=lambda x: (x[0], x[1])) + sorted(within, key=lambda x: (x[0], x[1])):
        if value not in seen:
            seen.add(value)
            out.append((value, label))
        if len(out) >= limit:
            break
    return out


def reading_note(place: Place, ref: Ref) -> str:
    """How the words were read, for the CLI: a message ('' when they were read literally)."""
    if not place.read_as:
        return ""
    label = place_label(place)
    if place.read_as == "largest city":
        text = msg("{city} (the largest of the places named {asked!r}) is a city in {place}; the records place arrests "
                   "by county, so these are the figures of {place}.", city=place.city, asked=place.asked, place=label)
    elif place.read_as == "city":
        text = msg("{city} is a city in {place}; the records place arrests by county, so these are the figures of "
                   "{place}.", city=place.city, place=label)
    else:
        text = msg("Read {asked!r} as {place}.", asked=place.asked, place=label)
    for code in place.alternatives:
        name = _index(ref).aor_names.get(code, code)
        text = msg("{a} {b}", a=text, b=msg("For ICE's {office} field office instead, give --place {code}.",
                                            office=Given(name, es=spanish_name(name)), code=code))
    return text


COUNTY_WORDS_ES = {"County": "condado de", "Parish": "parroquia de", "Borough": "distrito de", "city": "ciudad de"}


def label_in(place: Place, lang: str, ref: Ref) -> str:
    """The place's label in a language: 'condado de Los Ángeles, CA', 'Luisiana', 'oficina de ICE de Los Ángeles
    (LOS)' in Spanish; the parser's own label in English."""
    idx = _index(ref)
    if place.level == "aor":
        name = idx.aor_names.get(place.code, place.code)
        return (f"oficina de ICE de {spanish_name(name)} ({place.code})" if lang == "es"
                else f"ICE's {name} field office ({place.code})")
    return spanish_label(place.label, place.level, place.code) if lang == "es" else place.label


def place_label(place: Place) -> Given:
    """The place's label as display text: the parser's English label, and its Spanish form ('condado de Los
    Ángeles, CA', 'Luisiana', 'AOR de Los Ángeles (LOS)', 'el sur de California')."""
    if place.level == "aor":
        m = re.fullmatch(r"(.*) AOR \((\w+)\)", place.label)
        es = f"AOR de {spanish_name(m.group(1))} ({m.group(2)})" if m else place.label
    else:
        es = spanish_label(place.label, place.level, place.code)
    return Given(place.label, es=es)


def spanish_name(name: str) -> str:
    """A county's or field office's name as Spanish writes it ('Los Ángeles', 'Nueva York'; data/place_names_es.csv),
    else as it is."""
    return _names_es().get(name, name)


@lru_cache(maxsize=1)
def _names_es() -> dict[str, str]:
    return {row["name"]: row["name_es"] for row in _data(NAMES_ES_FILE)}


def spanish_county_name(name: str) -> str:
    """A county's name without its state in Spanish ('Los Angeles County' -> 'condado de Los Ángeles'); other
    names as they are."""
    m = re.fullmatch(r"(.+) (County|Parish|Borough|city)", name)
    return f"{COUNTY_WORDS_ES[m.group(2)]} {spanish_name(m.group(1))}" if m else name


def spanish_label(label: str, level: str, code: str = "") -> str:
    """A state, county or region label in Spanish ('Luisiana', 'condado de Los Ángeles, CA', 'sur de California');
    other labels as they are."""
    if level == "state":
        spanish = {row["usps"]: row["name_es"] for row in _data(STATES_ES_FILE)}
        return spanish.get(code, label)
    if level == "county":
        m = re.fullmatch(r"(.+) (County|Parish|Borough|city), ([A-Z]{2})", label)
        if m:
            return f"{COUNTY_WORDS_ES[m.group(2)]} {spanish_name(m.group(1))}, {m.group(3)}"
    if level == "group":
        return next((g.get("name_es") or label for g in place_groups() if g["name"] == label), label)
    return label
