"""Interface text from message catalogs (web/i18n/<lang>.yaml), English and Spanish."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from markupsafe import Markup, escape

from icemonitor.messages import Message, formats
from icemonitor.schema import load_yaml

LANGUAGES = ("en", "es")
DEFAULT = "en"


@lru_cache(maxsize=None)
def catalog(lang: str) -> dict[str, str]:
    """The flat key -> text catalog of one language."""
    text = resources.files("icemonitor.web").joinpath(f"i18n/{lang}.yaml").read_text(encoding="utf-8")
    data = load_yaml(text)
    if not isinstance(data, dict):
        raise ValueError(f"i18n/{lang}.yaml is not a mapping")
    return {str(k): str(v) for k, v in data.items()}


def translate(lang: str, key: str, **values: object) -> str:
    """Text for `key` in `lang`, formatted with `values`. A missing key is an error, not a silent fallback."""
    text = catalog(lang if lang in LANGUAGES else DEFAULT)[key]
    return text.format(**values) if values else text


def has_text(lang: str, key: str) -> bool:
    """Whether the catalog has `key` (for labels of columns an analysis may add later)."""
    return key in catalog(lang if lang in LANGUAGES else DEFAULT)


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


def api_language(query: str | None, accept: str | None) -> str:
    """The language of the JSON API's texts (its error messages): ?lang=, else Accept-Language, else English (no
    cookie: a program's request names its language itself)."""
    return pick_language(query, None, accept)


def number(lang: str, value: float | int | None, digits: int = 0) -> str:
    """Numbers with thousands separators, one format per language (messages/formats.py: 1,234.5 in both)."""
    return formats.number(value, lang, digits)


# ---------------------------------------------------------------- analysis text (icemonitor.messages)


def analysis_text(lang: str, text: object) -> str:
    """Display text of the analyses in `lang`: a Message is rendered from the gettext catalogs (an untranslated one
    is an error, never English on a Spanish page); other values (codes, figures, source text) are shown as they
    are; None -> ""."""
    if text is None:
        return ""
    if isinstance(text, Message):
        return text.render(lang if lang in LANGUAGES else DEFAULT)
    return str(text)


def analysis_markup(lang: str, text: object) -> Markup:
    """HTML for analysis output on a `lang` page: analysis_text, escaped (source text is never trusted)."""
    return escape(analysis_text(lang, text))
