"""The FastAPI application: dashboard pages, JSON API, downloads, over a read-only warehouse."""

from __future__ import annotations

import gc
import logging
import os
import threading
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Callable

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from markupsafe import Markup

from icemonitor import client_address
from icemonitor.client_address import ClientAddressMiddleware
from icemonitor.errors import InputError
from icemonitor.analysis.holdings import catalog_releases
from icemonitor.messages import Message, formats, msg
from icemonitor.web import (
    analyses, api, api_analyses, api_claims, api_detention, api_docs, claim_pages, detention_pages, i18n, pages,
    place_pages, place_search, sweep_pages, table_cells,
)
from icemonitor.web import api_place
from icemonitor.web.pages import COUNTY_TOPOJSON, topojson_path  # noqa: F401 - app.topojson_path stays importable
from icemonitor.web.db import Warehouse, caching
from icemonitor.web.body_limit import BodyLimit
from icemonitor.web.middleware import WebMiddleware
from icemonitor.query.filters import Filters, ParamError

Ref = Callable[[str], Path]
BUSY = msg("the server is busy checking other claims; try again shortly")


def json_language(request: Request) -> str:
    """The language of a JSON error: the `lang` parameter, else Accept-Language (i18n.api_language)."""
    return i18n.api_language(request.query_params.get("lang"), request.headers.get("accept-language"))


def _package_dir(name: str) -> Path:
    return Path(str(resources.files("icemonitor.web").joinpath(name)))


def templates() -> Environment:
    """Jinja2 environment: autoescape on for every template."""
    env = Environment(loader=FileSystemLoader(_package_dir("templates")), autoescape=select_autoescape(
        enabled_extensions=("html", "htm", "xml", "j2"), default_for_string=True, default=True))
    env.globals["number"] = i18n.number
    env.globals["table_cell"] = table_cells.cell
    env.globals["figure_rows"] = table_cells.figure_rows
    env.filters["tojson"] = tojson
    env.filters["analysis"] = _analysis_filter
    env.filters["day"] = _day_filter
    env.filters["month"] = _month_filter
    return env


JSON_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def tojson(value: object) -> Markup:
    """`{{ spec | tojson }}`: JSON for a <script> element (a chart's Vega-Lite spec with its data: a county map holds
    some 3,000 rows), as Jinja's own filter makes it safe for HTML (<, >, & and ' as \\u escapes), encoded by orjson:
    the standard library's encoder took ~10 ms of the overview's 40 ms of CPU at 8x. Keys sorted as Jinja's default;
    non-ASCII text as UTF-8, not escaped; NaN and infinities as null."""
    out = orjson.dumps(value, option=JSON_OPTIONS)
    for char, escaped in HTML_SAFE:
        if char in out:
            out = out.replace(char, escaped)
    return Markup(out.decode())


HTML_SAFE = ((b"<", b"\\u003c"), (b">", b"\\u003e"), (b"&", b"\\u0026"), (b"'", b"\\u0027"))


@pass_context
def _day_filter(context, value: object) -> str:
    """`{{ date | day }}`: a day in the page's language's format (messages/formats.py): 'Sep 24, 2017', '24 sep 2017'."""
    return formats.day(value, context.get("lang") or i18n.DEFAULT)


@pass_context
def _month_filter(context, value: object) -> str:
    """`{{ '2017-09' | month }}`: 'Sep 2017', 'sep 2017'."""
    return formats.month(value, context.get("lang") or i18n.DEFAULT)


@pass_context
def _analysis_filter(context, text: object):
    """`{{ text | analysis }}`: analysis-library text in the page's language (i18n.analysis_markup)."""
    return i18n.analysis_markup(context.get("lang") or i18n.DEFAULT, text)


def default_ref(warehouse_path: Path | str | None = None) -> Ref:
    """The catalog's reference resolver over the raw archive of the data folder the warehouse was built in
    (the warehouse's own folder when it holds a raw archive, e.g. `serve --warehouse OTHER/warehouse.duckdb`),
    else the configured data folder's."""
    from icemonitor import config
    from icemonitor.catalog.fetch import reference_resolver

    if warehouse_path is not None and config.raw_dir(Path(warehouse_path).parent).is_dir():
        return reference_resolver(home=Path(warehouse_path).parent)
    return reference_resolver()


