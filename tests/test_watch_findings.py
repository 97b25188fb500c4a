"""The watch findings against independent computations on the raw files (pandas, scipy, statsmodels)."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import optimize, stats
from statsmodels.stats.proportion import proportion_confint

from test_watch_support import LESA, SEATTLE, SHARED_DATA, Archive, lesa_file, raw_lesa_arrests, run_refresh

pytestmark = pytest.mark.skipif(not LESA.exists(), reason="../shared/data is not beside the repo")

AT_LARGE_RAW = {"Located", "Non-Custodial Arrest"}  # the raw methods DESIGN.md calls at-large
SPANISH_MONTHS = "ene feb mar abr may jun jul ago sep oct nov dic".split()  # CLDR es_US, written out here


def months_between(first: str, last: str) -> list[str]:
    return [str(p) for p in pd.period_range(first, last, freq="M")]


def poisson_lower(count: int) -> float:
    """Lower 95% bound for a Poisson mean: the mean at which P(X >= count) = 2.5% (solved numerically)."""
    if count == 0:
        return 0.0
    return optimize.brentq(lambda lam: stats.poisson.sf(count - 1, lam) - 0.025, 1e-9, count * 10 + 10)


@pytest.fixture(scope="module")
def lesa_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("lesa-home")
    archive = Archive()
    archive.add_lesa(2016)
    archive.add_lesa(2017)
    run_refresh(home, archive, run_watches=False)
    return home


@pytest.mark.parametrize("aor_code,aor_name", [("LOS", "Los Angeles Area of Responsibility"),
                                               ("SEA", "Seattle Area of Responsibility")])
def test_at_large_rise_matches_raw_counts(lesa_home, aor_code, aor_name):
    import duckdb

    from icemonitor.watch.findings import at_large_rise
    from icemonitor.watch.places import parse

    raw = pd.concat([raw_lesa_arrests(lesa_file(2016)), raw_lesa_arrests(lesa_file(2017))])
    counts = raw[(raw.aor_name == aor_name) & raw.method.isin(AT_LARGE_RAW)].groupby("month").size()
    months = months_between("2016-10", "2017-09")
    expected = {}
    for m in months:
        base = months_between(str(pd.Period(m) - 12), str(pd.Period(m) - 1))
        mean = sum(int(counts.get(b, 0)) for b in base) / 12
        c = int(counts.get(m, 0))
        if c >= 10 and poisson_lower(c) > mean:
            expected[m] = (c, round(mean, 2))
    assert expected, "the test period should contain rises"
    con = duckdb.connect(str(lesa_home / "warehouse.duckdb"), read_only=True)
    found = at_large_rise(con, 1, parse(aor_code, con), months)
    con.close()
    assert {f.period: (f.data["count"], f.data["baseline_mean"]) for f in found} == expected
    f = found[0]
    assert f.data["releases"] == ["uwchr-ice-enforce-fy16-19"]
    assert "method_class = 'at_large'" in f.body and "uwchr-ice-enforce-fy16-19" in f.body
    assert f"AOR {aor_code}" in f.title


def test_months_without_a_full_baseline_are_not_tested(lesa_home):
    import duckdb

    from icemonitor.watch.findings import at_large_rise
    from icemonitor.watch.places import parse

    con = duckdb.connect(str(lesa_home / "warehouse.duckdb"), read_only=True)
    # FY2016 months have fewer than 12 covered months before them in this warehouse
    assert at_large_rise(con, 1, parse("LOS"), months_between("2015-10", "2016-09")) == []
    con.close()


def test_no_record_rise_matches_raw_seattle_file(tmp_path):
    import duckdb

    from icemonitor.watch.findings import no_record_rise
    from icemonitor.watch.places import parse

    archive = Archive()
    archive.files.append(("uwchr-seattle-aor-fy12-19", "arrests.csv.gz", SEATTLE / "arrests.csv.gz",
                          "seattle_aor_csv", {"table": "arrests"}))
    home = tmp_path / "home"
    run_refresh(home, archive, run_watches=False)

    raw = pd.read_csv(SEATTLE / "arrests.csv.gz", sep="|", skiprows=6, dtype=str, keep_default_na=False)
    dates = pd.to_datetime(raw["Arrest Date"], format="%m/%d/%Y")
    raw = pd.DataFrame({"date": dates, "month": dates.dt.strftime("%Y-%m"),
                        "no_record": raw["Most Serious Conviction"].str.strip() == ""})
    raw = raw[raw.date >= "2014-10-01"]  # Most Serious Conviction is not recorded before FY2015
    days = raw.groupby("month").date.nunique()
    by = raw.groupby("month").no_record.agg(["sum", "count"])
    months = months_between("2015-10", "2019-07")
    expected = {}
    for m in months:
        base = months_between(str(pd.Period(m) - 12), str(pd.Period(m) - 1))
        if days.get(m, 0) < 20 or any(days.get(b, 0) < 20 for b in base):
            continue
        k, n = int(by["sum"].get(m, 0)), int(by["count"].get(m, 0))
        bk = sum(int(by["sum"].get(b, 0)) for b in base)
        bn = sum(int(by["count"].get(b, 0)) for b in base)
        low, _ = proportion_confint(k, n, alpha=0.05, method="wilson")
        if n >= 20 and low > bk / bn:
            expected[m] = (k, n, bk, bn)
    assert expected, "Seattle's no-record share rose in FY2017-19"
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    found = no_record_rise(con, 1, parse("SEA", con), months)
    con.close()
    got = {f.period: (f.data["no_record"], f.data["known"], f.data["baseline_no_record"], f.data["baseline_known"])
           for f in found}
    assert got == expected
    assert all(f.data["criminality_fields"] == ["seattle_most_serious_conviction"] for f in found)
    assert "seattle_most_serious_conviction" in found[0].body


def test_unknown_place_is_refused_with_the_known_aors(lesa_home):
    import duckdb

    from icemonitor.errors import InputError
    from icemonitor.watch.places import parse

    con = duckdb.connect(str(lesa_home / "warehouse.duckdb"), read_only=True)
    with pytest.raises(InputError, match="no arrests in the warehouse for AOR XYZ"):
        parse("XYZ", con)
    with pytest.raises(InputError, match="field 'place'"):
        parse("Los Angeles!", con)
    assert parse("sfr, los", con).params == ("LOS", "SFR")
    con.close()


def test_sweep_findings_cite_raw_counts(lesa_home):
    pytest.importorskip("icemonitor.analysis.sweeps")
    import duckdb

    from icemonitor.watch.findings import sweep_findings
    from icemonitor.watch.places import parse

    raw = pd.concat([raw_lesa_arrests(lesa_file(y)) for y in (2016, 2017)])
    path = lesa_file(2016).parent
    dates = pd.concat([
        pd.read_csv(path / f"EROArrests_FY{y}.csv.gz", sep="|", skiprows=5, dtype=str, keep_default_na=False)
        for y in (2016, 2017)
    ])
    dates = dates[dates["Area of Responsibility"].str.strip() == "Los Angeles Area of Responsibility"]
    los_days = pd.to_datetime(dates["Apprehension Date"], format="%m/%d/%Y")
    months = months_between("2017-01", "2017-09")
    con = duckdb.connect(str(lesa_home / "warehouse.duckdb"), read_only=True)
    found = sweep_findings(con, 7, parse("LOS"), months)
    con.close()
    assert found and len(raw)
    for f in found:
        start, end = f.period.split("..")
        assert end[:7] in months
        observed = int(((los_days >= start) & (los_days <= end)).sum())
        assert f.data["observed"] == observed
        assert f"{observed:,} arrests" in f.title and f.data["releases"] == ["uwchr-ice-enforce-fy16-19"]
        spanish = f.title.render("es")  # the same sweep said in Spanish, its days in Spanish
        d0, d1 = pd.Timestamp(start), pd.Timestamp(end)
        assert spanish.startswith("Posible redada en AOR LOS, ") and f"{observed:,} arrestos frente a " in spanish
        assert f"{d1.day} {SPANISH_MONTHS[d1.month - 1]} {d1.year}:" in spanish and str(d0.year) in spanish
        assert "Entregas de datos: uwchr-ice-enforce-fy16-19." in f.body.render("es")
    assert len({f.dedup_key for f in found}) == len(found)


def test_county_watch_needs_the_landmark_resolution(lesa_home):
    pytest.importorskip("icemonitor.places.place_filter")
    import duckdb

    from icemonitor.errors import InputError
    from icemonitor.watch.places import parse
    from test_watch_support import SHARED_DATA

    ref = lambda p: SHARED_DATA / p  # noqa: E731
    con = duckdb.connect(str(lesa_home / "warehouse.duckdb"), read_only=True)
    with pytest.raises(InputError, match="need the landmark resolution.*LOS"):
        parse("06037", con, ref)
    with pytest.raises(InputError, match="unknown place"):
        parse("Atlantis County, ZZ", con, ref)
    assert parse("Los Angeles AOR", con, ref).params == ("LOS",)  # an AOR by name is an AOR
    con.close()


def test_set_of_counties_filters_on_the_landmark_resolution(lesa_home, tmp_path):
    pytest.importorskip("icemonitor.places.place_filter")
    import shutil

    import duckdb

    from icemonitor.watch.findings import at_large_rise
    from icemonitor.watch.places import parse
    from test_watch_support import SHARED_DATA

    landmarks = {"LOS ANGELES COUNTY GENERAL AREA, NON-SPECIFIC": "06037", "VENTURA COUNTY JAIL, VENTURA CA": "06111"}
    wh = tmp_path / "warehouse.duckdb"
    shutil.copyfile(lesa_home / "warehouse.duckdb", wh)
    con = duckdb.connect(str(wh))
    con.execute("CREATE TABLE landmark_resolution (aor VARCHAR, landmark VARCHAR, state VARCHAR, county_fips VARCHAR)")
    for landmark, fips in landmarks.items():  # a hand-made resolution standing in for the places stage's
        con.execute("INSERT INTO landmark_resolution VALUES ('LOS', ?, 'CA', ?)", [landmark, fips])
    place = parse("6111, 06037", con, lambda p: SHARED_DATA / p)
    assert place.text == "06037,06111" and place.level == "counties"

    raw = pd.concat([raw_lesa_arrests(lesa_file(y)) for y in (2016, 2017)])
    sel = raw[(raw.aor_name == "Los Angeles Area of Responsibility") & raw.landmark.isin(landmarks)
              & raw.method.isin(AT_LARGE_RAW)]
    counts = sel.groupby("month").size()
    months = months_between("2016-10", "2017-09")
    expected = {}
    for m in months:
        base = months_between(str(pd.Period(m) - 12), str(pd.Period(m) - 1))
        mean = sum(int(counts.get(b, 0)) for b in base) / 12
        c = int(counts.get(m, 0))
        if c >= 10 and poisson_lower(c) > mean:
            expected[m] = (c, round(mean, 2))
    found = at_large_rise(con, 3, place, months)
    con.close()
    assert expected and {f.period: (f.data["count"], f.data["baseline_mean"]) for f in found} == expected
    assert "Los Angeles" in found[0].title and "Ventura" in found[0].title
    assert "unresolved landmarks are left out" in found[0].body
    spanish = found[0].title.render("es")
    assert "en condado de Los Ángeles, CA; condado de Ventura, CA en " in spanish, spanish
    assert "los arrestos con puntos de referencia sin resolver quedan fuera" in found[0].body.render("es")


def test_a_watch_month_is_the_cli_figure_and_no_records_stay_no_records(lesa_home, monkeypatch):
    """One question, one number: the at-large-rise finding for LOS in September 2017 counts what `icemonitor summary
    --place LOS --method-class at_large` counts for that month (and what pandas counts in the raw file); months past
    the records have no figure (None, 'no records'), are never tested, never used as a zero baseline."""
    import datetime as dt
    import json

    import duckdb
    from typer.testing import CliRunner

    from icemonitor.analysis.summary import summary
    from icemonitor.analysis.watch_figures import monthly
    from icemonitor.cli import app
    from icemonitor.watch.findings import at_large_rise
    from icemonitor.watch.places import parse

    raw = raw_lesa_arrests(lesa_file(2017))
    by_pandas = int(((raw.aor_name == "Los Angeles Area of Responsibility") & raw.method.isin(AT_LARGE_RAW)
                     & (raw.month == "2017-09")).sum())
    con = duckdb.connect(str(lesa_home / "warehouse.duckdb"), read_only=True)
    try:
        place = parse("LOS", con)
        (finding,) = [f for f in at_large_rise(con, 1, place, ["2017-09"])]
        cli_analysis = summary(con, by=None, date_from="2017-09-01", date_to="2017-09-30", place="LOS",
                               filters={"method_class": "at_large"})
        later = monthly(con, place.select(con, dt.date(2017, 9, 1), dt.date(2017, 12, 31)))
        assert at_large_rise(con, 1, place, ["2017-10", "2017-11", "2017-12"]) == []
        nov = summary(con, by=None, date_from="2017-11-01", date_to="2017-11-30", place="LOS")
    finally:
        con.close()
    monkeypatch.setenv("ICEMONITOR_HOME", str(lesa_home))
    monkeypatch.setenv("ICEMONITOR_MIRROR", str(SHARED_DATA))  # the reference files a --place reads, from the mirror
    for ref in ("ref-geo", "ref-aor"):
        res = CliRunner().invoke(app, ["fetch", ref])
        assert res.exit_code == 0, res.output
    res = CliRunner().invoke(app, ["summary", "--place", "LOS", "--from", "2017-09-01", "--to", "2017-09-30",
                                   "--method-class", "at_large", "--by", "month", "--json"])
    assert res.exit_code == 0, res.output
    cli = json.loads(res.output)
    assert finding.data["count"] == cli_analysis.extra["total_events"] == cli["extra"]["total_events"] == by_pandas
    assert [r["events"] for r in cli["figures"]] == [by_pandas] and cli["figures"][0]["month"] == "2017-09"
    assert finding.data["releases"] == cli["releases"]
    months = {f["month"]: f for f in later.figures}
    assert months["2017-09"]["coverage"] == "full" and months["2017-09"]["n"] > by_pandas  # all methods
    for m in ("2017-10", "2017-11", "2017-12"):
        assert months[m]["n"] is None and months[m]["coverage"] == "none"
    assert nov.extra["total_events"] is None and nov.coverage["status"] == "none"
    assert any("Nov 2017: no records" in str(c) and "Los Angeles" in str(c) for c in later.caveats)
