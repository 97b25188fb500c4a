"""Deportation Data Project (DDP) detainer extracts, 65-column DDP detainer schema (e.g. FOIA 2026-ICLI-00005),
as written by R ``write.csv`` (``mn-ddp-extracts/st_cloud_denied.csv``) -> table ``detainers``.

Format: comma-separated, header on line 1, a leading unnamed R row-index column, ISO dates, literal ``NA`` =
missing (-> NULL; a quoted ``"NA"`` too, R writes both). Empty fields -> NULL.
Columns: event_date = detainer_prepare_date; aor_raw = facility_aor; state = facility_state mapped to its
2-letter code (data/us_states.csv); detention_facility; facility_city; lift_reason = detainer_lift_reason;
criminality_raw = detainer_prepared_criminality (criminality_field ``detainer_prepared_criminality``);
most_serious_conviction = most_serious_conviction_charge; method_raw = apprehension_method;
disposition = processing_disposition; citizenship = citizenship_country; gender; person_id = unique_identifier.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from icemonitor.readers._canon import ISO_DATE, TableMap, canonical, state_codes
from icemonitor.readers._text import HeaderSpec, read_text_table

if TYPE_CHECKING:
    from icemonitor.readers import SourceFile

NA = ("NA",)
STATE_COL = "__state"


def detainer_columns(suffix: str = "", *, lift_reason: bool = True) -> tuple[dict[str, str], dict[str, str]]:
    """(text mapping, date mapping) of the DDP detainer schema; ``suffix`` as in joined files (".detainer")."""
    text = {
        "aor_raw": "facility_aor", "detention_facility": "detention_facility", "facility_city": "facility_city",
        "criminality_raw": "detainer_prepared_criminality",
        "most_serious_conviction": "most_serious_conviction_charge", "method_raw": "apprehension_method",
        "disposition": "processing_disposition", "citizenship": "citizenship_country", "gender": "gender",
    }
    if lift_reason:
        text["lift_reason"] = "detainer_lift_reason"
    text = {k: v + suffix for k, v in text.items()}
    text["person_id"] = "unique_identifier"
    return text, {"event_date": "detainer_prepare_date" + suffix}


_TEXT, _DATES = detainer_columns()
HEADER = HeaderSpec("ddp detainers", (*_TEXT.values(), *_DATES.values(), "facility_state"))
MAPPING = TableMap(
    table="detainers",
    text={**_TEXT, "state": STATE_COL},
    dates=_DATES,
    constants={"criminality_field": "detainer_prepared_criminality"},
    date_formats=(ISO_DATE,),
)


def read(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read a DDP detainer extract -> {"detainers": frame}."""
    raw = read_text_table(source.path, source.name, separator=",", specs=[HEADER], null_values=NA, all_columns=True)
    frame = raw.frame.with_columns(state_codes(raw.frame, "facility_state", source.name).alias(STATE_COL))
    return {"detainers": canonical(frame, source, MAPPING)}
