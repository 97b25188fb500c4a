"""UWCHR I-213 records, Seattle AOR, FY2022-Dec 2025 -> table ``i213``.

- ``i213_csv``: ``sea-i213s-2026-02-13.csv.gz`` (UWCHR "clean" step): gzip, pipe-delimited, header on line 1,
  ISO dates. A few quoted fields (health comments) span several lines, so source_row is the physical line where
  the record starts (found from the quote parity of each newline).
- ``i213_xlsx``: ``sea-i213s-2026-02-13-geocoded.xlsx``, one sheet, the same 10,962 records plus UWCHR's
  geocode. Read faithfully as a separate source (the catalog gives it lower precedence than the CSV); it adds
  county_name = ``county`` and state = ``state`` as published by the geocoder (approximate, raw: ``WA``, and
  a few non-US values such as ``BC``). The CSV records no state: state NULL there.

Columns: event_date = apprehension_date; aor_raw = area_of_responsibility_name; site_code;
landmark = apprehension_landmark_descr; locality = app_ldmk_other_comment_text (both files: the raw text, not
the geocoded locality); method_raw = apprehension_method_descr; disposition = processing_disposition_descr;
citizenship = citizenship_country_descr; gender = gender_code; criminal_charges = the JSON array as released.

criminality_field = ``i213_criminal_charges``; criminality_raw is derived from the CHARGE_STATUS values in
criminal_charges: ``Convicted`` if any charge is Convicted, else ``Pending`` if any is Pending, else ``None``
(no charges, or only Dismissed / Overturned / IIDS ETL NULL). ``None`` means no criminal charge recorded on the
I-213, not "no criminal record" (UWCHR: the field may be incomplete for FY2022-24). Empty fields -> NULL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from icemonitor.errors import InputError
from icemonitor.readers._canon import ISO_DATE, TableMap, canonical
from icemonitor.readers._text import HeaderSpec, read_text_table
from icemonitor.readers._xlsx import open_workbook, read_sheet

if TYPE_CHECKING:
    from icemonitor.readers import SourceFile

REQUIRED = (
    "site_code", "area_of_responsibility_name", "processing_disposition_descr", "citizenship_country_descr",
    "gender_code", "apprehension_date", "apprehension_method_descr", "apprehension_landmark_descr",
    "app_ldmk_other_comment_text", "criminal_charges",
)
HEADER = HeaderSpec("i213", REQUIRED)
HEADER_XLSX = HeaderSpec("i213 geocoded", (*REQUIRED, "county", "state"))


def _status(status: str) -> pl.Expr:
    return pl.col("criminal_charges").str.contains(rf'"CHARGE_STATUS"\s*:\s*"{status}"').fill_null(False)


CRIMINALITY_RAW = (
    pl.when(_status("Convicted")).then(pl.lit("Convicted"))
    .when(_status("Pending")).then(pl.lit("Pending"))
    .otherwise(pl.lit("None"))
)

_TEXT = {
    "aor_raw": "area_of_responsibility_name", "site_code": "site_code",
    "landmark": "apprehension_landmark_descr", "locality": "app_ldmk_other_comment_text",
    "method_raw": "apprehension_method_descr", "disposition": "processing_disposition_descr",
    "citizenship": "citizenship_country_descr", "gender": "gender_code",
    "criminal_charges": "criminal_charges", "criminality_raw": CRIMINALITY_RAW,
}
MAPPING_CSV = TableMap(
    table="i213",
    text=_TEXT,
    dates={"event_date": "apprehension_date"},
    constants={"criminality_field": "i213_criminal_charges", "state": None},
    date_formats=(ISO_DATE,),
)
MAPPING_XLSX = TableMap(
    table="i213",
    text={**_TEXT, "county_name": "county", "state": "state"},
    dates={"event_date": "apprehension_date"},
    constants={"criminality_field": "i213_criminal_charges"},
    date_formats=(ISO_DATE,),
)


def read_csv(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read the I-213 CSV -> {"i213": frame}."""
    raw = read_text_table(source.path, source.name, separator="|", specs=[HEADER], all_columns=True)
    return {"i213": canonical(raw.frame, source, MAPPING_CSV)}


def read_xlsx(source: SourceFile) -> dict[str, pl.DataFrame]:
    """Read the geocoded I-213 workbook (its single sheet) -> {"i213": frame}."""
    wb = open_workbook(source.path, source.name)
    if len(wb.sheet_names) != 1:
        extra = wb.sheet_names[1]
        raise InputError(f"unexpected sheet {extra!r} (the geocoded I-213 workbook has one sheet)",
                         file=source.name, field=extra)
    sheet = wb.sheet_names[0]
    frame, _ = read_sheet(wb, sheet, source.name, [HEADER_XLSX], all_columns=True)
    return {"i213": canonical(frame, source, MAPPING_XLSX, sheet=sheet)}
