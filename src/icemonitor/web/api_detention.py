"""JSON API for detention: /api/v1/detention/now, /trend, /held, /check, /errors, /facilities, /place, and the
detention tables as CSV or Parquet (/download/{table}).

Same parameters and the same computation as `icemonitor detention ...` (analysis/detention.py). Every answer
carries the definitions, the postings and cells its figures were read from, and ICE's known errors."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse

from icemonitor.analysis import detention
from icemonitor.web import analyses
from icemonitor.web.api import ERRORS, PLACE_HELP, PLACE_PATTERN
from icemonitor.web.api_analyses import ANSWER_LANG, AnalysisResponse, app_ref, respond
from icemonitor.query.filters import ParamError

router = APIRouter(prefix="/api/v1/detention", tags=["detention"])
Reason = Literal["unreadable_file", "table_stopped", "unknown_title", "stale_sheet", "unchanged_table",
                 "stated_date_older", "repost_other_bytes", "same_bytes_reposted", "value_revised"]


@router.get("/now", response_model=AnalysisResponse, responses=ERRORS, dependencies=[ANSWER_LANG])
def now(request: Request, as_of: dt.date | None = Query(None, description="The snapshot ICE states on or before this day "
                                                                          "(default: the latest)")) -> AnalysisResponse:
    """People ICE held on its latest stated date, by arresting agency and criminality (as `icemonitor detention now`)."""
    return respond(request, detention.detained_now(request.app.state.warehouse.cursor(), as_of), None)


@router.get("/trend", response_model=AnalysisResponse, responses=ERRORS, dependencies=[ANSWER_LANG])
def trend(
    request: Request,
    statistic: detention.Statistic = Query("adp", description="bookins, adp (average daily population) or bookouts"),
    agency: detention.Agency = Query("total", description="Arresting agency"),
    criminality: detention.Criminality = Query("total", description="ICE's criminality class"),
    date_from: dt.date | None = Query(None, alias="from", description="First month"),
    date_to: dt.date | None = Query(None, alias="to", description="Last month"),
) -> AnalysisResponse:
    """One value per month FY2019-FY2026, as last reported, with the range across postings."""
    res = detention.detention_trend(request.app.state.warehouse.cursor(), statistic, agency, criminality,
                                    date_from, date_to)
    return respond(request, res, None)


@router.get("/held", response_model=AnalysisResponse, responses=ERRORS, dependencies=[ANSWER_LANG])
def held(request: Request, date: dt.date = Query(..., description="The day")) -> AnalysisResponse:
    """People held on a day: DDP's facility-day counts and ICE's snapshots nearest the day."""
    return respond(request, detention.held_on(request.app.state.warehouse.cursor(), date), None)


@router.get("/check", response_model=AnalysisResponse, responses=ERRORS, dependencies=[ANSWER_LANG])
def check(
    request: Request,
    date: dt.date = Query(..., description="The day of the claim"),
    people: int = Query(..., ge=0, le=10_000_000, description="The number claimed"),
    comparison: Literal["more", "fewer"] = Query("more", description="'ICE held more (fewer) than N people'"),
) -> AnalysisResponse:
    """Check a claim such as "ICE held more than 60,000 people on 10 June 2025"; extra.answer is supported,
    not_supported, depends_on_measure or no_records."""
    return respond(request, detention.check_held(request.app.state.warehouse.cursor(), date, people, comparison), None)


@router.get("/errors", response_model=AnalysisResponse, responses=ERRORS, dependencies=[ANSWER_LANG])
def errors(
    request: Request,
    reason: Reason | None = Query(None, description="Kind of error"),
    posting: str | None = Query(None, pattern=r"^[A-Za-z0-9._-]{1,120}$", description="A posting's file name"),
    limit: int = Query(200, ge=1, le=5000),
) -> AnalysisResponse:
    """ICE's errors found in its postings, with the evidence (detention_exclusions)."""
    return respond(request, detention.posting_errors(request.app.state.warehouse.cursor(), reason, posting, limit), None)


@router.get("/facilities", response_model=AnalysisResponse, responses=ERRORS, dependencies=[ANSWER_LANG])
def facility_population(
    request: Request,
    date: dt.date | None = Query(None, description="The day (default: the records' last day)"),
    state: str | None = Query(None, pattern=r"^[A-Z]{2}$", description="Two-letter state"),
    not_in_ice_list: bool = Query(False, description="Only facilities ICE's published lists do not show"),
    limit: int = Query(100, ge=1, le=2000),
) -> AnalysisResponse:
    """People held per facility on a day (DDP's records), with county and whether ICE's lists show the facility."""
    res = detention.facilities(request.app.state.warehouse.cursor(), date, state, not_in_ice_list, limit)
    return respond(request, res, None)


