"""Dashboard pages, downloads, escaping and translations."""

from __future__ import annotations

import datetime as dt
import io
import os
import json
import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

import web_warehouse as ww
from icemonitor.web import i18n
from icemonitor.web.app import create_app

needs_data = pytest.mark.skipif(not ww.NATIONWIDE.is_dir(), reason="../shared/data not present")
WEB = Path(__file__).resolve().parents[1] / "src" / "icemonitor" / "web"


@pytest.fixture(scope="session")
def wh_path(tmp_path_factory):
    return ww.cached_build(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="module")
def client(wh_path):
    return TestClient(create_app(wh_path, ref=lambda p: ww.SHARED_DATA / p))


def chart_specs(html: str) -> dict[str, dict]:
    found = re.findall(r'<script type="application/json" data-chart-for="([^"]+)">(.*?)</script>', html, re.S)
    return {k: json.loads(v) for k, v in found}


def csv_body(text: str) -> tuple[list[str], pd.DataFrame]:
    lines = text.splitlines()
    comments = [ln for ln in lines if ln.startswith("#")]
    return comments, pd.read_csv(io.StringIO(text), comment=None, skiprows=len(comments))


@needs_data
def test_overview_draws_trend_aor_map_and_rates(client):
    r = client.get("/", params={"from": "2016-10-01", "to": "2017-09-30"})
    assert r.status_code == 200
    specs = chart_specs(r.text)
    assert {"chart-trend", "chart-aor_map", "chart-aor_bars", "chart-rates"} <= set(specs)
    api = client.get("/api/v1/summary", params={"by": "month,method_class", "from": "2016-10-01",
                                                "to": "2017-09-30"}).json()
    trend = {(v["month"], v["method_class"]): v["n"] for v in specs["chart-trend"]["data"]["values"] if v["n"]}
    assert trend == {(x["month"], x["method_class"]): x["n"] for x in api["rows"]}
    assert specs["chart-aor_map"]["data"]["url"] == "/geo/counties.topojson"
    assert "uwchr-ice-enforce-fy16-19" in r.text and "counted = true" in r.text
    assert "Data coverage" in r.text


@needs_data
def test_county_rate_against_raw_file(client):
    """LA County: arrests at two hand-resolved landmarks per 10,000 non-citizens (ACS 2013-17)."""
    r = client.get("/", params={"from": "2016-10-01", "to": "2017-09-30"})
    values = chart_specs(r.text)["chart-rates"]["layer"][1]["transform"][0]["from"]["data"]["values"]
    la = next(v for v in values if v["county_fips"] == "06037")
    raw = pd.read_csv(ww.NATIONWIDE / "EROArrests_FY2017.csv.gz", sep="|", skiprows=5, dtype=str,
                      keep_default_na=False)
    lm = raw["Apprehension Landmark"].str.strip()
    n = int(((raw["Area of Responsibility"] == "Los Angeles Area of Responsibility")
             & lm.isin([l for a, l, _ in ww.TEST_LANDMARKS if a == "LOS"])).sum())
    pop = pd.read_csv(ww.SHARED_DATA / "population" / "county_noncitizen_acs5_2013_2017.csv", dtype={"fips5": str})
    nonc = int(pop.loc[pop["fips5"] == "06037", "noncitizens_acs5_2017_derived"].iloc[0])
    assert la["n"] == n and la["noncitizen_pop"] == nonc
    assert la["rate"] == pytest.approx(round(n * 10000 / nonc, 2))


@needs_data
def test_htmx_request_gets_only_the_results(client):
    r = client.get("/", params={"aor": "LOS"}, headers={"HX-Request": "true"})
    assert r.text.lstrip().startswith('<div id="results"') and "<html" not in r.text
    assert "/place/LOS" in r.text


@needs_data
def test_missing_tables_are_reported(tmp_path_factory):
    path = ww.cached_build(tmp_path_factory.getbasetemp(), "bare.duckdb", extra_tables=False)
    c = TestClient(create_app(path, ref=lambda p: ww.SHARED_DATA / p))
    html = c.get("/").text
    assert "not available in this warehouse" in html and "landmark_resolution, population" in html
    assert "chart-aor_bars" in html and "chart-aor_map" not in html
    es = c.get("/?lang=es").text
    assert "no disponible en este almacén de datos" in es


