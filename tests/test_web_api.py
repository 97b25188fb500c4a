"""JSON API against a warehouse built from the real nationwide arrests, checked against the raw files."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import web_warehouse as ww
from icemonitor.web.app import create_app
from icemonitor.web.db import Warehouse

pytestmark = pytest.mark.skipif(not ww.NATIONWIDE.is_dir(), reason="../shared/data not present")


@pytest.fixture(scope="session")
def wh_path(tmp_path_factory):
    return ww.cached_build(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def client(wh_path):
    return TestClient(create_app(wh_path, ref=lambda p: ww.SHARED_DATA / p))


@pytest.fixture(scope="session")
def raw_arrests() -> pd.DataFrame:
    """The nationwide arrests read straight from the release files (independent of the web code)."""
    frames = []
    for f in sorted(ww.NATIONWIDE.glob("EROArrests_FY*.csv.gz")):
        df = pd.read_csv(f, sep="|", skiprows=5, dtype=str, keep_default_na=False)
        df["date"] = pd.to_datetime(df["Apprehension Date"], format="%m/%d/%Y")
        df["fy"] = int(f.name[-11:-7])
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def test_summary_by_fy_matches_raw_file(client, raw_arrests):
    r = client.get("/api/v1/summary", params={"by": "fy", "aor": "LOS"})
    assert r.status_code == 200
    body = r.json()
    got = {row["fy"]: row["n"] for row in body["rows"]}
    la = raw_arrests[raw_arrests["Area of Responsibility"] == "Los Angeles Area of Responsibility"]
    assert got == la.groupby("fy").size().to_dict()
    assert got == {2016: 7651, 2017: 8419, 2018: 7854, 2019: 6144}  # as measured in SOURCE.md
    assert body["total"] == len(la)
    assert [x["release_id"] for x in body["releases"]] == [ww.NATIONWIDE_RELEASE]
    assert body["releases"][0]["foia_request"] == "2019-ICFO-53623"  # from the release catalog
    assert {"counted", "period", "method_class"} <= set(body["definitions"])


def test_summary_month_method_with_period_matches_raw(client, raw_arrests):
    params = {"by": "month,method_class", "aor": "NYC", "from": "2017-03-15", "to": "2017-11-02"}
    body = client.get("/api/v1/summary", params=params).json()
    nyc = raw_arrests[(raw_arrests["Area of Responsibility"] == "New York City Area of Responsibility")
                      & (raw_arrests["date"] >= "2017-03-15") & (raw_arrests["date"] <= "2017-11-02")]
    at_large = {"Located", "Non-Custodial Arrest"}
    custodial = {"CAP Local Incarceration", "CAP State Incarceration", "CAP Federal Incarceration",
                 "287(g) Program", "Probation and Parole"}
    cls = nyc["Apprehension Method"].map(lambda m: "at_large" if m in at_large else
                                         "custodial" if m in custodial else "other")
    expected = nyc.groupby([nyc["date"].dt.strftime("%Y-%m"), cls]).size().to_dict()
    got = {(row["month"], row["method_class"]): row["n"] for row in body["rows"]}
    assert got == expected
    assert min(m for m, _ in got) == "2017-03" and max(m for m, _ in got) == "2017-11"


def test_method_class_filter_and_safe_city_days(client, raw_arrests):
    """At-large arrests in LA AOR on 2017-09-24..27 (Operation Safe City): 141 per SOURCE.md."""
    params = {"aor": "LOS", "from": "2017-09-24", "to": "2017-09-27", "method_class": "at_large"}
    assert client.get("/api/v1/summary", params=params).json()["total"] == 141
    params.pop("method_class")
    assert client.get("/api/v1/summary", params=params).json()["total"] == 260


@pytest.mark.parametrize("params, bad", [
    ({"by": "aor;DROP TABLE arrests"}, "by"),
    ({"by": "aor,aor"}, "by"),
    ({"by": "month,aor,fy,gender"}, "by"),
    ({"method_class": "jail"}, "method_class"),
    ({"from": "2019-13-01"}, "from"),
    ({"from": "2019-05-01", "to": "2019-01-01"}, "to"),
    ({"aor": "LOS' OR 1=1 --"}, "aor"),
    ({"table": "users"}, "table"),
    ({"table": "removals"}, "table"),  # a known table this warehouse does not have
    ({"by": "criminality_field", "table": "arrests", "lang": "fr"}, "lang"),
    ({"criminality": "felon"}, "criminality"),
    ({"release": "x' OR '1'='1"}, "release"),
])
def test_bad_parameters_are_422_naming_the_parameter(client, params, bad):
    r = client.get("/api/v1/summary", params=params)
    assert r.status_code == 422, r.text
    assert any(d["loc"][-1] == bad for d in r.json()["detail"]), r.json()


def test_releases_and_coverage(client, raw_arrests, wh_path):
    rel = client.get("/api/v1/releases").json()["releases"]
    nat = [r for r in rel if r["release_id"] == ww.NATIONWIDE_RELEASE]
    assert sorted(r["file_name"] for r in nat) == [f"EROArrests_FY{y}.csv.gz" for y in (2016, 2017, 2018, 2019)]
    assert sum(r["rows_loaded"] for r in nat) == len(raw_arrests) == 544059
    cov = client.get("/api/v1/coverage").json()
    arrests = next(t for t in cov["tables"] if t["table"] == "arrests")
    assert arrests["max_date"] == raw_arrests["date"].max().date().isoformat() == "2019-09-01"
    assert arrests["min_date"] == "2012-01-01"  # the Seattle production starts in January 2012
    assert arrests["rows"] == len(raw_arrests) + 32549
    assert set(arrests["releases"]) == {ww.NATIONWIDE_RELEASE, ww.SEATTLE_RELEASE}
    assert cov["warehouse"]["file"] == wh_path.name


def test_counted_rows_only(client, raw_arrests):
    """SEA FY2016-18 are in both releases; the total counts them once (the nationwide release has precedence)."""
    body = client.get("/api/v1/summary", params={"aor": "SEA", "by": "fy,release_id",
                                                 "from": "2014-10-01", "to": "2018-09-30"}).json()
    got = {(r["fy"], r["release_id"]): r["n"] for r in body["rows"]}
    assert got == {(2015, ww.SEATTLE_RELEASE): 2977, (2016, ww.NATIONWIDE_RELEASE): 2698,
                   (2017, ww.NATIONWIDE_RELEASE): 3376, (2018, ww.NATIONWIDE_RELEASE): 3067}  # SOURCE.md counts


def test_openapi_lists_the_api(client):
    spec = client.get("/openapi.json").json()
    assert {"/api/v1/summary", "/api/v1/releases", "/api/v1/coverage"} <= set(spec["paths"])
    names = {p["name"] for p in spec["paths"]["/api/v1/summary"]["get"]["parameters"]}
    assert {"table", "by", "from", "to", "aor", "method_class"} <= names


def test_cache_is_dropped_when_the_warehouse_changes(tmp_path):
    path = ww.tiny(tmp_path / "w.duckdb", [{"event_date": "2017-01-05", "aor": "LOS", "counted": True}])
    wh = Warehouse(path)
    sql = "SELECT count(*) AS n FROM arrests"
    assert wh.query(sql) == [{"n": 1}]
    wh._cache[(wh._mtime, sql, ())] = [{"n": -1}]  # prove the next answer comes from the cache
    assert wh.query(sql) == [{"n": -1}]
    new = ww.tiny(tmp_path / "w.new.duckdb", [{"event_date": "2017-01-05", "aor": "LOS", "counted": True}] * 3)
    st = path.stat()
    os.utime(new, (st.st_atime, st.st_mtime + 5))
    os.replace(new, path)  # the warehouse build swaps a new file in whole
    assert wh.query(sql) == [{"n": 3}]


def test_criminality_and_release_filters(client):
    """SEA FY2015 arrests of the Seattle release with a recorded conviction: the non-blank Most Serious Conviction."""
    raw = pd.read_csv(ww.SEATTLE / "arrests.csv.gz", sep="|", skiprows=6, dtype=str, keep_default_na=False)
    d = pd.to_datetime(raw["Arrest Date"], format="%m/%d/%Y")
    fy2015 = raw[(d >= "2014-10-01") & (d <= "2015-09-30")]
    params = {"release": ww.SEATTLE_RELEASE, "criminality": "convicted", "from": "2014-10-01", "to": "2015-09-30"}
    body = client.get("/api/v1/summary", params=params).json()
    assert body["total"] == int((fy2015["Most Serious Conviction"] != "").sum())
    assert body["filters"]["criminality"] == "convicted" and body["filters"]["release"] == ww.SEATTLE_RELEASE
    none = client.get("/api/v1/summary", params={**params, "release": "no-such-release"}).json()
    assert none["total"] == 0 and none["releases"] == []
