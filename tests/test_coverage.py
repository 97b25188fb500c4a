"""Issue #11: no records is not zero. Coverage written by the build, carried by every result, and the four
"must show" answers, on the warehouse the product builds from ../shared/data."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from icemonitor.analysis.claims import check
from icemonitor.analysis.summary import summary
from icemonitor.analysis.sweeps import sweeps
from icemonitor.query.coverage import coverage, records_reach
from icemonitor.query.selection import Selection

SHARED = __import__("conftest").SHARED_DATA
FY1619 = SHARED / "ice" / "uwchr-ice-enforce-fy16-19"


def test_build_writes_days_with_records_per_release_and_aor(warehouse_con):
    """coverage_spans against an independent pandas count of the Los Angeles 2025 file."""
    raw = pd.read_csv(SHARED / "ice" / "bln-la-aor-arrests" / "la_arrests_2025-06-01_10_transcribed.csv", dtype=str)
    days = pd.to_datetime(raw["arrest_date"].str[:10]).dt.date
    rows = warehouse_con.execute(
        "SELECT span_from, span_to, days_with_records, rows, state FROM coverage_spans WHERE "
        "table_name = 'arrests' AND release_id = 'bln-la-aor-arrests-2025-06' AND aor = 'LOS'").fetchall()
    assert rows == [(days.min(), days.max(), days.nunique(), len(raw), "CA")]
    # the nationwide release records no criminality; the Seattle production does
    rec = dict(warehouse_con.execute(
        "SELECT release_id, recorded FROM coverage_fields WHERE table_name = 'arrests' AND "
        "field = 'criminality'").fetchall())
    assert rec["uwchr-ice-enforce-fy16-19"] is False and rec["uwchr-seattle-aor-fy12-19"] is True


def test_reach_is_data(warehouse_con):
    reach = {r["release"]: r for r in records_reach(warehouse_con, "arrests")}
    nat = reach["uwchr-ice-enforce-fy16-19"]
    assert nat["scope"] == "nationwide" and str(nat["from"]) == "2015-10-01" and str(nat["to"]) == "2019-09-01"
    assert reach["bln-la-aor-arrests-2025-06"]["aors"] == ["LOS"]


def test_summary_past_the_records_is_no_count_not_zero(warehouse_path, monkeypatch):
    """Must show: `icemonitor summary --place 06037 --from 2026-11-01 --to 2026-11-30 --json`."""
    from icemonitor.cli import app

    monkeypatch.setenv("ICEMONITOR_HOME", str(warehouse_path.parent))
    out = CliRunner().invoke(app, ["summary", "--place", "06037", "--from", "2026-11-01", "--to", "2026-11-30",
                                   "--json"])
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout)
    assert body["figures"] == [] and body["extra"]["total_events"] is None
    assert body["coverage"]["status"] == "none" and body["coverage"]["share"] == 0
    # the reason reads naturally (dates in the reader's format); the coverage's own fields stay ISO
    assert "no records of arrests for Los Angeles County, CA, Nov 1–30, 2026" in body["coverage"]["reason"]
    assert (body["coverage"]["from"], body["coverage"]["to"]) == ("2026-11-01", "2026-11-30")
    assert "Sep 1, 2019" in body["coverage"]["records_reach"]


def test_partial_period_is_labelled_with_covered_spans(warehouse_con):
    r = summary(warehouse_con, by=[], place="LOS", date_from="2025-06-01", date_to="2025-06-26",
                ref=lambda p: SHARED / p)
    assert r.extra["total_events"] == 705
    assert r.coverage["status"] == "partial" and r.coverage["covered_spans"] == [
        {"from": "2025-06-01", "to": "2025-06-10", "aors": []}]
    assert r.coverage["share"] == pytest.approx(10 / 26, abs=1e-4)
    assert any(c.startswith("Partial:") for c in r.caveats)


def test_fy2017_convicted_count_is_not_checkable(warehouse_con, tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("claims:\n  - {id: fy17, metric: count, period: {from: 2016-10-01, to: 2017-09-30}, place: US, "
                 "filters: {criminality: [convicted]}, comparison: about, value: 105736}\n"
                 "  - {id: fy19, metric: count, period: {from: 2018-10-01, to: 2019-09-30}, place: US, "
                 "comparison: about, value: 143099}\n")
    rows = {r["id"]: r for r in check(warehouse_con, f).figures}
    assert rows["fy17"]["verdict"] == "not checkable" and rows["fy17"]["observed"] is None
    assert rows["fy17"]["reason"] == "criminality is not recorded in uwchr-ice-enforce-fy16-19"
    # FY2019: the records stop on 1 Sep 2019, so a count is a lower bound, never "consistent" by tolerance
    raw = pd.read_csv(FY1619 / "EROArrests_FY2019.csv.gz", sep="|", skiprows=5, dtype=str, keep_default_na=False)
    n = int(pd.to_datetime(raw["Apprehension Date"], format="%m/%d/%Y").between("2018-10-01", "2019-09-30").sum())
    assert rows["fy19"]["verdict"] == "not checkable" and rows["fy19"]["observed"] == n
    assert f"at least {n}" in rows["fy19"]["reason"]


def test_sweeps_without_baseline_cannot_be_measured(warehouse_con):
    r = sweeps(warehouse_con, place="LOS", date_from="2025-06-01", date_to="2025-06-10", ref=lambda p: SHARED / p)
    assert r.figures == [] and r.extra["measurable"] is False and r.extra["n_sweeps_found"] is None
    assert r.caveats[0].startswith("Cannot be measured:") and "records cover 10 of them" in r.caveats[0]


def test_placement_event_only_and_office_counted_apart(warehouse_con):
    """Cook County, 24-27 Sep 2017: every arrest placed there only by the office's county is not an arrest place."""
    q = Selection.of("arrests", "2017-09-24", "2017-09-27", "17031").compile(warehouse_con, lambda p: SHARED / p)
    office = warehouse_con.execute(
        "SELECT count(*) FROM arrests a JOIN landmark_resolution r USING (aor, landmark) WHERE a.counted AND "
        "r.county_fips = '17031' AND r.kind = 'office_proxy' AND a.event_date BETWEEN '2017-09-24' AND '2017-09-27'"
    ).fetchone()[0]
    event = warehouse_con.execute(
        "SELECT count(*) FROM arrests a JOIN landmark_resolution r USING (aor, landmark) WHERE a.counted AND "
        "r.county_fips = '17031' AND r.kind = 'event' AND a.event_date BETWEEN '2017-09-24' AND '2017-09-27'"
    ).fetchone()[0]
    assert q.count(warehouse_con) == event and q.office_placements(warehouse_con) == office > 0
    anyq = Selection.of("arrests", "2017-09-24", "2017-09-27", "17031", placement="any").compile(
        warehouse_con, lambda p: SHARED / p)
    assert anyq.count(warehouse_con) == event + office
    assert coverage(warehouse_con, q).status == "full"


