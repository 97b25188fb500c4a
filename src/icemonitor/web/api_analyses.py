"""JSON API for the analyses: /api/v1/sweeps, /api/v1/priorities, /api/v1/places/status.

Same parameters as the CLI commands (`icemonitor sweeps`, `icemonitor priorities`, `icemonitor places status`),
validated by FastAPI/pydantic (a bad parameter gets a 422 whose `loc` names it). Every answer carries the
analysis's definitions, caveats and the ids of the releases its figures come from.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from icemonitor.messages import msg, render
from icemonitor.places.policy_event import PolicyEvent  # not places.sanctuary: polars, loaded by the warm-up
from icemonitor.query.filters import check_order
from icemonitor.web import analyses
from icemonitor.web.analyses import app_ref  # noqa: F401 - imported from here by the page modules
from icemonitor.web.api import ERRORS, PLACE_HELP, PLACE_PATTERN, Release, WarehouseInfo
from icemonitor.web.context import release_details, warehouse_info

router = APIRouter(prefix="/api/v1", tags=["analyses"])

Measure = Literal["all", "at_large", "custodial"]
Level = Literal["national", "aor", "state", "county", "landmark"]
PriorityTable = Literal["arrests", "bookins", "removals", "i213"]
Period = Literal["fy", "month", "all"]


class AnalysisResponse(BaseModel):
    name: str = Field(description="Which analysis")
    parameters: dict[str, Any] = Field(description="What was asked, as the analysis understood it")
    columns: list[str] = Field(description="Order of the keys in each figure row")
    figures: list[dict[str, Any]]
    definitions: dict[str, str] = Field(description="term -> plain-language definition")
    releases: list[str] = Field(description="Catalog ids of the releases the figures come from")
    release_details: list[Release] = Field(description="The same releases with title, FOIA request and files")
    caveats: list[str] = Field(description="What to keep in mind; display text (definitions, caveats, coverage's "
                                           "reasons) is in the language of the lang parameter: en (default) or es")
    extra: dict[str, Any] = Field(default_factory=dict)
    coverage: dict[str, Any] | None = Field(None, description="What the records cover of the question (status, "
                                                               "share, spans, fields not recorded, reason, data age)")
    warehouse: WarehouseInfo


class StatusResponse(BaseModel):
    place_code: str
    place_label: str
    place_level: str
    date: dt.date
    definition: str = Field(description="Name of the sanctuary definition applied")
    definition_text: str
    answer: Literal["yes", "no", "unknown"]
    reason: str
    caveats: list[str]
    events: list[PolicyEvent] = Field(description="The policy events (warehouse `policies`) behind the answer")
    definitions_available: dict[str, str] = Field(description="Every selectable definition: name -> description")
    sources: list[str] = Field(description="Reference files (shared/data layout) the policy events come from")


ANSWER_LANG_HELP = ("Language of the answer's display text (definitions, caveats, coverage's reasons, notes, place "
                    "labels): en (English, the default) or es (lang=es gives them in Spanish); the figures, keys and "
                    "releases are the same in both")


def answer_language(lang: Literal["en", "es"] = Query("en", description=ANSWER_LANG_HELP)) -> str:
    """The `lang` parameter of the endpoints that answer through `respond` (which reads it), declared so that the
    OpenAPI schema documents it."""
    return lang


ANSWER_LANG = Depends(answer_language)  # dependencies=[ANSWER_LANG] on every route that answers through respond


def respond(request: Request, res, table: str | None = "arrests") -> AnalysisResponse:
    """The analysis's answer, its display text (definitions, caveats, coverage's reasons, notes) in the request's
    `lang` parameter (en, the default, or es; as /summary and /coverage)."""
    wh = request.app.state.warehouse
    lang = request.query_params.get("lang")
    if lang and lang != "en":
        res = _in_language(res, lang)
    return AnalysisResponse(
        name=res.name, parameters=res.parameters, columns=res.columns, figures=res.figures,
        definitions=res.definitions, releases=res.releases,
        release_details=[Release(**r) for r in release_details(wh, res.releases, table)],
        caveats=res.caveats, extra=res.extra, coverage=res.coverage, warehouse=WarehouseInfo(**warehouse_info(wh)))


def _in_language(res, lang: str):
    """A copy of the result with every message in it rendered in `lang` (a 422 naming `lang` for a language the
    catalogs lack). English answers skip this: a message is its English text already."""
    from icemonitor.messages import LANGS

    if lang not in LANGS:
        from icemonitor.query.filters import ParamError

        raise ParamError("lang", msg("choose one of {choices}", choices=", ".join(LANGS)), lang)
    return res.model_copy(update={k: render(getattr(res, k), lang) for k in
                                  ("parameters", "figures", "definitions", "caveats", "extra", "coverage")})


@router.get("/sweeps", response_model=AnalysisResponse, responses=ERRORS, dependencies=[ANSWER_LANG])
def sweeps(
    request: Request,
    place: str | None = Query(None, pattern=PLACE_PATTERN, description=PLACE_HELP + " (default: the nation)"),
    date_from: dt.date = Query(dt.date(2015, 10, 1), alias="from", description="First day scanned"),
    date_to: dt.date = Query(dt.date(2019, 9, 30), alias="to", description="Last day scanned"),
    measure: Measure = Query("at_large", description="Which arrests: all, at_large or custodial"),
    level: list[Level] | None = Query(None, description="Levels to scan (repeat); default: all available"),
    limit: int = Query(20, ge=1, le=200, description="How many sweeps, best score first"),
    release: str | None = Query(None, pattern=r"^[A-Za-z0-9._-]{1,100}$",
                                description="Count only this release's rows (its own series)"),
    fold: bool = Query(True, description="Fold echoes of AOR sweeps at other levels into them (CLI: --no-fold)"),
) -> AnalysisResponse:
    """Multi-day surges of arrests above the expected daily count, ranked (as `icemonitor sweeps --json`)."""
    from icemonitor.query.filters import ParamError

    check_order(date_from, date_to)
    if (date_to - date_from).days > 366 * 12:
        raise ParamError("from", msg("at most twelve years at once"), date_from.isoformat())
    res = analyses.sweeps(request.app.state.warehouse, app_ref(request), place, date_from, date_to, measure,
                          tuple(level) if level else None, limit, release, fold)
    return respond(request, res)


@router.get("/priorities", response_model=AnalysisResponse, responses=ERRORS, dependencies=[ANSWER_LANG])
def priorities(
    request: Request,
    place: str | None = Query(None, pattern=PLACE_PATTERN, description=PLACE_HELP),
    date_from: dt.date | None = Query(None, alias="from", description="First event date (inclusive)"),
    date_to: dt.date | None = Query(None, alias="to", description="Last event date (inclusive)"),
    table: PriorityTable = Query("arrests", description="Event table"),
    by: Period = Query("fy", description="Period: fy, month or all"),
) -> AnalysisResponse:
    """Shares convicted / pending charges only / no record, per the release's own field (as `icemonitor priorities`)."""
    check_order(date_from, date_to)
    res = analyses.priorities(request.app.state.warehouse, app_ref(request), table, place, date_from, date_to, by)
    return respond(request, res, table)


@router.get("/places/status", response_model=StatusResponse, responses=ERRORS)
def place_status(
    request: Request,
    place: str = Query(..., pattern=PLACE_PATTERN, description="A state (CA) or county (06037 or its name)"),
    date: dt.date = Query(..., description="The day asked about"),
    definition: str | None = Query(None, pattern=r"^[a-z0-9_-]{1,60}$",
                                   description="Sanctuary definition name (default: the project default)"),
    lang: Literal["en", "es"] = Query("en", description="Language of the reason, definitions and caveats"),
) -> StatusResponse:
    """Was the place a sanctuary jurisdiction on the date, under the chosen definition (as `icemonitor places status`)."""
    from icemonitor.places.sanctuary import definitions

    ref = app_ref(request)
    res = analyses.place_status(request.app.state.warehouse, ref, place, date, definition)
    body = res.model_dump()
    for key in ("definition_text", "reason", "caveats"):
        body[key] = render(getattr(res, key), lang)
    body["definitions_available"] = {k: render(d.description, lang) for k, d in definitions().items()}
    body["sources"] = sorted({e.source for e in res.events})
    return StatusResponse(**body)
