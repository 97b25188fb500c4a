"""Big Local News extract of DDP ICE arrests, Los Angeles AOR (``la_arrests.csv`` rows for 2025-06-01..10,
transcribed verbatim) -> table ``arrests``.

Format: comma-separated, header on line 1, ISO dates, no ``NA`` literals (blank = missing -> NULL).
The extract is filtered by BLN to AOR = Los Angeles and BLN-inferred arrest state = CALIFORNIA, and has no AOR
or state column, so aor_raw = "Los Angeles Area of Responsibility" and state = "CA" are constants.
Columns: event_date = arrest_date; landmark = apprehension_site_landmark; method_raw = arrest_street_custodial
(BLN's recode of Apprehension Method: ``At-large`` / ``Custodial``, not ICE's raw method);
criminality_raw = arrest_criminality (DDP apprehension_criminality, criminality_field
``ddp_apprehension_criminality``); detention_facility = first matched detention facility (BLN);
citizenship = citizenship_country; gender; person_id = bln_person_id (BLN: first 10 characters of DDP's
unique_identifier, or ``<birth_year>_<row>`` when absent; not stable across releases).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from icemonitor.readers._canon import ISO_DATE, TableMap, canonical
from icemonitor.readers._text import HeaderSpec, read_text_table

if TYPE_CHECKING:
    from icemonitor.readers import SourceFile

TEXT = {
    "landmark": "apprehension_site_landmark", "method_raw": "arrest_street_custodial",
    "criminality_raw": "arrest_criminality", "detention_facility": "detention_facility",
    "citizenship": "citizenship_country", "gender": "gender", "person_id": "bln_person_id",
}
HEADER = HeaderSpec("bln la arrests", (*TEXT.values(), "arrest_date"))
MAPPING = TableMap(
    table="arrests",
    text=TEXT,
    dates={"event_date": "arrest_date"},
    constants={
        "aor_raw": "Los Angeles Area of Responsibility", "state": "CA",
        "criminality_field": "ddp_apprehension_criminality",
    },
    date_formats=(ISO_DATE,),
)


def read(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read the BLN LA arrests extract -> {"arrests": frame}."""
    raw = read_text_table(source.path, source.name, separator=",", specs=[HEADER], all_columns=True)
    return {"arrests": canonical(raw.frame, source, MAPPING)}
