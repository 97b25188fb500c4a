"""Babel extractor for the display text kept in curated data files (babel.cfg): YAML files (the string values of
the keys named in the option `keys`) and CSV files (the cells of the columns named in `columns`). Text is taken
as the code reads it: whitespace runs collapsed, an optional `strip_prefix` removed."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

import yaml


def _clean(text: str, prefix: str) -> str:
    return " ".join(text.removeprefix(prefix).split()) if prefix else " ".join(text.split())


def _yaml_texts(node: yaml.Node, keys: set[str]) -> Iterator[tuple[int, str]]:
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode) and k.value in keys:
                items = v.value if isinstance(v, yaml.SequenceNode) else [v]
                for item in items:
                    if isinstance(item, yaml.ScalarNode) and item.tag.endswith(":str") and item.value.strip():
                        yield item.start_mark.line + 1, item.value
            yield from _yaml_texts(v, keys)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _yaml_texts(item, keys)


def extract_data(fileobj: Any, keywords: Any, comment_tags: Any, options: dict[str, str]) -> Iterator[tuple]:
    """(line, funcname, message, comments) for each display text of a YAML or CSV data file."""
    text = fileobj.read().decode(options.get("encoding", "utf-8"))
    prefix = options.get("strip_prefix", "")
    name = getattr(fileobj, "name", "")
    if str(name).endswith((".yaml", ".yml")):
        root = yaml.compose(text)
        for line, value in _yaml_texts(root, set(options.get("keys", "").split())):
            yield line, None, _clean(value, prefix), []
        return
    columns = options.get("columns", "").split()
    lines = [(i, line) for i, line in enumerate(text.splitlines(), start=1) if not line.startswith("#")]
    reader = csv.DictReader(io.StringIO("\n".join(line for _, line in lines)))
    for row_index, row in enumerate(reader, start=1):
        for col in columns:
            if row.get(col, "").strip():
                yield lines[row_index][0], None, _clean(row[col], prefix), []


# ---------------------------------------------------------------- the command line's help texts


def extract_cli(fileobj: Any, keywords: Any, comment_tags: Any, options: dict[str, str]) -> Iterator[tuple]:
    """A command-line module: its msg(...) calls (Babel's Python extractor), and the help texts Typer shows
    (`--help`), said in ICEMONITOR_LANG / --lang by message id (messages.cli_lang.HelpInLanguage): every `help=`
    text, every module-level `..._HELP` text, and the docstring of every command (a function decorated with
    `.command(...)` or `.callback(...)`, or named `*_command` / `*_cmd`), as Typer cleans it (inspect.getdoc)."""
    from babel.messages.extract import extract_python

    yield from extract_python(fileobj, keywords, comment_tags, options)
    fileobj.seek(0)
    for line, text in help_texts(fileobj.read().decode(options.get("encoding", "utf-8"))):
        yield line, None, text, []


def help_texts(source: str) -> list[tuple[int, str]]:
    """(line, text) of the help texts in a command-line module's source (see extract_cli)."""
    import ast

    tree = ast.parse(source)
    known: dict[str, str] = {}  # module-level NAME = "text": help texts given by name
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = _text(node.value, known)
            if value is not None:
                known[node.targets[0].id] = value
    out = [(node.lineno, known[node.targets[0].id]) for node in tree.body
           if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
           and node.targets[0].id.endswith("_HELP") and node.targets[0].id in known]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                if kw.arg == "help" and (value := _text(kw.value, known)):
                    out.append((kw.value.lineno, value))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _is_command(node):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                out.append((node.lineno, doc))
    return out


def _text(node: Any, known: dict[str, str]) -> str | None:
    """A string constant, a known name, or their sum; None otherwise (f-strings, calls)."""
    import ast

    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return known.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _text(node.left, known), _text(node.right, known)
        return None if left is None or right is None else left + right
    return None


def _is_command(node: Any) -> bool:
    import ast

    if node.name.endswith(("_command", "_cmd")):
        return True
    for dec in node.decorator_list:
        func = dec.func if isinstance(dec, ast.Call) else dec
        if isinstance(func, ast.Attribute) and func.attr in ("command", "callback"):
            return True
    return False
