"""Small synthetic detention-statistics workbooks for tests: a minimal .xlsx writer (inline strings, numbers,
merged cells) and a posting laid out like ICE's (Detention sheet with two tables side by side, Footnotes)."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from icemonitor.readers.detention_stats import cell_name

Cells = dict[tuple[int, int], object]  # (row index, column index) -> str | float


def _cell_xml(i: int, j: int, v: object) -> str:
    ref = cell_name(i, j)
    if isinstance(v, str):
        return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{escape(v)}</t></is></c>'
    return f'<c r="{ref}"><v>{v!r}</v></c>'


def _sheet_xml(cells: Cells, merged: list[str]) -> str:
    rows: dict[int, list[str]] = {}
    for (i, j), v in sorted(cells.items()):
        rows.setdefault(i, []).append(_cell_xml(i, j, v))
    data = "".join(f'<row r="{i + 1}">{"".join(cs)}</row>' for i, cs in sorted(rows.items()))
    merge = (f'<mergeCells count="{len(merged)}">' + "".join(f'<mergeCell ref="{m}"/>' for m in merged)
             + "</mergeCells>") if merged else ""
    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"<sheetData>{data}</sheetData>{merge}</worksheet>")


def write_xlsx(path: Path, sheets: dict[str, Cells], merged: dict[str, list[str]] | None = None) -> Path:
    """A workbook with the given sheets (name -> cells)."""
    merged = merged or {}
    names = list(sheets)
    ct = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
          '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
          '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
          '<Default Extension="xml" ContentType="application/xml"/>'
          '<Override PartName="/xl/workbook.xml" '
          'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
          + "".join(f'<Override PartName="/xl/worksheets/sheet{k + 1}.xml" '
                    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                    for k in range(len(names)))
          + "</Types>")
    rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/></Relationships>')
    wb = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
          '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
          'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
          + "".join(f'<sheet name="{escape(n)}" sheetId="{k + 1}" r:id="rId{k + 1}"/>' for k, n in enumerate(names))
          + "</sheets></workbook>")
    wb_rels = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
               '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
               + "".join(f'<Relationship Id="rId{k + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
                         f'relationships/worksheet" Target="worksheets/sheet{k + 1}.xml"/>' for k in range(len(names)))
               + "</Relationships>")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", ct)
        z.writestr("_rels/.rels", rels)
        z.writestr("xl/workbook.xml", wb)
        z.writestr("xl/_rels/workbook.xml.rels", wb_rels)
        for k, n in enumerate(names):
            z.writestr(f"xl/worksheets/sheet{k + 1}.xml", _sheet_xml(sheets[n], merged.get(n, [])))
    return path


DETAINED_TITLE = "ICE Currently Detained by Criminality and Arresting Agency: FY2026"
BOOKINS_TITLE = "ICE Initial Book-Ins by Arresting Agency and Month: FY2026"


def detention_cells(detained: dict[str, tuple[float, float]], bookins: dict[str, list[object]], *,
                    top: int = 17, left: int = 0, gap: int = 2) -> Cells:
    """The currently-detained table (criminality x ICE, CBP, Total) at (top, left) and the book-ins table
    (agency x months from October) to its right."""
    cells: Cells = {(0, 0): "U.S. Immigration and Customs Enforcement", (top, left): DETAINED_TITLE}
    for k, h in enumerate(["Criminality", "ICE", "CBP", "Total"]):
        cells[(top + 1, left + k)] = h
    for n, (label, (ice, cbp)) in enumerate(detained.items()):
        cells[(top + 2 + n, left)] = label
        cells[(top + 2 + n, left + 1)] = ice
        cells[(top + 2 + n, left + 2)] = cbp
        if isinstance(ice, float) and isinstance(cbp, float):
            cells[(top + 2 + n, left + 3)] = ice + cbp
    b = left + 4 + gap
    cells[(top, b)] = BOOKINS_TITLE
    months = ["Oct", "Nov", "Dec", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep"]
    cells[(top + 1, b)] = "Agency"
    for k, m in enumerate(months):
        cells[(top + 1, b + 1 + k)] = m
    for n, (agency, values) in enumerate(bookins.items()):
        cells[(top + 2 + n, b)] = agency
        for k, v in enumerate(values):
            if v is not None:
                cells[(top + 2 + n, b + 1 + k)] = v
    return cells


def footnote_cells(stated: dt.date) -> Cells:
    d = f"{stated:%m/%d/%Y}"
    return {
        (0, 0): "ICE FOOTNOTES", (1, 0): "Term", (1, 1): "Definition",
        (3, 0): "FY2026 ICE Initial Book-Ins", (3, 1): f"FY2026 YTD ICE Book-ins data is updated through {d}.",
        (5, 0): "ICE Currently Detained Population Breakdown",
        (5, 1): f"ICE National Docket data are a snapshot as of {d} (IIDS Run Date {d}).",
    }


DETAINED = {"Total": (300.0, 60.0), "Convicted Criminal": (100.0, 10.0), "Pending Criminal Charges": (80.0, 20.0),
            "Other Immigration Violator": (120.0, 30.0)}
BOOKINS = {"Total": [1000.0, 1100.0, 0.0], "ICE": [700.0, 800.0, 0.0], "CBP": [300.0, 300.0, 0.0]}


def posting(path: Path, stated: dt.date, *, detained=None, bookins=None, sheet: str = "Detention FY26",  # noqa: ANN001
            extra: dict[str, Cells] | None = None, merged: dict[str, list[str]] | None = None, **layout) -> Path:
    """A synthetic FY2026 posting stating `stated` for both tables."""
    sheets = {"Header": {(0, 0): "ICE Detention Statistics"},
              sheet: detention_cells(detained or DETAINED, bookins or BOOKINS, **layout),
              **(extra or {}), "Footnotes": footnote_cells(stated)}
    return write_xlsx(path, sheets, merged)


def real_postings_warehouse(path: Path, names: set[str], *, with_facilities: bool = False) -> Path:
    """A warehouse built from the named files of the catalog's aggregate releases (real postings, DDP's facility
    days) as found in ../shared/data; with the places stage's facility tables when asked."""
    from icemonitor.catalog.catalog import load_catalog
    from icemonitor.places.detention_facilities import facility_tables
    from icemonitor.places.ref import dir_ref
    from icemonitor.warehouse.build import BuildSource, build
    from icemonitor.warehouse.detention_step import detention_stage

    shared = Path(__file__).resolve().parents[2] / "shared" / "data"
    sources = [BuildSource(r.id, f.name, shared / f.mirror_path, f.reader, f.sha256, dict(f.options))
               for r in load_catalog().aggregate_releases() for f in r.files if f.name in names]
    assert len(sources) == len(names), sorted(names - {s.name for s in sources})
    facilities = (lambda con: facility_tables(con, dir_ref(shared))) if with_facilities else None
    build([], path, extra_tables=detention_stage(sources, facilities=facilities))
    return path


def posting_path(name: str) -> Path:
    """A catalogued posting's file in ../shared/data."""
    from icemonitor.catalog.catalog import load_catalog

    (f,) = [f for r in load_catalog().aggregate_releases() for f in r.files if f.name == name]
    return Path(__file__).resolve().parents[2] / "shared" / "data" / f.mirror_path


def posting_sheet(name: str, sheet: str) -> list[list[object]]:
    """One sheet of a catalogued posting, read with python-calamine alone."""
    from python_calamine import CalamineWorkbook

    return CalamineWorkbook.from_path(str(posting_path(name))).get_sheet_by_name(sheet).to_python(
        skip_empty_area=False)


def cell_at(rows: list[list[object]], ref: str) -> object:
    """The cell at an A1 reference of a sheet's rows."""
    col = "".join(c for c in ref if c.isalpha())
    j = 0
    for c in col:
        j = j * 26 + ord(c) - 64
    return rows[int(ref[len(col):]) - 1][j - 1]
