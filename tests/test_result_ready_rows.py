"""AnalysisResult.of_ready_rows (figures kept as the analysis built them) gives the result the constructor gives:
county_rates and aor_map on the built warehouse, and the rows of a small example."""

from __future__ import annotations

import datetime as dt

import pytest

from icemonitor.analysis import overview
from icemonitor.analysis.result import AnalysisResult
from icemonitor.query.filters import Filters


def _validated(result: AnalysisResult) -> AnalysisResult:
    """The same fields through the constructor (figures validated and made plain again)."""
    return AnalysisResult(**{k: getattr(result, k) for k in AnalysisResult.model_fields})


@pytest.mark.parametrize("f", [Filters("arrests"), Filters("arrests", aor="LOS"),
                               Filters("arrests", dt.date(2016, 1, 1), dt.date(2016, 12, 31), None, "at_large")])
def test_map_and_rates_as_the_constructor_gives_them(warehouse_con, f) -> None:
    for name in ("aor_map", "county_rates"):
        result = getattr(overview, name)(warehouse_con, f)
        assert result.figures, name
        assert result.model_dump() == _validated(result).model_dump()
        assert result.to_json() == _validated(result).to_json()
        year = result.extra.get("year")
        if name == "county_rates" and year is not None:  # the rollup path's rows: plain as built
            assert overview.population_is_plain(warehouse_con, year)
            assert all(type(r["noncitizen_pop"]) is float and type(r["n"]) is int for r in result.figures)


def test_ready_rows_are_kept_and_columns_follow_them() -> None:
    rows = [{"a": "x", "n": 1, "r": 0.5}]
    result = AnalysisResult.of_ready_rows(rows, name="t", releases=["b", "a", "a"], parameters={"d": dt.date(2020, 1, 2)})
    assert result.figures is rows and result.columns == ["a", "n", "r"]
    assert result.releases == ["a", "b"] and result.parameters == {"d": "2020-01-02"}
    assert result.model_dump() == _validated(result).model_dump()