@needs_data
def test_place_page_criminality_matches_seattle_file(client):
    html = client.get("/place/SEA").text
    specs = chart_specs(html)
    assert {"chart-trend", "chart-method_mix", "chart-criminality_most_serious_conviction"} <= set(specs)
    vals = specs["chart-criminality_most_serious_conviction"]["data"]["values"]
    got = {(v["fy"], v["criminality"]): v["n"] for v in vals}
    raw = pd.read_csv(ww.SEATTLE / "arrests.csv.gz", sep="|", skiprows=6, dtype=str, keep_default_na=False)
    d = pd.to_datetime(raw["Arrest Date"], format="%m/%d/%Y")
    fy = d.dt.year + (d.dt.month >= 10)
    fy2017 = raw[fy == 2017]
    assert got[(2017, "convicted")] == int((fy2017["Most Serious Conviction"] != "").sum())
    assert got[(2017, "no_record")] == int((fy2017["Most Serious Conviction"] == "").sum())
    assert "most_serious_conviction" in html and ww.SEATTLE_RELEASE in html
    # LOS has no release recording criminality: the page says so.
    los = client.get("/place/los").text
    assert "No release loaded for LOS records criminal history" in los
    assert client.get("/place/XXX").status_code == 404


@needs_data
def test_csv_download_matches_api_and_carries_provenance(client):
    params = {"table": "arrests", "from": "2017-01-01", "to": "2017-06-30", "method_class": "custodial", "by": "aor"}
    r = client.get("/data/export.csv", params=params)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    comments, df = csv_body(r.text)
    api = client.get("/api/v1/summary", params=params).json()
    assert dict(zip(df["aor"].fillna("∅"), df["n"])) == {(x["aor"] or "∅"): x["n"] for x in api["rows"]}
    text = "\n".join(comments)
    assert "release: uwchr-ice-enforce-fy16-19 (FOIA 2019-ICFO-53623)" in text
    assert "definition method_class:" in text and "filters: table=arrests; from=2017-01-01" in text


@needs_data
def test_event_level_csv_and_parquet(client):
    params = {"aor": "LOS", "from": "2017-09-24", "to": "2017-09-27", "level": "events"}
    comments, df = csv_body(client.get("/data/export.csv", params=params).text)
    assert len(df) == 260  # LA AOR arrests on 2017-09-24..27, SOURCE.md
    assert set(df["source_file"]) == {"EROArrests_FY2017.csv.gz"} and df["source_row"].notna().all()
    r = client.get("/data/export.parquet", params=params)
    t = pq.read_table(io.BytesIO(r.content))
    assert t.num_rows == 260
    meta = t.schema.metadata
    assert meta[b"icemonitor.releases"] == b"uwchr-ice-enforce-fy16-19"
    prov = json.loads(meta[b"icemonitor.provenance"])
    assert prov["filters"]["aor"] == "LOS" and "counted" in prov["definitions"]
    sidecar = client.get("/data/export.provenance.json", params=params).json()
    assert sidecar["releases"][0]["release_id"] == "uwchr-ice-enforce-fy16-19"


@needs_data
def test_data_page_and_bad_input(client):
    html = client.get("/data", params={"by": "fy", "aor": "SEA", "lang": "es"}).text
    assert '<html lang="es">' in html and "Descargar los datos" in html and "Procedencia" in html
    r = client.get("/data", params={"by": "nope"})
    assert r.status_code == 422 and "by" in r.text
    assert client.get("/", params={"from": "yesterday"}).status_code == 422


