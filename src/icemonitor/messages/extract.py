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
