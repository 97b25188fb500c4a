"""Display text as messages: a message id (the English text, with named {placeholders}) and its parameters.

The analyses return `Message`s; each presentation layer (CLI, web, reports) renders them in its language through
the gettext catalog `messages/locale/<lang>/LC_MESSAGES/icemonitor.po` (docs/i18n.md). A `Message` is also a `str`
holding its English rendering, so JSON, the CLI and English pages need no change. The .po file is read at run time
with Babel's reader (no compiled .mo is kept or built). A message with no translation is an error, never an English
fallback: `make messages` extracts the ids (babel.cfg) and tests/test_messages.py checks every id has Spanish.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from importlib import resources
from typing import Any

LANGS = ("en", "es")
DOMAIN = "icemonitor"


class MissingTranslation(LookupError):
    """A message id with no translation in a language's catalog (run `make messages` and translate it)."""


class Message(str):
    """Display text: `msgid` (English with {named} placeholders) and `params`; the str value is the English text.

    Parameters may be Messages themselves (rendered in the same language), lists of them (joined with ", "), days
    (`datetime.date`) and spans of days (`DateSpan`), said in the language's date format ("Nov 1–30, 2026" /
    "1–30 nov 2026"), or plain values (figures, codes, release ids: the same in every language; format specs such
    as {n:,} apply)."""

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


def to_date(value: Any) -> dt.date:
    """A day (date, datetime or ISO text) as a message parameter that is said in the reader's language."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


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


class DateSpan(Message):
    """Days from `first` to `last` (dates or ISO text), said in the reader's language: 'Apr 6 – Jun 10, 2025' /
    '6 abr – 10 jun 2025', 'Nov 1–30, 2026' / '1–30 nov 2026' (formats.span). The str value is the English text;
    `iso` is 'first..last' (for JSON fields, which stay ISO)."""

    first: dt.date
    last: dt.date

    def __new__(cls, first: Any, last: Any, /) -> DateSpan:
        from icemonitor.messages import formats

        a, b = to_date(first), to_date(last)
        obj = str.__new__(cls, formats.span(a, b, "en"))
        obj.msgid, obj.params, obj.first, obj.last = "{first}..{last}", {"first": a, "last": b}, a, b
        return obj

    @property
    def iso(self) -> str:
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    def render(self, lang: str) -> str:
        from icemonitor.messages import formats

        if lang not in LANGS:
            raise MissingTranslation(f"no catalog for language {lang!r}; choose one of {', '.join(LANGS)}")
        return formats.span(self.first, self.last, lang)

    def messages(self) -> list[Message]:
        return []  # no catalog entry: said by the language's date format

    def __reduce__(self):
        return (DateSpan, (self.first, self.last))


class Month(Message):
    """A month (a date in it, or 'YYYY-MM'), said in the reader's language: 'Sep 2017' / 'sep 2017'."""

    first: dt.date

    def __new__(cls, value: Any, /) -> Month:
        from icemonitor.messages import formats

        text = str(value)
        a = to_date(text + "-01" if len(text) == 7 else value).replace(day=1)
        obj = str.__new__(cls, formats.month(a, "en"))
        obj.msgid, obj.params, obj.first = "{month}", {"month": a}, a
        return obj

    def render(self, lang: str) -> str:
        from icemonitor.messages import formats

        if lang not in LANGS:
            raise MissingTranslation(f"no catalog for language {lang!r}; choose one of {', '.join(LANGS)}")
        return formats.month(self.first, lang)

    def messages(self) -> list[Message]:
        return []  # no catalog entry: said by the language's date format

    def __reduce__(self):
        return (Month, (self.first,))


def _rebuild(cls: type, msgid: str, params: dict[str, Any]) -> Message:
    return cls(msgid, **params)


def _rebuild_given(msgid: str, texts: dict[str, str]) -> Given:
    return Given(msgid, **{k: v for k, v in texts.items() if k != "en"})


msg = Message  # the extraction keyword (babel.cfg, Makefile `messages`): msg("English text {name}", name=...)


def _value(value: Any, lang: str) -> Any:
    if isinstance(value, Message):
        return value.render(lang) if lang != "en" else str(value)
    if isinstance(value, dt.date):
        from icemonitor.messages import formats

        return formats.day(value, lang)
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


def semicolons(items: list[Any]) -> Any:
    """Items joined with '; ' as one message (each rendered in the reader's language)."""
    out: Any = items[0]
    for item in items[1:]:
        out = msg("{a}; {b}", a=out, b=item)
    return out


def to_json(message: Message | list[Any]) -> str:
    """A message (or a list of messages and plain texts) as JSON text (its id and parameters, nested messages, days
    and spans of days tagged), to be kept in a warehouse table or the state database and rebuilt by `from_json` in
    any language (e.g. detention_exclusions.evidence_message, refreshes.messages)."""
    return json.dumps(_encode(message), ensure_ascii=False)


def from_json(text: str) -> Any:
    """The message (or list) `to_json` kept (also the older form {"msgid", "params"} with plain parameters)."""
    return _decode(json.loads(text))


def kept_text(kept: str | None, text: str | None, lang: str) -> str:
    """Display text kept in a database, said in `lang`: rebuilt from its messages where they were kept (`kept`:
    to_json of a message or a list of them, one line each); else `text` as stored, each line that is a message id
    (the English of a message without parameters, all older rows kept) translated, any other line as it is."""
    if kept:
        value = from_json(kept)
        lines = value if isinstance(value, list) else [value]
        return "\n".join(v.render(lang) if isinstance(v, Message) else str(v) for v in lines)
    if not text or lang == "en":
        return text or ""
    known = catalog(lang)
    return "\n".join(known.get(line, line) for line in text.split("\n"))


def _encode(value: Any) -> Any:
    if isinstance(value, Given):
        return {"given": value.texts}
    if isinstance(value, DateSpan):
        return {"span": [value.first.isoformat(), value.last.isoformat()]}
    if isinstance(value, Month):
        return {"month": value.first.isoformat()}
    if isinstance(value, Message):
        return {"msgid": value.msgid, "params": {k: _encode(v) for k, v in value.params.items()}}
    if isinstance(value, dt.date):
        return {"date": value.isoformat()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "msgid" in value:
        return Message(value["msgid"], **{k: _decode(v) for k, v in (value.get("params") or {}).items()})
    if "given" in value:
        texts = dict(value["given"])
        return Given(texts.pop("en"), **texts)
    if "span" in value:
        return DateSpan(*value["span"])
    if "month" in value:
        return Month(value["month"])
    if "date" in value:
        return dt.date.fromisoformat(value["date"])
    return value


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