def test_source_text_is_escaped(tmp_path):
    evil = "<script>alert(1)</script>"
    rows = [{"release_id": "r1<b>", "event_date": "2017-01-05", "fy": 2017, "aor": "LOS", "landmark": evil,
             "method_raw": evil, "method_class": "other", "operation_raw": evil, "operation": evil,
             "citizenship": '<img src=x onerror="alert(2)">', "criminality_field": "not_recorded", "counted": True}]
    path = ww.tiny(tmp_path / "evil.duckdb", rows)
    c = TestClient(create_app(path, ref=lambda p: ww.SHARED_DATA / p))
    for url in ("/", "/place/LOS", "/data?by=citizenship", "/data?by=method_raw", "/data?by=release_id"):
        html = c.get(url).text
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>" not in html, url
    html = c.get("/data?by=citizenship").text
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in html
    spec_tags = re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', c.get("/").text, re.S)
    assert spec_tags and all("<" not in s for s in spec_tags)  # tojson escapes < inside the spec
    assert c.get("/").headers["content-security-policy"].startswith("default-src 'self'")


def test_catalogs_have_the_same_keys_and_cover_every_key_used():
    en, es = i18n.catalog("en"), i18n.catalog("es")
    assert set(en) == set(es)
    assert all(es[k].strip() for k in es)
    used = set()
    for f in list(WEB.glob("templates/*.html")) + list(WEB.glob("*.py")):
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z_0-9]+\.[a-z_0-9]+)['"]""", f.read_text()))
    assert used and not (used - set(en)), used - set(en)
    for k in en:  # placeholders agree between languages
        assert set(re.findall(r"{(\w+)}", en[k])) == set(re.findall(r"{(\w+)}", es[k])), k


def test_language_choice():
    assert i18n.pick_language("es", "en", "en-US") == "es"
    assert i18n.pick_language(None, "es", "en-US") == "es"
    assert i18n.pick_language("xx", None, "es-MX,es;q=0.9,en;q=0.5") == "es"
    assert i18n.pick_language(None, None, None) == "en"


def test_no_warehouse_is_a_clear_error(tmp_path):
    c = TestClient(create_app(tmp_path / "missing.duckdb"))
    r = c.get("/")
    assert r.status_code == 503 and "No warehouse has been built yet" in r.text
    assert c.get("/api/v1/summary").status_code == 503


def test_response_cache_follows_the_warehouse_mtime(tmp_path):
    row = {"release_id": "r1", "event_date": "2017-01-05", "fy": 2017, "aor": "LOS", "counted": True}
    path = ww.tiny(tmp_path / "w.duckdb", [row])
    c = TestClient(create_app(path))
    assert c.get("/api/v1/summary").json()["total"] == 1
    st = path.stat()
    new = ww.tiny(tmp_path / "w2.duckdb", [row] * 3)
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))  # same mtime: the cached answer stands
    os.replace(new, path)
    assert c.get("/api/v1/summary").json()["total"] == 1
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))  # a rebuilt warehouse: new answers
    assert c.get("/api/v1/summary").json()["total"] == 3
    assert "Counted rows" in c.get("/data").text


def test_serve_command_is_registered():
    import typer
    from typer.testing import CliRunner

    from icemonitor.web import cli

    app = typer.Typer()
    app.callback()(lambda: None)
    cli.register(app)
    out = CliRunner().invoke(app, ["serve", "--help"])
    assert out.exit_code == 0 and "--port" in out.output and "--warehouse" in out.output


def test_aor_map_uses_the_county_map_valid_for_the_period(tmp_path):
    import duckdb

    from icemonitor.analysis.overview import aor_map
    from icemonitor.query.filters import Filters

    rows = [{"release_id": "r", "event_date": "2017-03-01", "aor": "LOS", "counted": True}] * 2 + [
        {"release_id": "r", "event_date": "2017-03-01", "aor": "SND", "counted": True}]
    path = ww.tiny(tmp_path / "m.duckdb", rows)
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE county_aor_periods (county_fips VARCHAR, aor VARCHAR, valid_from DATE, valid_to DATE, "
                "vintage VARCHAR)")
    con.execute("INSERT INTO county_aor_periods VALUES ('06065', 'LOS', NULL, '2021-12-31', 'old map'), "
                "('06065', 'SND', '2022-01-01', NULL, 'new map'), ('06037', 'LOS', NULL, NULL, 'all')")
    old = aor_map(con, Filters("arrests", None, dt.date.fromisoformat("2019-01-01")))
    assert old.figures == [{"county_fips": "06037", "aor": "LOS", "n": 2}, {"county_fips": "06065", "aor": "LOS", "n": 2}]
    assert "old map" in old.extra["map"] and "2019-01-01" in old.extra["map"]
    new = aor_map(con, Filters("arrests", None, dt.date.fromisoformat("2024-01-01")))
    assert new.figures == [{"county_fips": "06037", "aor": "LOS", "n": 2}, {"county_fips": "06065", "aor": "SND", "n": 1}]
    assert "new map" in new.extra["map"] and new.releases == ["r"]
    # No period end given: the map valid on the last event date (2017-03-01).
    assert "old map" in aor_map(con, Filters("arrests")).extra["map"]
    con.close()


