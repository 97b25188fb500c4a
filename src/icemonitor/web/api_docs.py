"""The API documentation page: Swagger UI served from the package (static/vendor), so it works offline and
within the site's content security policy (no script from another host, no inline script)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from icemonitor.web.pages import Page

router = APIRouter(include_in_schema=False)
DOCS_PATH = "/api/docs"


@router.get(DOCS_PATH, response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    """Swagger UI over /openapi.json, inside the site's header and language switch."""
    return Page(request).render("api_docs.html", active="api", openapi_url=request.app.openapi_url)
