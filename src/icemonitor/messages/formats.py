"""One number and date format per language, everywhere text is shown (pages, reports, CLI text; JSON stays ISO).

English follows CLDR en_US and Spanish CLDR es_US (Spanish as written in the United States, the same numbers as
es_MX): 1,234.5 in both; days "Sep 24, 2017" / "24 sep 2017"; months "Sep 2017" / "sep 2017" (Babel's CLDR
data, medium date format); spans of days "Nov 1–30, 2026" / "1–30 nov 2026", "Apr 6 – Jun 10, 2025" /
"6 abr – 10 jun 2025" (the medium format, with what the two ends share said once).

Babel finds a skeleton's pattern anew on every call (a fifth of a page's render went to month labels), so each
formatted day, month and span is kept per language (LRU, FORMATTED entries each): the same text, once.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import cache, lru_cache
from typing import Any

LOCALES = {"en": "en_US", "es": "es_US"}
FORMATTED = 8192  # days, months or spans kept formatted per function (a few hundred bytes each)


@cache
def _locale(lang: str):
    from babel import Locale

    return Locale.parse(LOCALES.get(lang, LOCALES["en"]))


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def day(value: Any, lang: str) -> str:
    """A day in the language's medium format ('Sep 24, 2017', '24 sep 2017'); text that is not a date as it is."""
    d = _as_date(value)
    return _day(d, lang) if d else ("–" if value is None else str(value))


@lru_cache(maxsize=FORMATTED)
def _day(d: dt.date, lang: str) -> str:
    from babel.dates import format_date

    return format_date(d, "medium", locale=_locale(lang))


def span(first: Any, last: Any, lang: str) -> str:
    """Days from `first` to `last` in the language's medium format, saying once what both ends share:
    'Nov 1–30, 2026' / '1–30 nov 2026'; 'Apr 6 – Jun 10, 2025' / '6 abr – 10 jun 2025'; across years both
    days in full. One day is that day; an end that is not a date is shown as it is."""
    a, b = _as_date(first), _as_date(last)
    if a is None or b is None:
        return f"{day(first, lang)} – {day(last, lang)}"
    return _span(a, b, lang)


@lru_cache(maxsize=FORMATTED)
def _span(a: dt.date, b: dt.date, lang: str) -> str:
    from babel.dates import format_date, format_skeleton

    if a == b:
        return day(a, lang)
    loc = _locale(lang)
    if (a.year, a.month) == (b.year, b.month):  # the medium pattern with its day as 'first–last'
        pattern = re.sub(r"(?<![d'])d(?!d)", f"'{a.day}–'d", loc.date_formats["medium"].pattern, count=1)
        return format_date(b, pattern, locale=loc)
    start = format_skeleton("MMMd", a, locale=loc) if a.year == b.year else day(a, lang)
    return f"{start} – {day(b, lang)}"


def month(value: Any, lang: str) -> str:
    """A month ('Sep 2017', 'sep 2017') from a date or 'YYYY-MM'; other text as it is."""
    text = "" if value is None else str(value)
    d = _as_date(text + "-01" if len(text) == 7 else text)
    return _month(d.year, d.month, lang) if d else (text or "–")


@lru_cache(maxsize=FORMATTED)
def _month(year: int, month: int, lang: str) -> str:
    from babel.dates import format_skeleton

    return format_skeleton("yMMM", dt.date(year, month, 1), locale=_locale(lang))


def number(value: float | int | None, lang: str, digits: int = 0) -> str:
    """A number with thousands separators: 1,234.5 in both languages (CLDR en_US and es_US agree)."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"
