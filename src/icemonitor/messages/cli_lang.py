"""The command line's language: `--lang` (en or es), else ICEMONITOR_LANG, else English; one option for every
command that prints text (the analysis, detention, places and watch commands, `history` and the scheduler's log
lines). JSON output is unaffected."""

from __future__ import annotations

import os

import typer
from typer.core import TyperGroup
from rich.markup import escape

from icemonitor.messages import LANGS, Message, msg

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


def asked_language(args: list[str]) -> str:
    """The language a command line asks for (`--lang es` / `--lang=es`, else ICEMONITOR_LANG, else English)."""
    for i, a in enumerate(args):
        if a == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--lang="):
            return a.split("=", 1)[1]
    return _lang_default()


def say_help_in(command, lang: str) -> None:  # noqa: ANN001 - a click command or group
    """Give the command (and every sub-command) the help texts of `lang`, by message id (the English text, as
    messages.extract.extract_cli takes it); a text the catalog lacks stays as written."""
    from icemonitor.messages import catalog

    said = catalog(lang)
    todo = [command]
    while todo:
        cmd = todo.pop()
        for attr in ("help", "short_help"):
            text = getattr(cmd, attr, None)
            if text:
                setattr(cmd, attr, said.get(text, text))
        for param in cmd.params:
            if isinstance(getattr(param, "help", None), str) and param.help:
                param.help = said.get(param.help, param.help)
        todo.extend((getattr(cmd, "commands", None) or {}).values())  # a group's (Typer's own click: no isinstance)


# the words around the help texts that Typer prints (typer.rich_utils), said in the language asked for
HELP_FRAME = {"OPTIONS_PANEL_TITLE": msg("Options"), "COMMANDS_PANEL_TITLE": msg("Commands"),
              "ARGUMENTS_PANEL_TITLE": msg("Arguments"), "DEFAULT_STRING": msg("[default: {}]"),
              "REQUIRED_LONG_STRING": msg("[required]")}


class HelpInLanguage(TyperGroup):
    """The program's command group: `--help` in the language asked for (--lang, else ICEMONITOR_LANG)."""

    def main(self, args=None, *rest, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201 - click's signature
        import sys

        from typer import rich_utils

        lang = asked_language(list(sys.argv[1:] if args is None else args))
        lang = lang if lang in LANGS else "en"
        if lang != "en":
            say_help_in(self, lang)
        for name, words in HELP_FRAME.items():  # set every time: one process may run several command lines
            setattr(rich_utils, name, words.render(lang))
        return super().main(args, *rest, **kwargs)
