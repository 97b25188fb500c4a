"""The web app over the warehouse the product builds (the session fixture `warehouse_path` from conftest.py)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from icemonitor.web.app import create_app

SHARED = __import__("conftest").SHARED_DATA


@pytest.fixture(scope="module")
def client(request):
    try:
        path = request.getfixturevalue("warehouse_path")
    except Exception as exc:  # the build has its own tests (test_warehouse.py); here we only need its output
        pytest.skip(f"the product warehouse could not be built here: {exc}")
    return TestClient(create_app(path, ref=lambda p: SHARED / p))


def test_la_arrests_by_fiscal_year(client):
    body = client.get("/api/v1/summary", params={"aor": "LOS", "by": "fy", "from": "2015-10-01",
                                                 "to": "2019-09-30"}).json()
    assert {r["fy"]: r["n"] for r in body["rows"]} == {2016: 7651, 2017: 8419, 2018: 7854, 2019: 6144}  # SOURCE.md
    assert "uwchr-ice-enforce-fy16-19" in [r["release_id"] for r in body["releases"]]


def test_pages_and_endpoints_answer(client):
    for url in ("/", "/?lang=es", "/place/SEA", "/place/LOS", "/data", "/data?table=removals&by=fy",
                "/api/v1/releases", "/api/v1/coverage", "/data/export.csv?by=aor"):
        r = client.get(url)
        assert r.status_code == 200, (url, r.text[:300])
    tables = {t["table"] for t in client.get("/api/v1/coverage").json()["tables"]}
    assert {"arrests", "removals"} <= tables


def test_default_reference_resolver_finds_the_county_map(built_home, monkeypatch):
    """`icemonitor serve` passes no ref: the app must find the TopoJSON in the data folder's raw archive."""
    from icemonitor import config
    from icemonitor.web.app import create_app, topojson_path

    monkeypatch.setenv("ICEMONITOR_HOME", str(built_home))
    app = create_app(config.warehouse_path(built_home))
    path = topojson_path(app)
    assert path is not None and path.name == "us_atlas_counties-albers-10m.topojson.json"


def test_trend_shades_the_months_only_seattle_covers(client, warehouse_path):
    """Before FY2016 only the Seattle AOR production has arrests: the national trend shades those months and
    names the AOR, in the page's language; the months come from an independent query of the warehouse."""
    import json
    import re

    import duckdb

    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        months = con.execute(
            "SELECT min(strftime(event_date, '%Y-%m')), max(strftime(event_date, '%Y-%m')), "
            "list(DISTINCT aor) FROM arrests WHERE counted AND event_date < DATE '2015-10-01'").fetchone()
    first, last, aors = months
    assert aors == ["SEA"] and last == "2015-09"
    for lang, word in (("en", "only SEA"), ("es", "solo SEA")):
        html = client.get("/", params={"lang": lang}).text
        spec_text = re.search(r'<script[^>]*data-chart-for="?chart-trend"?[^>]*>(.*?)</script>', html, re.S).group(1)
        spec = json.loads(spec_text)
        band = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "rect")
        seattle = [b for b in band["data"]["values"] if b["label"] == word and b["to"] == "2015-09-30"]
        assert seattle and seattle[0]["from"] == first + "-01"
    # one AOR: nothing to shade
    html = client.get("/", params={"aor": "LOS"}).text
    spec = json.loads(re.search(r'<script[^>]*data-chart-for="?chart-trend"?[^>]*>(.*?)</script>', html, re.S).group(1))
    assert "layer" not in spec
