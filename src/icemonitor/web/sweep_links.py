"""Links from a sweep row to its page (used by the overview, place and sweeps pages)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode


def sweep_link(f: dict[str, Any], res_params: dict[str, Any], scope: str | None) -> str:
    """URL of a sweep's page: the run's parameters travel along, so the page re-runs the same (cached) analysis."""
    q = {"level": f["level"], "measure": res_params.get("measure") or "at_large",
         "from": str(res_params.get("from") or ""), "to": str(res_params.get("to") or ""),
         "limit": str(res_params.get("limit") or 20)}
    if scope:
        q["in"] = scope
    return f"/sweep/{f['place']}/{f['start']}/{f['end']}?{urlencode(q)}"


def sweep_rows(res, scope: str | None) -> list[dict[str, Any]]:
    return [{**f, "url": sweep_link(f, res.parameters, scope)} for f in res.figures]
