"""UWCHR's joined DDP file for Washington detainers (``uwchr-ddp-wa-joined/joined_df_wa.csv``) -> distinct
``arrests``, ``encounters`` and ``detainers``.

Format: comma-separated, header on line 1, written by R: literal ``NA`` = missing (-> NULL), ISO dates, column
names suffixed ``.detainer`` / ``.arrest`` / ``.encounter`` / ``.detention`` plus ``unique_identifier``.
The file is a many-to-many join (235 rows hold 47 detainers, 47 arrests, 79 encounters), so each table keeps
one row per distinct record: rows equal in all of that table's suffixed columns and unique_identifier are one
record, source_row = the first physical line where it appears; rows where all its columns are NA are skipped.
Detention stays are not loaded (no canonical table).

- arrests: event_date = apprehension_date.arrest; aor_raw = apprehension_aor.arrest; state =
  apprehension_state.arrest as a 2-letter code (data/us_states.csv); method_raw = apprehension_method.arrest;
  criminality_raw = apprehension_criminality.arrest (``ddp_apprehension_criminality``).
- encounters: event_date = event_date.encounter; aor_raw = responsible_aor.encounter;
  disposition = processing_disposition.encounter; criminality_raw = encounter_criminality.encounter
  (criminality_field ``ddp_encounter_criminality``, same 1/2/3 codes); method_raw NULL (event_type is not a method).
- detainers: as ``ddp_detainers`` with the ``.detainer`` suffix (no lift reason in this file).
All: citizenship, gender from the table's columns; person_id = unique_identifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from icemonitor.readers._canon import ISO_DATE, TableMap, canonical, concat_tables, state_codes
from icemonitor.readers._text import SOURCE_ROW, HeaderSpec, read_text_table
from icemonitor.readers.ddp_detainers import detainer_columns

if TYPE_CHECKING:
    from icemonitor.readers import SourceFile

STATE_COL = "__state"
_DET_TEXT, _DET_DATES = detainer_columns(".detainer", lift_reason=False)

MAPPINGS = {
    "arrests": TableMap(
        table="arrests",
        text={
            "aor_raw": "apprehension_aor.arrest", "state": STATE_COL, "method_raw": "apprehension_method.arrest",
            "criminality_raw": "apprehension_criminality.arrest", "citizenship": "citizenship_country.arrest",
            "gender": "gender.arrest", "person_id": "unique_identifier",
        },
        dates={"event_date": "apprehension_date.arrest"},
        constants={"criminality_field": "ddp_apprehension_criminality"},
        date_formats=(ISO_DATE,),
    ),
    "encounters": TableMap(
        table="encounters",
        text={
            "aor_raw": "responsible_aor.encounter", "disposition": "processing_disposition.encounter",
            "criminality_raw": "encounter_criminality.encounter", "citizenship": "citizenship_country.encounter",
            "gender": "gender.encounter", "person_id": "unique_identifier",
        },
        dates={"event_date": "event_date.encounter"},
        constants={"criminality_field": "ddp_encounter_criminality"},
        date_formats=(ISO_DATE,),
    ),
    "detainers": TableMap(
        table="detainers",
        text={**_DET_TEXT, "state": STATE_COL},
        dates=_DET_DATES,
        constants={"criminality_field": "detainer_prepared_criminality"},
        date_formats=(ISO_DATE,),
    ),
}
SUFFIX = {"arrests": ".arrest", "encounters": ".encounter", "detainers": ".detainer"}
STATE_SOURCE = {"arrests": "apprehension_state.arrest", "detainers": "facility_state.detainer"}
HEADER = HeaderSpec("ddp joined", (
    "unique_identifier", "apprehension_date.arrest", "event_date.encounter", "detainer_prepare_date.detainer",
    *[c for m in MAPPINGS.values() for c in m.text.values() if isinstance(c, str) and c != STATE_COL],
))


def distinct_records(frame: pl.DataFrame, suffix: str) -> pl.DataFrame:
    """One row per distinct record of one joined table (first occurrence kept, with its source_row)."""
    cols = [c for c in frame.columns if c.endswith(suffix)]
    present = frame.filter(pl.any_horizontal(pl.col(cols).is_not_null()))
    return present.unique(subset=[*cols, "unique_identifier"], keep="first", maintain_order=True)


def read(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read the joined WA file -> {"arrests", "encounters", "detainers"} (distinct records each)."""
    raw = read_text_table(source.path, source.name, separator=",", specs=[HEADER], null_values=("NA",), all_columns=True)
    parts = []
    for table, mapping in MAPPINGS.items():
        records = distinct_records(raw.frame, SUFFIX[table]).sort(SOURCE_ROW)
        if table in STATE_SOURCE:
            records = records.with_columns(state_codes(records, STATE_SOURCE[table], source.name).alias(STATE_COL))
        parts.append((table, canonical(records, source, mapping)))
    return concat_tables(parts)
