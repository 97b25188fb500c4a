"""The Monthly Bond Statistics sheet of ICE's detention-statistics postings (FY2022-FY2026): per month, ICE's final
releases (FY2022-FY2024) or final book-outs (FY2025-), those with a bond posted, the bond-posted share, the average
bond amount and the average length of stay of the bonded-out.

Title and row labels are data (``readers/data/detention_bond.csv``). The header row (the first non-empty row under
the title) holds each column's month: a date, or a text such as "Sep-2024 (Thru 9/11)" (a part of the month, kept
in the column label). The table stops — listed, never read — on a row label the map does not know, a header that
is no month, text in a value cell, or counts that contradict ICE's own definition (the bond-posted count is part of
the total: a month where it is larger, as in the posting of 9 Apr 2026 whose two count rows hold each other's
figures, is not read as either)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache

from icemonitor.messages import msg
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

_TEXT_MONTH = re.compile(r"^(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*[- ](\d{4})\b", re.I)
_ABBR = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
HEADER_SEARCH_ROWS = 3


@dataclass(frozen=True)
class BondRow:
    key: str
    unit: str


@cache
def bond_titles() -> tuple[tuple[re.Pattern, str], ...]:
    return tuple((re.compile(r["pattern"], re.I), r["key"]) for r in _rows("detention_bond.csv")
                 if r["kind"] == "title")


@cache
def bond_rows() -> dict[str, BondRow]:
    return {norm(r["pattern"]).lower(): BondRow(r["key"], r["unit"]) for r in _rows("detention_bond.csv")
            if r["kind"] == "row"}


@dataclass
class BondTable:
    key: str
    title: str
    i: int
    values: list[tuple]  # (None, row_label, column_label, value, spreadsheet row, cell, month, row key, unit)
    message: None  # a read bond table has no message


def _title_key(c: object) -> str | None:
    if not isinstance(c, str) or _empty(c):
        return None
    return next((k for p, k in bond_titles() if p.fullmatch(norm(c))), None)


def _month(c: object) -> tuple[dt.date, str] | None:
    if isinstance(c, (dt.date, dt.datetime)):
        d = c.date() if isinstance(c, dt.datetime) else c
        return (d.replace(day=1), f"{d:%Y-%m}") if d.day == 1 else None
    if isinstance(c, str) and (m := _TEXT_MONTH.match(norm(c))):
        return dt.date(int(m.group(2)), _ABBR.index(m.group(1).lower()) + 1, 1), norm(c)
    return None


def read_bond(rows: list[list[object]], file: str, sheet: str) -> list[BondTable | tuple[str, str, int, str]]:
    """Every table of the sheet: a BondTable when read, else (title, key, title row, message) when stopped."""
    return tables_by_title(rows, _title_key,
                           lambda r, t, end, key, title: _read_one(r, t, end, key, title, file, sheet), lambda key: key)


def _where(file: str, sheet: str, i: int, j: int, what) -> TableStopped:  # noqa: ANN001 - a Message
    """The stop of a table at a cell."""
    return TableStopped(at_cell(file, sheet, cell_name(i, j), what))


def _read_one(rows, t: int, end: int, key: str, title: str, file: str, sheet: str) -> BondTable:
    h = next((i for i in range(t + 1, min(t + 1 + HEADER_SEARCH_ROWS, end)) if any(not _empty(c) for c in rows[i])),
             None)
    if h is None:
        raise TableStopped(msg("file {file}, sheet {sheet!r}, table {title!r}: no header row under the title",
                               file=file, sheet=sheet, title=title))
    columns = {}
    for j, c in enumerate(rows[h][1:], start=1):
        if _empty(c):
            continue
        month = _month(c)
        if month is None:
            raise _where(file, sheet, h, j, msg("{value!r} is not a month (table {title!r})", value=c, title=title))
        columns[j] = month
    values, by_key = [], {}
    for i in range(h + 1, end):
        row = rows[i]
        if all(_empty(c) for c in row):
            if values:
                break
            continue
        label = norm(row[0])
        spec = bond_rows().get(label.lower())
        if spec is None:
            raise _where(file, sheet, i, 0, msg("row label {label!r} is not in detention_bond.csv (table {title!r})",
                                                label=label, title=title))
        for j in range(1, len(row)):
            c = row[j]
            if j not in columns:
                if not _empty(c):
                    raise _where(file, sheet, i, j, msg("{value!r} under no month (table {title!r})", value=c,
                                                        title=title))
                continue
            if isinstance(c, (int, float)) and not isinstance(c, bool):
                month, column_label = columns[j]
                values.append((None, label, column_label, float(c), i + 1, cell_name(i, j), month, spec.key,
                               spec.unit))
                by_key[(spec.key, j)] = (float(c), i)
            elif not _empty(c) and norm(c) not in no_value_marks():
                raise _where(file, sheet, i, j, msg("{value!r} is not a number (table {title!r})", value=c,
                                                    title=title))
    _check_counts(by_key, columns, file, sheet, title)
    return BondTable(key, title, t, values, None)


def _check_counts(by_key: dict, columns: dict, file: str, sheet: str, title: str) -> None:
    """ICE's definition: the bond-posted count is part of the total (share = posted / total <= 1)."""
    for j in columns:
        for total_key in ("total_final_releases", "total_final_bookouts_or_releases", "total_final_bookouts"):
            posted = by_key.get((total_key.replace("total_", "bond_posted_"), j))
            total = by_key.get((total_key, j))
            if posted and total and posted[0] > total[0]:
                raise _where(file, sheet, posted[1], j, msg(
                    "{posted:g} with a bond posted is more than the total {total:g} ({cell}); ICE defines the first "
                    "as part of the second (the two count rows may be swapped; not read as either; table {title!r})",
                    posted=posted[0], total=total[0], cell=cell_name(total[1], j), title=title))


OWN_LAYOUTS["bond"] = read_bond
