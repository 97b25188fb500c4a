"""Interface text from message catalogs (web/i18n/<lang>.yaml), English and Spanish."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

LANGUAGES = ("en", "es")
DEFAULT = "en"


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """The flat key -> text catalog of one language."""
    text = resources.files("icemonitor.web").joinpath(f"i18n/{lang}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"i18n/{lang}.yaml is not a mapping")
    return {str(k): str(v) for k, v in data.items()}


def translate(lang: str, key: str, **values: object) -> str:
    """Text for `key` in `lang`, formatted with `values`. A missing key is an error, not a silent fallback."""
    text = catalog(lang if lang in LANGUAGES else DEFAULT)[key]
    return text.format(**values) if values else text


def pick_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    """?lang= first, then the lang cookie, then Accept-Language."""
    for candidate in (query, cookie):
        if candidate in LANGUAGES:
            return candidate
    for part in (accept or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return DEFAULT


def number(lang: str, value: float | int | None, digits: int = 0) -> str:
    """Numbers with thousands separators. Spanish uses the US/Mexican convention (1,234.5) for US readers."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"