def warm_up(app: FastAPI) -> threading.Thread:
    """Load the release catalog and the warehouse's table list and coverage in the background, and in a server
    process what every request reads once (_warm_readers), so the first visitor does not wait for them (the server
    accepts requests meanwhile)."""

    def run() -> None:
        try:
            catalog_releases()
            _warm_code(app)
            if app.state.long_lived:  # code and catalogs: frozen now, so the full passes the warm-up's analyses
                gc.freeze()           # trigger do not walk them again (see below)
            wh = app.state.warehouse
            if wh.exists():
                analyses.table_coverage(wh)
                analyses.loaded_releases(wh)
                if caching():  # with caching off nothing computed now would be kept
                    _warm_sweeps(app)
                if app.state.long_lived:
                    _warm_readers(app)
        except Exception:  # warming is an optimisation; the request path reports real errors
            logging.getLogger(__name__).exception("warm-up failed")
        if app.state.long_lived:
            # What the server process loaded so far (code, catalogs, the places index, metadata) lives as long as it
            # does: out of the garbage collector's full passes, which otherwise walk it again and again while
            # answering. Not for apps made and dropped in one process (tests): frozen objects are never collected.
            gc.freeze()

    thread = threading.Thread(target=run, name="icemonitor-web-warm-up", daemon=True)
    app.state.warm_up = thread
    thread.start()
    return thread


# Modules the routes import when first asked, not before the server answers (numpy, polars, pyarrow and what
# needs them): the warm-up loads them, so no visitor waits for an import.
DEFERRED_IMPORTS = ("numpy", "polars", "pyarrow", "icemonitor.query.coverage", "icemonitor.places.counties",
                    "icemonitor.places.sanctuary", "icemonitor.analysis.sweeps", "icemonitor.analysis.rollups",
                    "icemonitor.web.export")


def _warm_code(app: FastAPI) -> None:
    """What every worker loads once whatever it answers (kept with caching off: code and reference files, not
    answers): the modules the routes import when first asked (DEFERRED_IMPORTS), the page templates compiled, the
    interface and message catalogs of both languages, the places index."""
    import importlib

    from icemonitor import messages

    for name in DEFERRED_IMPORTS:
        importlib.import_module(name)
    env = app.state.templates
    for name in env.list_templates(extensions=["html"]):
        env.get_template(name)
    for lang in i18n.LANGUAGES:
        i18n.catalog(lang)
        messages.catalog(lang)
    if app.state.ref is not None:
        from icemonitor.places.place_names import names

        try:
            names(app.state.ref)  # the place index behind every place page and place filter
        except Exception:  # a resolver without the reference files: place pages report it on request
            logging.getLogger(__name__).info("places index not warmed", exc_info=True)


def _warm_sweeps(app: FastAPI) -> None:
    """The default sweeps runs behind /sweeps and the overview's recent sweeps (a few seconds on first use)."""
    from icemonitor.web import analyses

    wh = app.state.warehouse
    if "arrests" not in wh.tables():
        return
    ref = app.state.ref
    if ref is None:
        from icemonitor.analysis.common import reference_for

        ref = reference_for(wh.cursor())
    last = analyses.last_event_date(wh, Filters("arrests"))
    if last is not None:
        import datetime as dt

        analyses.sweeps(wh, ref, None, last - dt.timedelta(days=365), last, "at_large", None, 5)
    analyses.sweeps(wh, ref, None, None, None, "at_large", None, 5)
    analyses.sweeps(wh, ref, None, None, None, "at_large", None, 20)
    try:
        analyses.targeting(wh, None, None, None)  # the /targeting default (about a second)
    except Exception:  # a warehouse without the places stage's tables: the page reports it on request
        logging.getLogger(__name__).info("targeting not warmed", exc_info=True)