def test_place_page_says_no_records_in_both_languages(warehouse_client):
    en = warehouse_client.get("/place/06037", params={"from": "2026-11-01", "to": "2026-11-30"}).text
    assert "No records for these dates" in en and "Sep 1, 2019" in en  # the last day of the nationwide records
    es = warehouse_client.get("/place/06037", params={"from": "2026-11-01", "to": "2026-11-30", "lang": "es"}).text
    assert "No hay registros para estas fechas" in es


def test_sweeps_page_says_cannot_be_measured(warehouse_client):
    html = warehouse_client.get("/place/LOS", params={"from": "2025-06-01", "to": "2025-06-10", "lang": "en"}).text
    assert "Cannot be measured:" in html and "No sweep is detected" not in html
    body = warehouse_client.get("/api/v1/sweeps",
                                params={"place": "LOS", "from": "2025-06-01", "to": "2025-06-10"}).json()
    assert body["figures"] == [] and body["coverage"]["status"] == "full"
    assert body["extra"]["measurable"] is False


@pytest.mark.parametrize("url", ["/", "/sweeps", "/data", "/check", "/place/06037"])
def test_every_page_states_how_far_the_records_reach(warehouse_client, warehouse_con, url):
    from icemonitor.messages.formats import day

    reach = records_reach(warehouse_con, "arrests")
    for lang, words in (("en", "Arrest records reach:"), ("es", "Los registros de arrestos llegan:")):
        html = warehouse_client.get(url, params={"lang": lang}).text
        footer = html.split('id="data-age-footer">', 1)[1].split("</p>", 1)[0]
        assert footer.startswith(words)
        assert all(f"{day(r['from'], lang)} – {day(r['to'], lang)} ({r['release']})" in footer for r in reach)


def _wa_joined_arrests() -> pd.DataFrame:
    """Distinct arrests of UWCHR's Washington join (pandas, independent of the reader)."""
    raw = pd.read_csv(SHARED / "ice" / "uwchr-ddp-wa-joined" / "joined_df_wa.csv", dtype=str, keep_default_na=False,
                      na_values=["NA"])
    cols = [c for c in raw.columns if c.endswith(".arrest")] + ["unique_identifier"]
    arrests = raw[cols].dropna(how="all", subset=[c for c in cols if c != "unique_identifier"])
    arrests = arrests.drop_duplicates()
    arrests["day"] = pd.to_datetime(arrests["apprehension_date.arrest"].str[:10])
    return arrests


