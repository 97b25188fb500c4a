"""JSON API under /api/v1: summary, releases, coverage. Every response names its definitions and releases."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from icemonitor.messages import msg
from icemonitor.query.filters import GROUP_BY, Filters, ParamError, parse_by
from icemonitor.web import analyses
from icemonitor.web.context import definitions, release_details, warehouse_info

router = APIRouter(prefix="/api/v1", tags=["api"])

TableName = Literal["arrests", "encounters", "removals", "bookins", "detainers", "i213"]
MethodClass = Literal["custodial", "at_large", "other"]
Criminality = Literal["convicted", "pending_charges", "no_record", "unknown"]
AOR_PATTERN = r"^[A-Z]{2,3}$"


class WarehouseInfo(BaseModel):
    file: str = Field(description="Warehouse file name")
    modified: str | None = Field(description="When the warehouse file was last written (UTC)")


class Release(BaseModel):
    release_id: str
    title: str | None = Field(None, description="Release title from the catalog")
    foia_request: str | None = Field(None, description="FOIA request number, where the release came from one")
    files: list[str] = []


PLACE_PATTERN = r"^[A-Za-z0-9 .,'()_:-]{1,80}$"
PLACE_HELP = "US, an AOR code (LOS), a state (CA or California), a county FIPS (06037) or name, or a named group"


class SummaryResponse(BaseModel):
    table: str
    by: list[str]
    filters: dict[str, str]
    total: int | None = Field(description="Counted events matching the filters; null where the records do not "
                                          "cover the period (or a filtered field): no records is not zero")
    rows: list[dict[str, Any]] = Field(description="One row per group: the group keys and n (counted events)")
    releases: list[Release] = Field(description="Releases the counted rows come from")
    definitions: dict[str, str]
    coverage: dict[str, Any] | None = Field(None, description="What the records cover of the question (status: full / partial / none / subset, share, "
                                                               "spans, fields not recorded, subsets and lower_bound, reason, data age)")
    warehouse: WarehouseInfo


class ReleasesResponse(BaseModel):
    releases: list[dict[str, Any]]
    warehouse: WarehouseInfo


class TableCoverage(BaseModel):
    table: str
    rows: int
    counted_rows: int
    min_date: dt.date | None
    max_date: dt.date | None
    releases: list[str]


class CoverageResponse(BaseModel):
    tables: list[TableCoverage]
    releases: list[dict[str, Any]]
    definitions: dict[str, str]
    warehouse: WarehouseInfo


class ErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where the error is: 'query' or 'body', the parameter, and for a "
                                             "repeated parameter the index of the bad value (an integer)")
    msg: str
    type: str
    input: Any = None


class ErrorResponse(BaseModel):
    detail: list[ErrorItem] | str


ERRORS = {422: {"model": ErrorResponse, "description": "A parameter is invalid or not answerable; `loc` names it"},
          503: {"model": ErrorResponse, "description": "No warehouse has been built yet"}}


@router.get("/summary", response_model=SummaryResponse, responses=ERRORS)
def summary(
    request: Request,
    table: TableName = Query("arrests", description="Event table"),
    by: str | None = Query(None, description=f"Comma-separated group keys, from: {', '.join(GROUP_BY)}",
                           max_length=200),
    date_from: dt.date | None = Query(None, alias="from", description="First event date (inclusive)"),
    date_to: dt.date | None = Query(None, alias="to", description="Last event date (inclusive)"),
    aor: str | None = Query(None, pattern=AOR_PATTERN, description="3-letter AOR code, e.g. LOS"),
    place: str | None = Query(None, pattern=PLACE_PATTERN, description=PLACE_HELP + "; answered by the analysis "
                              "`icemonitor summary --place` (its group keys; events placed as everywhere)"),
    method_class: MethodClass | None = Query(None, description="Apprehension method class"),
    criminality: Criminality | None = Query(None, description="Criminality class (only rows whose release records it)"),
    release: str | None = Query(None, pattern=r"^[A-Za-z0-9._-]{1,100}$", description="Only rows of this release id"),
    lang: Literal["en", "es"] = Query("en", description="Language of the definitions"),
) -> SummaryResponse:
    """Counted events (the `counted` flag: overlapping releases are not added twice), grouped as asked."""
    wh = request.app.state.warehouse
    keys = parse_by(by)
    f = Filters(table, date_from, date_to, aor, method_class, criminality, release)
    if place is not None:
        return _place_summary(request, f, keys, place, lang)
    res = analyses.counts(wh, f, keys)
    return SummaryResponse(
        table=table, by=keys, filters=f.as_params(), total=res.extra["total"], rows=res.figures, coverage=res.coverage,
        releases=[Release(**r) for r in release_details(wh, res.releases, table)],
        definitions=definitions(wh, f, lang), warehouse=WarehouseInfo(**warehouse_info(wh)),
    )


def _place_summary(request: Request, f: Filters, keys: list[str], place: str, lang: str) -> SummaryResponse:
    """The summary of any place, from the analysis every interface uses (icemonitor.analysis.summary)."""
    from icemonitor.analysis.summary import GROUPS

    wh = request.app.state.warehouse
    if f.aor:
        raise ParamError("aor", msg("give either aor or place"), f.aor)
    by = ["release" if k == "release_id" else k for k in keys]
    unknown = [k for k in by if k not in GROUPS]
    if unknown:
        raise ParamError("by", msg("with place, group by one of: {choices}", choices=", ".join(GROUPS)), unknown[0])
    res = analyses.summary(wh, analyses.app_ref(request), f.table, by, f.date_from, f.date_to, place,
                           {"method_class": f.method_class, "criminality": f.criminality, "release": f.release})
    rows = [{**{k: r[b] for k, b in zip(keys, by)}, "n": r["events"]} for r in res.figures]
    return SummaryResponse(
        table=f.table, by=keys, filters={**f.as_params(), "place": res.parameters.get("place") or place},
        total=res.extra["total_events"], rows=rows, coverage=res.coverage,
        releases=[Release(**r) for r in release_details(wh, res.releases, f.table)],
        definitions=definitions(wh, f, lang), warehouse=WarehouseInfo(**warehouse_info(wh)),
    )


@router.get("/releases", response_model=ReleasesResponse, responses=ERRORS)
def releases(request: Request) -> ReleasesResponse:
    """The releases loaded into this warehouse (one row per raw file)."""
    wh = request.app.state.warehouse
    return ReleasesResponse(releases=analyses.loaded_releases(wh), warehouse=WarehouseInfo(**warehouse_info(wh)))


@router.get("/coverage", response_model=CoverageResponse, responses=ERRORS)
def coverage(request: Request, lang: Literal["en", "es"] = Query("en")) -> CoverageResponse:
    """Per event table: rows, counted rows, first and last event date, and the releases behind them."""
    wh = request.app.state.warehouse
    tables = [TableCoverage(**c) for c in analyses.table_coverage(wh).figures]
    f = Filters(tables[0].table) if tables else Filters()
    defs = definitions(wh, f, lang) if tables else {}
    return CoverageResponse(tables=tables, releases=analyses.loaded_releases(wh), definitions=defs,
                            warehouse=WarehouseInfo(**warehouse_info(wh)))