def test_routes_added_by_other_apps_are_not_cached(tmp_path):
    path = ww.tiny(tmp_path / "w.duckdb", [{"release_id": "r", "event_date": "2017-01-05", "aor": "LOS",
                                             "counted": True}])
    app = create_app(path)
    calls = []

    @app.get("/other")
    def other() -> dict:
        calls.append(1)
        return {"n": len(calls)}

    c = TestClient(app)
    assert [c.get("/other?lang=es").json()["n"] for _ in range(2)] == [1, 2]
    assert "set-cookie" not in c.get("/other?lang=es").headers
    assert c.get("/api/v1/summary").json() == c.get("/api/v1/summary").json()


def test_quantile_bands_split_counties_evenly():
    from icemonitor.web.charts import quantile_bands

    rows = [{"rate": float(v)} for v in (1, 2, 3, 4, 5, 6, 7, 8, 9, 1000)] + [{"rate": None}]
    labels = quantile_bands(rows, "rate")
    assert len(labels) == 5 and labels[0] == "1.0 – 3.0" and labels[-1] == "9.0 – 1,000.0"
    counts = [sum(1 for r in rows if r.get("band") == lab) for lab in labels]
    assert counts == [2, 2, 2, 2, 2] and "band" not in rows[-1]


def test_trend_months_without_data_are_gaps_not_zeros():
    from icemonitor.web.charts import fill_months

    rows = [{"month": "2019-08", "method_class": "custodial", "n": 5}, {"month": "2019-08", "method_class": "other", "n": 1},
            {"month": "2019-09", "method_class": "custodial", "n": 4}, {"month": "2019-11", "method_class": "other", "n": 2}]
    got = {(r["month"], r["method_class"]): r["n"] for r in fill_months(rows, "method_class")}
    assert got == {("2019-08", "custodial"): 5, ("2019-08", "other"): 1, ("2019-09", "custodial"): 4,
                   ("2019-09", "other"): 0, ("2019-10", "custodial"): None, ("2019-10", "other"): None,
                   ("2019-11", "custodial"): 0, ("2019-11", "other"): 2}


def test_warm_up_loads_coverage_in_the_background(wh_path):
    import time

    app = create_app(wh_path)
    with TestClient(app) as c:  # runs the lifespan, which starts the warm-up
        deadline = time.time() + 60
        while not c.get("/healthz").json()["warm"]:
            assert time.time() < deadline
            time.sleep(0.05)
        wh = app.state.warehouse
        assert any("information_schema.tables" in k[1] for k in wh._cache)


def test_csv_stream_writes_one_header_over_many_batches():
    import pyarrow as pa

    from icemonitor.web.export import csv_chunks

    table = pa.table({"aor": ["LOS", "NYC"] * 500, "n": list(range(1000))})
    prov = {"generated_at": "t", "warehouse": {"file": "w", "modified": "m"}, "table": "arrests", "level": "events",
            "group_by": [], "filters": {"table": "arrests"}, "releases": [{"release_id": "r", "files": []}],
            "definitions": {"counted": "c"}}
    text = b"".join(csv_chunks(table.to_batches(max_chunksize=100), table.schema, prov)).decode()
    comments, df = csv_body(text)
    assert len(df) == 1000 and df["n"].tolist() == list(range(1000)) and comments[0].startswith("# icemonitor")
    empty = b"".join(csv_chunks([], table.schema, prov)).decode().splitlines()
    assert empty[-1] == '"aor","n"'
