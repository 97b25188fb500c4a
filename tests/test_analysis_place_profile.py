"""The place page's figures as analyses (analysis.place_profile, analysis.sweep_days, analysis.local_context) against
counts taken straight from the raw release files with pandas, and against `summary --place` (one question, one
number). No records gives no rows and no count, never 0."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from conftest import SHARED_DATA, shared_ref

from icemonitor.analysis import place_profile as pp
from icemonitor.analysis.local_context import local_context
from icemonitor.analysis.summary import summary
from icemonitor.analysis.sweep_days import sweep_days
from icemonitor.places.place_names import parse_place

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data is not beside the repo")
FY1619 = SHARED_DATA / "ice" / "uwchr-ice-enforce-fy16-19"
LA_RAW = SHARED_DATA / "ice" / "bln-la-aor-arrests" / "la_arrests_2025-06-01_10_transcribed.csv"
NATIONWIDE = "uwchr-ice-enforce-fy16-19"
AT_LARGE = {"Located", "Non-Custodial Arrest"}
CUSTODIAL = {"CAP Local Incarceration", "CAP State Incarceration", "CAP Federal Incarceration", "287(g) Program",
             "Probation and Parole"}
D = dt.date.fromisoformat


@pytest.fixture(scope="module")
def raw17() -> pd.DataFrame:
    """FY2017 nationwide arrests read straight from the release file (no warehouse), with a method class."""
    df = pd.read_csv(FY1619 / "EROArrests_FY2017.csv.gz", sep="|", skiprows=5, dtype=str, keep_default_na=False)
    df["date"] = pd.to_datetime(df["Apprehension Date"], format="%m/%d/%Y")
    df["month"] = df["date"].dt.strftime("%Y-%m")
    m = df["Apprehension Method"]
    df["cls"] = m.map(lambda x: "at_large" if x in AT_LARGE else "custodial" if x in CUSTODIAL else "other")
    return df


def _los(raw: pd.DataFrame, d0: str, d1: str) -> pd.DataFrame:
    return raw[(raw["Area of Responsibility"] == "Los Angeles Area of Responsibility")
               & (raw["date"] >= d0) & (raw["date"] <= d1)]


def test_los_trend_and_method_mix_match_the_raw_file(warehouse_con, raw17):
    res = pp.trend(warehouse_con, "LOS", D("2016-10-01"), D("2017-09-30"), ref=shared_ref)
    la = _los(raw17, "2016-10-01", "2017-09-30")
    assert {(r["month"], r["method_class"]): r["n"] for r in res.figures} == \
        la.groupby(["month", "cls"]).size().to_dict()
    assert res.extra["total"] == len(la) == 8419  # as measured in the release's SOURCE.md
    assert res.releases == [NATIONWIDE] and res.coverage["status"] == "full"
    assert {"place", "n", "method_class", "month"} <= set(res.definitions)
    mix = pp.method_mix(warehouse_con, "LOS", D("2017-09-01"), D("2017-09-30"), ref=shared_ref)
    sep = _los(raw17, "2017-09-01", "2017-09-30")
    assert {(r["fy"], r["method_class"]): r["n"] for r in mix.figures} == \
        {(2017, c): n for c, n in sep.groupby("cls").size().items()}
    assert {r["method_class"]: r["n"] for r in mix.figures}["at_large"] > 0


def test_county_trend_and_resolution_match_a_pandas_count_placed_by_the_landmark_table(warehouse_con, raw17):
    """Los Angeles County, September 2017: the raw FY2017 rows whose (AOR, landmark) the places stage resolves to an
    event placement in 06037 (pandas join on the warehouse's landmark_resolution), by month and class; the county's
    'resolved' figure is their count, and the AOR's unresolved arrests are the raw LOS rows without a county."""
    from icemonitor.codes.maps import load_maps

    res_table = warehouse_con.execute("SELECT aor, landmark, county_fips, kind FROM landmark_resolution").df()
    sep = raw17[(raw17["date"] >= "2017-09-01") & (raw17["date"] <= "2017-09-30")].copy()
    sep["aor"] = sep["Area of Responsibility"].str.strip().map(load_maps().aor)
    sep["landmark"] = sep["Apprehension Landmark"].replace("", None)  # as the release writes it
    joined = sep.merge(res_table, on=["aor", "landmark"], how="left")
    event = joined["kind"] != "office_proxy"
    county = joined[event & (joined["county_fips"] == "06037")]
    res = pp.trend(warehouse_con, "06037", D("2017-09-01"), D("2017-09-30"), ref=shared_ref)
    assert {(r["month"], r["method_class"]): r["n"] for r in res.figures} == \
        county.groupby(["month", "cls"]).size().to_dict()
    # one question, one number: the CLI's `summary --place 06037 --by month,method_class`
    cli = summary(warehouse_con, "arrests", ["month", "method_class"], "2017-09-01", "2017-09-30", "06037",
                  ref=shared_ref)
    assert {(f["month"], f["method_class"]): f["events"] for f in cli.figures} == \
        {(r["month"], r["method_class"]): r["n"] for r in res.figures}
    assert res.extra["total"] == cli.extra["total_events"] == len(county)
    four_days = pp.trend(warehouse_con, "06037", D("2017-09-24"), D("2017-09-27"), ref=shared_ref)
    assert four_days.extra["total"] == 95  # tests/test_parity.py's recorded figure
    fig = pp.resolution(warehouse_con, "06037", D("2017-09-01"), D("2017-09-30"), ref=shared_ref).figures[0]
    los = joined[joined["aor"] == "LOS"]
    unplaced = los["county_fips"].isna() | (los["kind"] == "office_proxy")
    assert fig == {"resolved": len(county), "aor_total": len(los), "aor_unresolved": int(unplaced.sum()),
                   "aors": ["LOS"]}


def test_no_records_gives_no_rows_and_no_count(warehouse_con):
    for part in (pp.trend, pp.method_mix, pp.peers):
        res = part(warehouse_con, "06037", D("2026-11-01"), D("2026-11-30"), ref=shared_ref)
        assert res.coverage["status"] == "none" and res.figures == [], part
        assert any("No records" in c for c in res.caveats), part
    fig = pp.resolution(warehouse_con, "06037", D("2026-11-01"), D("2026-11-30"), ref=shared_ref).figures[0]
    assert fig == {"resolved": None, "aor_total": None, "aor_unresolved": None, "aors": ["LOS"]}
    assert pp.trend(warehouse_con, "06037", D("2026-11-01"), D("2026-11-30"), ref=shared_ref).extra["total"] is None


def test_criminality_is_said_not_recorded_where_the_release_lacks_it(warehouse_con):
    res = pp.criminality(warehouse_con, "LOS", D("2017-09-01"), D("2017-09-30"), ref=shared_ref)
    assert res.figures == [] and res.coverage["fields_not_recorded"]["criminality"] == [NATIONWIDE]
    assert f"Criminality is not recorded in {NATIONWIDE}." in res.caveats


def test_state_peers_rate_is_the_state_count_over_its_noncitizens(warehouse_con):
    """California in FY2018 beside every state: each state's count is the one `summary --place` gives (placed in
    it, or recorded by an AOR wholly inside it), its rate that count per 10,000 non-citizen residents of the
    population year the analysis names; ranks follow the rate."""
    from icemonitor.places.place_filter import parse_exact
    from icemonitor.query.selection import Selection

    d0, d1 = D("2017-10-01"), D("2018-09-30")
    res = pp.peers(warehouse_con, "CA", d0, d1, ref=shared_ref)
    year = res.extra["population_year"]
    assert year is not None and year <= 2018
    ca = next(r for r in res.figures if r["peer"] == "CA")
    assert ca["current"] and sum(r["current"] for r in res.figures) == 1
    assert ca["n"] == summary(warehouse_con, "arrests", [], d0, d1, "CA", ref=shared_ref).extra["total_events"]
    assert len(res.figures) >= 50 and all(
        r["n"] == Selection.of("arrests", d0, d1, parse_exact(r["peer"], shared_ref)).compile(
            warehouse_con, shared_ref).count(warehouse_con) for r in res.figures)
    pop = warehouse_con.execute("SELECT sum(noncitizen_pop) FROM population WHERE state = 'CA' AND year = ?",
                                [year]).fetchone()[0]
    assert ca["noncitizen_pop"] == pop and ca["rate"] == round(ca["n"] * 10000.0 / pop, 2)
    assert [r["rank"] for r in res.figures] == list(range(1, len(res.figures) + 1))
    assert [r["rate"] for r in res.figures] == sorted((r["rate"] for r in res.figures), reverse=True)


def test_policies_of_a_county_include_its_state_law(warehouse_con):
    res = pp.policies(warehouse_con, parse_place("06037", shared_ref))
    assert any(r["jurisdiction_level"] == "state" and r["state"] == "CA" for r in res.figures)
    assert all(r["jurisdiction_level"] == "state" or r["county_fips"] == "06037" for r in res.figures)
    n_local = warehouse_con.execute(
        "SELECT count(*) FROM policies WHERE jurisdiction_level <> 'state' AND county_fips IN "
        "(SELECT county_fips FROM counties WHERE state = 'CA')").fetchone()[0]
    state = pp.policies(warehouse_con, parse_place("CA", shared_ref))
    assert sum(r["n"] for r in state.extra["local_counts"]) == n_local


def test_sweep_days_match_the_raw_daily_counts(warehouse_con, raw17):
    """The LOS sweep of 24-26 Sep 2017 (at large): each day's count is the raw file's at-large LOS arrests that day,
    and the sweep's days sum to its observed 111 (tests/test_parity.py)."""
    res = sweep_days(warehouse_con, "aor", "LOS", "at_large", D("2017-09-24"), D("2017-09-26"), shared_ref)
    la = _los(raw17, "2017-08-27", "2017-09-30")
    daily = la[la["cls"] == "at_large"].groupby(la["date"].dt.strftime("%Y-%m-%d")).size().to_dict()
    days = {r["day"]: r["n"] for r in res.figures if r["day"] <= "2017-09-30"}
    assert days == {d: daily.get(d, 0) for d in days} and len(days) == 35
    assert sum(r["n"] for r in res.figures if r["in_sweep"]) == 111
    assert res.releases == [NATIONWIDE]


def test_intake_context_analysis_reads_the_los_extract(warehouse_con):
    """Los Angeles County: its AOR's records end on the raw LA extract's last date; the 90 days before hold arrests
    on that extract's distinct dates only, and too few to measure a sweep against."""
    raw = pd.read_csv(LA_RAW, dtype=str)
    col = next(c for c in raw.columns if "date" in c.lower())
    dates = pd.to_datetime(raw[col], errors="coerce").dropna().dt.date
    place = parse_place("06037", shared_ref)
    res = local_context(warehouse_con, place, D("2026-11-28"), shared_ref)
    assert res.extra["last_here"] == max(dates).isoformat()
    assert res.extra["days_with_records"] == dates.nunique() == 10
    assert res.figures == [] and res.coverage["status"] == "partial"
    assert res.extra["searched"] and all(s["not_measurable"] for s in res.extra["searched"])
    assert res.extra["status_today"]["answer"] == "yes" and res.extra["status_today"]["definition"] == "state-law"


def test_analyses_run_no_sql_in_the_three_web_files():
    """place_pages, sweep_pages and intake_context call analyses: no query of their own."""
    from pathlib import Path

    web = Path(__file__).resolve().parents[1] / "src" / "icemonitor" / "web"
    for name in ("place_pages.py", "sweep_pages.py", "intake_context.py"):
        text = (web / name).read_text(encoding="utf-8")
        assert ".execute(" not in text and "wh.query(" not in text and "SELECT " not in text, name


def test_api_place_profile_gives_the_page_figures(warehouse_client, warehouse_con):
    """/api/v1/place/{place} answers with the page's analyses: the same trend rows and totals as the analysis."""
    body = warehouse_client.get("/api/v1/place/06037", params={"from": "2017-09-24", "to": "2017-09-27"}).json()
    assert sum(r["n"] for r in body["trend"]["figures"]) == 95 == body["trend"]["extra"]["total"]
    assert body["trend"]["figures"] == pp.trend(warehouse_con, "06037", D("2017-09-24"), D("2017-09-27"),
                                                ref=shared_ref).figures
    assert body["resolution"]["figures"][0]["resolved"] == 95 and body["trend"]["coverage"]["status"] == "full"
    assert any(r["current"] for r in body["peers"]["figures"]) and body["policies"]["figures"]
    none = warehouse_client.get("/api/v1/place/06037", params={"from": "2026-11-01", "to": "2026-11-30"}).json()
    assert none["trend"]["figures"] == [] and none["trend"]["extra"]["total"] is None
    assert none["trend"]["coverage"]["status"] == "none"
    assert warehouse_client.get("/api/v1/place/06037", params={"from": "2017-09-27", "to": "2017-09-24"}).status_code == 422
