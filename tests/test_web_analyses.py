"""Analysis API, place pages for states and counties, sweep pages: on the warehouse `icemonitor build` makes
(conftest's `warehouse_path`), checked against counts taken straight from the raw files or written separately."""

from __future__ import annotations

import html
import json
import re

import duckdb
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from icemonitor.web.app import create_app

SHARED = __import__("conftest").SHARED_DATA
NATIONWIDE = SHARED / "ice" / "uwchr-ice-enforce-fy16-19"
AT_LARGE = {"Located", "Non-Custodial Arrest"}

pytestmark = pytest.mark.skipif(not NATIONWIDE.is_dir(), reason="../shared/data not present")


@pytest.fixture(scope="module")
def wh(request):
    try:
        return request.getfixturevalue("warehouse_path")
    except Exception as exc:  # the build has its own tests; here we only need its output
        pytest.skip(f"the product warehouse could not be built here: {exc}")


@pytest.fixture(scope="module")
def client(wh):
    return TestClient(create_app(wh, ref=lambda p: SHARED / p))


@pytest.fixture(scope="module")
def raw_fy2016() -> pd.DataFrame:
    """FY2016 nationwide arrests read straight from the release file (independent of the product code)."""
    df = pd.read_csv(NATIONWIDE / "EROArrests_FY2016.csv.gz", sep="|", skiprows=5, dtype=str, keep_default_na=False)
    df["date"] = pd.to_datetime(df["Apprehension Date"], format="%m/%d/%Y")
    return df


def _loc(response) -> list:
    assert response.status_code == 422, response.text[:300]
    return response.json()["detail"][0]["loc"]


# ------------------------------------------------------------------ API

def test_sweeps_api_top_sweep_counts_match_raw_file(client, raw_fy2016):
    body = client.get("/api/v1/sweeps", params={"limit": 3}).json()
    top = body["figures"][0]
    assert body["name"] == "sweeps" and body["releases"] and body["definitions"]["sweep"]
    assert "uwchr-ice-enforce-fy16-19" in [r["release_id"] for r in body["release_details"]]
    assert body["parameters"]["measure"] == "at_large"
    assert top["level"] == "aor" and top["place"] == "SLC"
    aor = {"SLC": "Salt Lake City Area of Responsibility"}[top["place"]]
    raw = raw_fy2016[(raw_fy2016["Area of Responsibility"] == aor) & raw_fy2016["Apprehension Method"].isin(AT_LARGE)
                     & (raw_fy2016["date"] >= top["start"]) & (raw_fy2016["date"] <= top["end"])]
    assert top["observed"] == len(raw) == 180
    assert top["excess_low"] <= top["excess"] <= top["excess_high"]


def test_sweeps_api_validation_names_the_parameter(client):
    assert _loc(client.get("/api/v1/sweeps", params={"measure": "everything"})) == ["query", "measure"]
    assert _loc(client.get("/api/v1/sweeps", params={"place": "Narnia"})) == ["query", "place"]
    assert _loc(client.get("/api/v1/sweeps", params={"level": "planet"}))[:2] == ["query", "level"]
    assert _loc(client.get("/api/v1/sweeps", params={"from": "2019-01-01", "to": "2018-01-01"})) == ["query", "to"]
    assert _loc(client.get("/api/v1/sweeps", params={"limit": 0})) == ["query", "limit"]


def test_priorities_api_events_match_raw_counts(client):
    body = client.get("/api/v1/priorities", params={"place": "LOS", "from": "2015-10-01", "to": "2019-09-30"}).json()
    totals = {int(f["period"]): f["events"] for f in body["figures"] if f["method_class"] == "all"}
    assert totals == {2016: 7651, 2017: 8419, 2018: 7854, 2019: 6144}  # SOURCE.md of the nationwide release
    assert body["releases"] == ["uwchr-ice-enforce-fy16-19"] and body["caveats"]
    assert _loc(client.get("/api/v1/priorities", params={"by": "decade"})) == ["query", "by"]
    assert _loc(client.get("/api/v1/priorities", params={"table": "encounters"})) == ["query", "table"]


def test_place_status_api(client):
    yes = client.get("/api/v1/places/status", params={"place": "06037", "date": "2018-02-01"}).json()
    assert yes["answer"] == "yes" and yes["definition"] == "state-law"
    assert any("SB 54" in (e["citation"] or "") for e in yes["events"])
    assert "state-law" in yes["definitions_available"] and yes["sources"]
    before = client.get("/api/v1/places/status", params={"place": "CA", "date": "2013-06-01"}).json()
    assert before["answer"] == "no"  # the TRUST Act took effect on 2014-01-01
    other = client.get("/api/v1/places/status", params={"place": "06037", "date": "2018-02-01",
                                                        "definition": "dhs-2025"}).json()
    assert other["definition"] == "dhs-2025" and other["answer"] in ("no", "unknown")
    assert _loc(client.get("/api/v1/places/status", params={"place": "06037", "date": "2018-02-01",
                                                            "definition": "nope"})) == ["query", "definition"]
    assert _loc(client.get("/api/v1/places/status", params={"place": "06037"})) == ["query", "date"]


