"""Detention analyses on a warehouse built from real postings and DDP's facility days: the CLI
(`icemonitor detention ... --json`) and the API (/api/v1/detention/...) give the same figures."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from icemonitor.analysis import detention
from icemonitor.catalog.catalog import load_catalog
from icemonitor.cli import app
from icemonitor.places.ref import dir_ref
from icemonitor.warehouse.build import BuildSource, build
from icemonitor.places.detention_facilities import facility_tables
from icemonitor.warehouse.detention_step import detention_stage
from icemonitor.web.app import create_app

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
FILES = {"2025-06-06_FY25_detentionStats06052025.xlsx", "2025-06-21_FY25_detentionStats06202025.xlsx",
         "2026-01-09_FY26_detentionStats01082026.xlsx", "FY26_detentionStats_04092026.xlsx",
         "facilities-daily-population-latest.parquet"}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("detention-home")
    sources = [BuildSource(r.id, f.name, SHARED / f.mirror_path, f.reader, f.sha256, dict(f.options))
               for r in load_catalog().aggregate_releases() for f in r.files if f.name in FILES]
    assert len(sources) == len(FILES)
    build([], home / "warehouse.duckdb", extra_tables=detention_stage(sources, facilities=lambda con: facility_tables(con, dir_ref(SHARED))))
    return home


@pytest.fixture()
def con(home: Path):
    c = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    yield c
    c.close()


def _figure(res, **match) -> dict:
    (hit,) = [f for f in res.figures if all(f.get(k) == v for k, v in match.items())]
    return hit


def test_detained_now_is_the_latest_posting(con) -> None:
    res = detention.detained_now(con)
    total = _figure(res, agency="total", criminality="total")
    assert (total["people"], total["as_of"], total["cell"]) == (60311, "2026-04-04", "F20")
    assert total["source_file"] == "FY26_detentionStats_04092026.xlsx" and res.releases == ["ice-detention-stats-later"]
    assert _figure(res, agency="ice", criminality="total")["people"] == 51428
    assert _figure(res, agency="cbp", criminality="total")["people"] == 8883
    assert res.extra["share_no_conviction_no_pending_charge"] == pytest.approx(23991 / 60311)
    assert "currently_detained" in res.definitions and "other_immigration_violator" in res.definitions
    # the one known error of that posting: its Monthly Bond Statistics count rows contradict ICE's definition
    (caveat,) = res.caveats
    assert caveat.startswith("FY26_detentionStats_04092026.xlsx: table_stopped (Monthly Bond Statistics, bond_by_month)")


def test_an_older_snapshot_shows_its_postings_errors(con) -> None:
    res = detention.detained_now(con, dt.date(2026, 1, 8))
    total = _figure(res, agency="total", criminality="total")
    assert (total["people"], total["as_of"], total["source_sheet"]) == (68990, "2026-01-07", "Detention FY26")
    joined = " ".join(res.caveats)
    assert "stale_sheet (Detention EOFY2020)" in joined and "'null' is not a number" in joined
    assert detention.detained_now(con, dt.date(2019, 1, 1)).figures == []  # before every posting: no figure


def test_claim_about_10_june_2025(con) -> None:
    res = detention.check_held(con, dt.date(2025, 6, 10), 60000)
    assert res.extra["answer"] == "not_supported"
    counts = {(f["source"], f["measure"]): f["count"] for f in res.figures}
    assert counts[("ddp_records", "held_during_day")] == 58524
    assert counts[("ddp_records", "held_at_midnight")] == 54769
    assert counts[("ice_snapshot_before", "currently_detained")] == 51302  # stated 2025-06-01
    assert counts[("ice_snapshot_after", "currently_detained")] == 56397  # stated 2025-06-15
    assert detention.check_held(con, dt.date(2025, 6, 10), 55000).extra["answer"] == "depends_on_measure"
    assert detention.check_held(con, dt.date(2025, 6, 10), 50000).extra["answer"] == "supported"
    old = detention.check_held(con, dt.date(2019, 6, 10), 50000)
    assert old.extra["answer"] == "no_records" and "outside" in old.caveats[0]


def test_trend_and_errors(con) -> None:
    res = detention.detention_trend(con, "bookins", "total", "total", dt.date(2025, 10, 1), dt.date(2026, 3, 1))
    months = {f["month"]: f for f in res.figures}
    assert months["2025-10-01"]["value"] == 41612 and months["2025-10-01"]["cell"] == "J20"
    assert all(f["complete"] for f in res.figures)
    with pytest.raises(Exception, match="unknown statistic"):
        detention.detention_trend(con, "arrests")  # type: ignore[arg-type]
    err = detention.posting_errors(con, reason="stale_sheet")
    assert [f["source_sheet"] for f in err.figures] == ["Detention EOFY2020"]


def test_cli_and_api_give_the_same_figures(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    out = CliRunner().invoke(app, ["detention", "now", "--json"])
    assert out.exit_code == 0, out.output
    cli = json.loads(out.output)
    client = TestClient(create_app(home / "warehouse.duckdb", ref=lambda p: SHARED / p))
    api = client.get("/api/v1/detention/now").json()
    assert cli["figures"] == api["figures"] and api["release_details"][0]["release_id"] == "ice-detention-stats-later"
    check = client.get("/api/v1/detention/check", params={"date": "2025-06-10", "people": 60000}).json()
    assert check["extra"]["answer"] == "not_supported"
    out = CliRunner().invoke(app, ["detention", "check", "2025-06-10", "60000", "--json"])
    assert json.loads(out.output)["figures"] == check["figures"]
    bad = client.get("/api/v1/detention/trend", params={"statistic": "arrests"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "statistic"]


def test_facilities_joined_placed_and_unlisted(con) -> None:
    """ICE's list rows get the records' codes and counties; the day's facility figures add up to the panel's sum."""
    listed = dict(con.execute("SELECT name, facility_code FROM detention_facility_list WHERE state = 'MS' "
                              "AND name = 'ADAMS COUNTY CORRECTIONAL CENTER'").fetchall())
    assert listed["ADAMS COUNTY CORRECTIONAL CENTER"] == "ADAMSMS"
    adams = con.execute("SELECT county_fips, placed_by, matched_to_ice_list FROM detention_facility_places "
                        "WHERE facility_code = 'ADAMSMS'").fetchone()
    assert adams == ("28001", "gazetteer", True)  # Adams County, Mississippi (Natchez)
    res = detention.facilities(con, dt.date(2025, 6, 10), limit=2000)
    assert sum(f["held_during_day"] for f in res.figures) == 58524
    assert sum(f["held_at_midnight"] for f in res.figures) == 54769
    unlisted = detention.facilities(con, dt.date(2025, 6, 10), not_in_ice_list=True, limit=2000)
    assert unlisted.figures and not any(f["matched_to_ice_list"] for f in unlisted.figures)
    assert unlisted.extra["held_in_facilities_not_in_ice_list"] == sum(f["held_during_day"] for f in unlisted.figures)
    # Bluebonnet: the records' short name 'BLUEBONNET DET FCLTY' matches the list's 'BLUEBONNET DETENTION FACILITY'
    (rule,) = con.execute("SELECT DISTINCT match_rule FROM detention_facility_list "
                          "WHERE name = 'BLUEBONNET DETENTION FACILITY'").fetchone()
    assert rule != "unmatched"


@pytest.mark.parametrize(("lang", "total", "share_text"), [("en", "60,311", "with no criminal conviction"),
                                                          ("es", "60", "sin condena penal ni cargos pendientes")])
def test_detention_page_in_english_and_spanish(home: Path, lang: str, total: str, share_text: str) -> None:
    client = TestClient(create_app(home / "warehouse.duckdb", ref=lambda p: SHARED / p))
    page = client.get("/detention", params={"lang": lang})
    assert page.status_code == 200
    html = page.text
    assert total in html and share_text in html and "FY26_detentionStats_04092026.xlsx" in html
    assert "Detention FY26!F20" in html  # the cited cell
    assert 'id="changes"' in html and 'id="facilities"' in html and 'data-chart-for="chart-adp"' in html
    if lang == "es":
        assert "Detenidos el 4 abr 2026" in html and "Sin condena ni cargos pendientes" in html  # one date format


def test_changes_since_previous(con) -> None:
    res = detention.changes_since_previous(con)
    assert res.parameters == {"after": "2026-04-04", "before": "2026-01-07"}
    total = _figure(res, agency="total", criminality="total")
    assert (total["before"], total["after"], total["change"]) == (68990, 60311, 60311 - 68990)


def test_detention_watch_findings(con) -> None:
    from icemonitor.watch.detention_findings import facility_threshold, new_postings, stale_posting

    seen = {"2025-06-06_FY25_detentionStats06052025.xlsx", "2025-06-21_FY25_detentionStats06202025.xlsx",
            "2026-01-09_FY26_detentionStats01082026.xlsx"}
    (new,) = new_postings(con, 1, seen)
    assert new.data["source_file"] == "FY26_detentionStats_04092026.xlsx" and new.data["detained"] == 60311
    assert "60,311 people detained" in new.body and new.period == "2026-04-04"
    assert new_postings(con, 1, seen | {"FY26_detentionStats_04092026.xlsx"}) == []
    # the stale sheet and the stopped table of the January posting are named in its finding
    jan = next(f for f in new_postings(con, 1, set()) if f.data["source_file"].startswith("2026-01-09"))
    assert {"stale_sheet", "table_stopped"} <= set(jan.data["errors"])
    stale = stale_posting(con, 1, dt.date(2026, 5, 20))
    assert [f.period for f in stale] == ["2026-04-04/late"] and stale[0].data["age_days"] == 46
    assert stale_posting(con, 1, dt.date(2026, 4, 10)) == []
    # ICE's staleness errors of a posting: the January posting's stale sheet, with its evidence
    (sheet,) = stale_posting(con, 1, dt.date(2026, 1, 10), files={"2026-01-09_FY26_detentionStats01082026.xlsx"})
    assert sheet.period == "2026-01-07/stale_sheet" and sheet.data["tables"] == ["Detention EOFY2020"]
    # crossings: held > threshold and the day before at or below, checked against the raw daily rows
    found = facility_threshold(con, 1, 1000, since=dt.date(2026, 1, 1))
    assert found and all(f.data["held"] > 1000 >= f.data["before"] for f in found)
    f = found[0]
    held, before = (con.execute("SELECT sum(n_detained) FROM detention_facility_days WHERE detention_facility_code = ? "
                                "AND date = ?", [f.place, d]).fetchone()[0]
                    for d in (f.data["date"], f.data["date"] - dt.timedelta(days=1)))
    assert (held, before) == (f.data["held"], f.data["before"])
    assert len({x.dedup_key for x in found}) == len(found)
    # one question, one number: the crossing day's figure is `icemonitor detention facilities --date` that day's
    day = detention.facilities(con, f.data["date"], limit=2000).figures
    assert [r["held_during_day"] for r in day if r["facility_code"] == f.place] == [f.data["held"]]


@pytest.mark.parametrize("lang, text", [("en", "No detention-statistics posting is loaded"),
                                        ("es", "No hay ninguna publicación de estadísticas de detención")])
def test_detention_page_without_detention_tables_says_no_figure(tmp_path: Path, lang: str, text: str) -> None:
    """A warehouse built without the detention releases: the page says there is no figure (not zero), no error."""
    from icemonitor.web.app import create_app

    path = tmp_path / "w.duckdb"
    duckdb.connect(str(path)).execute("CREATE TABLE arrests (event_date DATE)").close()
    with TestClient(create_app(path)) as client:
        res = client.get(f"/detention?lang={lang}")
    assert res.status_code == 200 and text in res.text
    assert 'id="facilities"' not in res.text
