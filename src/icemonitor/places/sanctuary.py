"""Was a place a "sanctuary jurisdiction" on a date, under a named definition? (definitions: places/data/sanctuary_definitions.yaml)"""

from __future__ import annotations

import datetime as dt
import string
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Literal

import polars as pl
import yaml
from pydantic import BaseModel, SkipValidation

from icemonitor.errors import InputError
from icemonitor.messages import DateSpan, Message, msg, semicolons, to_date
from icemonitor.places.counties import as_date
from icemonitor.places.place_filter import Place
from icemonitor.places.place_names import parse_place
from icemonitor.places.policy_event import PolicyEvent
from icemonitor.places.policies import KINDS, load_policies
from icemonitor.places.ref import Ref

DEFINITIONS_FILE = "sanctuary_definitions.yaml"


class Definition(BaseModel):
    name: str
    description: SkipValidation[str]  # display text (icemonitor.messages), extracted from the definitions file
    test: Literal["presence", "absence"]
    kinds: list[str]
    match: list[Literal["self", "parent", "children", "cities", "local"]]
    exclude_scopes: list[str] = []
    include_scopes: list[str] = []
    unknown_kinds: list[str] = []
    verified_only: bool = True
    coverage: list[dict] = []
    caveats: list[SkipValidation[str]] = []


class StatusResult(BaseModel):
    place_code: str
    place_label: str
    place_level: str
    date: dt.date
    definition: str
    definition_text: SkipValidation[str]
    caveats: list[SkipValidation[str]]
    answer: Literal["yes", "no", "unknown"]
    reason: SkipValidation[str]
    events: list[PolicyEvent]


@lru_cache(maxsize=1)
def _raw_definitions() -> dict:
    path = Path(str(resources.files("icemonitor.places") / "data" / DEFINITIONS_FILE))
    return yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)  # noqa: S506 - the safe loader in C


def _one_line(text: object) -> str:
    """Display text from the definitions file as messages/extract.py reads it: whitespace runs collapsed."""
    return " ".join(str(text).split())


def curated_text(text: object) -> Message:
    """A display text of the definitions file as a message: the dates it names ({name}, the file's `dates`) are
    said in the reader's language (a day, or a span [first, last])."""
    line = _one_line(text)
    dates = _raw_definitions().get("dates") or {}
    names = {field for _, field, _, _ in string.Formatter().parse(line) if field}
    unknown = names - set(dates)
    if unknown:
        raise InputError("a definition's text names a date the file does not give", file=DEFINITIONS_FILE,
                         field="dates", value=sorted(unknown)[0])
    return msg(line, **{k: DateSpan(*dates[k]) if isinstance(dates[k], list) else to_date(dates[k]) for k in names})


def definitions() -> dict[str, Definition]:
    """All sanctuary definitions by short name."""
    raw = _raw_definitions()
    out = {}
    for name, d in raw["definitions"].items():
        bad = [k for k in d["kinds"] if k not in KINDS]
        if bad:
            raise InputError("definition names an unknown policy kind", file=DEFINITIONS_FILE, field=name, value=bad[0])
        texts = {"description": curated_text(d["description"]),
                 "caveats": [curated_text(c) for c in d.get("caveats", [])]}
        out[name] = Definition(name=name, **{**d, **texts})
    return out


def default_definition() -> tuple[str, str]:
    """The default definition's name and why it is the default."""
    raw = _raw_definitions()
    return raw["default"], " ".join(str(raw["default_reason"]).split())


def definitions_table() -> pl.DataFrame:
    """The definitions as a table (for the warehouse: `sanctuary_definitions`)."""
    default, _ = default_definition()
    rows = [{
        "name": d.name, "description": d.description, "test": d.test, "kinds": ";".join(d.kinds),
        "match": ";".join(d.match), "verified_only": d.verified_only, "exclude_scopes": ";".join(d.exclude_scopes),
        "include_scopes": ";".join(d.include_scopes),
        "coverage": "; ".join(f"{c['from']}..{c.get('to') or 'open'}: {curated_text(c.get('note', ''))}"
                              for c in d.coverage),
        "caveats": " | ".join(d.caveats), "is_default": d.name == default,
    } for d in definitions().values()]
    return pl.DataFrame(rows)