def warm_urls(wh: Warehouse) -> list[str]:
    """What _warm_readers asks: the overview, the summary API, and the place pages of a county, its AOR and its
    state (analyses.one_of_each_place; none without the counties table)."""
    return ["/", "/api/v1/summary?by=month,method_class",
            *(f"/place/{place}" for place in analyses.one_of_each_place(wh))]


def _warm_readers(app: FastAPI) -> None:
    """A server process answers warm_urls once, as a visitor would be answered, before /healthz says
    warm: what every request reads once per warehouse version, whatever it asks, is then read (analysis.rollups'
    rollups, the reference tables behind place pages and maps, the detention facility days, the date formats of
    both languages): the first visitor does not pay for it (~100-350 ms of CPU a first request at 1x). Kept with
    caching off too: these readers keep what the file holds, not answers."""
    import asyncio

    async def answer(url: str) -> None:
        path, _, query = url.partition("?")
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
                 "headers": [(b"host", b"warm-up")], "client": ("127.0.0.1", 0), "server": None, "state": {}}

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            pass

        await app(scope, receive, send)

    for url in warm_urls(app.state.warehouse):
        try:
            asyncio.run(answer(url))
        except Exception:  # warming is an optimisation; the request path reports real errors
            logging.getLogger(__name__).info("warm-up could not answer %s", url, exc_info=True)


def known_params(app: FastAPI) -> frozenset[str]:
    """Query parameters the cache may key on: the pages' (middleware.PAGE_PARAMS) and every API route's."""
    known = getattr(app.state, "known_params", None)
    if known is None:
        from icemonitor.web.middleware import PAGE_PARAMS

        api = {p.alias for r in api_routes(app.routes) for p in r.dependant.query_params}
        known = app.state.known_params = PAGE_PARAMS | api
    return known


def api_routes(routes: list) -> list:
    """The API routes among `routes`, those of included routers too: FastAPI keeps an included router as one
    route that holds it (original_router) since 0.16x, where older versions copied its routes in."""
    from fastapi.routing import APIRoute

    out = []
    for r in routes:
        if isinstance(r, APIRoute):
            out.append(r)
        elif getattr(r, "original_router", None) is not None:
            out.extend(api_routes(r.original_router.routes))
    return out


def body_limits() -> dict[str, int]:
    """Request body limits by path prefix (BodyLimit refuses more with 413 while the body streams in): the claims
    API takes one claims file; the intake's forms are small; everything else gets body_limit.DEFAULT_LIMIT."""
    from icemonitor.config import INTAKE_MAX_BODY

    return {"/api/v1/check": analyses.MAX_CLAIMS_BYTES, "/intake": INTAKE_MAX_BODY, "/staff": INTAKE_MAX_BODY}