@pytest.mark.parametrize("d0,d1", [("2024-06-01", "2024-06-30"), ("2024-01-01", "2024-12-31")])
def test_a_subset_release_gives_a_lower_bound_not_partial_coverage(warehouse_con, d0, d1):
    """uwchr-ddp-wa-joined holds only people later detained in Washington (catalog `subset`): Seattle in 2024 has
    no total and no partial share; the count of its rows (pandas, on the raw file) is stated as a lower bound."""
    a = _wa_joined_arrests()
    expected = int(((a["apprehension_aor.arrest"] == "Seattle Area of Responsibility")
                    & a["day"].between(d0, d1)).sum())
    assert expected > 0
    r = summary(warehouse_con, by=[], place="SEA", date_from=d0, date_to=d1)
    cov = r.coverage
    assert r.extra["total_events"] is None and r.figures == []
    assert cov["status"] == "subset" and cov["share"] == 0 and cov["lower_bound"] == expected
    assert cov["subsets"] == [{"release": "uwchr-ddp-wa-joined", "en": "only people later detained in Washington",
                               "es": "solo personas detenidas después en Washington"}]
    assert cov["reason"] == f"not countable; {expected} is a lower bound (only people later detained in Washington)"
    assert r.caveats[0].startswith(f"Not countable: {expected} is a lower bound")


def test_a_subset_never_covers_but_a_census_still_does(warehouse_con):
    """A one-state release met by its larger AOR is a lower bound too (Atlanta AOR, June 2025: North Carolina's
    rows only); a full release beside a subset keeps its own share (the nation, June 2025: LOS 1-10 June)."""
    atl = summary(warehouse_con, by=[], place="ATL", date_from="2025-06-01", date_to="2025-06-30")
    nc = summary(warehouse_con, by=[], place="NC", date_from="2025-06-01", date_to="2025-06-30")
    assert atl.coverage["status"] == "subset" and atl.extra["total_events"] is None
    assert atl.coverage["lower_bound"] >= nc.extra["total_events"] > 0
    assert atl.coverage["subsets"][0]["en"] == "only events in NC"
    us = summary(warehouse_con, by=[], date_from="2025-06-01", date_to="2025-06-30")
    assert us.coverage["status"] == "partial" and us.extra["total_events"] > 0
    assert "uwchr-ddp-wa-joined" not in us.coverage["releases"]


def test_sweep_chart_leaves_days_without_records_empty_not_zero(warehouse_path):
    """A sweep near the end of the nationwide records (LOS, late August 2019): the daily chart's days after the
    last LOS record (31 Aug 2019, from the raw FY2019 file) are null and drawn as a 'no records' band, the covered
    days are counts (0 where nothing matched)."""
    from icemonitor.analysis.sweep_days import fill_days
    from icemonitor.web.db import Warehouse
    from icemonitor.web.sweep_pages import daily, daily_chart

    raw = pd.read_csv(FY1619 / "EROArrests_FY2019.csv.gz", sep="|", skiprows=5, dtype=str, keep_default_na=False,
                      usecols=["Area of Responsibility", "Apprehension Date"])
    days = pd.to_datetime(raw["Apprehension Date"], format="%m/%d/%Y", errors="coerce")
    last = days[raw["Area of Responsibility"].str.strip() == "Los Angeles Area of Responsibility"].max()
    last = last.date().isoformat()
    assert "2019-08-25" < last < "2019-09-13"

    def ref(p):
        return SHARED / p

    rows = daily(Warehouse(warehouse_path), "aor", "LOS", "at_large", pd.Timestamp("2019-08-28").date(),
                 pd.Timestamp("2019-08-30").date(), ref)
    by_day = {r["day"]: r["n"] for r in rows}
    assert rows[0]["day"] == "2019-07-31" and rows[-1]["day"] == "2019-09-13"
    assert all(by_day[d] is None for d in by_day if d > last)
    assert all(isinstance(by_day[d], int) for d in by_day if d <= last) and by_day["2019-08-28"] > 0
    spec = daily_chart(rows, lambda key, **kw: key, "t", "2019-08-28", "2019-08-30", 1.0)
    after = (pd.Timestamp(last) + pd.Timedelta(days=1)).date().isoformat()
    assert spec["layer"][-1]["data"]["values"] == [{"from": after, "to": "2019-09-14", "label": "chart.no_records"}]
    values = next(x for x in spec["layer"] if x["mark"]["type"] == "bar")["data"]["values"]
    assert {v["n"] for v in values if v["day"] > last} == {None}
    # the same rule for any series: uncovered days are None, covered days without events 0
    assert fill_days({"2020-01-02": 3}, pd.Timestamp("2020-01-01").date(), pd.Timestamp("2020-01-04").date(),
                            [{"from": "2020-01-01", "to": "2020-01-02"}]) == [
        {"day": "2020-01-01", "n": 0}, {"day": "2020-01-02", "n": 3}, {"day": "2020-01-03", "n": None},
        {"day": "2020-01-04", "n": None}]


