"""Numbers, percentages and dates in each language's conventions.

en: 1,234 / 33.5% / Sep 24, 2017.  es: 1,234 / 33.5 % / 24 sep 2017 (dates: messages/formats.py, CLDR medium).
Spanish numbers follow the convention of Mexico and of Spanish-language media in the U.S. (CLDR es_MX), the same
as the dashboard and its charts: one number format per language everywhere. The percent sign is separated by a
no-break space in es.
"""

from __future__ import annotations

import datetime as dt
import re

from icemonitor.errors import InputError
from icemonitor.messages import formats

NBSP = "\u00a0"
SEPARATORS = {"en": (",", "."), "es": (",", ".")}  # (group, decimal): es as in Mexico and the U.S., like the web


def _seps(lang: str) -> tuple[str, str]:
    if lang not in SEPARATORS:
        raise InputError("unknown report language; choose en or es", field="lang", value=lang)
    return SEPARATORS[lang]


def format_number(value: float | int, lang: str, decimals: int = 0) -> str:
    """A number with the language's grouping and decimal separators, rounded half away from zero."""
    group, decimal = _seps(lang)
    neg = value < 0
    scaled = round(abs(value) * 10**decimals + 1e-9)
    whole, frac = divmod(int(scaled), 10**decimals)
    digits = f"{whole:,}".replace(",", group)
    text = digits + (decimal + str(frac).zfill(decimals) if decimals else "")
    return ("-" if neg else "") + text


def format_count(value: int, lang: str) -> str:
    return format_number(int(value), lang, 0)


def format_percent(share: float, lang: str, decimals: int = 1) -> str:
    """A share (0..1) as a percentage: 33.5% (en), 33,5 % (es)."""
    text = format_number(share * 100, lang, decimals)
    return text + ("%" if lang == "en" else NBSP + "%")


def format_date(day: dt.date, lang: str) -> str:
    """A day as every text of the product writes it (messages/formats.py): 'Sep 24, 2017', '24 sep 2017'."""
    _seps(lang)
    return formats.day(day, lang)


def _months(lang: str) -> list[str]:
    from babel import Locale

    names = Locale.parse(formats.LOCALES[lang]).months["format"]["abbreviated"]
    return [names[i] for i in range(1, 13)]


def parse_date(text: str, lang: str) -> dt.date:
    """Inverse of format_date (used by tests and to read dates back out of rendered text)."""
    months = _months(lang)
    alt = "|".join(re.escape(m) for m in months)
    pattern = rf"({alt}) (\d{{1,2}}), (\d{{4}})" if lang == "en" else rf"(\d{{1,2}}) ({alt}) (\d{{4}})"
    m = re.fullmatch(pattern, text.strip())
    if not m:
        raise InputError("not a formatted date", field="date", value=text)
    month, day, year = (m.group(1), m.group(2), m.group(3)) if lang == "en" else (m.group(2), m.group(1), m.group(3))
    return dt.date(int(year), months.index(month) + 1, int(day))


def parse_number(text: str, lang: str) -> float:
    """Inverse of format_number / format_percent (the percent sign is dropped: '33,5 %' -> 33.5)."""
    group, decimal = _seps(lang)
    t = text.strip().rstrip("%").strip(NBSP + " ")
    if not re.fullmatch(r"-?\d{1,3}(" + re.escape(group) + r"\d{3})*(" + re.escape(decimal) + r"\d+)?", t):
        raise InputError("not a formatted number", field="number", value=text)
    return float(t.replace(group, "").replace(decimal, "."))
