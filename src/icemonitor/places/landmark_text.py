"""Text normalisation for apprehension landmarks and place names."""

from __future__ import annotations

import re

_APOS = re.compile(r"[’'`]")
_NON_ALNUM = re.compile(r"[^A-Z0-9]+")
_GLUED_COUNTY = re.compile(r"COUNTY(?=[A-Z])")


def normalize(text: str | None) -> str:
    """Upper-case, drop apostrophes, turn other punctuation into spaces, collapse spaces.

    `"  Ventura County Jail, Ventura CA"` -> `"VENTURA COUNTY JAIL VENTURA CA"`.
    """
    if text is None:
        return ""
    s = _APOS.sub("", text.upper()).replace("&", " AND ")
    s = _NON_ALNUM.sub(" ", s).strip()
    return _GLUED_COUNTY.sub("COUNTY ", s)


def name_variants(name: str) -> set[str]:
    """Normalised spellings of a place name: `St. Charles` -> {ST CHARLES, SAINT CHARLES};
    `De Soto` -> {DE SOTO, DESOTO}; `Miami-Dade` -> {MIAMI DADE}."""
    base = normalize(name)
    out = {base}
    words = base.split()
    if words and words[0] in ("ST", "SAINT", "STE"):
        rest = " ".join(words[1:])
        out |= {f"ST {rest}", f"SAINT {rest}"}
    if len(words) >= 2 and len(words[0]) <= 3 and words[0] not in ("ST", "SAINT", "NEW", "FT"):
        out.add(words[0] + " ".join(words[1:]))
    if words and words[0] in ("FT", "FORT"):
        rest = " ".join(words[1:])
        out |= {f"FT {rest}", f"FORT {rest}"}
    return {v for v in out if v}