def _relevant(policies: pl.DataFrame, place: Place, d: Definition) -> pl.DataFrame:
    p = policies.filter(pl.col("kind").is_in(d.kinds))
    if d.exclude_scopes:
        p = p.filter(~pl.col("scope").is_in(d.exclude_scopes))
    if d.include_scopes:
        p = p.filter(pl.col("scope").is_in(d.include_scopes))
    cond = pl.lit(False)
    if place.level == "county":
        fips, state = place.code, place.states[0]
        if "self" in d.match or "local" in d.match:
            cond = cond | ((pl.col("jurisdiction_level") == "county") & (pl.col("jurisdiction") == fips))
        if "parent" in d.match:
            cond = cond | ((pl.col("jurisdiction_level") == "state") & (pl.col("jurisdiction") == state))
        if "cities" in d.match or "children" in d.match:
            cond = cond | ((pl.col("jurisdiction_level") == "city") & (pl.col("county_fips") == fips))
    elif place.level == "state":
        state = place.code
        if "self" in d.match:
            cond = cond | ((pl.col("jurisdiction_level") == "state") & (pl.col("jurisdiction") == state))
        if "children" in d.match or "local" in d.match:
            cond = cond | ((pl.col("jurisdiction_level") != "state") & (pl.col("state") == state))
    else:
        raise InputError(msg("sanctuary status is answered for a county or a state"), field="place",
                         value=place.code)
    return p.filter(cond)


def _role(e: dict, day: dt.date, d: Definition) -> str | None:
    start, end = e["start"], e["end"]
    if start is None or day < start:
        return None
    if end is not None and day > end:
        return None
    if end is None and not e["end_known"]:
        if e["end_by"] is not None and day > e["end_by"]:
            return None
        return "possibly_in_force"
    if d.verified_only and not e["verified"]:
        return "unverified"
    if e["kind"] in d.unknown_kinds:
        return "model_unknown"
    return "in_force"


def _covered(d: Definition, day: dt.date) -> str | None:
    for c in d.coverage:
        start = as_date(c["from"])
        end = as_date(c["to"]) if c.get("to") else None
        if start <= day and (end is None or day <= end):
            return c.get("note", "")
    return None


def status(place: str | Place, date: dt.date | str, definition: str | None, ref: Ref) -> StatusResult:
    """Answer yes/no/unknown for a county or state on a date under a definition (default: see default_definition)."""
    defs = definitions()
    name = definition or default_definition()[0]
    if name not in defs:
        raise InputError(msg("unknown definition {name!r} (known: {known})", name=name, known=", ".join(defs)),
                         file=DEFINITIONS_FILE,
                         field="definition", value=name)
    d = defs[name]
    pl_place = place if isinstance(place, Place) else parse_place(place, ref)
    day = as_date(date)
    rel = _relevant(load_policies(ref), pl_place, d)
    events = []
    for e in rel.iter_rows(named=True):
        role = _role(e, day, d)
        if role:
            events.append(PolicyEvent(role=role, **{k: e[k] for k in PolicyEvent.model_fields if k != "role"}))
    roles = {e.role for e in events}
    what = f"{', '.join(d.kinds)}"
    if d.test == "presence":
        if "in_force" in roles:
            answer, reason = "yes", msg("{n} counting event(s) in force on {day}", day=day,
                                        n=sum(e.role == "in_force" for e in events))
        elif roles:
            answer, reason = "unknown", msg("only unverified or possibly-ended event(s) apply on {day}", day=day)
        else:
            answer, reason = "no", msg("no event of kind {kinds} in force on {day} for this place", kinds=what, day=day)
    else:
        if "in_force" in roles:
            answer, reason = "no", msg("{n} agreement(s) active on {day}", day=day,
                                       n=sum(e.role == "in_force" for e in events))
        elif (note := _covered(d, day)) is None:
            windows = semicolons([DateSpan(c["from"], c["to"]) if c.get("to") else
                                  msg("since {day}", day=to_date(c["from"])) for c in d.coverage])
            answer, reason = "unknown", msg("{day} lies outside the sources' coverage ({windows})", day=day,
                                            windows=windows)
        elif roles:
            answer, reason = "unknown", msg("agreement(s) that may still have been active on {day} (end unknown or "
                                            "model not recorded)", day=day)
        else:
            answer, reason = "yes", msg("no agreement known to be active on {day}; coverage: {note}", day=day,
                                        note=curated_text(note) if note else "")
    return StatusResult(
        place_code=pl_place.code, place_label=pl_place.label, place_level=pl_place.level, date=day, definition=name,
        definition_text=d.description, caveats=d.caveats, answer=answer, reason=reason,
        events=sorted(events, key=lambda e: (e.role, e.start or dt.date.min)),
    )