def test_openapi_lists_the_analysis_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/sweeps", "/api/v1/priorities", "/api/v1/places/status"} <= set(paths)
    names = {p["name"] for p in paths["/api/v1/sweeps"]["get"]["parameters"]}
    assert {"place", "from", "to", "measure", "level", "limit", "release", "fold"} <= names


# ------------------------------------------------------------------ place pages

def _spec(text: str, fig: str) -> dict:
    m = re.search(rf'data-chart-for="chart-{fig}">(.*?)</script>', text, re.S)
    assert m, f"no chart {fig}"
    return json.loads(m.group(1))


def test_county_page_counts_resolved_arrests_and_says_how_many_are_unresolved(client, wh):
    r = client.get("/place/06037", params={"from": "2015-10-01", "to": "2019-09-30"})
    assert r.status_code == 200
    con = duckdb.connect(str(wh), read_only=True)
    # event placements only: a landmark naming only the arresting office places the arrest in no county
    event = ("(SELECT aor, landmark, CASE WHEN kind IS DISTINCT FROM 'office_proxy' THEN county_fips END AS c "
             "FROM landmark_resolution)")
    resolved = con.execute(
        f"SELECT count(*) FROM arrests a JOIN {event} r USING (aor, landmark) WHERE a.counted AND r.c = '06037' "
        "AND a.event_date BETWEEN '2015-10-01' AND '2019-09-30'").fetchone()[0]
    unresolved, total = con.execute(
        f"SELECT count(*) FILTER (WHERE r.c IS NULL), count(*) FROM arrests a LEFT JOIN {event} r USING (aor, landmark) "
        "WHERE a.counted AND a.aor = 'LOS' AND a.event_date BETWEEN '2015-10-01' AND '2019-09-30'").fetchone()
    note = html.unescape(re.search(r'id="resolution-note">(.*?)</p>', r.text, re.S).group(1))
    assert f"{resolved:,} counted arrests resolved" in note
    assert f"{unresolved:,} of {total:,}" in note
    trend = _spec(r.text, "trend")
    assert sum(row["n"] for row in trend["layer"][-1]["data"]["values"] if row["n"]) == resolved
    assert "Los Angeles County" in r.text and "Policy timeline" in r.text


def test_state_page_policy_timeline_on_the_trend_axis(client):
    r = client.get("/place/CA")
    assert r.status_code == 200
    spec = _spec(r.text, "trend")
    marks = [layer["mark"]["type"] for layer in spec["layer"]]
    assert "rect" in marks and "rule" in marks and marks[-1] == "line"
    rules = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "rule")["data"]["values"]
    assert "2018-01-01" in {m["start"] for m in rules}  # SB 54, California Values Act
    assert "SB 54 (2017) California Values Act" in html.unescape(r.text)
    assert "sanctuary/state_immigration_cooperation_laws.csv" in r.text


def test_aor_peer_rate_matches_separate_computation(client, wh):
    r = client.get("/place/LOS", params={"from": "2017-10-01", "to": "2018-09-30"})
    rows = _spec(r.text, "peers")["layer"][0]["encoding"]  # the chart exists
    assert rows
    con = duckdb.connect(str(wh), read_only=True)
    n = con.execute("SELECT count(*) FROM arrests WHERE counted AND aor = 'LOS' "
                    "AND event_date BETWEEN '2017-10-01' AND '2018-09-30'").fetchone()[0]
    pop = con.execute("SELECT sum(p.noncitizen_pop) FROM population p JOIN county_aor_periods c USING (county_fips) "
                      "WHERE p.year = 2018 AND c.aor = 'LOS' AND coalesce(c.valid_from, DATE '0001-01-01') <= DATE '2018-09-30' "
                      "AND coalesce(c.valid_to, DATE '9999-12-31') >= DATE '2018-09-30'").fetchone()[0]
    data = _spec(r.text, "peers")["data"]["values"]
    los = next(d for d in data if d["peer"] == "LOS")
    assert los["current"] and los["n"] == n
    assert los["rate"] == pytest.approx(round(n * 10000 / pop, 2))


