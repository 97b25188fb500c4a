"""The result object every analysis returns: figures plus the definitions, releases and caveats behind them."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

from pydantic import BaseModel, Field, SkipValidation


_READY = frozenset({str, int, bool, type(None)})  # exact types that are JSON-ready as they are


def plain(value: Any) -> Any:
    """Turn numpy/pandas/date scalars into JSON-ready Python values (a new container for a dict, list, tuple or
    set)."""
    t = type(value)
    if t in _READY:  # the common cases first, by exact type: a figure row's keys and counts, rows, dates
        return value
    if t is dict:
        return {(k if isinstance(k, str) else str(k)): v if type(v) in _READY else plain(v) for k, v in value.items()}
    if t is list or t is tuple or t is set:
        return [v if type(v) in _READY else plain(v) for v in value]
    if t is dt.date or t is dt.datetime:
        return value.isoformat()
    if t is float:
        return value if value - value == 0.0 else None  # nan and inf: v - v is nan
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {(k if isinstance(k, str) else str(k)): v if type(v) in _READY else plain(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [plain(v) for v in value]
    if hasattr(value, "item"):  # numpy scalar
        return plain(value.item())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def plain_row(row: dict[Any, Any]) -> dict[str, Any]:
    """plain(row) for a figure row; the row itself where it is JSON-ready already (str keys; str, int, bool, None
    or finite float values: what most rows from DuckDB hold), so a large figure is checked, not copied again."""
    return plain_rows([row])[0]


def plain_rows(rows: list[Any]) -> list[Any]:
    """A new list: plain_row of each dict in `rows`, plain of anything else (the loop written out once for a
    figure's thousands of rows)."""
    out = list(rows)
    for i, row in enumerate(out):
        if type(row) is not dict:
            out[i] = plain(row)
            continue
        for k, v in row.items():
            t = type(v)
            if type(k) is not str or not (t in _READY or (t is float and v - v == 0.0)):  # nan, inf: v - v is nan
                out[i] = plain(row)
                break
    return out


class AnalysisResult(BaseModel):
    """One analysis run: what was asked, the figures, and what they mean and rest on."""

    name: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    columns: list[str] = Field(default_factory=list, description="Order of the keys in each figure row")
    figures: list[dict[str, Any]] = Field(default_factory=list)
    # display text is kept as the analyses give it: icemonitor.messages.Message (a str with its message id), so
    # every presentation layer renders it in its own language
    definitions: dict[str, SkipValidation[str]] = Field(default_factory=dict,
                                                        description="term -> plain-language definition")
    releases: list[str] = Field(default_factory=list, description="Catalog ids of the releases the figures use")
    caveats: list[SkipValidation[str]] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict, description="Analysis-specific secondary tables")
    coverage: dict[str, Any] | None = Field(
        default=None, description="What the records cover of the question: status (full / partial / none / subset: records of some people only, lower_bound), share of "
                                  "the period and place's AOR-days, covered and uncovered spans, fields not recorded, "
                                  "reason (icemonitor.query.coverage)")

    def model_post_init(self, __context: Any) -> None:
        # validation made new containers already: a row that is JSON-ready is kept as it is (plain_row)
        self.parameters = plain(self.parameters)
        self.figures = plain_rows(self.figures)
        self.extra = plain(self.extra)
        self.coverage = plain(self.coverage)
        self.releases = sorted(set(self.releases))
        if not self.columns and self.figures:
            self.columns = list(self.figures[0].keys())

    @classmethod
    def of_ready_rows(cls, figures: list[dict[str, Any]], **fields: Any) -> AnalysisResult:
        """An AnalysisResult whose `figures` are kept as given: a list the caller has just built of rows it knows to
        be JSON-ready (str keys; str, int, bool, None or finite float values: what plain_rows keeps as they are),
        so thousands of rows are not copied and checked again. The other fields are validated as by the
        constructor."""
        result = cls(**fields)
        result.figures = figures
        if not result.columns and figures:
            result.columns = list(figures[0].keys())
        return result

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
