"""With the places stage's landmark_resolution table: county grouping and county sweeps, with
unresolved landmarks counted separately, never dropped."""

from __future__ import annotations

import pytest

from icemonitor.analysis.summary import summary
from icemonitor.analysis.sweeps import sweeps
from icemonitor.warehouse import connect

LA_GENERAL = "LOS ANGELES COUNTY GENERAL AREA, NON-SPECIFIC"


@pytest.fixture(scope="module")
def con(warehouse_path):
    c = connect(warehouse_path)
    yield c
    c.close()


def test_county_grouping_keeps_unresolved(con):
    r = summary(con, by="county", date_from="2016-10-01", date_to="2018-09-30")
    got = {f["county"]: f["events"] for f in r.figures}
    (total,) = con.execute(
        "SELECT count(*) FROM arrests WHERE counted AND event_date BETWEEN '2016-10-01' AND '2018-09-30'"
    ).fetchone()
    (la_resolved,) = con.execute(
        "SELECT count(*) FROM arrests a JOIN landmark_resolution r USING (aor, landmark) "
        "WHERE a.counted AND r.county_fips = '06037' AND r.kind IS DISTINCT FROM 'office_proxy' "
        "AND a.event_date BETWEEN '2016-10-01' AND '2018-09-30'"
    ).fetchone()
    (la_general,) = con.execute(
        "SELECT count(*) FROM arrests WHERE counted AND landmark = ? AND event_date BETWEEN '2016-10-01' AND '2018-09-30'",
        [LA_GENERAL],
    ).fetchone()
    assert got["06037"] == la_resolved >= la_general > 0
    assert sum(got.values()) == total
    assert any(k.startswith("(unresolved") for k in got)
    assert any("unresolved" in c for c in r.caveats)
    r = summary(con, by="fy", place="06037", date_from="2016-10-01", date_to="2018-09-30")
    assert sum(f["events"] for f in r.figures) == la_resolved


def test_county_sweeps_find_the_la_operations(con):
    r = sweeps(con, place="LOS", date_from="2017-01-01", date_to="2018-09-30", measure="at_large", levels=("county",), limit=50)
    places = {f["place"] for f in r.figures}
    assert "06037" in places
    # the announced Los Angeles operations of 11-15 Feb 2018 and 24-27 Sep 2017
    assert any(f["place"] == "06037" and f["start"] <= "2018-02-15" and f["end"] >= "2018-02-11" for f in r.figures)
    assert any(f["place"] == "06037" and f["start"] <= "2017-09-27" and f["end"] >= "2017-09-24" for f in r.figures)
