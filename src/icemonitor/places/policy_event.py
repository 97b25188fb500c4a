"""A policy event behind a sanctuary answer (places.sanctuary), in a module of its own: the web API's response
model names it without loading the places stage's tables (polars) before the server answers."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel


class PolicyEvent(BaseModel):
    policy_id: str
    jurisdiction: str
    jurisdiction_level: str
    kind: str
    start: dt.date | None
    end: dt.date | None
    end_known: bool
    citation: str | None
    source: str
    source_row: int | None
    evidence: str | None
    confidence: str | None
    verified: bool
    role: Literal["in_force", "possibly_in_force", "unverified", "model_unknown"]
