"""ICE detention-statistics workbooks (``FY26_detentionStats_04092026.xlsx`` ...): every known table, found by its
title anywhere in a sheet, as one long table of values with sheet, cell and the date ICE states for it.

Which sheets are read, which titles are tables, which footnote gives a table's date and what labels mean are data
(``readers/data/detention_*.csv``). A title-like heading that is not listed is reported (status ``unknown_title``),
never read; a value cell holding text stops its table (status ``stopped``, naming file, sheet and cell).
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

import polars as pl
from python_calamine import CalamineError, CalamineWorkbook

from icemonitor.errors import InputError
from icemonitor.messages import Message, msg, to_json
from icemonitor.readers import SourceFile
from icemonitor.readers._xlsx import open_workbook, sheet_rows

_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2,4})")
_STATED = re.compile(r"(?:through|snapshot as(?: of)?|as of)\s+(\d{1,2}/\d{1,2}/\d{2,4})", re.I)
_SOURCE_DATE = re.compile(r"^(?:Data )?Source: .*?(\d{1,2}/\d{1,2}/\d{2,4})\s*$", re.I)
# the date of a table whose topic is "note": "as of 4/10/2021" in its title, else "Data from BI Inc. Participants
# Report, 04.04.2026" (or "Court Data from BI Inc. as of 1/31/2023") in a note under it
_TITLE_AS_OF = re.compile(r"\bas of (\d{1,2}/\d{1,2}/\d{2,4})", re.I)
_NOTE_DATE = re.compile(r"^(?:Court )?Data from .*?(\d{1,2})[./](\d{1,2})[./](\d{2,4})\b", re.I)
NOTE_ROWS = 4  # rows under a table searched for its note
READ_ROLES = ("detention", "facilities", "atd", "semiannual", "vulnerable")
_FY = re.compile(r"FY ?(\d{4}|\d{2})\b", re.I)
_MONTH_KEY = re.compile(r"^m(\d\d)$")
_FY_LABEL = re.compile(r"(EO)?FY ?\d{2,4}", re.I)
# A heading that may be a table title: long enough, alone at its right, above a row of at least two labels.
_TITLE_MIN_CHARS = 18

def _rows(name: str) -> list[dict[str, str]]:
    text = (resources.files("icemonitor.readers") / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


@lru_cache(maxsize=65536)
def _norm_text(text: str) -> str:
    return " ".join(text.split())


def norm(text: object) -> str:
    """A label as compared: spaces (including non-breaking) collapsed, trimmed."""
    return _norm_text(text if isinstance(text, str) else str(text))


@dataclass(frozen=True)
class TableSpec:
    pattern: re.Pattern
    key: str | None
    topic: str | None
    unit: str | None
    row_groups: frozenset[str]
    value_headers: re.Pattern | None
    header: tuple[str, ...]  # leading header labels that find a wide table without its title


@cache
def table_specs() -> tuple[TableSpec, ...]:
    return tuple(
        TableSpec(
            re.compile(r["pattern"], re.I), r["table_key"] or None, r["topic"] or None, r["unit"] or None,
            frozenset(norm(g).lower() for g in r["row_groups"].split("|") if g),
            re.compile(r["value_headers"], re.I) if r["value_headers"] else None,
            tuple(norm(h) for h in r["header"].split("|") if h),
        )
        for r in _rows("detention_tables.csv")
    )


@cache
def sheet_roles() -> tuple[tuple[re.Pattern, str], ...]:
    return tuple((re.compile(r["pattern"], re.I), r["role"]) for r in _rows("detention_sheets.csv"))


@cache
def footnote_topics() -> tuple[tuple[re.Pattern, str], ...]:
    return tuple((re.compile(r["pattern"], re.I), r["topic"]) for r in _rows("detention_footnotes.csv"))


@cache
def label_keys() -> dict[str, str]:
    return {norm(r["label"]).lower(): r["key"] for r in _rows("detention_labels.csv")}


@cache
def column_units() -> tuple[tuple[re.Pattern, str], ...]:
    """Column headers whose numbers have their own unit (a cost, a length in days, a share)."""
    return tuple((re.compile(r["pattern"], re.I), r["unit"]) for r in _rows("detention_units.csv"))


@lru_cache(maxsize=4096)
def unit_of(column: str | None, table_unit: str | None) -> str | None:
    for pattern, unit in column_units():
        if column and pattern.fullmatch(column):
            return unit
    return table_unit


@cache
def no_value_marks() -> frozenset[str]:
    return frozenset(r["marker"] for r in _rows("detention_no_value.csv"))


def spec_for(title: str) -> TableSpec | None:
    return _spec_for(norm(title))


@lru_cache(maxsize=16384)
def _spec_for(t: str) -> TableSpec | None:
    for spec in table_specs():
        if spec.pattern.fullmatch(t):
            return spec
    return None


def sheet_role(sheet: str) -> str | None:
    for pattern, role in sheet_roles():
        if pattern.search(sheet.strip()):
            return role
    return None


@lru_cache(maxsize=1024)
def column_letter(j: int) -> str:
    s, j = "", j + 1
    while j:
        j, r = divmod(j - 1, 26)
        s = chr(65 + r) + s
    return s


def cell_name(i: int, j: int) -> str:
    return f"{column_letter(j)}{i + 1}"


def parse_date(text: str) -> dt.date | None:
    m = _DATE.search(text)
    if not m:
        return None
    month, day, year = (int(g) for g in m.groups())
    year += 2000 if year < 100 else 0
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def fiscal_year_of(text: str) -> int | None:
    m = _FY.search(text)
    if not m:
        return None
    y = int(m.group(1))
    return y + 2000 if y < 100 else y


def _empty(c: object) -> bool:
    return c is None or (isinstance(c, str) and not c.strip())


def _number(c: object) -> bool:
    return isinstance(c, (int, float)) and not isinstance(c, bool)


def _get(rows: list[list[object]], i: int, j: int) -> object:
    return rows[i][j] if i < len(rows) and j < len(rows[i]) else None


# ---------------------------------------------------------------- stated dates (Footnotes sheet)


def stated_dates(rows: list[list[object]]) -> dict[str, dt.date]:
    """topic -> the first date a Footnotes section states ("updated through", "snapshot as of")."""
    out: dict[str, dt.date] = {}
    topic = None
    for r in rows:
        head = norm(r[0]) if r and not _empty(r[0]) else ""
        if head and len(r) > 1 and not _empty(r[1]):
            topic = next((t for p, t in footnote_topics() if p.search(head)), None)
        for c in r[:3]:
            if topic and topic not in out and isinstance(c, str):
                m = _STATED.search(c)
                if m and (d := parse_date(m.group(1))):
                    out[topic] = d
    return out


# ---------------------------------------------------------------- finding tables


@dataclass
class Found:
    """One table (or unknown title) found in a sheet."""

    sheet: str
    title: str
    i: int  # row index of the title
    j: int  # column index of the title
    spec: TableSpec | None
    end: int = 0  # column index past the table's last column
    data: list[int] | None = None  # row indexes of the data rows, once found


def _title_like(rows: list[list[object]], i: int, j: int) -> bool:
    c = rows[i][j]
    if not isinstance(c, str) or len(norm(c)) < _TITLE_MIN_CHARS or not _empty(_get(rows, i, j + 1)):
        return False
    below = [_get(rows, i + 1, k) for k in range(j, j + 4)]
    return isinstance(below[0], str) and not _empty(below[0]) and sum(not _empty(b) for b in below) >= 2


def _wide_table_at(sheet: str, rows: list[list[object]], i: int) -> Found | None:
    """A wide table (facility list) whose header row is row i + 1: the row above it is taken as its title row."""
    if i + 1 >= len(rows) or not isinstance(rows[i + 1][0] if rows[i + 1] else None, str):
        return None
    for spec in table_specs():
        if spec.value_headers is None or not spec.header or norm(rows[i + 1][0]) != spec.header[0]:
            continue
        if [norm(c) for c in rows[i + 1][: len(spec.header)]] != list(spec.header):
            continue
        title = next((norm(c) for c in rows[i] if isinstance(c, str) and spec.pattern.fullmatch(norm(c))), None)
        return Found(sheet, title or f"(header row {i + 2}: {', '.join(spec.header)})", i, 0, spec)
    return None


def find_tables(sheet: str, rows: list[list[object]]) -> list[Found]:
    """Known titles anywhere in the sheet, and title-like headings outside every known table that no spec
    knows (spec None)."""
    found: list[Found] = []
    inside: set[tuple[int, int]] = set()  # cells of known tables: never taken for titles
    for i, r in enumerate(rows):
        in_row = []
        for j, c in enumerate(r):
            if (i, j) in inside or not isinstance(c, str) or _empty(c):
                continue
            spec = spec_for(c)
            if spec is not None and spec.value_headers is not None:
                continue  # wide tables are found by their header row (their title is often missing)
            if spec is not None or _title_like(rows, i, j):
                in_row.append(Found(sheet, norm(c), i, j, spec))
        wide = _wide_table_at(sheet, rows, i)
        if wide is not None:
            in_row = [wide]
        for k, f in enumerate(in_row):
            f.end = in_row[k + 1].j if k + 1 < len(in_row) else max(len(x) for x in rows[i : i + 3])
            if f.spec is None or f.spec.value_headers is None:  # a table found above runs on beside this one
                f.end = next((c for c in range(f.j + 1, f.end) if (i, c) in inside or (i + 1, c) in inside), f.end)
        for f in in_row:
            if f.spec is not None and f.spec.key is not None:
                last = max(_data_rows(rows, _header_row(rows, f) + 1, f), default=f.i + 1)
                inside.update((a, b) for a in range(f.i, last + 1) for b in range(f.j, f.end))
        found.extend(f for f in in_row if f.spec is None or f.spec.key is not None)
    return found


# ---------------------------------------------------------------- reading one table


class TableStopped(Exception):
    """A value cell holds something that is not a number: the table is not read. `message` says why (a display
    message, kept by the warehouse for pages in other languages); str() is its English text."""

    def __init__(self, message: Message) -> None:
        super().__init__(str(message))
        self.message = message


def at_cell(file: str, sheet: str, cell: str, what: Message) -> Message:
    """'file F, sheet 'S', cell C: what' (why a table stopped, where)."""
    return msg("file {file}, sheet {sheet!r}, cell {cell}: {what}", file=file, sheet=sheet, cell=cell, what=what)


@dataclass
class TableRead:
    values: list[tuple]  # (row_group, row_label, column_label, value, spreadsheet row, cell)
    attributes: list[dict]
    no_value_cells: list[str]


def _header_row(rows: list[list[object]], f: Found) -> int:
    """The header row: the row below the title."""
    return f.i + 1


def _data_rows(rows: list[list[object]], start: int, f: Found) -> list[int]:
    if f.data is None:
        f.data = _find_data_rows(rows, start, f)
    return f.data


def _title_at(rows: list[list[object]], i: int, f: Found) -> int | None:
    """Column offset (from the table's first column) of a known table title in row i within the table's columns."""
    return next((k for k, c in enumerate(rows[i][f.j : f.end]) if isinstance(c, str) and spec_for(c) is not None),
                None) if i < len(rows) else None


def _find_data_rows(rows: list[list[object]], start: int, f: Found) -> list[int]:
    out = []
    head = _title_at(rows, start - 1, f)
    if head:  # a table beside this one starts in its header row: this table ends before it
        f.end = f.j + head
    for i in range(start, len(rows)):
        at = _title_at(rows, i, f) if f.spec is None or f.spec.value_headers is None else None
        if at:  # a table beside this one starts lower down: this table ends before its column
            f.end = f.j + at
        cells = rows[i][f.j : f.end]
        if f.spec is not None and f.spec.value_headers is not None:  # a list: blank rows and notes in between
            if any(_number(c) for c in cells[1:]) and not _empty(cells[0]):
                out.append(i)
            continue
        if all(_empty(c) for c in cells):
            break
        if any(isinstance(c, str) and spec_for(c) is not None for c in cells):
            break
        out.append(i)
    return out


def _label_columns(rows: list[list[object]], data: list[int], f: Found, header: list[str]) -> list[int]:
    """Columns holding labels: for a table with value_headers, every other column; else the leading columns
    that hold no number."""
    cols = range(f.j, f.end)
    if f.spec.value_headers is not None:
        return [k for k in cols if not f.spec.value_headers.match(header[k - f.j])]
    labels = []
    for k in cols:
        if any(_number(_get(rows, i, k)) for i in data):
            break
        labels.append(k)
    return labels


Merged = list[tuple[tuple[int, int], tuple[int, int]]]  # ((first row, first column), (last row, last column))


def _merged_header(rows: list[list[object]], h: int, f: Found, header: list[str], data: list[int], merged: Merged,
                   file: str) -> list[str]:
    """A header cell merged over several columns labels the one of them that holds numbers; merged over several
    columns that hold numbers, it labels none (TableStopped)."""
    out = list(header)
    for (r0, c0), (r1, c1) in merged:
        if not r0 <= h <= r1 or c1 == c0 or not f.j <= c0 < f.end or not header[c0 - f.j]:
            continue
        span = [k for k in range(c0, min(c1, f.end - 1) + 1)]
        with_numbers = [k for k in span if any(_number(_get(rows, i, k)) for i in data)]
        if len(with_numbers) > 1:
            raise TableStopped(at_cell(file, f.sheet, cell_name(h, c0), msg(
                "header {header!r} is merged over {cells}, whose columns each hold numbers (table {title!r})",
                header=header[c0 - f.j], cells=f"{cell_name(h, c0)}:{cell_name(h, c1)}", title=f.title)))
        for k in with_numbers:
            out[k - f.j] = header[c0 - f.j]
        for k in span:
            if k not in with_numbers and k != c0:
                out[k - f.j] = ""
        if with_numbers and with_numbers[0] != c0:
            out[c0 - f.j] = ""
    return out


def read_table(rows: list[list[object]], f: Found, file: str, merged: Merged = ()) -> TableRead:
    """Values of one known table; TableStopped naming the cell when a value cell holds text."""
    h = _header_row(rows, f)
    header = [norm(_get(rows, h, k)) if not _empty(_get(rows, h, k)) else "" for k in range(f.j, f.end)]
    data = _data_rows(rows, h + 1, f)
    header = _merged_header(rows, h, f, header, data, list(merged), file)
    label_cols = _label_columns(rows, data, f, header)
    value_cols = [k for k in range(f.j, f.end) if k not in label_cols and header[k - f.j]]
    unlabelled = [k for k in range(f.j, f.end) if k not in label_cols and not header[k - f.j]]
    values, attributes, marks = [], [], []
    group = None
    carried: dict[int, str] = {}
    wide = f.spec.value_headers is not None
    for i in data:
        row = rows[i]
        filled = [k for k in label_cols if not _empty(row[k])]
        if wide:  # a list: every row carries its own labels
            carried = {}
        elif filled:  # a new label resets the empty label columns to its right (a new group starts)
            for k2 in label_cols:
                if k2 > filled[0] and k2 not in filled:
                    carried.pop(k2, None)
        for k in filled:
            carried[k] = _label_text(row[k])
        labels = {k: carried.get(k) for k in label_cols}
        present = [labels[k] for k in label_cols if labels[k]]
        if f.spec.value_headers is not None:
            attributes.append({"source_row": i + 1, **{header[k - f.j]: labels.get(k) for k in label_cols}})
            row_group, row_label = None, labels.get(label_cols[0]) if label_cols else None
        elif len(label_cols) >= 2:
            row_group, row_label = labels.get(label_cols[0]), (present[-1] if present else None)
            if row_label == row_group and not _empty(row[label_cols[-1]]):
                row_group = None
        else:
            row_label = present[0] if present else None
            if row_label and row_label.lower() in f.spec.row_groups:
                group = row_label
                row_group = None
            else:
                row_group = group
        for k in unlabelled:
            if _number(row[k]):
                raise TableStopped(at_cell(file, f.sheet, cell_name(i, k), msg(
                    "a number under no column header (table {title!r}; header row {row}: a merged, moved or missing "
                    "header cell)", title=f.title, row=h + 1)))
        for k in value_cols:
            c = row[k]
            kind = type(c)
            if kind is float or kind is int:
                values.append(_value(f, i, k, row_group, row_label, header[k - f.j], float(c)))
                continue
            if _empty(c):
                continue
            if kind is str and norm(c) in no_value_marks():
                marks.append(cell_name(i, k))
                continue
            raise TableStopped(at_cell(file, f.sheet, cell_name(i, k), msg(
                "{value!r} is not a number (table {title!r}, column {column!r})", value=c, title=f.title,
                column=header[k - f.j])))
    return TableRead(values, attributes, marks)


def _label_text(c: object) -> str:
    return str(int(c)) if isinstance(c, float) and c.is_integer() else norm(c)


def _value(f: Found, i: int, k: int, group: str | None, row: str | None, column: str | None, v: float) -> tuple:
    return group, row, column, v, i + 1, cell_name(i, k)


# ---------------------------------------------------------------- one workbook


VALUE_COLUMNS = ["table_key", "table_title", "row_group", "row_label", "column_label", "group_key", "row_key",
                 "column_key", "month", "unit", "value", "fiscal_year", "stated_as_of", "source_row", "cell"]


@lru_cache(maxsize=16384)
def _key(label: str | None) -> str | None:
    return label_keys().get(label.lower()) if label else None


def _month(column_key: str | None, fy: int | None) -> dt.date | None:
    m = _MONTH_KEY.match(column_key or "")
    if not m or fy is None:
        return None
    month = int(m.group(1))
    return dt.date(fy - 1 if month >= 10 else fy, month, 1)


def read(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Every table of a posting: detention_values (one row per number), detention_tables (one row per table
    found, unknown or stopped) and detention_facility_rows (the facility list's attributes)."""
    file = source.name
    wb = _open(source)
    names = wb.sheet_names
    if not names:
        raise InputError("the workbook has no sheets", file=file)
    posting_fy = source.options.get("fiscal_year") or fiscal_year_of(file)
    footnote = next((s for s in names if sheet_role(s) == "footnotes"), None)
    stated = stated_dates(sheet_rows(wb, footnote, file)) if footnote else {}
    tables, facilities = [], []
    columns: dict[str, list] = {c: [] for c in ("source_sheet", *VALUE_COLUMNS)}
    for sheet in names:
        role = sheet_role(sheet)
        if role in ("iclos", "bond"):  # sheets with their own layouts (readers/detention_iclos.py, detention_bond.py)
            _add_own_layout(columns, tables, role, _sheet(wb, sheet, file)[0], file, sheet,
                            fiscal_year_of(sheet) or posting_fy, stated.get(role))
            continue
        if role not in READ_ROLES:
            if role is None:
                tables.append(_table_row(sheet, None, None, None, "sheet_not_read", msg("no rule reads this sheet")))
            continue
        rows, merged = _sheet(wb, sheet, file)
        sheet_fy = fiscal_year_of(sheet) or posting_fy
        sheet_stated = _sheet_source_date(rows)
        found = find_tables(sheet, rows)
        if not found:
            tables.append(_table_row(sheet, None, None, None, "stopped", msg("no known table title in this sheet")))
        for f in found:
            if f.spec is None:
                tables.append(_table_row(sheet, f, None, None, "unknown_title", msg(
                    "title not in detention_tables.csv at cell {cell}", cell=cell_name(f.i, f.j))))
                continue
            fy = fiscal_year_of(f.title) or sheet_fy
            as_of = sheet_stated if f.spec.topic == "facilities" else stated.get(f.spec.topic)
            try:
                got = read_table(rows, f, file, merged)
                if f.spec.topic == "note":
                    as_of = note_date(rows, f)
            except TableStopped as stop:
                tables.append(_table_row(sheet, f, fy, as_of, "stopped", stop.message))
                continue
            _add_values(columns, got.values, f, sheet, fy, as_of)
            facilities.extend({**a, "source_sheet": sheet, "stated_as_of": as_of} for a in got.attributes)
            note = (msg("no figure shown in {cells}", cells=", ".join(got.no_value_cells)) if got.no_value_cells
                    else None)
            tables.append(_table_row(sheet, f, fy, as_of, "read", note, got.values))
    return {
        "detention_values": _columns_frame(columns, source, VALUE_COLUMNS),
        "detention_tables": _frame(tables, source, TABLE_COLUMNS),
        "detention_facility_rows": _facility_frame(facilities, source),
    }


def _add_values(columns: dict[str, list], values: list[tuple], f: Found, sheet: str, fy: int | None,
                as_of: dt.date | None) -> None:
    """Append one table's values (row_group, row_label, column_label, value, row, cell) to the column lists."""
    n = len(values)
    if not n:
        return
    for name, v in (("source_sheet", sheet), ("table_key", f.spec.key), ("table_title", f.title),
                    ("fiscal_year", fy), ("stated_as_of", as_of)):
        columns[name].extend([v] * n)
    by_column: dict[str | None, tuple[str | None, str | None]] = {}  # column label -> (key, unit)
    for group, row, column, value, source_row, cell in values:
        if column not in by_column:
            by_column[column] = (_key(column), "share" if column and "percent" in column.lower()
                                 else unit_of(column, f.spec.unit))
        column_key, unit = by_column[column]
        # a row labelled with a fiscal year (parole tables) gives its months' year
        row_fy = fiscal_year_of(row) if row and _FY_LABEL.fullmatch(row) else None
        for name, v in (("row_group", group), ("row_label", row), ("column_label", column),
                        ("group_key", _key(group)), ("row_key", _key(row)), ("column_key", column_key),
                        ("month", _month(column_key, row_fy or fy)), ("unit", unit), ("value", value),
                        ("source_row", source_row), ("cell", cell)):
            columns[name].append(v)


def tables_by_title(rows: list[list[object]], spec_of, read_one, key_of) -> list:  # noqa: ANN001 - callables
    """Tables titled in column A (spec_of(cell) not None), each running down to the next title: read_one(rows,
    title row, end row, spec, title), or (title, key_of(spec), title row, message) when it stops."""
    titles = [(i, spec, norm(r[0])) for i, r in enumerate(rows) if r and (spec := spec_of(r[0])) is not None]
    out: list = []
    for k, (t, spec, title) in enumerate(titles):
        end = titles[k + 1][0] if k + 1 < len(titles) else len(rows)
        try:
            out.append(read_one(rows, t, end, spec, title))
        except TableStopped as stop:
            out.append((title, key_of(spec), t, stop.message))
    return out


# role -> reader of a sheet with its own layout: readers/detention_iclos.py and detention_bond.py build on this
# module's helpers and register here when the readers package loads them (no import loop)
OWN_LAYOUTS: dict[str, Callable[[list[list[object]], str, str], list]] = {}


def _add_own_layout(columns: dict[str, list], tables: list[dict], role: str, rows: list[list[object]], file: str,
                    sheet: str, fy: int | None, as_of: dt.date | None) -> None:
    """The tables of an ICLOS and Detainees sheet (two-row month / mid-end headers) or a Monthly Bond Statistics
    sheet (one column per month), read by their own modules, added to the long table."""
    found = OWN_LAYOUTS[role](rows, file, sheet)
    if not found:
        tables.append(_table_row(sheet, None, None, None, "stopped",
                                 msg("no known {role} table title in this sheet", role=role)))
    for t in found:
        if isinstance(t, tuple):
            title, key, i, message = t
            tables.append({**_table_row(sheet, None, fy, as_of, "stopped", message), "table_key": key,
                           "table_title": title, "title_cell": cell_name(i, 0)})
            continue
        n = len(t.values)
        for name, v in (("source_sheet", sheet), ("table_key", t.key), ("table_title", t.title),
                        ("fiscal_year", fy), ("stated_as_of", as_of)):
            columns[name].extend([v] * n)
        for group, row, column, value, source_row, cell, month, *keys in t.values:
            if role == "iclos":  # keys = (mid/end,): labels keyed by detention_labels.csv, the table's unit
                row_key, column_key, unit = _key(row), _key(keys[0]), t.unit
            else:  # keys = (row key, unit) from detention_bond.csv; the column is the month
                (row_key, unit), column_key = keys, None
            for name, v in (("row_group", group), ("row_label", row), ("column_label", column),
                            ("group_key", _key(group)), ("row_key", row_key), ("column_key", column_key),
                            ("month", month), ("unit", unit), ("value", value), ("source_row", source_row),
                            ("cell", cell)):
                columns[name].append(v)
        tables.append({**_table_row(sheet, None, fy, as_of, "read", t.message, t.values), "table_key": t.key,
                       "table_title": t.title, "title_cell": cell_name(t.i, 0)})


def note_date(rows: list[list[object]], f: Found) -> dt.date | None:
    """The date of a table stated in its title ("as of M/D/YYYY"), else in the first "Data from ..." note among
    its rows or the NOTE_ROWS rows under them (None when neither states one)."""
    if m := _TITLE_AS_OF.search(f.title):
        return parse_date(m.group(1))
    last = max(f.data or [f.i + 1])
    for i in range(f.i + 1, min(last + NOTE_ROWS + 1, len(rows))):
        for c in rows[i][f.j : f.end]:
            if isinstance(c, str) and (m := _NOTE_DATE.match(norm(c))):
                return parse_date("/".join(m.groups()))
    return None


def _sheet(wb: CalamineWorkbook, sheet: str, file: str) -> tuple[list[list[object]], Merged]:
    """A sheet's cells (rows of equal length) and its merged ranges."""
    try:
        sh = wb.get_sheet_by_name(sheet)
        return sh.to_python(skip_empty_area=False), sh.merged_cell_ranges or []
    except CalamineError as exc:
        raise InputError(f"cannot read sheet {sheet!r}: {exc}", file=file, field=sheet) from exc


def _open(source: SourceFile) -> CalamineWorkbook:
    """The workbook straight from its file; through the generic opener (which names the problem, or mends a
    dimension calamine rejects) when that fails."""
    try:
        return CalamineWorkbook.from_path(str(source.path))
    except (CalamineError, OSError, ValueError):
        return open_workbook(source.path, source.name)


def _sheet_source_date(rows: list[list[object]]) -> dt.date | None:
    for r in rows[:12]:
        for c in r[:3]:
            if isinstance(c, str) and (m := _SOURCE_DATE.match(norm(c))):
                return parse_date(m.group(1))
    return None


TABLE_COLUMNS = ["table_key", "table_title", "title_cell", "fiscal_year", "stated_as_of", "status", "message",
                 "message_json", "n_values", "content_sha256"]


def content_digest(values: list[tuple]) -> str:
    """A digest of a table's labels and numbers in reading order (not its cells' places), to find a table
    repeated unchanged."""
    return hashlib.sha256(repr([v[:4] for v in values]).encode()).hexdigest()


def _table_row(sheet, f: Found | None, fy, as_of, status, message: Message | None,
               values: list[tuple] | None = None) -> dict:
    """One row of detention_tables; `message` as English text and as its message (JSON) for other languages."""
    return {
        "source_sheet": sheet, "table_key": f.spec.key if f and f.spec else None, "table_title": f.title if f else None,
        "title_cell": cell_name(f.i, f.j) if f else None, "fiscal_year": fy, "stated_as_of": as_of,
        "status": status, "message": None if message is None else str(message),
        "message_json": None if message is None else to_json(message), "n_values": len(values or []),
        "content_sha256": content_digest(values) if values else None,
    }


FACILITY_FIELDS = {"name": "Name", "address": "Address", "city": "City", "state": "State", "zip": "Zip",
                   "aor": "AOR", "facility_type": "Type Detailed", "gender": "Male/Female"}
FACILITY_COLUMNS = ["source_row", *FACILITY_FIELDS, "stated_as_of"]


def _facility_frame(rows: list[dict], source: SourceFile) -> pl.DataFrame:
    out = [{"source_sheet": r["source_sheet"], "source_row": r["source_row"], "stated_as_of": r["stated_as_of"],
            **{k: r.get(h) for k, h in FACILITY_FIELDS.items()}} for r in rows]
    return _frame(out, source, FACILITY_COLUMNS)


_TYPES = {"value": pl.Float64, "fiscal_year": pl.Int16, "stated_as_of": pl.Date, "month": pl.Date,
          "source_row": pl.Int32, "n_values": pl.Int32}


def _columns_frame(data: dict[str, list], source: SourceFile, columns: list[str]) -> pl.DataFrame:
    cols = ["source_file", "source_sheet", *columns]
    schema = {c: _TYPES.get(c, pl.String) for c in cols}
    n = len(data["value"])
    return pl.DataFrame({"source_file": [source.name] * n, **data}, schema=schema)


def _frame(rows: list[dict], source: SourceFile, columns: list[str]) -> pl.DataFrame:
    cols = ["source_file", "source_sheet", *columns]
    schema = {c: _TYPES.get(c, pl.String) for c in cols}
    return pl.DataFrame([{**r, "source_file": source.name} for r in rows], schema=schema) \
        if rows else pl.DataFrame(schema=schema)
