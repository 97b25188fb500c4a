"""Detention on the web over the shared warehouse `icemonitor build` makes (conftest's `warehouse_path`, now with
the detention stage): the facility map, detention on place pages, the downloads, the leading sentence. Figures
are checked against independent counts of the raw files in ../shared/data."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from icemonitor.messages import formats

SHARED = __import__("conftest").SHARED_DATA
DAYS = SHARED / "ice" / "ddp-facility-daily-population" / "facilities-daily-population-latest.parquet"
GAZETTEER = SHARED / "aor" / "uwchr_detention_facilities_geocoded.csv"
CITIES = SHARED / "geo" / "simplemaps_uscities_slim.csv"


@pytest.fixture(scope="module")
def raw_days() -> pl.DataFrame:
    return pl.read_parquet(DAYS)


@pytest.fixture(scope="module")
def last_day(raw_days) -> dt.date:
    return raw_days["date"].max()


def _spec(html: str, chart: str) -> dict:
    found = re.search(rf'<script type="application/json" data-chart-for="{chart}">(.*?)</script>', html, re.S)
    assert found, chart
    return json.loads(found.group(1))


def test_the_shared_warehouse_has_the_detention_stage(warehouse_con, raw_days) -> None:
    """The session warehouse holds ICE's postings and DDP's facility days, as `icemonitor build` writes them."""
    (as_of, total, source) = warehouse_con.execute(
        "SELECT as_of, value, source_file FROM detention_snapshots WHERE agency = 'total' AND criminality = 'total' "
        "ORDER BY as_of DESC LIMIT 1").fetchone()
    assert (as_of, total, source) == (dt.date(2026, 4, 4), 60311, "FY26_detentionStats_04092026.xlsx")
    (postings,) = warehouse_con.execute("SELECT count(*) FROM detention_postings").fetchone()
    assert postings == 155
    day = dt.date(2025, 6, 10)
    held = warehouse_con.execute("SELECT sum(n_detained), sum(n_detained_at_midnight) FROM detention_facility_days "
                                 "WHERE date = ?", [day]).fetchone()
    raw = raw_days.filter(pl.col("date") == day)
    assert held == (raw["n_detained"].sum(), raw["n_detained_at_midnight"].sum()) == (58524, 54769)


def test_facilities_are_drawn_at_their_address_or_their_city_centre(warehouse_con) -> None:
    """Coordinates come from UWCHR's geocoded address; without one, from the centre of ICE's listed city (the city
    that placed the facility in its county). Checked against the CSV files read with the csv module."""
    rows = warehouse_con.execute("SELECT facility_code, latitude, longitude, located_by, placed_by, ice_city, "
                                 "ice_state FROM detention_facility_places").fetchall()
    with GAZETTEER.open(encoding="utf-8") as fh:
        gaz = {r["detloc"]: r for r in csv.DictReader(fh)}
    by = {code: (lat, lon, located, placed, city, state) for code, lat, lon, located, placed, city, state in rows}
    adelanto = by["ADLNTCA"]
    assert adelanto[2:4] == ("address", "gazetteer")
    assert (adelanto[0], adelanto[1]) == (float(gaz["ADLNTCA"]["lat"]), float(gaz["ADLNTCA"]["long"]))
    city_placed = [(c, v) for c, v in by.items() if v[2] == "city_centre"]
    assert city_placed and all(v[3] == "ice_list_city" for _, v in city_placed)
    with CITIES.open(encoding="utf-8") as fh:
        centres = {}
        for r in csv.DictReader(fh):
            centres.setdefault((r["city_ascii"].upper(), r["state_id"]), []).append((float(r["lat"]), float(r["lng"])))
    checked = 0
    for _, (lat, lon, _, _, city, state) in city_placed:
        if len(centres.get((city, state), [])) == 1:
            assert (lat, lon) == centres[(city, state)][0]
            checked += 1
    assert checked >= len(city_placed) // 2
    # no coordinates where the facility has no county: it is counted apart, never drawn at a guessed place
    assert all(v[0] is None and v[2] is None for v in by.values() if v[3] is None)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_facility_map_draws_every_located_facility_sized_by_people_held(warehouse_client, raw_days, last_day,
                                                                           lang) -> None:
    html = warehouse_client.get("/detention", params={"lang": lang}).text
    spec = _spec(html, "chart-facility-map")
    assert spec["projection"] == {"type": "albersUsa"} and spec["layer"][0]["data"]["url"] == "/geo/states-lonlat.topojson"
    points = spec["layer"][1]["data"]["values"]
    assert spec["layer"][1]["encoding"]["size"]["field"] == "held"
    raw = raw_days.filter((pl.col("date") == last_day) & (pl.col("n_detained") > 0))
    note = re.search(r'id="map-note">(.*?)</figcaption>', html, re.S).group(1)
    off_map = [int(x.replace(",", "")) for x in re.findall(r"(\d[\d,]*) (?:facilities|instalaciones) (?:holding|con) "
                                                          r"(\d[\d,]*)", note)[0]]
    # every facility holding people that day is either a circle or counted as not drawn, and so is every person
    assert len(points) + off_map[0] == raw.height
    assert sum(p["held"] for p in points) + off_map[1] == raw["n_detained"].sum()
    assert {p["located"] for p in points} == set(spec["layer"][1]["encoding"]["color"]["scale"]["domain"])
    assert ("city centre" if lang == "en" else "centro de la ciudad") in json.dumps(spec, ensure_ascii=False)
    topo = warehouse_client.get("/geo/states-lonlat.topojson")
    assert topo.status_code == 200 and "states" in topo.json()["objects"]


@pytest.mark.parametrize(("lang", "words"), [("en", "ICE says it held 60,311 people in detention on Apr 4, 2026; "
                                                    "23,991 of them (40%) had no criminal conviction"),
                                             ("es", "ICE dice que tenía a 60,311 personas detenidas el 4 abr 2026; "
                                                    "23,991 de ellas (40%) no tenían condena penal")])
def test_the_detention_page_opens_with_a_plain_answer(warehouse_client, raw_days, last_day, lang, words) -> None:
    html = warehouse_client.get("/detention", params={"lang": lang}).text
    answer = re.search(r'<p class="answer" id="answer">(.*?)</p>', html, re.S).group(1)
    assert words in answer
    people = raw_days.filter(pl.col("date") == last_day)["n_detained"].sum()
    assert f"{people:,}" in answer and formats.day(last_day, lang) in answer
    assert not re.search(r"\d{4}-\d{2}-\d{2}", answer)  # one date format per language, no ISO


def _held_in(raw_days: pl.DataFrame, con: duckdb.DuckDBPyConnection, day: dt.date, counties: list[str]) -> tuple:
    """People held on a day in the facilities placed in these counties: the raw parquet summed in polars."""
    codes = [c for (c,) in con.execute("SELECT facility_code FROM detention_facility_places "
                                       "WHERE list_contains(?, county_fips)", [counties]).fetchall()]
    rows = raw_days.filter((pl.col("date") == day) & pl.col("detention_facility_code").is_in(codes))
    return rows.height, rows["n_detained"].sum()


def test_place_pages_and_the_api_give_the_same_count_of_people_held(warehouse_client, warehouse_con, raw_days,
                                                                    last_day) -> None:
    """AOR, state and county: the page's sentence, the API and an independent sum of the raw file agree."""
    for code, level_counties in (("LOS", "aor = 'LOS'"), ("TX", "state = 'TX'"), ("06071", "county_fips = '06071'")):
        counties = [c for (c,) in warehouse_con.execute(f"SELECT county_fips FROM counties WHERE {level_counties}")
                    .fetchall()]
        facilities, people = _held_in(raw_days, warehouse_con, last_day, counties)
        api = warehouse_client.get("/api/v1/detention/place", params={"place": code}).json()
        assert api["extra"]["held_during_day"] == people > 0 and api["extra"]["facilities"] == facilities, code
        assert api["coverage"]["status"] == "full" and api["releases"] == ["ddp-facility-daily-population"]
        before = dt.date.fromisoformat(api["extra"]["before"])
        assert api["extra"]["held_before"] == _held_in(raw_days, warehouse_con, before, counties)[1]
        html = warehouse_client.get(f"/place/{code}", params={"lang": "en"}).text
        sentence = re.search(r'<p id="detention-total">(.*?)</p>', html, re.S).group(1)
        assert sentence.startswith(f"{people:,} people were held at some time on {formats.day(last_day, 'en')}"), \
            sentence
        assert 'id="detention-facilities"' in html and 'data-chart-for="chart-detention"' in html


