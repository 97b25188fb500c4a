"""ERO-LESA nationwide arrests / encounters / removals, FY2016-FY2019 (FOIA 2019-ICFO-53623; UWCHR CSV exports).

Format: gzip, pipe-delimited, double-quoted strings, 5 title lines, header on line 6 (found by its column
names within the first 20 lines), dates ``M/D/YYYY``. One file is one table; the table comes from
``options["table"]`` or is inferred from the header. Empty fields -> NULL; everything else raw, including
redaction markers with their trailing space (``"(B)(7)(E) "``) and the literal ``NA`` of ``RC Threat Level``.

- arrests: event_date = Apprehension Date; method_raw = Apprehension Method; landmark = Apprehension Landmark.
- encounters: event_date = Event Date; aor_raw = Event Area of Responsibility; landmark = Landmark.
- removals: event_date = removal_date = Removal Date; departed_date; apprehension_date (an older arrest date;
  placeholders before 1900 such as 0999-07-02 become NULL and are logged, the row is kept);
  final_charge = Final Charge Section; criminality_raw = RC Threat Level; disposition = Processing Disposition Code.
- criminality_field: ``removals_threat_level`` for removals, ``not_recorded`` (criminality_raw NULL) otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import polars as pl

from icemonitor.readers._canon import TableMap, read_pipe_export, read_pipe_export_chunks
from icemonitor.readers._text import HeaderSpec

if TYPE_CHECKING:
    from icemonitor.readers import SourceFile

HEADERS = {
    "arrests": HeaderSpec("arrests", (
        "Area of Responsibility", "Apprehension Date", "Apprehension Method", "Apprehension Landmark",
        "Operation", "Processing Disposition", "Citizenship", "Gender",
    )),
    "encounters": HeaderSpec("encounters", (
        "Event Area of Responsibility", "Event Date", "Landmark", "Operation", "Processing Disposition",
        "Citizenship", "Gender",
    )),
    "removals": HeaderSpec("removals", (
        "Area of Responsibility", "Apprehension Date", "Processing Disposition Code", "Citizenship", "Gender",
        "RC Threat Level", "Final Charge Section", "Departed Date", "Removal Date",
    )),
}

MAPPINGS = {
    "arrests": TableMap(
        table="arrests",
        text={
            "aor_raw": "Area of Responsibility", "method_raw": "Apprehension Method",
            "landmark": "Apprehension Landmark", "operation_raw": "Operation",
            "disposition": "Processing Disposition", "citizenship": "Citizenship", "gender": "Gender",
        },
        dates={"event_date": "Apprehension Date"},
        constants={"criminality_field": "not_recorded", "criminality_raw": None},
    ),
    "encounters": TableMap(
        table="encounters",
        text={
            "aor_raw": "Event Area of Responsibility", "landmark": "Landmark", "operation_raw": "Operation",
            "disposition": "Processing Disposition", "citizenship": "Citizenship", "gender": "Gender",
        },
        dates={"event_date": "Event Date"},
        constants={"criminality_field": "not_recorded", "criminality_raw": None},
    ),
    "removals": TableMap(
        table="removals",
        text={
            "aor_raw": "Area of Responsibility", "disposition": "Processing Disposition Code",
            "citizenship": "Citizenship", "gender": "Gender", "criminality_raw": "RC Threat Level",
            "final_charge": "Final Charge Section",
        },
        dates={
            "event_date": "Removal Date", "removal_date": "Removal Date",
            "departed_date": "Departed Date", "apprehension_date": "Apprehension Date",
        },
        constants={"criminality_field": "removals_threat_level"},
    ),
}


def read(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read one nationwide LESA file -> {table: frame}."""
    return read_pipe_export(source, HEADERS, MAPPINGS, "lesa_nationwide")


def read_chunks(source: SourceFile, rows: int) -> Iterator[dict[str, pl.DataFrame]]:
    """`read` in chunks of at most `rows` records (a nationwide file is up to 440,000)."""
    return read_pipe_export_chunks(source, HEADERS, MAPPINGS, "lesa_nationwide", rows)