def _months(first: str, last: str) -> list[str]:
    return [p.strftime("%Y-%m") for p in pd.period_range(first, last, freq="M")]


def test_place_trend_leaves_months_without_records_empty_and_marks_partial_months(warehouse_path, warehouse_client):
    """Los Angeles County over 2019-01..2025-12: months no counted LOS record covers (read from coverage_spans
    directly) are null under the 'no records' band, June 2025 (the LOS extract, 1-10 June) is partial, and the
    covered months carry the page's own counts (0 never stands for a month without records)."""
    import datetime as dt

    from icemonitor.analysis.place_profile import trend
    from icemonitor.places.place_filter import parse_exact
    from icemonitor.web import analyses, charts
    from icemonitor.web.db import Warehouse
    from icemonitor.web.place_pages import trend_months

    wh = Warehouse(warehouse_path)
    d0, d1 = dt.date(2019, 1, 1), dt.date(2025, 12, 31)
    spans = wh.cursor().execute(
        "SELECT span_from, span_to FROM coverage_spans WHERE table_name = 'arrests' AND counted AND aor = 'LOS' "
        "AND span_to >= ? AND span_from <= ?", [d0, d1]).fetchall()
    covered = {d.strftime("%Y-%m-%d") for a, b in spans for d in pd.date_range(max(a, d0), min(b, d1))}
    expected = {}
    for m in _months("2019-01", "2025-12"):
        days = {d.strftime("%Y-%m-%d") for d in pd.date_range(m + "-01", pd.Period(m).end_time.date())}
        expected[m] = "none" if not days & covered else "full" if days <= covered else "partial"
    assert expected["2025-06"] == "partial" and expected["2019-08"] == "full"
    assert {m for m, s in expected.items() if s != "none" and m >= "2019-10"} == {"2025-06"}

    place = parse_exact("06037", lambda p: SHARED / p)
    months = trend_months(analyses.coverage(wh, lambda p: SHARED / p, place, d0, d1))
    assert months == expected
    rows = trend(wh.cursor(), place, d0, d1).figures
    spec = charts.trend_with_policies(rows, [], lambda key, **kw: key, "t", months)
    line = next(x for x in spec["layer"] if x["mark"]["type"] == "line")["data"]["values"]
    have = {(r["month"], r["method_class"]): r["n"] for r in rows}
    assert {r["month"] for r in line} == set(expected)
    for r in line:
        status = expected[r["month"]]
        assert r["n"] == (None if status == "none" else have.get((r["month"], r["method_class"]), 0)), r
        assert bool(r["coverage"]) == (status == "partial")
    assert sum(r["n"] for r in line if r["month"] == "2025-06") == sum(
        n for (m, _), n in have.items() if m == "2025-06") > 0
    bands = {x["mark"]["color"]: x["data"]["values"] for x in spec["layer"] if x["mark"]["type"] == "rect"}
    assert bands["#bbbbbb"] == [
        {"from": "2019-09-01", "to": "2025-05-31", "label": "chart.no_records"},
        {"from": "2025-07-01", "to": "2025-12-31", "label": "chart.no_records"}]
    assert bands["#dddddd"] == [{"from": "2025-06-01", "to": "2025-06-30", "label": "chart.partial_month"}]
    # the page, in both languages, draws the bands with the sweep chart's 'no records' words
    es = warehouse_client.get("/place/06037", params={"from": "2019-01-01", "to": "2025-12-31", "lang": "es"})
    assert es.status_code == 200
    assert "Sin registros: los registros no cubren" in es.text and "Cobertura parcial" in es.text
    en = warehouse_client.get("/place/06037", params={"from": "2019-01-01", "to": "2025-12-31", "lang": "en"}).text
    assert "No records: the records do not cover" in en and "Partly covered" in en


