"""Priorities against the raw removals and arrests files, computed separately with pandas."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from icemonitor.analysis.priorities import priorities

from conftest import ICE_DATA

NATIONAL = ICE_DATA / "uwchr-ice-enforce-fy16-19"


@pytest.fixture(scope="session")
def con(request, tmp_path_factory):
    c = duckdb.connect(str(request.getfixturevalue("warehouse_path")), read_only=True)
    yield c
    c.close()


def test_removals_threat_level_proxy_labelled(con):
    r = priorities(con, table="removals", place="LOS", by_method=False, date_from="2016-10-01", date_to="2017-09-30")
    raw = pd.read_csv(NATIONAL / "ICERemovals_FY2017.csv.gz", sep="|", skiprows=5, dtype=str, keep_default_na=False)
    la = raw[raw["Area of Responsibility"] == "Los Angeles Area of Responsibility"]
    na = (la["RC Threat Level"] == "NA").sum()
    row = next(f for f in r.figures if f["period"] == "2017")
    assert row["events"] == len(la)
    assert row["no_record_share"] == pytest.approx(na / len(la))
    assert 0.25 < row["no_record_share"] < 0.31  # SOURCE.md: 28% for Los Angeles AOR in FY2017
    lo, hi = proportion_confint(na, len(la), method="wilson")
    assert (row["no_record_low"], row["no_record_high"]) == pytest.approx((lo, hi))
    assert row["note"].startswith("PROXY: RC Threat Level")  # labelled a proxy once
    assert any("proxy" in c for c in r.caveats)


def test_arrests_not_recorded_gives_no_share(con):
    r = priorities(con, table="arrests", date_from="2017-09-24", date_to="2017-09-27")
    assert r.figures and all(f["convicted_share"] is None and "not recorded" in f["note"] for f in r.figures)
    total = next(f for f in r.figures if f["method_class"] == "all")
    assert total["events"] == 2304
    assert any("no proxy" in c for c in r.caveats)
