"""Seattle AOR Criminal Alien Program encounters, arrests and removals, FY2017-FY2018 YTD (FOIA 2018-ICFO-36170).

- ``seattle_cap_csv``: UWCHR's exports ``CAP-FY2017-arrests.csv.gz`` etc. (pipe, quoted, 5 title lines, header
  on line 6, dates ``M/D/YYYY``); source_row = physical line.
- ``seattle_cap_xlsx``: the workbook ``3_25_19 FOIA 2018-ICFO-36170 ...-no-pwd.xlsx``, sheets ``FY2018 Arrests``,
  ``FY2018 Encounters``, ``FY2018 Removals``, ``FY2017 ...``; any other sheet raises InputError. Its sheets
  declare a rows-only dimension (``1:1416``) that calamine rejects; the reader drops it before reading.

Operation is unredacted here (``6B8 - SAFE CITIES``); aor_raw = (Event) Area of Responsibility as written.
- arrests: event_date = Arrest Date; method_raw = Arrest Method; criminality_field ``not_recorded``.
- encounters: no date column, event_date NULL; criminality_field ``not_recorded``.
- removals: no removal date is recorded: event_date NULL; apprehension_date = Arrest Date (placeholder
  0001-01-01 -> NULL, logged); criminality_raw = Removal Case COL (threat level 1/2/3/NA; criminality_field
  ``removals_threat_level``); final_charge = Final Charge Section.
Event Number and Date of Birth are redacted and not loaded. Empty fields -> NULL.
"""

from __future__ import annotations

import re
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

HEADERS = {
    "arrests": HeaderSpec("arrests", (
        "Area of Responsibility", "Apprehension Landmark", "Operation", "Processing Disposition",
        "Country of Citizenship", "Gender", "Arrest Method", "Arrest Date",
    )),
    "encounters": HeaderSpec("encounters", (
        "Event Area of Responsibility", "Landmark", "Operation", "Processing Disposition",
        "Country of Citizenship", "Gender",
    )),
    "removals": HeaderSpec("removals", (
        "Area of Responsibility", "Country of Citizenship", "Gender", "Removal Case COL",
        "Final Charge Section", "Arrest Date",
    )),
}

_NO_CRIM = {"criminality_field": "not_recorded", "criminality_raw": None}
MAPPINGS = {
    "arrests": TableMap(
        table="arrests",
        text={
            "aor_raw": "Area of Responsibility", "landmark": "Apprehension Landmark", "operation_raw": "Operation",
            "disposition": "Processing Disposition", "citizenship": "Country of Citizenship", "gender": "Gender",
            "method_raw": "Arrest Method",
        },
        dates={"event_date": "Arrest Date"},
        constants=_NO_CRIM,
        date_formats=(US_DATE, ISO_DATE),
    ),
    "encounters": TableMap(
        table="encounters",
        text={
            "aor_raw": "Event Area of Responsibility", "landmark": "Landmark", "operation_raw": "Operation",
            "disposition": "Processing Disposition", "citizenship": "Country of Citizenship", "gender": "Gender",
        },
        constants={**_NO_CRIM, "event_date": None},
    ),
    "removals": TableMap(
        table="removals",
        text={
            "aor_raw": "Area of Responsibility", "citizenship": "Country of Citizenship", "gender": "Gender",
            "criminality_raw": "Removal Case COL", "final_charge": "Final Charge Section",
        },
        dates={"apprehension_date": "Arrest Date"},
        constants={"criminality_field": "removals_threat_level", "event_date": None},
        date_formats=(US_DATE, ISO_DATE),
    ),
}

SHEET = re.compile(r"^FY\d{4} (Arrests|Encounters|Removals)$")


def read_csv(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read one CAP csv.gz export -> {table: frame}."""
    return read_pipe_export(source, HEADERS, MAPPINGS, "seattle_cap_csv")


def read_csv_chunks(source: SourceFile, rows: int) -> Iterator[dict[str, pl.DataFrame]]:
    """`read_csv` in chunks of at most `rows` records."""
    return read_pipe_export_chunks(source, HEADERS, MAPPINGS, "seattle_cap_csv", rows)


def read_xlsx(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read the CAP workbook -> {"arrests", "encounters", "removals"} (FY2017 and FY2018 sheets together)."""
    wb = open_workbook(source.path, source.name)
    parts = []
    for sheet in wb.sheet_names:
        m = SHEET.match(sheet)
        if not m:
            raise InputError(
                f"unexpected sheet {sheet!r} (expected 'FY<year> Arrests|Encounters|Removals')",
                file=source.name,
                field=sheet,
            )
        table = m.group(1).lower()
        frame, _ = read_sheet(wb, sheet, source.name, [HEADERS[table]])
        parts.append((table, canonical(frame, source, MAPPINGS[table], sheet=sheet)))
    return concat_tables(parts)