@pytest.mark.parametrize(("lang", "text"), [("en", "No ICE detention facility in the records for Loving County, TX"),
                                            ("es", "No hay ninguna instalación de detención de ICE en los registros "
                                                   "para condado de Loving, TX")])
def test_a_place_without_a_facility_says_so_not_zero(warehouse_client, lang, text) -> None:
    html = warehouse_client.get("/place/48301", params={"lang": lang}).text
    section = html[html.index('id="detention"'):html.index('id="peers"')]
    assert text in section and 'id="detention-total"' not in section and 'id="detention-facilities"' not in section
    api = warehouse_client.get("/api/v1/detention/place", params={"place": "48301"}).json()
    assert api["figures"] == [] and api["extra"]["held_during_day"] is None and api["coverage"]["status"] == "none"
    assert "No ICE detention facility in the records for Loving County, TX" in api["coverage"]["reason"]


def test_downloads_carry_the_whole_table_and_its_provenance(warehouse_client, warehouse_con, raw_days) -> None:
    res = warehouse_client.get("/api/v1/detention/download/snapshots", params={"format": "csv"})
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    lines = res.text.splitlines()
    head = [line for line in lines if line.startswith("#")]
    assert any(line.startswith("# release: ice-detention-stats-later") and "FY26_detentionStats_04092026.xlsx" in line
               for line in head)
    assert any(line.startswith("# definition value:") for line in head)
    rows = list(csv.DictReader(io.StringIO("\n".join(line for line in lines if not line.startswith("#")))))
    (n,) = warehouse_con.execute("SELECT count(*) FROM detention_snapshots").fetchone()
    assert len(rows) == n
    latest = [r for r in rows if r["as_of"] == "2026-04-04" and r["agency"] == "total" and r["criminality"] == "total"]
    assert [float(r["value"]) for r in latest] == [60311]
    res = warehouse_client.get("/api/v1/detention/download/facility_days", params={"format": "parquet"})
    assert res.status_code == 200
    table = pq.read_table(io.BytesIO(res.content))
    assert table.num_rows == raw_days.height and table.column("n_detained").to_pylist().count(None) == 0
    assert sum(table.column("n_detained").to_pylist()) == raw_days["n_detained"].sum()
    prov = json.loads(table.schema.metadata[b"icemonitor.provenance"])
    assert [r["release_id"] for r in prov["releases"]] == ["ddp-facility-daily-population"]
    assert prov["releases"][0]["files"] == ["facilities-daily-population-latest.parquet"]
    assert "n_detained" in prov["definitions"]
    # the facility list has no release column: its provenance names the postings and records it was matched from
    prov = json.loads(pq.read_table(io.BytesIO(warehouse_client.get(
        "/api/v1/detention/download/facility_list", params={"format": "parquet"}).content)).schema.metadata[
        b"icemonitor.provenance"])
    assert "ddp-facility-daily-population" in {r["release_id"] for r in prov["releases"]}
    assert warehouse_client.get("/api/v1/detention/download/arrests").status_code == 422


