"""The analyses the report's facts call for what they used to ask with their own SQL (issue #11): a place's first
and last counted event (summary.event_span), its AORs' total (summary with an AOR filter, as `summary --aor`),
the landmark's county breakdown (landmark_counties) and the same-weekday baseline (baseline.same_weekdays).
Checked against plain counts of the warehouse's rows and against `summary`, on the warehouse built from
../shared/data."""

from __future__ import annotations

import datetime as dt

import pytest

from conftest import shared_ref
from icemonitor.analysis.baseline import same_weekdays
from icemonitor.analysis.landmark_counties import landmark_counties
from icemonitor.analysis.summary import event_span, summary

SEPT = ("2017-09-24", "2017-09-27")


def test_event_span_of_an_aor_is_its_first_and_last_counted_row(warehouse_con):
    first, last, n = warehouse_con.execute(
        "SELECT min(event_date), max(event_date), count(*) FROM arrests WHERE counted AND aor = 'LOS'").fetchone()
    res = event_span(warehouse_con, "arrests", place="LOS", ref=shared_ref)
    assert res.figures == [{"first": first.isoformat(), "last": last.isoformat(), "events": n}]
    assert res.releases and res.coverage["status"] in ("full", "partial")
    # a county: every counted arrest placed in it lies in its span, and summary over the span counts them all
    span = event_span(warehouse_con, "arrests", place="06037", ref=shared_ref).figures[0]
    total = summary(warehouse_con, "arrests", by=[], date_from=span["first"], date_to=span["last"], place="06037",
                    ref=shared_ref).extra["total_events"]
    assert total == span["events"] > 0


def test_the_aors_total_is_summary_with_an_aor_filter(warehouse_con):
    by_place = summary(warehouse_con, "arrests", by=[], date_from=SEPT[0], date_to=SEPT[1], place="LOS",
                       ref=shared_ref).extra["total_events"]
    by_filter = summary(warehouse_con, "arrests", by=[], date_from=SEPT[0], date_to=SEPT[1],
                        filters={"aor": ["LOS"]}, ref=shared_ref)
    assert by_filter.extra["total_events"] == by_place == 260
    two = summary(warehouse_con, "arrests", by=[], date_from=SEPT[0], date_to=SEPT[1], filters={"aor": ["LOS", "SND"]},
                  ref=shared_ref).extra["total_events"]
    n = warehouse_con.execute("SELECT count(*) FROM arrests WHERE counted AND aor IN ('LOS', 'SND') AND event_date "
                              "BETWEEN ? AND ?", [dt.date(2017, 9, 24), dt.date(2017, 9, 27)]).fetchone()[0]
    assert two == n > 260


@pytest.mark.parametrize(("place", "total", "office_apart"), [("LOS", 260, None), ("06037", 95, 2), ("17031", 0, 34)])
def test_landmark_counties_add_up_to_the_summary(warehouse_con, place, total, office_apart):
    res = landmark_counties(warehouse_con, "arrests", place=place, date_from=SEPT[0], date_to=SEPT[1],
                            ref=shared_ref)
    assert res.extra["available"] and res.extra["office_placements"] == office_apart
    groups = res.extra["groups"]
    assert sum(f["events"] for f in res.figures) == total
    assert sum(groups.values()) == total + (office_apart or 0)
    assert set(res.definitions) >= set(groups)
    if place == "LOS":  # an AOR: its rows by the landmark's level and kind, against the warehouse's own columns
        rows = dict(warehouse_con.execute(
            "SELECT coalesce(r.level || '/' || r.kind, r.level, 'none'), count(*) FROM arrests a LEFT JOIN "
            "landmark_resolution r ON a.aor = r.aor AND a.landmark = r.landmark WHERE a.counted AND a.aor = 'LOS' "
            "AND a.event_date BETWEEN ? AND ? GROUP BY 1", [dt.date(2017, 9, 24), dt.date(2017, 9, 27)]).fetchall())
        assert groups["event"] == rows.get("county/event", 0) + rows.get("county", 0) > 0
        assert groups["office_proxy"] == rows.get("county/office_proxy", 0) > 0
    if place == "06037":
        assert groups == {"event": 95, "office_proxy": 2, "state": 0, "unresolved": 0}
        assert [(f["placed"], f["county_fips"]) for f in res.figures] == [("event", "06037")]


def test_no_records_means_no_breakdown(warehouse_con):
    res = landmark_counties(warehouse_con, "arrests", place="06037", date_from="2026-11-01", date_to="2026-11-30",
                            ref=shared_ref)
    assert res.figures == [] and res.extra["groups"] is None and res.coverage["status"] == "none"


def test_same_weekdays_counts_what_summary_counts(warehouse_con):
    res = same_weekdays(warehouse_con, "arrests", place="LOS", date_from=SEPT[0], date_to=SEPT[1], ref=shared_ref)
    assert [f["weeks"] for f in res.figures] == [-4, -3, -2, -1, 1, 2, 3, 4]
    for f in res.figures:
        d0 = dt.date.fromisoformat(SEPT[0]) + dt.timedelta(weeks=f["weeks"])
        assert f["from"] == d0.isoformat()
        s = summary(warehouse_con, "arrests", by=["method_class"], date_from=f["from"], date_to=f["to"], place="LOS",
                    ref=shared_ref)
        assert f["events"] == s.extra["total_events"]
        assert f["at_large"] == sum(r["events"] for r in s.figures if r["method_class"] == "at_large")
    assert res.extra["mean"] == pytest.approx(sum(f["events"] for f in res.figures) / 8)
    # past the records: no window, no baseline (None, never 0)
    none = same_weekdays(warehouse_con, "arrests", place="06037", date_from="2026-11-01", date_to="2026-11-07",
                         ref=shared_ref)
    assert none.figures == [] and none.extra["mean"] is None and none.caveats
