"""The `icemonitor` command line: one sub-command per pipeline stage."""

from __future__ import annotations

import os
import sys

import click
import typer
from rich.markup import escape
from rich.console import Console

from icemonitor.errors import IcemonitorError
from icemonitor.messages import LANGS, Message, msg
from icemonitor.messages.cli_lang import HelpInLanguage, error_text

app = typer.Typer(
    cls=HelpInLanguage,  # --help in --lang / ICEMONITOR_LANG
    name="icemonitor",
    help="ICE enforcement records, ingested, placed and analysed, with their definitions and sources.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
console = Console(stderr=True)


def fail(err: Exception) -> None:
    """Print a user-facing error (one line and a hint) and exit 2."""
    _report(err)
    raise typer.Exit(code=2)


def _register() -> None:
    """Attach each stage's commands. Stages own their CLI modules (icemonitor/<stage>/cli.py)."""
    import importlib

    for module in (
        "icemonitor.catalog.cli",
        "icemonitor.warehouse.cli",
        "icemonitor.places.cli",
        "icemonitor.analysis.cli",
        "icemonitor.analysis.detention_cli",
        "icemonitor.web.cli",
        "icemonitor.watch.cli",
        "icemonitor.intake.cli",
        "icemonitor.present.cli",
    ):
        importlib.import_module(module).register(app)


_register()


DEBUG_FLAG = "--debug"
GENERIC_HINT = msg("see `icemonitor COMMAND --help` for the options; add --debug to see where it failed")
BUG_HINT = msg("this looks like a bug in icemonitor: run the same command with --debug and report the traceback")
ERROR_LABEL, HINT_LABEL = msg("error:"), msg("hint:")
WHICH_ONE = msg("which one (number)")


@app.callback()
def _options(debug: bool = typer.Option(False, DEBUG_FLAG, help="Show the full traceback of any error.")) -> None:
    """ICE enforcement records, ingested, placed and analysed, with their definitions and sources."""


def main(argv: list[str] | None = None) -> None:
    """The `icemonitor` program. A user error prints one line and a hint and exits 2; `--debug` (anywhere on the
    command line) shows the traceback instead. An ambiguous value with choices (e.g. `--place LA`) is asked for
    when a person is at the terminal, else the choices are printed."""
    args = list(sys.argv[1:] if argv is None else argv)
    end = args.index("--") if "--" in args else len(args)
    debug = DEBUG_FLAG in args[:end]
    args = [a for i, a in enumerate(args) if i >= end or a != DEBUG_FLAG]
    while True:
        try:
            app(args=args, prog_name="icemonitor")
        except IcemonitorError as err:
            if debug:
                raise
            choice = _ask(err, _text_language(args)) if getattr(err, "choices", None) else None
            if choice is None:
                _report(err, lang=_text_language(args))
                sys.exit(2)
            args = _replace_value(args, str(err.value), choice)
        except (KeyboardInterrupt, EOFError):
            sys.exit(130)
        except Exception as err:
            if debug:
                raise
            _report(err, prefix=f"unexpected {type(err).__name__}: ", hint=BUG_HINT, lang=_text_language(args))
            sys.exit(1)


def _text_language(args: list[str]) -> str:
    """The language a command's text is asked in (`--lang es` / `--lang=es`, else ICEMONITOR_LANG): its input
    errors are said in it too; English otherwise."""
    for i, a in enumerate(args):
        if a == "--lang" and i + 1 < len(args):
            return args[i + 1]
        if a.startswith("--lang="):
            return a.split("=", 1)[1]
    return os.environ.get("ICEMONITOR_LANG", "en")


def _report(err: Exception, prefix: str = "", hint: str | None = None, lang: str = "en") -> None:
    """The error on one line (an input error in `lang` when it has that language), then its hint (a message:
    in `lang` too)."""
    lang = lang if lang in LANGS else "en"
    text = error_text(err, lang)
    hint = hint or getattr(err, "hint", None) or GENERIC_HINT
    said = hint.render(lang) if isinstance(hint, Message) else str(hint)
    console.print(f"[bold red]{escape(ERROR_LABEL.render(lang))}[/] {escape(prefix + ' '.join(text.split()))}",
                  highlight=False, soft_wrap=True)
    console.print(f"[bold]{escape(HINT_LABEL.render(lang))}[/] {escape(said)}", highlight=False, soft_wrap=True)


def _ask(err: IcemonitorError, lang: str = "en") -> str | None:
    """Ask which of `err.choices` ((value, label) pairs) was meant, in `lang`; None when nobody is at the
    terminal."""
    if not sys.stdin.isatty():
        return None
    choices: list[tuple[str, str]] = err.choices  # type: ignore[attr-defined]
    lang = lang if lang in LANGS else "en"
    console.print(escape(error_text(err, lang)), highlight=False)
    for i, (_, label) in enumerate(choices, 1):
        console.print(f"  {i}. {escape(label.render(lang) if isinstance(label, Message) else str(label))}",
                      highlight=False)
    picked = click.prompt(WHICH_ONE.render(lang), type=click.IntRange(1, len(choices)), err=True)
    return choices[picked - 1][0]


def _replace_value(args: list[str], old: str, new: str) -> list[str]:
    """The command line with the option value `old` (as `--opt old` or `--opt=old`) replaced by `new`."""
    out = []
    for i, a in enumerate(args):
        if a == old and i > 0 and args[i - 1].startswith("--"):
            out.append(new)
        elif "=" in a and a.startswith("--") and a.split("=", 1)[1] == old:
            out.append(a.split("=", 1)[0] + "=" + new)
        else:
            out.append(a)
    return out
