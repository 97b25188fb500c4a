"""The "ICLOS and Detainees" sheet of ICE's detention-statistics postings (FY2021-FY2026): average in-custody length
of stay, and people in custody by length-of-stay band, per population, at mid-month and end of month.

Each table (title in ``readers/data/detention_iclos.csv``) has a "Population <year>" row, a row of month names
(each over two columns) and a row of "mid"/"end" under it; its rows run down to the next title. In the detainees
table a label without numbers opens a population group. A column's year is the year cell at or left of it; when
the months start again at January with no new year cell (ICE leaves it out), the year is the previous one plus one
and the table's message says so. A month or mid/end cell the reader does not know, or text in a value cell, stops
the table (file, sheet and cell named), never a guessed number."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

from icemonitor.messages import Message, msg
from icemonitor.readers.detention_stats import (
    OWN_LAYOUTS,
    TableStopped,
    _empty,
    _rows,
    at_cell,
    cell_name,
    no_value_marks,
    norm,
    tables_by_title,
)

MONTHS = {m: k for k, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                      "september", "october", "november", "december"), start=1)}
HALVES = {"mid": "mid", "end": "end"}
_POPULATION = re.compile(r"^Population\b", re.I)
HEADER_SEARCH_ROWS = 6  # rows under a title searched for its "Population" row


@dataclass(frozen=True)
class IclosSpec:
    pattern: re.Pattern
    key: str
    unit: str


@cache
def iclos_specs() -> tuple[IclosSpec, ...]:
    return tuple(IclosSpec(re.compile(r["pattern"], re.I), r["table_key"], r["unit"])
                 for r in _rows("detention_iclos.csv"))


def _spec(c: object) -> IclosSpec | None:
    if not isinstance(c, str) or _empty(c):
        return None
    return next((s for s in iclos_specs() if s.pattern.fullmatch(norm(c))), None)


@dataclass
class IclosTable:
    spec: IclosSpec
    title: str
    i: int  # title row (0-based)
    values: list[tuple]  # (row_group, row_label, column_label, value, spreadsheet row, cell, month, half)
    message: Message | None

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def unit(self) -> str:
        return self.spec.unit


def _columns(rows: list[list[object]], y: int, file: str, sheet: str, title: str) -> tuple[dict[int, tuple], list]:
    """Column -> (month date, 'mid'/'end', label) from the year, month and mid/end rows starting at row y."""
    years, months, halves = rows[y], rows[y + 1], rows[y + 2]
    out: dict[int, tuple] = {}
    inferred = []
    year = month = None
    for j in range(1, len(halves)):
        stated = None
        if isinstance(years[j], (int, float)) and not isinstance(years[j], bool):
            stated = int(years[j])
        elif not _empty(years[j]):
            raise TableStopped(at_cell(file, sheet, cell_name(y, j), msg(
                "{value!r} is not a year (table {title!r})", value=years[j], title=title)))
        if not _empty(months[j]):
            m = MONTHS.get(norm(months[j]).lower())
            if m is None:
                raise TableStopped(at_cell(file, sheet, cell_name(y + 1, j), msg(
                    "{value!r} is not a month name (table {title!r})", value=months[j], title=title)))
            in_order = year + (m <= month) if month is not None and year is not None else None
            if stated is not None and in_order is not None and stated != in_order:
                raise TableStopped(at_cell(file, sheet, cell_name(y, j), msg(
                    "year {year} over {month} contradicts the months before it (in order: {in_order}; table "
                    "{title!r})", year=stated, month=norm(months[j]), in_order=in_order, title=title)))
            if stated is None and in_order is not None and in_order != year:
                inferred.append(cell_name(y + 1, j))
            year = stated if stated is not None else in_order
            month = m
        elif stated is not None:
            raise TableStopped(at_cell(file, sheet, cell_name(y, j), msg(
                "year {year} over no month (table {title!r})", year=stated, title=title)))
        if _empty(halves[j]):
            continue
        half = HALVES.get(norm(halves[j]).lower())
        if half is None or year is None or month is None:
            raise TableStopped(at_cell(file, sheet, cell_name(y + 2, j), msg(
                "{value!r} under no known year and month, or not 'mid'/'end' (table {title!r})", value=halves[j],
                title=title)))
        out[j] = (dt.date(year, month, 1), half, f"{dt.date(year, month, 1):%B %Y} {half}")
    return out, inferred


def read_iclos(rows: list[list[object]], file: str, sheet: str) -> list[IclosTable | tuple[str, str, int, str]]:
    """Every table of the sheet: an IclosTable when read, else (title, key, title row, message) when stopped."""
    return tables_by_title(rows, _spec, lambda r, t, end, spec, title: _read_one(r, t, end, spec, title, file, sheet),
                           lambda spec: spec.key)


def _read_one(rows, t: int, end: int, spec: IclosSpec, title: str, file: str, sheet: str) -> IclosTable:
    y = next((i for i in range(t + 1, min(t + 1 + HEADER_SEARCH_ROWS, end - 2))
              if isinstance(rows[i][0], str) and _POPULATION.match(norm(rows[i][0]))), None)
    if y is None:
        raise TableStopped(msg("file {file}, sheet {sheet!r}, table {title!r} at {cell}: no 'Population' header row "
                               "within {n} rows", file=file, sheet=sheet, title=title, cell=cell_name(t, 0),
                               n=HEADER_SEARCH_ROWS))
    columns, inferred = _columns(rows, y, file, sheet, title)
    values, group = [], None
    for i in range(y + 3, end):
        row = rows[i]
        if _empty(row[0]):
            if any(not _empty(c) for c in row[1:]):
                raise TableStopped(msg("file {file}, sheet {sheet!r}, row {row}: values without a row label (table "
                                       "{title!r})", file=file, sheet=sheet, row=i + 1, title=title))
            continue
        label = norm(row[0])
        numbers = [j for j in columns if isinstance(row[j], (int, float)) and not isinstance(row[j], bool)]
        stray = [j for j in range(1, len(row)) if j not in columns and not _empty(row[j])]
        if stray:
            raise TableStopped(at_cell(file, sheet, cell_name(i, stray[0]), msg(
                "{value!r} under no month and mid/end header (table {title!r})", value=row[stray[0]], title=title)))
        if not numbers and all(_empty(row[j]) for j in columns):
            group = label  # a population heading of the detainees table
            continue
        for j, (month, half, column_label) in columns.items():
            c = row[j]
            if j in numbers:
                values.append((group, label, column_label, float(c), i + 1, cell_name(i, j), month, half))
            elif not _empty(c) and norm(c) not in no_value_marks():
                raise TableStopped(at_cell(file, sheet, cell_name(i, j), msg(
                    "{value!r} is not a number (table {title!r}, column {column!r})", value=c, title=title,
                    column=column_label)))
    message = msg("no year cell over the months starting at {cells}: year taken as the previous one plus one "
                  "(months run in order)", cells=", ".join(inferred)) if inferred else None
    return IclosTable(spec, title, t, values, message)


OWN_LAYOUTS["iclos"] = read_iclos
