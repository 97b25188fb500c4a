"""Hand-kept landmark rules, read from the CSV files in places/data/."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from importlib import resources

from icemonitor.errors import InputError
from icemonitor.places.landmark_text import normalize

LEVELS = ("county", "state", "aor", "none")
KINDS = ("event", "office_proxy", "")


@dataclass(frozen=True)
class Pattern:
    id: str
    action: str
    regex: re.Pattern[str] | None
    kind: str
    confidence: float


@dataclass(frozen=True)
class Mapping:
    id: str
    aor: str  # '*' = any AOR
    landmark: str  # normalised
    level: str
    county_fips: str | None
    state: str | None
    kind: str | None
    confidence: float
    cross_aor: str  # non-empty = why a county outside the AOR is allowed


@dataclass(frozen=True)
class OfficeCode:
    id: str
    aor: str
    code: str
    level: str
    county_fips: str | None
    state: str | None
    confidence: float


@dataclass(frozen=True)
class StateHint:
    id: str
    aor: str
    regex: re.Pattern[str]
    state: str


@dataclass(frozen=True)
class Rules:
    patterns: list[Pattern]
    mappings: dict[tuple[str, str], Mapping]
    offices: dict[tuple[str, str], OfficeCode]
    settings: dict[str, float]
    state_hints: tuple[StateHint, ...] = ()

    def by_action(self, action: str) -> list[Pattern]:
        return [p for p in self.patterns if p.action == action]

    def confidence(self, rule_id: str) -> float:
        for p in self.patterns:
            if p.id == rule_id:
                return p.confidence
        return 0.5


def _rows(name: str, required: list[str]) -> list[tuple[int, dict[str, str]]]:
    path = resources.files("icemonitor.places") / "data" / name
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError("rules file lacks a column", file=str(path), field=missing[0])
        rows = list(enumerate(reader, start=2))
    for line, row in rows:
        if "evidence" in required and not (row.get("evidence") or "").strip():
            raise InputError("rule without evidence", file=str(path), row=line, field="evidence")
    return rows


def _float(path: str, line: int, field: str, value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise InputError("not a number", file=path, row=line, field=field, value=value) from None
    if not 0 <= x <= 1 and field == "confidence":
        raise InputError("confidence must lie in 0..1", file=path, row=line, field=field, value=value)
    return x


def _check_place(path: str, line: int, level: str, fips: str | None, state: str | None) -> None:
    if level not in LEVELS:
        raise InputError("unknown level", file=path, row=line, field="level", value=level)
    if level == "county" and not (fips and re.fullmatch(r"\d{5}", fips)):
        raise InputError("county level needs a 5-digit county_fips", file=path, row=line, field="county_fips",
                         value=fips)
    if level == "state" and not (state and re.fullmatch(r"[A-Z]{2}", state)):
        raise InputError("state level needs a 2-letter state", file=path, row=line, field="state", value=state)


def load_rules() -> Rules:
    """Read landmark_patterns.csv, landmark_mappings.csv, office_codes.csv, landmark_settings.csv and
    landmark_state_hints.csv."""
    patterns = []
    for line, r in _rows("landmark_patterns.csv", ["id", "action", "regex", "kind", "confidence", "evidence"]):
        try:
            rx = re.compile(r["regex"]) if r["regex"] else None
        except re.error as exc:
            raise InputError(f"bad regex: {exc}", file="landmark_patterns.csv", row=line, field="regex",
                             value=r["regex"]) from None
        conf = _float("landmark_patterns.csv", line, "confidence", r["confidence"] or "0")
        patterns.append(Pattern(r["id"], r["action"], rx, r["kind"], conf))
    mappings: dict[tuple[str, str], Mapping] = {}
    req = ["id", "aor", "landmark", "level", "county_fips", "state", "kind", "confidence", "cross_aor", "evidence"]
    for line, r in _rows("landmark_mappings.csv", req):
        fips, st = r["county_fips"] or None, r["state"] or None
        _check_place("landmark_mappings.csv", line, r["level"], fips, st)
        key = (r["aor"], normalize(r["landmark"]))
        if key in mappings:
            raise InputError("duplicate mapping", file="landmark_mappings.csv", row=line, field="landmark",
                             value=r["landmark"])
        mappings[key] = Mapping(r["id"], r["aor"], key[1], r["level"], fips, st, r["kind"] or None,
                                _float("landmark_mappings.csv", line, "confidence", r["confidence"]),
                                r["cross_aor"].strip())
    offices: dict[tuple[str, str], OfficeCode] = {}
    for line, r in _rows("office_codes.csv", ["id", "aor", "code", "level", "county_fips", "state", "confidence",
                                               "evidence"]):
        fips, st = r["county_fips"] or None, r["state"] or None
        _check_place("office_codes.csv", line, r["level"], fips, st)
        offices[(r["aor"], r["code"])] = OfficeCode(r["id"], r["aor"], r["code"], r["level"], fips, st,
                                                    _float("office_codes.csv", line, "confidence", r["confidence"]))
    settings = {r["name"]: _float("landmark_settings.csv", line, "value", r["value"])
                for line, r in _rows("landmark_settings.csv", ["name", "value", "evidence"])}
    hints = []
    for line, r in _rows("landmark_state_hints.csv", ["id", "aor", "regex", "state", "evidence"]):
        try:
            rx = re.compile(r["regex"])
        except re.error as exc:
            raise InputError(f"bad regex: {exc}", file="landmark_state_hints.csv", row=line, field="regex",
                             value=r["regex"]) from None
        if not re.fullmatch(r"[A-Z]{2}", r["state"] or ""):
            raise InputError("state must be a 2-letter code", file="landmark_state_hints.csv", row=line,
                             field="state", value=r["state"])
        hints.append(StateHint(r["id"], r["aor"], rx, r["state"]))
    return Rules(patterns, mappings, offices, settings, tuple(hints))
