"""JSON API for a place's profile: /api/v1/place/{place}, the figures of its page (/place/{code}) from the same
analyses (analysis.place_profile), each with its definitions, releases, caveats and coverage."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from icemonitor.query.filters import check_order
from icemonitor.web import analyses
from icemonitor.web.analyses import app_ref
from icemonitor.web.api import ERRORS, PLACE_HELP, PLACE_PATTERN
from icemonitor.web.api_analyses import ANSWER_LANG, AnalysisResponse, respond

router = APIRouter(prefix="/api/v1", tags=["analyses"])


class PlaceProfileResponse(BaseModel):
    trend: AnalysisResponse = Field(description="Counted arrests per month and method class")
    method_mix: AnalysisResponse = Field(description="Counted arrests per fiscal year and method class")
    criminality: AnalysisResponse = Field(description="Arrests by criminality, where a release records it")
    resolution: AnalysisResponse = Field(description="Counted arrests resolved to the place, and its AORs' "
                                                      "arrests placed in no county")
    policies: AnalysisResponse = Field(description="Policy events of the place (and counts of local ones)")
    peers: AnalysisResponse = Field(description="Counted arrests per 10,000 non-citizen residents beside its peers")


@router.get("/place/{place}", response_model=PlaceProfileResponse, responses=ERRORS, dependencies=[ANSWER_LANG])
def place_profile(
    request: Request,
    place: str = Path(..., pattern=PLACE_PATTERN, description=PLACE_HELP),
    date_from: dt.date | None = Query(None, alias="from", description="First day (default: the first record)"),
    date_to: dt.date | None = Query(None, alias="to", description="Last day (default: the last record)"),
) -> PlaceProfileResponse:
    """A place's profile, as its page shows it."""
    check_order(date_from, date_to)
    wh, ref = request.app.state.warehouse, app_ref(request)
    return PlaceProfileResponse(**{
        part: respond(request, analyses.place_profile(wh, ref, part, analyses.national(place), date_from, date_to))
        for part in analyses.PLACE_PROFILE})