def test_report_chart_and_baseline_never_count_days_without_records(warehouse_con):
    """Los Angeles County, 1-26 June 2025 (the issue's 'nearby weeks averaged 0.0 arrests'): the records cover
    1-10 June only (the raw LOS extract's dates), so no shifted window is covered and no average is given in either
    language; the chart's days outside the extract are null under a 'no records' band, never zero bars."""
    import datetime as dt

    from icemonitor.present.charts import daily_spec
    from icemonitor.present.facts import build_facts
    from icemonitor.present.i18n import messages
    from icemonitor.present.report import render

    raw = pd.read_csv(SHARED / "ice" / "bln-la-aor-arrests" / "la_arrests_2025-06-01_10_transcribed.csv", dtype=str)
    first, last = (pd.to_datetime(raw["arrest_date"].str[:10]).dt.date.agg(f) for f in ("min", "max"))
    rf = build_facts(warehouse_con, "06037", "2025-06-01", "2025-06-26", lambda p: SHARED / p)
    assert rf.coverage["status"] == "partial" and "cav_no_baseline" in rf.caveats
    assert not any(k.startswith("baseline") for k in rf.facts)
    lo, hi = dt.date(2025, 6, 1) - dt.timedelta(weeks=4), dt.date(2025, 6, 26) + dt.timedelta(weeks=4)
    by_day: dict[str, list] = {}
    for r in rf.chart_days:
        by_day.setdefault(r["day"], []).append(r["events"])
    outside = [d.date().isoformat() for d in pd.date_range(lo, hi) if not first <= d.date() <= last]
    assert all(by_day[d] == [None] for d in outside)
    assert all(None not in v for d, v in by_day.items() if first.isoformat() <= d <= last.isoformat())
    assert sum(e for v in by_day.values() for e in v if e is not None) == rf.facts["total"].value > 0
    spec = daily_spec(rf, messages("en"))
    bars = next(x for x in spec["layer"] if x["mark"]["type"] == "bar")["data"]["values"]
    assert all(v["events"] is not None for v in bars)
    gaps = next(x for x in spec["layer"] if x["mark"].get("color") == "#bbbbbb")["data"]["values"]
    assert [(g["start"], g["end"]) for g in gaps] == [
        (lo.isoformat(), first.isoformat()), ((last + dt.timedelta(days=1)).isoformat(),
                                              (hi + dt.timedelta(days=1)).isoformat())]
    en, es = render(rf, "en", "html"), render(rf, "es", "html")
    assert "averaged" not in en.text and "promedi" not in es.text
    assert "no records for these days" in en.charts[0][1] and "no hay registros" in es.charts[0][1]


def _read_only(value, where="value"):
    """Every container in `value` is immutable: no dict, list or set a caller could change."""
    from types import MappingProxyType

    assert not isinstance(value, (dict, list, set)), f"{where} is a {type(value).__name__}"
    if isinstance(value, MappingProxyType):
        with pytest.raises(TypeError):
            value["changed"] = 1  # type: ignore[index]
        for k, v in value.items():
            _read_only(v, f"{where}[{k!r}]")
    elif isinstance(value, (tuple, frozenset)):
        for i, v in enumerate(value):
            _read_only(v, f"{where}[{i}]")


def test_per_warehouse_readers_give_one_read_only_value(warehouse_con):
    """The coverage readers cached per warehouse file hand every caller the one cached value (no copy per figure),
    and nothing in it can be changed by a caller; a figure's coverage is the caller's own to change."""
    from icemonitor.query import coverage as cov

    readers = [(cov.aor_states, ()), (cov.covered_aors, ()), (cov.subset_releases, ()), (cov.aor_periods, ()),
               (cov.table_spans, ("arrests",)), (cov.unrecorded_fields, ()), (cov._reach, ("arrests",))]
    for reader, args in readers:
        value = reader(warehouse_con, *args)
        name = reader.__wrapped__.__name__
        assert reader(warehouse_con, *args) is value, name
        _read_only(value, name)
    assert cov.aor_states(warehouse_con)["LOS"] == {"CA"} and "LOS" in cov.covered_aors(warehouse_con)
    assert cov.subset_releases(warehouse_con), "the shared data has a subset release"
    reach, _ = cov._reach(warehouse_con, "arrests")
    first = cov.coverage_of(warehouse_con, "arrests", None, None, None, "US")
    first.reach[0]["aors"].append("ZZZ")  # a caller's copy
    first.reach[0]["release"] = "changed"
    first.aors.append("ZZZ")
    again = cov.coverage_of(warehouse_con, "arrests", None, None, None, "US")
    assert "ZZZ" not in again.aors and again.reach[0]["release"] == reach[0]["release"] != "changed"
    assert again.reach == [dict(r, aors=list(r["aors"]), subset=dict(r["subset"]) if r["subset"] else None)
                           for r in reach]
