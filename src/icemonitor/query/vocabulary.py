"""One vocabulary for every interface: tables (warehouse/schema.yaml), AOR codes (codes/data/aor_names.csv), the
words for the whole country, measures and placement policies (query/data/vocabulary.yaml). Read, never retyped."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from icemonitor.codes.maps import load_maps
from icemonitor.messages import Given
from icemonitor.schema import load_yaml, tables


@cache
def _data() -> dict[str, Any]:
    return load_yaml((resources.files("icemonitor.query") / "data" / "vocabulary.yaml").read_text("utf-8"))


@cache
def table_names() -> tuple[str, ...]:
    """Every event table of warehouse/schema.yaml."""
    return tuple(tables())


@cache
def aor_codes() -> tuple[str, ...]:
    """Every AOR code the code maps know (codes/data/aor_names.csv), sorted."""
    return tuple(sorted({a for a in load_maps().aor.values() if a}))


@cache
def territorial_aors() -> tuple[str, ...]:
    """AOR codes that are field offices with a territory (not HQ)."""
    skip = set(_data()["not_territorial_aors"])
    return tuple(a for a in aor_codes() if a not in skip)


@cache
def nation_words() -> frozenset[str]:
    return frozenset(w.strip().upper() for w in _data()["nation"]["words"])


def is_nation(place: str | None) -> bool:
    """True for no place or a word meaning the whole country."""
    return place is None or not str(place).strip() or str(place).strip().upper() in nation_words()


def nation_label(lang: str | None = None) -> str:
    """The nation's label: in `lang`, or display text in both languages (a Given) when no language is asked."""
    if lang is None:
        return Given(_data()["nation"]["label"], es=_data()["nation"]["label_es"])
    return _data()["nation"]["label_es" if lang == "es" else "label"]


@cache
def measures() -> dict[str, dict[str, str]]:
    """measure name -> {sql, definition[, field]}."""
    return {k: dict(v) for k, v in _data()["measures"].items()}


@cache
def placements() -> dict[str, str]:
    """placement policy -> definition."""
    return {k: v["definition"] for k, v in _data()["placements"].items()}


@cache
def aor_names() -> dict[str, str]:
    """AOR code -> its name ("Los Angeles"), from the '<name> Area of Responsibility' spellings of the code map."""
    out: dict[str, str] = {}
    for raw, code in load_maps().aor.items():
        if code and raw.endswith(" Area of Responsibility"):
            out.setdefault(code, raw.removesuffix(" Area of Responsibility"))
    return out