def create_app(warehouse_path: Path | str | None = None, ref: Ref | None = None,
               trusted_proxies: str | list[str] | None = None, long_lived: bool = False) -> FastAPI:
    """The web app over the warehouse at `warehouse_path` (default config.warehouse_path()).

    `trusted_proxies`: addresses or networks whose X-Forwarded-For is believed (default ICEMONITOR_TRUSTED_PROXIES;
    none when unset), see icemonitor.client_address.

    `long_lived`: the app is a server process's for its whole life (`icemonitor serve`): what its warm-up loads is
    moved out of the garbage collector's reach.

    `ref` maps a shared/data-layout path to a local file (reference data such as the county TopoJSON);
    without it the catalog's resolver is used if present, else maps are reported as unavailable.
    """
    if warehouse_path is None:
        from icemonitor import config

        warehouse_path = config.warehouse_path()
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        warm_up(app)
        yield

    app = FastAPI(lifespan=lifespan, title="icemonitor API", version="1", description=(
        "ICE enforcement records from FOIA releases, counted with stated definitions. Every response names "
        "the releases and definitions behind its figures."), docs_url=None, redoc_url=None)  # docs: web/api_docs.py (vendored)
    app.state.warehouse = Warehouse(warehouse_path)
    app.state.ref = ref if ref is not None else default_ref(warehouse_path)
    app.state.long_lived = long_lived
    app.state.templates = templates()
    app.mount("/static", StaticFiles(directory=_package_dir("static")), name="static")

    app.add_middleware(WebMiddleware, mtime=lambda: app.state.warehouse.mtime, known=lambda: known_params(app))
    app.add_middleware(BodyLimit, limits=body_limits())
    app.add_middleware(ClientAddressMiddleware, trusted=client_address.trusted_proxies(trusted_proxies))

    @app.exception_handler(ParamError)
    async def param_error(request: Request, exc: ParamError):
        if request.url.path.startswith("/api/"):
            text = i18n.analysis_text(json_language(request), exc.message)
            return JSONResponse(status_code=422, content={"detail": [
                {"loc": ["body" if exc.param == "claims" else "query", exc.param], "msg": text, "type": "value_error",
                 "input": None if exc.value is None else str(exc.value)}]})
        return pages.error_page(request, 422, "error.param", param=exc.param, message=exc.message)

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError):
        """An analysis refused a parameter (unknown place, definition, ...): 422 naming it."""
        param = exc.field or "query"
        asked = set(request.query_params)
        if param not in asked and "place" in asked:  # e.g. the places module's own field names (fips5)
            param = "place"
        message = str(exc.args[0]) if exc.args else str(exc)
        api = request.url.path.startswith("/api/")
        lang = json_language(request) if api else pages.Page(request).lang
        if isinstance(exc.message, Message) and lang != "en":
            message = exc.message.render(lang)  # its translation (the English text keeps the field and value)
        if api:
            where = "body" if request.method == "POST" else "query"
            return JSONResponse(status_code=422, content={"detail": [
                {"loc": [where, param], "msg": message, "type": "value_error",
                 "input": None if exc.value is None else str(exc.value)}]})
        return pages.error_page(request, 422, "error.param", param=param, message=message)

    @app.exception_handler(analyses.Busy)
    async def busy(request: Request, exc: analyses.Busy):
        """Every claim-check slot is taken: try again shortly (in the request's language)."""
        if not request.url.path.startswith("/api/"):
            page = pages.error_page(request, 503, "error.busy")
            page.headers["Retry-After"] = "10"
            return page
        return JSONResponse(status_code=503, headers={"Retry-After": "10"},
                            content={"detail": BUSY.render(json_language(request))})

    @app.exception_handler(FileNotFoundError)
    async def no_warehouse(request: Request, exc: FileNotFoundError):
        if request.url.path.startswith("/api/"):
            text = msg("no warehouse at {path}; build it with the icemonitor build command",
                       path=str(request.app.state.warehouse.path))
            return JSONResponse(status_code=503, content={"detail": text.render(json_language(request))})
        return pages.error_page(request, 503, "error.no_warehouse", path=str(request.app.state.warehouse.path))

    @app.get("/geo/counties.topojson", include_in_schema=False)
    def county_topojson(request: Request) -> Response:
        path = topojson_path(request.app)
        if path is None:
            return JSONResponse(status_code=404, content={"detail": "county TopoJSON not available"})
        return Response(path.read_bytes(), media_type="application/json",
                        headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/healthz", include_in_schema=False)
    def healthz(request: Request) -> dict[str, object]:
        thread = getattr(request.app.state, "warm_up", None)
        # pid: which worker process answered (serve --workers N)
        return {"status": "ok", "warm": thread is not None and not thread.is_alive(), "pid": os.getpid()}

    app.include_router(api_docs.router)
    app.include_router(api.router)
    app.include_router(api_analyses.router)
    app.include_router(api_claims.router)
    app.include_router(api_detention.router)
    app.include_router(api_place.router)
    app.include_router(place_search.router)
    app.include_router(place_pages.router)
    app.include_router(sweep_pages.router)
    app.include_router(claim_pages.router)
    app.include_router(detention_pages.router)
    app.include_router(pages.router)
    return app
