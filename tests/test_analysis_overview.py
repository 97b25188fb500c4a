"""The dashboard's analyses (analysis/overview.py, analysis/holdings.py) against counts made by hand from the rows
put into a small warehouse, and on the real warehouse against the CLI's summary and its coverage."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import duckdb
import pytest

import web_warehouse as ww
from icemonitor.analysis import holdings, overview
from icemonitor.query.filters import Filters, ParamError

ROWS = ([{"release_id": "a", "event_date": "2017-03-01", "fy": 2017, "aor": "LOS", "method_class": "at_large",
          "method_raw": "Located", "counted": True}] * 3
        + [{"release_id": "a", "event_date": "2017-04-02", "fy": 2017, "aor": "SND", "method_class": "custodial",
            "method_raw": "287(g) Program", "counted": True}] * 2
        + [{"release_id": "b", "event_date": "2017-04-02", "fy": 2017, "aor": "SND", "method_class": "custodial",
            "method_raw": "287(g) Program", "counted": False}] * 4  # an overlapping release: not added twice
        + [{"release_id": "b", "event_date": "2019-01-05", "fy": 2019, "aor": "SEA", "method_class": "other",
            "method_raw": "Other efforts", "counted": True, "criminality_field": "most_serious_conviction",
            "criminality": "convicted"}])


@pytest.fixture()
def con(tmp_path):
    c = duckdb.connect(str(ww.tiny(tmp_path / "o.duckdb", ROWS)), read_only=True)
    yield c
    c.close()


def by_hand(keys, keep=lambda r: True) -> dict[tuple, int]:
    return dict(Counter(tuple(r[k] for k in keys) for r in ROWS if r["counted"] and keep(r)))


def test_counts_are_the_counted_rows_grouped(con):
    res = overview.counts(con, Filters("arrests"), ["aor", "method_class"])
    assert {(r["aor"], r["method_class"]): r["n"] for r in res.figures} == by_hand(["aor", "method_class"])
    assert res.extra["total"] == sum(by_hand(["aor"]).values()) == 6 and res.releases == ["a", "b"]
    month = overview.counts(con, Filters("arrests", dt.date(2017, 4, 1), dt.date(2017, 12, 31)), ["month"])
    assert month.figures == [{"month": "2017-04", "n": 2}] and month.releases == ["a"]
    assert "counted = true" in month.definitions["n"] and month.coverage["status"] == "unknown"  # no coverage tables
    one = overview.counts(con, Filters("arrests", method_class="custodial"), [])
    assert one.figures == [{"n": 2}] and one.extra["total"] == 2


def test_bad_parameters_name_themselves(con):
    for f, param in ((Filters("removals"), "table"), (Filters("nope"), "table"),
                     (Filters(method_class="x"), "method_class"),
                     (Filters(date_from=dt.date(2018, 1, 1), date_to=dt.date(2017, 1, 1)), "to")):
        with pytest.raises(ParamError) as err:
            overview.counts(con, f, [])
        assert err.value.param == param


def test_spans_partial_months_and_criminality(con):
    spans = overview.release_spans(con, Filters("arrests")).figures
    assert [(s["release_id"], s["first"], s["last"], s["n"], s["aors"]) for s in spans] == [
        ("a", "2017-03-01", "2017-04-02", 5, ["LOS", "SND"]), ("b", "2019-01-05", "2019-01-05", 1, ["SEA"])]
    assert overview.partial_months(con, Filters("arrests")).figures == []  # every month: one AOR, the most there is
    crim = overview.criminality_fields(con, Filters("arrests")).figures
    assert crim == [{"release_id": "b", "criminality_field": "most_serious_conviction", "fy": 2019,
                     "criminality": "convicted", "n": 1}]
    assert overview.last_event_date(con, Filters("arrests")) == dt.date(2019, 1, 5)


def test_aor_map_lays_the_counts_by_aor_on_the_county_map(tmp_path):
    path = ww.tiny(tmp_path / "m.duckdb", ROWS)
    with duckdb.connect(str(path)) as c:
        c.execute("CREATE TABLE counties AS SELECT * FROM (VALUES ('06037', 'LOS'), ('06073', 'SND'), "
                  "('06059', 'LOS'), ('53033', 'SEA'), ('04013', 'PHO')) t(county_fips, aor)")
    with duckdb.connect(str(path), read_only=True) as c:
        res = overview.aor_map(c, Filters("arrests"))
        by_aor = {k[0]: n for k, n in by_hand(["aor"]).items()}
        assert res.figures == [{"county_fips": f, "aor": a, "n": by_aor.get(a, 0)} for f, a in sorted(
            [("06037", "LOS"), ("06073", "SND"), ("06059", "LOS"), ("53033", "SEA"), ("04013", "PHO")])]
        assert res.extra["map"] == "counties.aor" and res.releases == ["a", "b"]
        assert overview.county_rates(c, Filters("arrests")).extra == {"available": False,
                                                                      "missing": ["landmark_resolution", "population"]}


def test_holdings(con):
    assert holdings.event_tables(con) == ["arrests"]
    assert holdings.aors(con) == ["LOS", "SEA", "SND"] and holdings.aors(con, "removals") == []
    cov = holdings.table_coverage(con).figures
    assert cov == [{"table": "arrests", "rows": len(ROWS), "counted_rows": 6, "min_date": "2017-03-01",
                    "max_date": "2019-01-05", "releases": ["a", "b"]}]
    assert holdings.method_codes(con, "arrests") == {"at_large": ["Located"], "custodial": ["287(g) Program"],
                                                     "other": ["Other efforts"]}
    assert holdings.loaded_releases(con) == []  # no releases table


def test_on_the_real_warehouse_counts_agree_with_the_cli_and_say_no_records(warehouse_con, warehouse_client):
    """The API's and the data page's counts equal `icemonitor summary`'s for an AOR and month; a month past the
    records has no count (None, no rows), the coverage says none, and the caveat says there are no records."""
    from icemonitor.analysis.summary import summary

    f = Filters("arrests", dt.date(2017, 9, 1), dt.date(2017, 9, 30), "LOS")
    dash = overview.counts(warehouse_con, f, ["method_class"])
    cli = summary(warehouse_con, "arrests", ["method_class"], f.date_from, f.date_to, "LOS")
    assert dash.extra["total"] == cli.extra["total_events"] > 0
    assert {r["method_class"] or "(not recorded)": r["n"] for r in dash.figures} == {
        r["method_class"]: r["events"] for r in cli.figures}
    assert dash.coverage["status"] == cli.coverage["status"] == "full"
    gone = overview.counts(warehouse_con, Filters("arrests", dt.date(2026, 11, 1), dt.date(2026, 11, 30), "LOS"), [])
    assert gone.extra["total"] is None and gone.figures == [] and gone.coverage["status"] == "none"
    assert any("No records" in c for c in gone.caveats)
    for lang, words in (("en", "There is no count for this question (not zero)"),
                        ("es", "No hay conteo para esta pregunta (no es cero)")):
        html = warehouse_client.get("/", params={"from": "2026-11-01", "to": "2026-11-30", "lang": lang}).text
        assert words in html, lang
        api = warehouse_client.get("/api/v1/summary", params={"from": "2026-11-01", "to": "2026-11-30",
                                                              "aor": "LOS"}).json()
        assert api["total"] is None and api["rows"] == [] and api["coverage"]["status"] == "none"


def test_an_empty_event_table_has_no_releases_and_no_dates(tmp_path):
    """A table the build created with no rows (a release without removals, say): its coverage is 0 rows and no
    releases, not an error (the dashboard's home and /api/v1/coverage answered 500 on such a warehouse)."""
    import duckdb

    from icemonitor.analysis import holdings
    from icemonitor.schema import tables
    from icemonitor.warehouse.aggregates import write_derived_tables

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    for name in ("arrests", "removals"):
        con.execute(tables()[name].ddl())
    con.execute("INSERT INTO arrests (event_date, fy, release_id, counted, aor) "
                "VALUES ('2017-09-24', 2017, 'r1', true, 'LOS')")
    write_derived_tables(con)
    result = holdings.table_coverage(con)
    by_table = {f["table"]: f for f in result.figures}
    assert by_table["removals"]["rows"] == 0 and by_table["removals"]["releases"] == []
    assert by_table["removals"]["min_date"] is None
    assert by_table["arrests"]["rows"] == 1 and by_table["arrests"]["releases"] == ["r1"]
    assert result.releases == ["r1"]


def test_the_map_and_rates_given_the_pages_counts_by_aor_are_the_ones_they_count_themselves(warehouse_con):
    """The overview hands its counts by AOR to the AOR map and the county rates (counted once per page): the
    figures, releases and totals are those each counts on its own, for periods with and without records, and a
    count of other filters (or of a question without records) is not taken."""
    from icemonitor.analysis.result import AnalysisResult

    for f in (Filters("arrests"), Filters("arrests", dt.date(2017, 1, 1), dt.date(2017, 12, 31)),
              Filters("arrests", dt.date(2018, 1, 1), dt.date(2018, 6, 30), None, "at_large"),
              Filters("arrests", dt.date(2026, 11, 1), dt.date(2026, 11, 30))):
        by_aor = overview.counts(warehouse_con, f, ["aor"])
        for name in ("aor_map", "county_rates"):
            own, given = (getattr(overview, name)(warehouse_con, f, None, b) for b in (None, by_aor))
            assert given.to_dict() == own.to_dict(), (name, f)
        rates = overview.county_rates(warehouse_con, f)
        if by_aor.extra["total"] is not None:  # the rates' total: every counted event of the filters
            assert rates.extra["total"] == overview.counts(warehouse_con, f, [], with_coverage=False).extra["total"]
    other = overview.counts(warehouse_con, Filters("arrests", dt.date(2017, 1, 1), dt.date(2017, 12, 31)), ["aor"])
    f = Filters("arrests")
    assert overview.counted_by_aor(warehouse_con, f, None, other) is not other
    assert overview.counted_by_aor(warehouse_con, f, None, overview.counts(warehouse_con, f, ["aor"])).extra["total"] \
        == overview.counts(warehouse_con, f, []).extra["total"]
    empty = AnalysisResult(name="counts", parameters={**f.as_params(), "by": ["aor"]}, extra={"total": None})
    assert overview.counted_by_aor(warehouse_con, f, None, empty) is not empty
