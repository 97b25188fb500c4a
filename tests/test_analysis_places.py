"""With the places stage's landmark_resolution table present: county grouping and county sweeps, with
unresolved landmarks counted separately, never dropped."""

from __future__ import annotations

import duckdb
import pytest

from icemonitor.analysis.summary import summary
from icemonitor.analysis.sweeps import sweeps


LA_GENERAL = "LOS ANGELES COUNTY GENERAL AREA, NON-SPECIFIC"


@pytest.fixture(scope="module")
def con(request, tmp_path_factory):
    src = request.getfixturevalue("warehouse_path")
    path = tmp_path_factory.mktemp("places") / "w.duckdb"
    c = duckdb.connect(str(path))
    c.execute("ATTACH ? AS src (READ_ONLY)", [str(src)])
    c.execute("CREATE TABLE arrests AS SELECT * FROM src.arrests WHERE aor = 'LOS' AND fy IN (2017, 2018)")
    c.execute("DETACH src")
    c.execute("CREATE TABLE landmark_resolution (aor VARCHAR, landmark VARCHAR, county_fips VARCHAR, state VARCHAR,"
              " level VARCHAR, kind VARCHAR)")
    c.execute("INSERT INTO landmark_resolution VALUES ('LOS', ?, '06037', 'CA', 'county', 'general_area'),"
              " ('LOS', 'VENTURA COUNTY JAIL, VENTURA CA', '06111', 'CA', 'county', 'jail')", [LA_GENERAL])
    yield c
    c.close()


def test_county_grouping_keeps_unresolved(con):
    r = summary(con, by="county")
    got = {f["county"]: f["events"] for f in r.figures}
    total = con.execute("SELECT count(*) FROM arrests WHERE counted").fetchone()[0]
    la = con.execute("SELECT count(*) FROM arrests WHERE counted AND landmark = ?", [LA_GENERAL]).fetchone()[0]
    assert got["06037"] == la and sum(got.values()) == total and got["(unresolved)"] > 0
    assert any("unresolved" in c for c in r.caveats)
    r = summary(con, by="fy", place="06037")
    assert sum(f["events"] for f in r.figures) == la


def test_county_sweeps_run_with_unresolved_bucket(con):
    r = sweeps(con, date_from="2017-01-01", date_to="2018-09-30", measure="at_large", levels=("county",), limit=50)
    places = {f["place"] for f in r.figures}
    assert places <= {"06037", "06111", "unresolved:LOS"}
    assert any(f["place"] == "06037" and f["start"] <= "2018-02-15" and f["end"] >= "2018-02-11" for f in r.figures)