def test_unknown_place_is_404_and_spanish_place_page(client):
    assert client.get("/place/Narnia").status_code == 404
    r = client.get("/place/06037", params={"lang": "es"})
    assert r.status_code == 200 and 'lang="es"' in r.text and "Cronología de políticas" in r.text


# ------------------------------------------------------------------ sweeps

def test_sweeps_list_links_to_sweep_pages_with_the_same_figures(client, raw_fy2016):
    r = client.get("/sweeps", params={"limit": 5})
    assert r.status_code == 200
    links = [html.unescape(u) for u in re.findall(r'href="(/sweep/[^"]+)"', r.text)]
    assert len(links) == 5
    api = client.get("/api/v1/sweeps", params={"limit": 5}).json()["figures"]
    page = client.get(links[0] + "&lang=en")  # an earlier test left a Spanish cookie
    assert page.status_code == 200
    summary = html.unescape(re.search(r'id="sweep-summary">(.*?)</p>', page.text, re.S).group(1))
    assert summary.startswith(f"{api[0]['observed']:,} arrests") and f"{api[0]['excess']:,.1f}" in summary
    daily = _spec(page.text, "daily")["layer"][1]["data"]["values"]
    inside = sum(d["n"] for d in daily if d["in_sweep"])
    assert inside == api[0]["observed"]
    assert "SLC GENERAL AREA, NON-SPECIFIC" in page.text  # where it concentrated


def test_overview_links_largest_recent_sweeps(client):
    r = client.get("/")
    assert 'id="recent-sweeps"' in r.text
    link = html.unescape(re.search(r'id="recent-sweeps".*?href="(/sweep/[^"]+)"', r.text, re.S).group(1))
    assert client.get(link).status_code == 200


def test_sweep_page_errors(client):
    assert client.get("/sweep/LOS/2001-01-01/2001-01-05").status_code == 404
    assert client.get("/sweep/LOS/2016-01-01/2016-01-05", params={"measure": "zzz"}).status_code == 422
    assert client.get("/sweeps", params={"limit": "500"}).status_code == 422


def test_source_text_on_place_and_sweep_pages_is_escaped(wh, tmp_path):
    """A policy citation and a landmark holding <script> render as text (a copy of the built warehouse)."""
    import shutil

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(wh, copy)
    evil = "<script>alert(1)</script>"
    con = duckdb.connect(str(copy))
    con.execute("UPDATE policies SET citation = ? WHERE policy_id = 'state_law_restricts:CA:3'", [evil])
    con.execute("UPDATE arrests SET landmark = ? WHERE aor = 'SLC' AND event_date BETWEEN '2015-10-24' AND '2015-10-29'",
                [evil])
    con.execute("DROP TABLE sweep_runs")  # rows changed in place: the sweeps the build stored no longer hold (a
    con.execute("DROP TABLE sweep_findings")  # build derives them again); the pages count them from the rows
    con.close()
    c = TestClient(create_app(copy, ref=lambda p: SHARED / p))
    place = c.get("/place/CA", params={"lang": "en"}).text
    sweep = c.get("/sweep/SLC/2015-10-24/2015-10-29", params={"level": "aor", "lang": "en"}).text
    for text in (place, sweep):
        assert evil not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_place_search_redirects_to_the_place_page(client):
    r = client.get("/place", params={"q": "Cook County, IL"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/place/17031"
    r = client.get("/place", params={"q": "texas", "lang": "es"}, follow_redirects=False)
    assert r.headers["location"] == "/place/TX?lang=es"
    assert client.get("/place", params={"q": "Narnia"}).status_code == 404
    assert 'id="place-q"' in client.get("/", params={"lang": "en"}).text


def test_served_warehouse_elsewhere_finds_its_own_reference_files(wh):
    """`serve --warehouse HOME/warehouse.duckdb` with no ICEMONITOR_HOME: place answers use HOME's raw archive."""
    c = TestClient(create_app(wh))
    r = c.get("/api/v1/places/status", params={"place": "06037", "date": "2018-02-01"})
    assert r.status_code == 200 and r.json()["answer"] == "yes"
    assert c.get("/place/CA").status_code == 200


def test_nation_and_date_bounds(client):
    us = client.get("/api/v1/sweeps", params={"place": "US", "limit": 2}).json()
    default = client.get("/api/v1/sweeps", params={"limit": 2}).json()
    assert us["figures"] == default["figures"]
    assert _loc(client.get("/api/v1/sweeps", params={"from": "0001-01-01", "to": "0001-01-02"})) == ["query", "from"]
    assert _loc(client.get("/api/v1/priorities", params={"to": "9999-01-01"})) == ["query", "to"]
    assert _loc(client.get("/api/v1/sweeps", params={"place": "00000"})) == ["query", "place"]
