"""What place_queries.py and sweep_pages.py (being moved into analyses on branch sel-place) still import from here.
The dashboard's figures are analyses now (analysis/overview.py, analysis/holdings.py, through web/analyses.py's
cache) and its parameters live in query/filters.py; drop this module once those two no longer import it."""

from __future__ import annotations

from typing import Any

from icemonitor.query.filters import Filters, ParamError  # noqa: F401 - imported from here by sweep_pages.py
from icemonitor.web import analyses
from icemonitor.web.db import Warehouse

last_event_date = analyses.last_event_date


def county_aor_source(wh: Warehouse, f: Filters) -> tuple[str, list[Any], str] | None:
    """analysis.overview.county_aor_source on the web's warehouse."""
    from icemonitor.analysis.overview import county_aor_source as run

    return run(wh.cursor(), f, wh.columns)
