"""JSON API for detention: /api/v1/detention/now, /trend, /held, /check, /errors, /facilities.

Same parameters and the same computation as `icemonitor detention ...` (analysis/detention.py). Every answer
carries the definitions, the postings and cells its figures were read from, and ICE's known errors."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Query, Request

from icemonitor.analysis import detention
from icemonitor.web.api import ERRORS
from icemonitor.web.api_analyses import AnalysisResponse, respond

router = APIRouter(prefix="/api/v1/detention", tags=["detention"])
Reason = Literal["unreadable_file", "table_stopped", "unknown_title", "stale_sheet", "unchanged_table",
                 "stated_date_older", "repost_other_bytes", "same_bytes_reposted", "value_revised"]


@router.get("/now", response_model=AnalysisResponse, responses=ERRORS)
def now(request: Request, as_of: dt.date | None = Query(None, description="The snapshot ICE states on or before this day "
                                                                          "(default: the latest)")) -> AnalysisResponse:
    """People ICE held on its latest stated date, by arresting agency and criminality (as `icemonitor detention now`)."""
    return respond(request, detention.detained_now(request.app.state.warehouse.cursor(), as_of), None)


@router.get("/trend", response_model=AnalysisResponse, responses=ERRORS)
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


@router.get("/held", response_model=AnalysisResponse, responses=ERRORS)
def held(request: Request, date: dt.date = Query(..., description="The day")) -> AnalysisResponse:
    """People held on a day: DDP's facility-day counts and ICE's snapshots nearest the day."""
    return respond(request, detention.held_on(request.app.state.warehouse.cursor(), date), None)


@router.get("/check", response_model=AnalysisResponse, responses=ERRORS)
def check(
    request: Request,
    date: dt.date = Query(..., description="The day of the claim"),
    people: int = Query(..., ge=0, le=10_000_000, description="The number claimed"),
    comparison: Literal["more", "fewer"] = Query("more", description="'ICE held more (fewer) than N people'"),
) -> AnalysisResponse:
    """Check a claim such as "ICE held more than 60,000 people on 10 June 2025"; extra.answer is supported,
    not_supported, depends_on_measure or no_records."""
    return respond(request, detention.check_held(request.app.state.warehouse.cursor(), date, people, comparison), None)


@router.get("/errors", response_model=AnalysisResponse, responses=ERRORS)
def errors(
    request: Request,
    reason: Reason | None = Query(None, description="Kind of error"),
    posting: str | None = Query(None, pattern=r"^[A-Za-z0-9._-]{1,120}$", description="A posting's file name"),
    limit: int = Query(200, ge=1, le=5000),
) -> AnalysisResponse:
    """ICE's errors found in its postings, with the evidence (detention_exclusions)."""
    return respond(request, detention.posting_errors(request.app.state.warehouse.cursor(), reason, posting, limit), None)


@router.get("/facilities", response_model=AnalysisResponse, responses=ERRORS)
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
