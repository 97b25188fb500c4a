"""Population denominators against direct reads of the population CSVs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from icemonitor.errors import InputError
from icemonitor.places.population import county_estimates, population

from conftest import SHARED_DATA  # ../shared/data beside the repo
pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")


def ref(p: str) -> Path:
    return SHARED_DATA / p


@pytest.fixture(scope="module")
def raw2017() -> pd.DataFrame:
    return pd.read_csv(SHARED_DATA / "population/county_noncitizen_acs5_2013_2017.csv", dtype={"fips5": str})


def test_los_angeles_against_csv(raw2017):
    row = raw2017[raw2017.fips5 == "06037"].iloc[0]
    county = population("county", 2017, ref)
    got = county.filter(county["county_fips"] == "06037").row(0, named=True)
    assert got["total_pop"] == row.total_pop_acs5_2017 == 10105722
    assert got["noncitizen_pop"] == row.total_pop_acs5_2017 - row.citizens_acs5_2017
    assert got["year_used"] == 2017 and got["imputed"] is False
    assert "2013-2017" in got["vintage"]


def test_aor_is_sum_of_its_counties(raw2017):
    xw = pd.read_csv(SHARED_DATA / "aor/county_aor_crosswalk.csv", dtype=str)
    merged = raw2017.merge(xw[["fips5", "uwchr_aor_code"]], on="fips5")
    nonc = (merged.total_pop_acs5_2017 - merged.citizens_acs5_2017).clip(lower=0)
    expected = nonc.groupby(merged.uwchr_aor_code).sum()
    tot = merged.groupby("uwchr_aor_code").total_pop_acs5_2017.sum()
    aor = population("aor", 2017, ref)
    for code in ("LOS", "SNA", "HOU", "SEA", "NYC"):
        r = aor.filter(aor["aor"] == code).row(0, named=True)
        assert r["noncitizen_pop"] == pytest.approx(expected[code])
        assert r["total_pop"] == pytest.approx(tot[code])
    county = population("county", 2017, ref)
    for code in ("LOS", "CHI"):
        assert aor.filter(aor["aor"] == code)["total_pop"][0] == pytest.approx(
            county.filter(county["aor"] == code)["total_pop"].sum())


def test_negative_estimates_clipped_and_counted(raw2017):
    negative = raw2017[(raw2017.total_pop_acs5_2017 - raw2017.citizens_acs5_2017) < 0]
    assert len(negative) == 26
    est = county_estimates(ref).filter(county_estimates(ref)["year"] == 2017)
    assert est["noncitizen_clipped"].sum() == len(negative)
    assert est["noncitizen_pop"].min() == 0
    state = population("state", 2017, ref)
    by_state = negative.merge(pd.read_csv(SHARED_DATA / "geo/counties_fips.csv", dtype=str)[["fips5", "state_abbr"]],
                              on="fips5").groupby("state_abbr").size()
    for st, n in by_state.items():
        assert state.filter(state["state"] == st)["n_clipped"][0] == n


def test_nearest_year_imputation_is_flagged():
    c2019 = population("county", 2019, ref)
    la = c2019.filter(c2019["county_fips"] == "06037").row(0, named=True)
    assert la["year"] == 2019 and la["year_used"] == 2017 and la["imputed"] is True
    c2010 = population("county", 2010, ref)
    la10 = c2010.filter(c2010["county_fips"] == "06037").row(0, named=True)
    assert la10["year_used"] == 2016 and la10["imputed"] is True
    # the 2016 vintage: MEDSL total minus CVAP citizens, computed independently
    medsl = pd.read_csv(SHARED_DATA / "population/medsl_election_context_2018.csv", na_values=["NA"])
    cvap = pd.read_csv(SHARED_DATA / "population/cvap_cit_county_long_2009_2023.csv", dtype={"fips5": str})
    tot = medsl.loc[medsl.fips == 6037, "total_population"].iloc[0]
    cit = cvap.loc[(cvap.fips5 == "06037") & (cvap.acs5_end_year == 2016), "cit"].iloc[0]
    assert la10["total_pop"] == tot and la10["noncitizen_pop"] == tot - cit
    # Alaska has no 2016 row (MEDSL lacks Alaska): falls back to 2017
    ak = c2010.filter(c2010["state"] == "AK")
    assert set(ak["year_used"].to_list()) == {2017}
    aor = population("aor", 2019, ref)
    assert aor["imputed"].all() and (aor["n_imputed"] == aor["n_counties"]).all()


def test_harlingen_only_after_split():
    assert "HAL" not in population("aor", 2019, ref)["aor"].to_list()
    assert "HAL" in population("aor", 2023, ref)["aor"].to_list()


def test_bad_level():
    with pytest.raises(InputError, match="level"):
        population("city", 2017, ref)  # type: ignore[arg-type]
