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
        raise typer.BadParameter(msg("choose one of {choices}", choices=", ".join(LANGS)), param_hint="--lang")
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


# the words around the help texts and errors that Typer prints (typer.rich_utils), said in the language asked for
HELP_FRAME = {"OPTIONS_PANEL_TITLE": msg("Options"), "COMMANDS_PANEL_TITLE": msg("Commands"),
              "ARGUMENTS_PANEL_TITLE": msg("Arguments"), "DEFAULT_STRING": msg("[default: {}]"),
              "REQUIRED_LONG_STRING": msg("[required]"), "ENVVAR_STRING": msg("[env var: {}]"),
              "DEPRECATED_STRING": msg("(deprecated) "), "ERRORS_PANEL_TITLE": msg("Error"),
              "ABORTED_TEXT": msg("Aborted."),
              "RICH_HELP": msg("Try [blue]'{command_path} {help_option}'[/] for help.")}
USAGE, HELP_OPTION = msg("Usage: "), msg("Show this message and exit.")

# The command line's own errors, as Typer's copy of click writes them (typer._click, typer.core: English f-strings,
# no gettext hook): the English as a pattern, and the message that says it (its placeholders: the pattern's groups).
# A group named `message` is itself said by these patterns (an invalid value's reason).
PARSE_ERRORS: list[tuple[str, Message]] = [
    (r"No such option: (?P<name>.+) \(Possible options: (?P<options>.+)\)",
     msg("No such option: {name} (Possible options: {options})")),
    (r"No such option: (?P<name>.+)", msg("No such option: {name}")),
    (r"No such command (?P<name>.+)\.", msg("No such command {name}.")),
    (r"Missing command\.", msg("Missing command.")),
    (r"Missing option (?P<name>.+)\. Choose from:\n\t(?P<choices>.+)",
     msg("Missing option {name}. Choose from:\n\t{choices}")),
    (r"Missing option (?P<name>.+)\.", msg("Missing option {name}.")),
    (r"Missing argument (?P<name>.+)\.", msg("Missing argument {name}.")),
    (r"Missing parameter: (?P<name>.+)", msg("Missing parameter: {name}")),
    (r"Invalid value for (?P<name>.+?): (?P<message>.+)", msg("Invalid value for {name}: {message}")),
    (r"Invalid value: (?P<message>.+)", msg("Invalid value: {message}")),
    (r"Got unexpected extra argument\(s\) \((?P<args>.+)\)", msg("Got unexpected extra argument(s) ({args})")),
    (r"Option (?P<name>.+) does not take a value\.", msg("Option {name} does not take a value.")),
    (r"Option (?P<name>.+) requires an argument\.", msg("Option {name} requires an argument.")),
    (r"Option (?P<name>.+) requires (?P<count>\d+) arguments\.", msg("Option {name} requires {count} arguments.")),
    (r"Argument (?P<name>.+) takes (?P<count>\d+) values\.", msg("Argument {name} takes {count} values.")),
    # an invalid value's reason, as pydantic says it (Typer checks values with pydantic)
    (r"Input should be a valid integer, unable to parse string as an integer",
     msg("Input should be a valid integer, unable to parse string as an integer")),
    (r"Input should be a valid number, unable to parse string as a number",
     msg("Input should be a valid number, unable to parse string as a number")),
    (r"Input should be greater than or equal to (?P<limit>.+)",
     msg("Input should be greater than or equal to {limit}")),
    (r"Input should be less than or equal to (?P<limit>.+)", msg("Input should be less than or equal to {limit}")),
    (r"Input should be greater than (?P<limit>.+)", msg("Input should be greater than {limit}")),
    (r"Input should be less than (?P<limit>.+)", msg("Input should be less than {limit}")),
]


def parse_error_text(text: str, lang: str, said: dict[str, str] | None = None) -> str:
    """A command-line error of Typer's (its English text) in `lang` (PARSE_ERRORS); `said`: English texts of the
    messages the error carries (e.g. a BadParameter raised with a message) with their translation. A text no
    pattern knows stays as written."""
    import re

    said = said or {}
    if text in said:
        return said[text]
    for pattern, message in PARSE_ERRORS:
        found = re.fullmatch(pattern, text, flags=re.DOTALL)
        if found:
            parts = found.groupdict()
            if "message" in parts:
                parts["message"] = parse_error_text(parts["message"], lang, said)
            return Message(message.msgid, **parts).render(lang)
    return text


def said_usage_error(err, lang: str):  # noqa: ANN001, ANN201 - Typer's UsageError
    """The same usage error (its command's context, its exit code) with its text in `lang`."""
    from typer._click.exceptions import UsageError

    carried = getattr(err, "message", None)
    said = {str(carried): carried.render(lang)} if isinstance(carried, Message) else {}
    out = UsageError(parse_error_text(err.format_message(), lang, said), ctx=err.ctx)
    out.exit_code = err.exit_code
    return out


def _language_context(lang: str):  # noqa: ANN202 - a Context class of Typer's click
    """A command context whose help formatter begins the usage line with `lang`'s word for "Usage:", and whose
    command's --help option says what it does in `lang`."""
    from typer._click.core import Context
    from typer._click.formatting import HelpFormatter

    usage, help_help = USAGE.render(lang), HELP_OPTION.render(lang)

    class Formatter(HelpFormatter):
        def write_usage(self, prog: str, args: str = "", prefix: str | None = None) -> None:
            super().write_usage(prog, args, usage if prefix is None else prefix)

    class ContextInLanguage(Context):
        formatter_class = Formatter

        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003 - click's signature
            super().__init__(*args, **kwargs)
            option = self.command.get_help_option(self)  # made once per command and kept (click's cache)
            if option is not None:
                option.help = help_help

    return ContextInLanguage


class HelpInLanguage(TyperGroup):
    """The program's command group: `--help`, the usage line and the command line's own errors in the language
    asked for (--lang, else ICEMONITOR_LANG)."""

    lang = "en"

    def main(self, args=None, *rest, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN201 - click's signature
        import sys

        from typer import rich_utils

        lang = asked_language(list(sys.argv[1:] if args is None else args))
        self.lang = lang if lang in LANGS else "en"
        if self.lang != "en":
            say_help_in(self, self.lang)
            context = _language_context(self.lang)
            todo = [self]
            while todo:  # every command's context: Typer builds the commands anew for each command line
                cmd = todo.pop()
                cmd.context_class = context
                todo.extend((getattr(cmd, "commands", None) or {}).values())
        for name, words in HELP_FRAME.items():  # set every time: one process may run several command lines
            setattr(rich_utils, name, words.render(self.lang))
        return super().main(args, *rest, **kwargs)

    def make_context(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - the program's own options
        return self._said(super().make_context, *args, **kwargs)

    def invoke(self, ctx):  # noqa: ANN001, ANN201 - a command's options and arguments
        return self._said(super().invoke, ctx)

    def _said(self, call, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        from typer._click.exceptions import NoArgsIsHelpError, UsageError

        try:
            return call(*args, **kwargs)
        except UsageError as err:
            if self.lang == "en" or isinstance(err, NoArgsIsHelpError):
                raise
            raise said_usage_error(err, self.lang) from None
