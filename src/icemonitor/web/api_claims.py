"""JSON API for targeting and claim checks: GET /api/v1/targeting, POST /api/v1/check.

Same parameters as `icemonitor targeting` and `icemonitor check` (the claims file is the request body, YAML or
JSON). Answers carry the analysis's definitions, caveats and release ids.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Query, Request

from icemonitor.messages import msg
from icemonitor.web import analyses
from icemonitor.web.api import ERRORS, ErrorResponse
from icemonitor.web.api_analyses import ANSWER_LANG, AnalysisResponse, app_ref, respond
from icemonitor.query.filters import ParamError, check_order

router = APIRouter(prefix="/api/v1", tags=["analyses"])

CLAIMS_EXAMPLE = """source: "example"
claims:
  - id: la-fy2017
    text: "ICE made more than 8,000 arrests in the Los Angeles AOR in FY2017"
    metric: count
    table: arrests
    period: {from: 2016-10-01, to: 2017-09-30}
    place: LOS
    comparison: more_than
    value: 8000
"""


@router.get("/targeting", response_model=AnalysisResponse, responses=ERRORS, dependencies=[ANSWER_LANG])
def targeting(
    request: Request,
    definition: str | None = Query(None, pattern=r"^[a-z0-9_-]{1,60}$",
                                   description="Sanctuary definition (see /api/v1/places/status); default state-law"),
    date_from: dt.date = Query(dt.date(2015, 10, 1), alias="from", description="First day"),
    date_to: dt.date = Query(dt.date(2019, 9, 30), alias="to", description="Last day"),
    level: Literal["aor", "county"] = Query("aor", description="Places compared: AORs or counties"),
    period: Literal["month", "fy"] = Query("month", description="Period fixed effects"),
) -> AnalysisResponse:
    """Arrest rates per 10,000 non-citizens in sanctuary vs other places, rate ratios and DiD estimates."""
    check_order(date_from, date_to)
    if (date_to - date_from).days > 366 * 12:
        raise ParamError("from", msg("at most twelve years at once"), date_from.isoformat())
    res = run_targeting(request, definition, date_from, date_to, level, period)
    return respond(request, res)


def run_targeting(request: Request, definition, date_from, date_to, level, period):
    """analyses.targeting; a model the data cannot fit (e.g. collinear terms) is a 422 naming `definition`, the
    choice that decides which places change status, rather than a server error."""
    import numpy as np

    try:
        return analyses.targeting(request.app.state.warehouse, definition, date_from, date_to, level, period)
    except (ValueError, np.linalg.LinAlgError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ParamError("definition", msg("the count models cannot be fitted for these parameters (level {level}, "
                                           "{date_from} to {date_to}): {error}", level=level, date_from=date_from,
                                           date_to=date_to, error=first), definition) from None


CLAIMS_BODY = {"required": True, "description": "A claims file (YAML or JSON; the format of examples/claims/)",
               "content": {"application/x-yaml": {"schema": {"type": "string"}, "example": CLAIMS_EXAMPLE},
                           "text/plain": {"schema": {"type": "string"}},
                           "application/json": {"schema": {"type": "object"}}}}


async def claims_text(request: Request) -> str:
    """The request body as text: a claims document in YAML or JSON (size-limited, UTF-8)."""
    body = await request.body()
    if len(body) > analyses.MAX_CLAIMS_BYTES:
        raise ParamError("claims", msg("at most {n} bytes", n=analyses.MAX_CLAIMS_BYTES), len(body))
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise ParamError("claims", msg("the claims file must be UTF-8 text"), None) from None
    if not text.strip():
        raise ParamError("claims", msg("empty body: send a claims file (YAML or JSON)"), None)
    return text


CHECK_ERRORS = {**ERRORS,
                413: {"model": ErrorResponse, "description": "The claims file is larger than the limit"},
                503: {"model": ErrorResponse, "description": "No warehouse yet, or every claim-check slot is taken "
                                                             "(try again after Retry-After seconds)"}}


@router.post("/check", response_model=AnalysisResponse, responses=CHECK_ERRORS,
             openapi_extra={"requestBody": CLAIMS_BODY}, dependencies=[ANSWER_LANG])
async def check(request: Request) -> AnalysisResponse:
    """Check each claim against the records: observed value, difference, verdict, and the query behind it
    (as `icemonitor check FILE --json`)."""
    from starlette.concurrency import run_in_threadpool

    text = await claims_text(request)
    res = await run_in_threadpool(analyses.check_claims, request.app.state.warehouse, app_ref(request), text)
    return respond(request, res, None)
