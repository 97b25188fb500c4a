"""Seattle AOR production, UW v. DHS (ERO-LESA STU, 2012-01-01..2019-07-06): arrests, book-ins, removals.

Two renditions of one release, read to identical rows:
- ``seattle_aor_csv``: UWCHR's pipe-delimited gzip exports ``arrests``, ``bookins``, ``expedited-removals``,
  ``other-removals`` (6 title lines, header on line 7, dates ``M/D/YYYY``); source_row = physical line.
- ``seattle_aor_xlsx``: the workbook ``redacted UW v. DHS - ICE Productions_LESA-STU_FINAL.xlsx``; data sheets
  Arrests, Book Ins, Expedited Removals, Other Removals (Summary and Footnotes are not data; any other sheet
  raises InputError); source_row = spreadsheet row, source_sheet = sheet name.

The release has no AOR column: it is one AOR, so aor_raw = "Seattle Area of Responsibility" (constant).
criminality_field = ``seattle_most_serious_conviction``; the raw Most Serious Conviction goes to both
criminality_raw and most_serious_conviction (blank -> NULL = no conviction recorded; not recorded before FY2015).
Removals: event_date = departed_date = Departed Date (the only date; removal_date stays NULL); case_category.
Event Number and Date of Birth are redacted in every row and not loaded. Empty fields -> NULL.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import polars as pl

from icemonitor.errors import InputError
from icemonitor.readers._canon import ISO_DATE, US_DATE, TableMap, canonical, concat_tables, read_pipe_export
from icemonitor.readers._canon import read_pipe_export_chunks
from icemonitor.readers._text import HeaderSpec
from icemonitor.readers._xlsx import open_workbook, read_sheet

if TYPE_CHECKING:
    from icemonitor.readers import SourceFile

AOR = "Seattle Area of Responsibility"
CRIMINALITY = {"criminality_field": "seattle_most_serious_conviction", "aor_raw": AOR}

HEADERS = {
    "arrests": HeaderSpec("arrests", (
        "Arrest Date", "Gender", "Country of Citizenship", "Apprehension Landmark", "Arrest Method",
        "Most Serious Conviction",
    )),
    "bookins": HeaderSpec("bookins", (
        "Book In Date", "Gender", "Country of Citizenship", "Detention Facility", "Apprehension Method",
        "Most Serious Conviction",
    )),
    "removals": HeaderSpec("removals", (
        "Departed Date", "Gender", "Country of Citizenship", "Most Serious Conviction", "Case Category",
    )),
}

_COMMON = {
    "citizenship": "Country of Citizenship", "gender": "Gender",
    "criminality_raw": "Most Serious Conviction", "most_serious_conviction": "Most Serious Conviction",
}
MAPPINGS = {
    "arrests": TableMap(
        table="arrests",
        text={**_COMMON, "landmark": "Apprehension Landmark", "method_raw": "Arrest Method"},
        dates={"event_date": "Arrest Date"},
        constants=CRIMINALITY,
        date_formats=(US_DATE, ISO_DATE),
    ),
    "bookins": TableMap(
        table="bookins",
        text={**_COMMON, "detention_facility": "Detention Facility", "method_raw": "Apprehension Method"},
        dates={"event_date": "Book In Date"},
        constants=CRIMINALITY,
        date_formats=(US_DATE, ISO_DATE),
    ),
    "removals": TableMap(
        table="removals",
        text={**_COMMON, "case_category": "Case Category"},
        dates={"event_date": "Departed Date", "departed_date": "Departed Date"},
        constants=CRIMINALITY,
        date_formats=(US_DATE, ISO_DATE),
    ),
}

DATA_SHEETS = {"Arrests": "arrests", "Book Ins": "bookins", "Expedited Removals": "removals", "Other Removals": "removals"}
NOT_DATA_SHEETS = {"Summary", "Footnotes"}


def read_csv(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read one Seattle AOR csv.gz export -> {table: frame}."""
    return read_pipe_export(source, HEADERS, MAPPINGS, "seattle_aor_csv")


def read_csv_chunks(source: SourceFile, rows: int) -> Iterator[dict[str, pl.DataFrame]]:
    """`read_csv` in chunks of at most `rows` records."""
    return read_pipe_export_chunks(source, HEADERS, MAPPINGS, "seattle_aor_csv", rows)


def read_xlsx(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read the LESA-STU workbook -> {"arrests", "bookins", "removals"} (both removal sheets in one frame)."""
    wb = open_workbook(source.path, source.name)
    parts = []
    for sheet in wb.sheet_names:
        if sheet in NOT_DATA_SHEETS:
            continue
        table = DATA_SHEETS.get(sheet)
        if table is None:
            raise InputError(
                f"unexpected sheet {sheet!r} (expected {', '.join([*DATA_SHEETS, *NOT_DATA_SHEETS])})",
                file=source.name,
                field=sheet,
            )
        frame, _ = read_sheet(wb, sheet, source.name, [HEADERS[table]])
        parts.append((table, canonical(frame, source, MAPPINGS[table], sheet=sheet)))
    missing = [s for s in DATA_SHEETS if s not in wb.sheet_names]
    if missing:
        raise InputError(f"data sheet {missing[0]!r} missing from the workbook", file=source.name, field=missing[0])
    return concat_tables(parts)
