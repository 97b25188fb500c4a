"""Interface text from message catalogs (web/i18n/<lang>.yaml), English and Spanish."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import yaml
from markupsafe import Markup, escape

from icemonitor.catalog.catalog import load_catalog

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


def number(lang: str, value: float | int | None, digits: int = 0) -> str:
    """Numbers with thousands separators. Spanish uses the US/Mexican convention (1,234.5) for US readers."""
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


# ---------------------------------------------------------------- analysis text (English from icemonitor.analysis)

Segment = tuple[str, str | None]  # (text, language of the text when it differs from the page: "en"; else None)


@dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    es: str
    translate: tuple[str, ...]


@cache
def analysis_catalog(lang: str) -> tuple[dict[str, str], tuple[_Pattern, ...]]:
    """Exact English text -> translation and the patterns for text with figures (web/i18n/analysis_<lang>.yaml)."""
    path = resources.files("icemonitor.web").joinpath(f"i18n/analysis_{lang}.yaml")
    if not path.is_file():
        return {}, ()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    texts: dict[str, str] = {}
    for source, group in data["texts"].items():
        for en, tr in group.items():
            if en in texts and texts[en] != tr:
                raise ValueError(f"i18n/analysis_{lang}.yaml: two translations of {en!r} ({source})")
            texts[str(en)] = str(tr)
    if lang == "es":  # what a subset release holds, in both languages in the catalog (releases.yaml `subset`)
        texts.update((r.subset.en, r.subset.es) for r in load_catalog().releases if r.subset)
    patterns = []
    for p in data.get("patterns", []):
        regex = re.compile(p["en"])
        placeholders = set(re.findall(r"\{(\w+)\}", p[lang]))
        if placeholders != set(regex.groupindex):
            raise ValueError(f"i18n/analysis_{lang}.yaml: pattern {p['en']!r} and its translation use different groups")
        patterns.append(_Pattern(regex, p[lang], tuple(p.get("translate", ()))))
    return texts, tuple(patterns)


def analysis_segments(lang: str, text: str, _depth: int = 0) -> list[Segment]:
    """`text` (English, from the analysis library) in `lang`, as segments; untranslated parts are marked "en"."""
    if lang == "en" or lang not in LANGUAGES or not text:
        return [(text, None)]
    texts, patterns = analysis_catalog(lang)
    if text in texts:
        return [(texts[text], None)]
    if _depth < 4:
        for p in patterns:
            m = p.regex.fullmatch(text)
            if m is None:
                continue
            out: list[Segment] = []
            for i, part in enumerate(re.split(r"\{(\w+)\}", p.es)):
                if i % 2 == 0:
                    out.append((part, None))
                elif part in p.translate:
                    out.extend(analysis_segments(lang, m.group(part), _depth + 1))
                else:
                    out.append((m.group(part), None))
            return [s for s in out if s[0]]
    return [(text, "en")]


def analysis_text(lang: str, text: str | None) -> str:
    """Plain-text translation of analysis output (untranslated parts stay English); None -> ""."""
    return "".join(s for s, _ in analysis_segments(lang, str(text))) if text is not None else ""


def analysis_markup(lang: str, text: object) -> Markup:
    """HTML for analysis output on a `lang` page: translated and escaped; parts with no translation are wrapped
    in <span lang="en">. Source text is always escaped, never trusted."""
    if text is None:
        return Markup("")
    return Markup("").join(
        Markup('<span lang="{}">{}</span>').format(seg_lang, s) if seg_lang else escape(s)
        for s, seg_lang in analysis_segments(lang, str(text)))
