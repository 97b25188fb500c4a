"""ICE ERO's list of authorised over-72-hour adult detention facilities (``Over72HourFacilities.xlsx``, sheet
``By AOR``): an AOR title row ("Atlanta AOR"), a header row (Facility Name, City, State, Facility Type - Detailed),
then one row per facility. One output row per facility with the AOR title as written and the sheet row.

A facility row before any AOR title, a header that is not the expected one, or a row with a name but no state
stops the read with the file, row and field named: the list is never half read."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from icemonitor.errors import InputError
from icemonitor.readers._xlsx import open_workbook, sheet_rows

SHEET = "By AOR"
HEADER = ("Facility Name", "City", "State", "Facility Type - Detailed")
_AOR_TITLE = re.compile(r"^(.+?)\s+AOR$", re.I)
COLUMNS = {"aor_name": pl.String, "name": pl.String, "city": pl.String, "state": pl.String,
           "facility_type": pl.String, "source_row": pl.Int32}


def _text(c: object) -> str:
    return " ".join(str(c).split()) if c is not None else ""


def read_over72(path: Path, name: str = "Over72HourFacilities.xlsx") -> pl.DataFrame:
    """One row per listed facility: aor_name (as written, without ' AOR'), name, city, state, facility_type,
    source_row (1-based sheet row)."""
    wb = open_workbook(Path(path), name)
    if SHEET not in wb.sheet_names:
        raise InputError(f"no sheet {SHEET!r} (sheets: {', '.join(wb.sheet_names)})", file=name, field=SHEET)
    rows = sheet_rows(wb, SHEET, name)
    out, aor, header_seen, gap = [], None, False, False
    for i, r in enumerate(rows, start=1):
        cells = [_text(c) for c in r[:4]] + [""] * max(0, 4 - len(r))
        filled = [c for c in cells if c]
        if not filled:
            gap = bool(out)  # a blank row after facilities: an AOR title or the closing notes follow
            continue
        if len(filled) == 1 and (m := _AOR_TITLE.match(cells[0])):
            aor, header_seen, gap = m.group(1), False, False
            continue
        if gap:  # the notes under the list (definitions of AOR and facility types)
            if re.fullmatch(r"[A-Za-z]{2}", cells[2]):
                raise InputError("a facility row after the list's blank row, under no AOR title", file=name, row=i,
                                 field="Facility Name", value=cells[0])
            break
        if cells[0].lower() == HEADER[0].lower():
            if tuple(c.lower() for c in cells) != tuple(h.lower() for h in HEADER):
                raise InputError(f"header {cells!r} is not {list(HEADER)!r}", file=name, row=i, field="header")
            header_seen = True
            continue
        if aor is None or not header_seen:
            if out or aor is not None or re.fullmatch(r"[A-Za-z]{2}", cells[2]):
                raise InputError("a facility row before its AOR title and header row", file=name, row=i,
                                 field="Facility Name", value=cells[0])
            continue  # the list's own title lines above the first AOR
        if not cells[0] or not re.fullmatch(r"[A-Za-z]{2}", cells[2]):
            raise InputError("a facility row needs a name and a two-letter state", file=name, row=i,
                             field="State", value=cells[2])
        out.append({"aor_name": aor, "name": cells[0], "city": cells[1] or None, "state": cells[2].upper(),
                    "facility_type": cells[3] or None, "source_row": i})
    if not out:
        raise InputError("no facility rows found", file=name, field=SHEET)
    return pl.DataFrame(out, schema=COLUMNS)
