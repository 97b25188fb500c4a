"""Load the hand-kept code maps (codes/data/*.csv): raw values to canonical codes, with notes."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

DATA = resources.files("icemonitor.codes") / "data"

# A value that looks like a FOIA exemption marker, e.g. "(b)(6)" or "(B)(7)(E)".
REDACTION_LIKE = re.compile(r"^\(\s*b\s*\)\s*\(\s*[67]", re.IGNORECASE)


def _rows(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def normalise(value: str | None) -> str:
    """The key a raw value is looked up by: surrounding white space removed; None is blank."""
    return "" if value is None else value.strip()


@dataclass(frozen=True)
class CodeMaps:
    aor: dict[str, str | None]
    method: dict[str, str | None]
    apprehension_type: dict[str, str | None]
    criminality: dict[tuple[str, str], str]
    criminality_fields: dict[str, dict[str, str]]
    criminality_recorded_from: dict[tuple[str, str], str]
    redaction_markers: frozenset[str]
    blank_values: dict[str, frozenset[str]]


@cache
def load_maps() -> CodeMaps:
    """All code maps, read once."""
    blank: dict[str, set[str]] = {}
    for r in _rows("blank_values.csv"):
        blank.setdefault(r["column"], set()).add(r["value"])
    return CodeMaps(
        aor={normalise(r["raw"]): (r["aor"] or None) for r in _rows("aor_names.csv")},
        method={
            normalise(r["raw"]): (r["method_class"] or None)
            for r in _rows("apprehension_methods.csv")
        },
        apprehension_type={
            normalise(r["raw"]): (r["apprehension_type"] or None) for r in _rows("apprehension_types.csv")
        },
        criminality={
            (r["field"], normalise(r["raw"])): r["criminality"] for r in _rows("criminality.csv")
        },
        criminality_fields={r["field"]: r for r in _rows("criminality_fields.csv")},
        criminality_recorded_from={
            (r["field"], r["table"]): r["recorded_from"] for r in _rows("criminality_coverage.csv")
        },
        redaction_markers=frozenset(normalise(r["marker"]) for r in _rows("redaction_markers.csv")),
        blank_values={k: frozenset(v) for k, v in blank.items()},
    )
