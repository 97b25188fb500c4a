"""Message catalogs: one YAML file of report text per language (en.yaml, es.yaml)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import yaml

from icemonitor.errors import InputError

LANGS = ("en", "es")


@lru_cache(maxsize=None)
def messages(lang: str) -> dict[str, str]:
    """The catalog of `lang` (key -> text with {placeholders})."""
    if lang not in LANGS:
        raise InputError("unknown report language; choose en or es", field="lang", value=lang)
    text = resources.files("icemonitor.present.i18n").joinpath(f"{lang}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return {str(k): str(v) for k, v in data.items()}
