"""Summary against counts taken straight from the raw FY2016-19 files with pandas."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint

from icemonitor.analysis.summary import summary
from icemonitor.errors import InputError

from conftest import ICE_DATA

NATIONAL = ICE_DATA / "uwchr-ice-enforce-fy16-19"


@pytest.fixture(scope="session")
def con(request, tmp_path_factory):
    c = duckdb.connect(str(request.getfixturevalue("warehouse_path")), read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="module")
def raw17():
    df = pd.read_csv(NATIONAL / "EROArrests_FY2017.csv.gz", sep="|", skiprows=5, dtype=str, keep_default_na=False)
    df["d"] = pd.to_datetime(df["Apprehension Date"], format="%m/%d/%Y")
    return df


def test_by_fy_matches_source_md(con):
    r = summary(con, by="fy", date_from="2015-10-01", date_to="2019-09-30")
    got = {f["fy"]: f["events"] for f in r.figures}
    assert got == {2016: 110104, 2017: 143470, 2018: 158581, 2019: 131904}
    assert r.releases == ["uwchr-ice-enforce-fy16-19"]


def test_aor_method_shares_with_wilson(con, raw17):
    r = summary(con, by=["aor", "method_class"], date_from="2016-10-01", date_to="2017-09-30", filters={"aor": "LOS"})
    la = raw17[raw17["Area of Responsibility"] == "Los Angeles Area of Responsibility"]
    at_large = la["Apprehension Method"].isin(["Located", "Non-Custodial Arrest"]).sum()
    row = next(f for f in r.figures if f["method_class"] == "at_large")
    assert row["events"] == at_large and row["aor"] == "LOS"
    lo, hi = proportion_confint(at_large, len(la), method="wilson")
    assert row["share"] == pytest.approx(at_large / len(la)) and row["share_low"] == pytest.approx(lo)
    assert row["share_high"] == pytest.approx(hi)


def test_safe_city_days(con, raw17):
    r = summary(con, by="day", date_from="2017-09-24", date_to="2017-09-27")
    assert [f["events"] for f in r.figures] == [265, 658, 720, 661]
    mask = (raw17["d"] >= "2017-09-24") & (raw17["d"] <= "2017-09-27")
    assert sum(f["events"] for f in r.figures) == mask.sum()


def test_place_filter_aor(con):
    r = summary(con, by="fy", place="SEA", date_from="2015-10-01", date_to="2019-09-30")
    assert [f["events"] for f in r.figures][:3] == [2698, 3376, 3067]


def test_bad_inputs_named(con):
    with pytest.raises(InputError, match="by"):
        summary(con, by="colour")
    with pytest.raises(InputError, match="from"):
        summary(con, date_from="24/9/2017")


def test_county_place_says_how_many_events_of_its_aor_are_undecided(con, raw17):
    """Los Angeles County, 24-27 Sep 2017: counted events resolved to 06037, and separately the LOS events with no
    county (nor another state) that may or may not lie in it; both against pandas on the raw file joined to the
    warehouse's resolution table."""
    from conftest import shared_ref

    r = summary(con, by="method_class", place="Los Angeles County, CA", date_from="2017-09-24",
                date_to="2017-09-27", ref=shared_ref)
    days = raw17[(raw17["d"] >= "2017-09-24") & (raw17["d"] <= "2017-09-27")
                 & (raw17["Area of Responsibility"] == "Los Angeles Area of Responsibility")]
    res = con.execute("SELECT landmark, county_fips, state, kind FROM landmark_resolution WHERE aor = 'LOS'").df()
    joined = days.assign(landmark=days["Apprehension Landmark"].replace("", None)).merge(
        res, on="landmark", how="left")
    office = joined["kind"] == "office_proxy"  # placed only by the arresting office: not an arrest place
    in_county = int(((joined["county_fips"] == "06037") & ~office).sum())
    undecided = int(((joined["county_fips"].isna() | office)
                     & (joined["state"].isna() | (joined["state"] == "CA") | office)).sum())
    assert sum(f["events"] for f in r.figures) == in_county > 0
    assert r.extra["office_placements"] == int(((joined["county_fips"] == "06037") & office).sum()) > 0
    assert r.extra["unresolved_in_place_aors"]["events"] == undecided > 0
    assert r.extra["unresolved_in_place_aors"]["aors"] == ["LOS"]
    assert any(f"{undecided:,} events" in c and "may or may not lie in" in c for c in r.caveats)
    # an AOR or the nation leaves nothing undecided
    assert summary(con, by="fy", place="LOS", date_from="2017-09-24", date_to="2017-09-27").extra[
        "unresolved_in_place_aors"] is None