def test_downloads_are_linked_from_the_detention_page_and_the_api_docs(warehouse_client) -> None:
    html = warehouse_client.get("/detention", params={"lang": "es"}).text
    for name in ("snapshots", "monthly", "facility_days", "facilities", "facility_list", "exclusions", "postings"):
        for fmt in ("csv", "parquet"):
            assert f'href="/api/v1/detention/download/{name}?format={fmt}"' in html
    docs = warehouse_client.get("/api/docs", params={"lang": "es"}).text
    assert 'id="detention-downloads"' in docs and 'href="/detention?lang=es#downloads"' in docs


def test_cli_api_and_page_answer_one_question_with_one_number(built_home, warehouse_client, monkeypatch) -> None:
    """`icemonitor detention place` gives the figures of /api/v1/detention/place (and so of the place page)."""
    from typer.testing import CliRunner

    from icemonitor.cli import app

    monkeypatch.setenv("ICEMONITOR_HOME", str(built_home))
    for place in ("LOS", "Loving County, TX"):
        out = CliRunner().invoke(app, ["detention", "place", place, "--json"])
        assert out.exit_code == 0, out.output
        cli = json.loads(out.output)
        api = warehouse_client.get("/api/v1/detention/place", params={"place": place}).json()
        assert (cli["figures"], cli["extra"], cli["coverage"]) == (api["figures"], api["extra"], api["coverage"])


PLACES_DIGEST = """
import hashlib, sys
from pathlib import Path
import duckdb
from icemonitor.places.detention_facilities import facility_tables
from icemonitor.places.ref import dir_ref
con = duckdb.connect(sys.argv[1], read_only=True)
for name, df in sorted(facility_tables(con, dir_ref(Path(sys.argv[2]))).items()):
    print(name, hashlib.sha256(df.sort(df.columns).write_csv().encode()).hexdigest())
"""


def test_facilities_are_placed_the_same_on_every_build(warehouse_path) -> None:
    """The map and the place pages rest on the facility placement: two processes (other hash seeds, other row
    orders from DuckDB's parallel grouping) place every facility in the same city, county and AOR."""
    import subprocess
    import sys

    runs = [subprocess.run([sys.executable, "-c", PLACES_DIGEST, str(warehouse_path), str(SHARED)], check=True,
                           capture_output=True, text=True, env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin",
                                                                "PYTHONPATH": str(Path(__file__).parents[1] / "src")}
                           ).stdout for seed in ("1", "2")]
    assert runs[0] == runs[1] and runs[0].count("\n") == 3  # the two published lists and the places


@pytest.mark.parametrize("table", ["atd", "semiannual", "segregation", "authorised_facilities", "iclos", "bond"])
def test_the_new_panels_download_whole_with_provenance(warehouse_client, warehouse_con, table) -> None:
    from icemonitor.web.api_detention import DOWNLOADS

    name = DOWNLOADS[table]
    rows = warehouse_con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # noqa: S608 - a fixed name
    assert rows > 0
    res = warehouse_client.get(f"/api/v1/detention/download/{table}", params={"format": "csv"})
    assert res.status_code == 200
    lines = res.text.splitlines()
    assert any(line.startswith("# ") for line in lines)
    body = [line for line in lines if not line.startswith("#")]
    assert len(list(csv.DictReader(io.StringIO("\n".join(body))))) == rows
    html = warehouse_client.get("/detention").text
    assert f"/api/v1/detention/download/{table}?format=parquet" in html
