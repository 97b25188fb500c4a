"""Targeting and claim-check pages and API on the warehouse `icemonitor build` makes (conftest's `warehouse_path`)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from icemonitor.web.app import create_app

SHARED = __import__("conftest").SHARED_DATA
pytestmark = pytest.mark.skipif(not (SHARED / "ice").is_dir(), reason="../shared/data not present")

LA_FY2017 = {"claims": [{"id": "la-fy2017", "text": "More than 8,000 ICE arrests in the Los Angeles AOR in FY2017",
                         "metric": "count", "table": "arrests", "period": {"from": "2016-10-01", "to": "2017-09-30"},
                         "place": "LOS", "comparison": "more_than", "value": 8000}]}


@pytest.fixture(scope="module")
def client(request):
    try:
        path = request.getfixturevalue("warehouse_path")
    except Exception as exc:
        pytest.skip(f"the product warehouse could not be built here: {exc}")
    return TestClient(create_app(path, ref=lambda p: SHARED / p))


def test_check_api_counts_match_source_and_shows_the_query(client):
    r = client.post("/api/v1/check", json=LA_FY2017)
    assert r.status_code == 200, r.text[:300]
    row = r.json()["figures"][0]
    assert row["observed"] == 8419  # LOS FY2017, SOURCE.md of the nationwide release (FOIA 2019-ICFO-53623)
    assert row["verdict"] == "consistent" and "SELECT" in row["sql"]
    assert r.json()["releases"] == ["uwchr-ice-enforce-fy16-19"]
    yaml_text = Path(__file__).resolve().parents[1] / "examples" / "claims" / "september-2017-sweep.yaml"
    if yaml_text.is_file():
        r = client.post("/api/v1/check", content=yaml_text.read_bytes(), headers={"content-type": "application/x-yaml"})
        assert r.status_code == 200 and len(r.json()["figures"]) >= 3


def test_check_api_errors_name_the_field(client):
    bad = client.post("/api/v1/check", json={"claims": [{"id": "x"}]})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "metric"]
    assert "row 1" in bad.json()["detail"][0]["msg"] and "/tmp" not in bad.json()["detail"][0]["msg"]
    assert client.post("/api/v1/check", content=b"").json()["detail"][0]["loc"] == ["body", "claims"]
    assert client.post("/api/v1/check", content=b"\xff\xfe").status_code == 422


def test_check_page_paste_and_upload(client):
    text = json.dumps(LA_FY2017)
    pasted = client.post("/check", data={"claims": text}, params={"lang": "en"})
    assert pasted.status_code == 200 and "8,419" in pasted.text and "la-fy2017" in pasted.text
    uploaded = client.post("/check", files={"file": ("claims.json", text.encode(), "application/json")},
                           data={"claims": ""}, params={"lang": "es"})
    assert uploaded.status_code == 200 and "8,419" in uploaded.text and "Veredictos" in uploaded.text
    evil = client.post("/check", data={"claims": json.dumps({"claims": [{**LA_FY2017["claims"][0],
                                                                          "text": "<script>alert(1)</script>"}]})})
    assert "<script>alert(1)" not in evil.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in evil.text
    assert client.post("/check", data={"claims": ""}).status_code == 422


def test_targeting_api_and_page_agree(client):
    api = client.get("/api/v1/targeting").json()
    assert api["parameters"]["definition"] == "state-law" and api["releases"] and api["caveats"]
    for g in api["figures"]:
        assert g["rate_per_10k"] == pytest.approx(g["arrests"] / g["person_years"] * 10000)
    page = client.get("/targeting", params={"lang": "en"})
    assert page.status_code == 200
    models = api["extra"]["models"]
    text = html.unescape(page.text)
    for m in models:
        assert f"{m['ratio']:,.3f}" in text and f"{m['low']:,.3f} – {m['high']:,.3f}" in text
    spec = json.loads(re.search(r'data-chart-for="chart-ratios">(.*?)</script>', page.text, re.S).group(1))
    assert spec["layer"][1]["encoding"]["x"]["scale"]["type"] == "log"
    assert api["extra"]["plain_words"][0] in text
    assert client.get("/api/v1/targeting", params={"definition": "zzz"}).json()["detail"][0]["loc"] == ["query", "definition"]
    assert client.get("/targeting", params={"level": "state"}).status_code == 422
