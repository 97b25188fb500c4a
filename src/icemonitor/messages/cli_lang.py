"""The command line's language: `--lang` (en or es), else ICEMONITOR_LANG, else English; one option for every
command that prints text (the analysis, detention, places and watch commands, `history` and the scheduler's log
lines). JSON output is unaffected."""

from __future__ import annotations

import os

import typer
from rich.markup import escape

from icemonitor.messages import LANGS, Message

LANG_HELP = "language of the text output: en or es (default: ICEMONITOR_LANG, else en); --json is unaffected"


def _lang_default() -> str:
    return os.environ.get("ICEMONITOR_LANG", "en")


def _check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise typer.BadParameter(f"choose one of {', '.join(LANGS)}", param_hint="--lang")
    return lang


def error_text(err: Exception, lang: str) -> str:
    """An error's text in `lang`: an input error, or one raised with a message, in its translation; other errors
    as written."""
    if callable(getattr(err, "render", None)):
        return err.render(lang)
    if len(err.args) == 1 and isinstance(err.args[0], Message):
        return err.args[0].render(lang)
    return str(err)


def _label(label: Message, lang: str, style: str = "bold") -> str:
    """A line's label in `lang`, styled (Rich markup)."""
    return f"[{style}]{escape(label.render(lang))}[/]"
