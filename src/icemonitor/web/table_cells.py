"""The text of a figure's data table cells (templates/_macros.html: `cell` and `figure`), written in Python: the
same rules in a Jinja loop cost ~10 microseconds a cell, a third of the overview's rendering at 8x."""

from __future__ import annotations

from numbers import Number
from typing import Any, Iterable

from jinja2 import Undefined
from markupsafe import Markup, escape

from icemonitor.messages import formats
from icemonitor.web import i18n

MISSING = Undefined()  # a row without the column: as Jinja's row[key] gives it (empty text, falsy)
ROW_END = "</tr>\n      "  # what the template wrote after each row


def cell_text(col: str, value: Any, lang: str) -> str:
    """One cell, unescaped: a method class or criminality class by its label, a number with thousands separators
    (two decimals for a float; fiscal and calendar years as they are), None as '–', a month or day in the
    language's format, anything else as it is."""
    if col == "method_class":
        return i18n.translate(lang, "class." + str(value or "unclassified"))
    if col == "criminality":
        return i18n.translate(lang, "crim." + str(value or "unknown"))
    if isinstance(value, Number) and col not in ("fy", "year"):
        return formats.number(value, lang, 2 if isinstance(value, float) else 0)
    if value is None:
        return "–"
    if col == "month":
        return formats.month(value, lang)
    if col in ("day", "date"):
        return formats.day(value, lang)
    return value


def cell(col: str, value: Any, lang: str) -> Markup:
    """`{{ cell(...) }}` of the templates: cell_text, escaped."""
    return escape(cell_text(col, value, lang))


def figure_rows(rows: Iterable[dict[str, Any]], columns: Iterable[tuple[str, str]], lang: str) -> Markup:
    """The <tr> rows of a figure's data table, each cell of `columns` (key, label) by cell()."""
    keys = [k for k, _ in columns]
    out: list[str] = []
    for row in rows:
        out.append("<tr>")
        for key in keys:
            out.append("<td>")
            out.append(escape(cell_text(key, row.get(key, MISSING), lang)))
            out.append("</td>")
        out.append(ROW_END)
    return Markup("".join(out))
