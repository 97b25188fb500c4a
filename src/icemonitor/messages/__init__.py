"""Display text as messages: a message id (the English text, with named {placeholders}) and its parameters.

The analyses return `Message`s; each presentation layer (CLI, web, reports) renders them in its language through
the gettext catalog `messages/locale/<lang>/LC_MESSAGES/icemonitor.po` (docs/i18n.md). A `Message` is also a `str`
holding its English rendering, so JSON, the CLI and English pages need no change. The .po file is read at run time
with Babel's reader (no compiled .mo is kept or built). A message with no translation is an error, never an English
fallback: `make messages` extracts the ids (babel.cfg) and tests/test_messages.py checks every id has Spanish.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

LANGS = ("en", "es")
DOMAIN = "icemonitor"


class MissingTranslation(LookupError):
    """A message id with no translation in a language's catalog (run `make messages` and translate it)."""


class Message(str):
    """Display text: `msgid` (English with {named} placeholders) and `params`; the str value is the English text.

    Parameters may be Messages themselves (rendered in the same language), lists of them (joined with ", ") or
    plain values (figures, codes, release ids: the same in every language; format specs such as {n:,} apply)."""

    msgid: str
    params: dict[str, Any]

    def __new__(cls, msgid: str, /, **params: Any) -> Message:
        obj = super().__new__(cls, _fill(msgid, params, "en"))
        obj.msgid = msgid
        obj.params = params
        return obj

    def render(self, lang: str) -> str:
        """The text in `lang` (MissingTranslation if the catalog lacks it)."""
        return _fill(gettext(lang, self.msgid), self.params, lang)

    def messages(self) -> list[Message]:
        """This message and every message among its parameters (for completeness checks)."""
        out = [self]
        for v in self.params.values():
            for item in v if isinstance(v, (list, tuple)) else [v]:
                if isinstance(item, Message):
                    out += item.messages()
        return out

    def __reduce__(self):
        return (_rebuild, (type(self), self.msgid, self.params))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.msgid!r}, **{self.params!r})"


class Given(Message):
    """Text whose translations come with it from a curated data file that keeps both languages side by side
    (e.g. catalog/known_problems.csv problem_en / problem_es), not from the gettext catalog."""

    texts: dict[str, str]

    def __new__(cls, msgid: str, /, **texts: str) -> Given:
        obj = super().__new__(cls, msgid)
        obj.texts = {"en": msgid, **texts}
        return obj

    def render(self, lang: str) -> str:
        if lang not in self.texts:
            raise MissingTranslation(f"no {lang} text for {self.msgid!r}")
        return self.texts[lang]

    def __reduce__(self):
        return (_rebuild_given, (self.msgid, self.texts))


def _rebuild(cls: type, msgid: str, params: dict[str, Any]) -> Message:
    return cls(msgid, **params)


def _rebuild_given(msgid: str, texts: dict[str, str]) -> Given:
    return Given(msgid, **{k: v for k, v in texts.items() if k != "en"})


msg = Message  # the extraction keyword (babel.cfg, Makefile `messages`): msg("English text {name}", name=...)


def _value(value: Any, lang: str) -> Any:
    if isinstance(value, Message):
        return value.render(lang) if lang != "en" else str(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_value(v, lang)) for v in value)
    return value


def _fill(template: str, params: dict[str, Any], lang: str) -> str:
    if not params:
        return template
    return template.format_map({k: _value(v, lang) for k, v in params.items()})


@cache
def catalog(lang: str) -> dict[str, str]:
    """msgid -> translation of `lang`'s catalog, read from its .po file (fuzzy and empty entries left out)."""
    from babel.messages.pofile import read_po

    if lang not in LANGS:
        raise MissingTranslation(f"no catalog for language {lang!r}; choose one of {', '.join(LANGS)}")
    if lang == "en":
        return {}
    path = resources.files("icemonitor.messages").joinpath(f"locale/{lang}/LC_MESSAGES/{DOMAIN}.po")
    with path.open("rb") as f:
        po = read_po(f, locale=lang, domain=DOMAIN)
    return {m.id: m.string for m in po if m.id and isinstance(m.id, str) and m.string and not m.fuzzy}


def gettext(lang: str, msgid: str) -> str:
    """The translation of `msgid` (English: the id itself). No fallback to English."""
    if lang == "en":
        return msgid
    try:
        return catalog(lang)[msgid]
    except KeyError:
        raise MissingTranslation(f"no {lang} translation for message {msgid!r}") from None


def render(value: Any, lang: str) -> Any:
    """`value` with every Message in it rendered in `lang` (lists, tuples and dict values too); other values as
    they are."""
    if isinstance(value, Message):
        return value.render(lang)
    if isinstance(value, dict):
        return {k: render(v, lang) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(render(v, lang) for v in value)
    return value