@router.get("/place", response_model=AnalysisResponse, responses=ERRORS, dependencies=[ANSWER_LANG])
def in_place(
    request: Request,
    place: str = Query(..., pattern=PLACE_PATTERN, description=PLACE_HELP),
    date: dt.date | None = Query(None, description="The day (default: the records' last day)"),
) -> AnalysisResponse:
    """People held in the ICE detention facilities of an AOR, state or county on a day (DDP's records), each
    facility with its trend over the 30 days before; a place with no facility in the records has no count (not
    zero). The same figures as the place pages' detention section."""
    found = analyses.parse_place(request.app.state.warehouse, app_ref(request), place)
    from icemonitor.places.place_names import place_label  # the label in both languages (lang=es: Spanish)

    res = detention.in_place(request.app.state.warehouse.cursor(), place_label(found), found.county_fips, date)
    return respond(request, res, None)


DOWNLOADS = {"snapshots": "detention_snapshots", "monthly": "detention_monthly",
             "facility_days": "detention_facility_days", "facilities": "detention_facility_places",
             "facility_list": "detention_facility_list", "exclusions": "detention_exclusions",
             "postings": "detention_postings", "atd": "detention_atd", "semiannual": "detention_semiannual",
             "segregation": "detention_segregation", "authorised_facilities": "detention_authorised_facilities",
             "iclos": "detention_iclos", "bond": "detention_bond"}
# tables without a release_id column: the releases they are derived from
DERIVED_FROM = {"detention_facility_list": ("detention_facility_rows", "detention_facility_days")}


@router.get("/download/{table}", responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}},
                                                   "description": "The whole table, with its provenance"}, **ERRORS})
def download(
    request: Request,
    table: Literal["snapshots", "monthly", "facility_days", "facilities", "facility_list", "exclusions", "postings",
                   "atd", "semiannual", "segregation", "authorised_facilities", "iclos", "bond"],
    format: Literal["csv", "parquet"] = Query("csv", description="csv (provenance in '#' lines on top) or parquet "
                                                                 "(provenance in the file's key-value metadata)"),
) -> Response:
    """A detention table of the warehouse as CSV or Parquet, with where it came from (releases and the postings
    or files behind it) and what each column means."""
    from icemonitor.analysis.common import has_table
    from icemonitor.schema import aggregate_tables
    from icemonitor.web import export
    from icemonitor.web.pages import close_after

    wh = request.app.state.warehouse
    name = DOWNLOADS[table]
    if not has_table(wh.cursor(), name):
        raise ParamError("table", detention.NO_WAREHOUSE_TABLES, table)
    prov = _provenance(wh, name, aggregate_tables()[name])
    source = export.table_batches(wh, name)  # a name from DOWNLOADS, never the request's text
    stem = f"icemonitor_{name}"
    if format == "csv":
        return StreamingResponse(close_after(export.csv_chunks(source, source.schema, prov), source),
                                 media_type="text/csv; charset=utf-8",
                                 headers={"Content-Disposition": f'attachment; filename="{stem}.csv"'})
    return StreamingResponse(close_after(export.parquet_chunks(source, source.schema, prov), source),
                             media_type="application/vnd.apache.parquet",
                             headers={"Content-Disposition": f'attachment; filename="{stem}.parquet"'})


def _provenance(wh, name: str, table) -> dict:  # noqa: ANN001 - Warehouse, schema.Table
    """What a detention download contains (the shape of web/context.py's provenance): releases with the files
    behind the table's rows, the table's definition and every column's."""
    from icemonitor.web.context import warehouse_info
    from icemonitor.analysis.holdings import catalog_releases, release_files

    known = catalog_releases()
    releases = []
    for src in DERIVED_FROM.get(name, (name,)):
        rows = release_files(wh.cursor(), src, wh.columns)
        releases += [{"release_id": r["release_id"], "title": known.get(r["release_id"], {}).get("title"),
                      "foia_request": known.get(r["release_id"], {}).get("foia_request"), "files": r["files"]}
                     for r in rows]
    return {
        "generated_by": "icemonitor",
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "warehouse": warehouse_info(wh), "table": name, "level": "table", "group_by": [], "filters": {},
        "releases": releases,
        "definitions": {name: table.description} | {c.name: c.description for c in table.columns},
    }
