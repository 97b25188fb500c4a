"""Wilson interval against statsmodels and the closed form; result object serialisation."""

import datetime as dt
import json
import math

import numpy as np
from hypothesis import given, strategies as st
from statsmodels.stats.proportion import proportion_confint

from icemonitor.analysis.result import AnalysisResult
from icemonitor.analysis.stats import wilson_arrays, wilson_interval


@given(st.integers(min_value=1, max_value=10_000), st.data())
def test_wilson_matches_statsmodels(n, data):
    k = data.draw(st.integers(min_value=0, max_value=n))
    lo, hi = wilson_interval(k, n)
    slo, shi = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert math.isclose(lo, slo, abs_tol=1e-9) and math.isclose(hi, shi, abs_tol=1e-9)
    alo, ahi = wilson_arrays(np.array([k]), np.array([n]))
    assert math.isclose(alo[0], slo, abs_tol=1e-9) and math.isclose(ahi[0], shi, abs_tol=1e-9)


def test_wilson_direct_formula():
    # 475 of 869 (the Safe City at-large arrests with an operation marker); z = 1.959964
    k, n, z = 475, 869, 1.959963984540054
    p = k / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    lo, hi = wilson_interval(k, n)
    assert math.isclose(lo, centre - half, rel_tol=1e-12) and math.isclose(hi, centre + half, rel_tol=1e-12)
    assert wilson_interval(0, 0) == (None, None)


def test_normal_quantile_is_scipys_bit_for_bit():
    from scipy.special import ndtri

    from icemonitor.analysis.stats import Z_95, normal_quantile_two_sided

    assert Z_95 == float(ndtri(0.975))  # the constant the analyses use without importing scipy
    for confidence in (0.5, 0.8, 0.9, 0.95, 0.99, 0.999):
        assert normal_quantile_two_sided(confidence) == float(ndtri(1 - (1 - confidence) / 2))


def test_result_to_json_plain_values():
    r = AnalysisResult(
        name="x", parameters={"from": dt.date(2017, 9, 24)},
        figures=[{"n": np.int64(3), "share": np.float64(0.5), "nan": float("nan"), "day": dt.date(2017, 9, 24)}],
        definitions={"at_large": "Apprehension Method in {Located, Non-Custodial Arrest}"},
        releases=["b", "a", "a"], caveats=["c"],
    )
    out = json.loads(r.to_json())
    assert out["figures"][0] == {"n": 3, "share": 0.5, "nan": None, "day": "2017-09-24"}
    assert out["parameters"]["from"] == "2017-09-24" and out["releases"] == ["a", "b"]
    assert out["columns"] == ["n", "share", "nan", "day"]
