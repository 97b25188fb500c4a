"""Targeting: the count models on simulated data with known effects; rates on the real warehouse against an
independent pandas computation from the raw files; definitions selectable; county level with and without a
landmark resolution table."""

from __future__ import annotations

import datetime as dt

import duckdb
import numpy as np
import pandas as pd
import pytest

from icemonitor.analysis.rate_models import fit_event_study, fit_poisson_fe, fit_rate_ratios
from icemonitor.analysis.sanctuary_grid import county_status_segments
from icemonitor.analysis.targeting import NO_RESOLUTION, targeting
from icemonitor.errors import InputError

from conftest import SHARED_DATA, shared_ref

NATIONAL = SHARED_DATA / "ice" / "uwchr-ice-enforce-fy16-19"
AOR_NAMES = {
    "Atlanta": "ATL", "Baltimore": "BAL", "Boston": "BOS", "Buffalo": "BUF", "Chicago": "CHI", "Dallas": "DAL",
    "Denver": "DEN", "Detroit": "DET", "El Paso": "ELP", "Houston": "HOU", "Los Angeles": "LOS", "Miami": "MIA",
    "Newark": "NEW", "New Orleans": "NOL", "New York City": "NYC", "Philadelphia": "PHI", "Phoenix": "PHO",
    "Seattle": "SEA", "San Francisco": "SFR", "Salt Lake City": "SLC", "San Antonio": "SNA", "San Diego": "SND",
    "St. Paul": "SPM", "Washington": "WAS",
}


# ---------- simulated data: the estimators recover known effects ----------

def _simulate(seed: int, rr: float = 0.7, did: float = 1.3, n_places: int = 40, n_periods: int = 48) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    places = [f"P{i:02d}" for i in range(n_places)]
    pop = rng.uniform(2e4, 5e5, n_places)
    place_eff = rng.normal(0, 0.25, n_places)
    share = np.where(np.arange(n_places) < n_places // 4, 1.0, rng.uniform(0, 0.6, n_places) * (rng.random(n_places) < 0.3))
    period_eff = 0.3 * np.sin(np.arange(n_periods) / 6) + rng.normal(0, 0.05, n_periods)
    treated = (np.arange(n_places) >= n_places - 6)  # status changes half way
    alpha = 0.15
    rows = []
    for i, p in enumerate(places):
        for t in range(n_periods):
            py = pop[i] / 12
            s = share[i]
            post = float(treated[i] and t >= n_periods // 2)
            mu_rr = py * 5e-4 * np.exp(np.log(rr) * s + place_eff[i] + period_eff[t])
            mu_did = py * 5e-4 * np.exp(np.log(did) * post + place_eff[i] + period_eff[t])
            lam1 = rng.gamma(1 / alpha, alpha * mu_rr)
            lam2 = rng.gamma(1 / alpha, alpha * mu_did)
            rows.append({"place": p, "period": f"t{t:02d}", "t": t, "person_years": py, "share": s, "post": post,
                         "treated": int(treated[i]), "y_rr": rng.poisson(lam1), "y_did": rng.poisson(lam2)})
    return pd.DataFrame(rows)


def test_rate_ratio_recovered_within_its_interval():
    covered = 0
    for seed in range(10):
        df = _simulate(seed)
        # cross-sectional rate ratio: place effects are noise around the share effect, not fixed effects
        est = fit_rate_ratios(df, "y_rr", "person_years", ["share"], "period", "place")[0]
        assert est.low < est.ratio < est.high and est.n_clusters == 40
        covered += est.low <= 0.7 <= est.high
    assert covered >= 8


def test_did_recovered_within_its_interval_nb_and_poisson_fe():
    covered_nb = covered_fe = 0
    for seed in range(10):
        df = _simulate(100 + seed)
        nb = fit_rate_ratios(df, "y_did", "person_years", ["post"], "period", "place", place_effects=True)[0]
        fe = fit_poisson_fe(df, "y_did", "person_years", ["post"], "period", "place")[0]
        covered_nb += nb.low <= 1.3 <= nb.high
        covered_fe += fe.low <= 1.3 <= fe.high
        assert abs(np.log(nb.ratio) - np.log(fe.ratio)) < 0.1
    assert covered_nb >= 8 and covered_fe >= 8


def test_event_study_flat_before_and_at_effect_after():
    df = _simulate(7, did=1.5)
    df["rel"] = ((df["t"] - 24) // 3).clip(-6, 6)
    est = {e.term: e for e in fit_event_study(df, "y_did", "person_years", "rel", "treated", "period", "place")}
    assert "rel_-1" not in est and {"rel_-6", "rel_+0", "rel_+6"} <= set(est)
    pre = [e for t, e in est.items() if int(t[4:]) < -1]
    post = [e for t, e in est.items() if int(t[4:]) >= 0]
    assert sum(e.low <= 1.0 <= e.high for e in pre) >= len(pre) - 1
    assert np.mean([e.ratio for e in post]) == pytest.approx(1.5, rel=0.15)


@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_glm_matches_statsmodels(alpha):
    import statsmodels.api as sm

    from icemonitor.analysis.rate_models import glm_nb

    df = _simulate(3)
    X = pd.get_dummies(df["period"], drop_first=True, dtype=float)
    X.insert(0, "share", df["share"])
    X.insert(0, "const", 1.0)
    y, off, g = df["y_rr"].to_numpy(float), np.log(df["person_years"].to_numpy()), pd.factorize(df["place"])[0]
    fam = sm.families.Poisson() if alpha == 0 else sm.families.NegativeBinomial(alpha=alpha)
    ref = sm.GLM(y, X, family=fam, offset=off).fit(cov_type="cluster", cov_kwds={"groups": g})
    beta, cov, _ = glm_nb(y, X.to_numpy(), off, alpha, g)
    assert beta == pytest.approx(ref.params.to_numpy(), rel=1e-4, abs=1e-6)
    assert np.sqrt(np.diag(cov)) == pytest.approx(ref.bse.to_numpy(), rel=1e-4)


def test_no_variation_gives_a_note_not_a_number():
    df = _simulate(1)
    df["share"] = 0.0
    est = fit_rate_ratios(df, "y_rr", "person_years", ["share"], "period", "place")[0]
    assert est.ratio is None and "no variation" in est.note


# ---------- the real warehouse ----------

@pytest.fixture(scope="module")
def con(warehouse_path):
    c = duckdb.connect(str(warehouse_path), read_only=True)
    yield c
    c.close()


def _raw_fy2018_by_aor() -> pd.DataFrame:
    df = pd.read_csv(NATIONAL / "EROArrests_FY2018.csv.gz", sep="|", skiprows=5, dtype=str, keep_default_na=False)
    df["aor"] = df["Area of Responsibility"].str.replace(" Area of Responsibility", "", regex=False).map(AOR_NAMES)
    df["at_large"] = df["Apprehension Method"].isin(["Located", "Non-Custodial Arrest"])
    return df.dropna(subset=["aor"]).groupby("aor").agg(arrests=("aor", "size"), at_large=("at_large", "sum"))


def _raw_noncitizens_2017_by_aor() -> pd.Series:
    pop = pd.read_csv(SHARED_DATA / "population" / "county_noncitizen_acs5_2013_2017.csv", dtype={"fips5": str})
    xw = pd.read_csv(SHARED_DATA / "aor" / "county_aor_crosswalk.csv", dtype=str)
    pop["noncit"] = (pop["total_pop_acs5_2017"] - pop["citizens_acs5_2017"]).clip(lower=0)
    m = pop.merge(xw[["fips5", "uwchr_aor_code"]], on="fips5", how="inner")
    return m.groupby("uwchr_aor_code")["noncit"].sum()


def test_aor_rates_match_independent_pandas_computation(con):
    res = targeting(con, definition="state-law", date_from="2017-10-01", date_to="2018-09-30", level="aor", period="fy")
    got = {r["place"]: r for r in res.extra["places"]}
    raw = _raw_fy2018_by_aor()
    noncit = _raw_noncitizens_2017_by_aor()
    assert set(raw.index) <= set(got)
    for aor, r in raw.iterrows():
        assert got[aor]["arrests"] == r["arrests"], aor
        assert got[aor]["at_large"] == r["at_large"], aor
        expected_rate = 1e4 * r["arrests"] / (noncit[aor] * 365 / 365.25)
        assert got[aor]["rate_per_10k"] == pytest.approx(expected_rate, rel=0.01), aor
        assert got[aor]["at_large_share"] == pytest.approx(r["at_large"] / r["arrests"])
    # California is under state-law from 2018-01-01: 9 of the 12 months of FY2018
    assert got["LOS"]["sanctuary_share"] == pytest.approx(273 / 365, abs=0.01)
    assert got["HOU"]["sanctuary_share"] == 0
    groups = {f["group"]: f for f in res.figures}
    assert sum(f["arrests"] for f in res.figures) == int(raw["arrests"].sum())
    assert groups["sanctuary"]["rate_per_10k"] > 0
    assert res.parameters["definition"] == "state-law" and res.definitions["definition"].startswith("state-law:")
    assert res.releases == ["uwchr-ice-enforce-fy16-19"]


def test_fy2016_19_models_and_california_did(con):
    res = targeting(con, definition="state-law", level="aor")
    models = {m["outcome"]: m for m in res.extra["models"]}
    for m in models.values():
        assert m["ratio"] is not None and m["low"] < m["ratio"] < m["high"] and m["n_clusters"] == 24
    did = {(d["event"], d["outcome"]): d for d in res.extra["did"]}
    ca = did[("2018-01", "arrests")]
    assert ca["states"] == ["CA"] and set(ca["treated"]) == {"LOS", "SFR", "SND"}
    assert ca["low"] < ca["ratio"] < ca["high"]
    changes = {(c["state"], c["date"]) for c in res.extra["status_changes"]}
    assert ("CA", "2018-01-01") in changes and ("IL", "2017-08-28") in changes
    assert any(e["event"] == "2018-01" and e["quarter"] == 0 for e in res.extra["event_study"])
    assert any("Sep 2019 (1 days" in c for c in res.caveats)  # the one-day month is left out, and said
    assert any("sep 2019 (1 días" in c.render("es") for c in res.caveats if hasattr(c, "render"))
    assert res.extra["plain_words"] and any("not intentions" in w for w in res.extra["plain_words"])


def test_definitions_selectable_and_reported(con):
    any_ = targeting(con, definition="state-law-any", date_from="2016-10-01", date_to="2017-09-30", period="fy")
    strict = targeting(con, definition="state-law", date_from="2016-10-01", date_to="2017-09-30", period="fy")
    s_any = {r["place"]: r["sanctuary_share"] for r in any_.extra["places"]}
    s_strict = {r["place"]: r["sanctuary_share"] for r in strict.extra["places"]}
    assert any_.parameters["definition"] == "state-law-any"
    assert s_any["LOS"] == 1.0 and s_strict["LOS"] == 0.0  # CA AB 4 (2014) counts only under state-law-any
    doj = targeting(con, definition="doj-2025", date_from="2016-10-01", date_to="2017-09-30", period="fy")
    assert all(m["ratio"] is None for m in doj.extra["models"])
    assert any("No place is answered 'yes'" in c for c in doj.caveats)
    with pytest.raises(InputError):
        targeting(con, definition="made-up")


def test_status_grid_agrees_with_places_status(con):
    from icemonitor.places.sanctuary import status

    start, end = dt.date(2015, 10, 1), dt.date(2019, 9, 30)
    for name in ("state-law", "state-law-any"):
        _, seg = county_status_segments(con, name, start, end)
        for fips in ("06037", "17031", "25025", "48201", "41051", "08031"):
            for day in (dt.date(2016, 3, 1), dt.date(2017, 8, 27), dt.date(2017, 8, 28), dt.date(2018, 1, 1), dt.date(2019, 6, 1)):
                s = seg.filter((seg["county_fips"] == fips) & (seg["seg_from"] <= day) & (seg["seg_to"] >= day))
                assert s.height == 1
                assert s["answer"][0] == status(fips, day, name, shared_ref).answer, (name, fips, day)


def test_county_level_without_resolution_says_so(warehouse_path, tmp_path):
    c = duckdb.connect(str(tmp_path / "nores.duckdb"))
    c.execute("ATTACH ? AS src (READ_ONLY)", [str(warehouse_path)])
    c.execute("CREATE TABLE arrests AS SELECT * FROM src.arrests WHERE aor = 'SEA' AND fy = 2018")
    for t in ("population", "policies", "counties", "sanctuary_definitions"):
        c.execute(f"CREATE TABLE {t} AS SELECT * FROM src.{t}")
    c.execute("DETACH src")
    res = targeting(c, level="county", date_from="2017-10-01", date_to="2018-09-30")
    assert res.figures[0]["note"] == NO_RESOLUTION and any(NO_RESOLUTION in x for x in res.caveats)
    assert "models" not in res.extra
    c.close()


# ---------- county level with a small synthetic resolution table ----------

LA_GENERAL = "LOS ANGELES COUNTY GENERAL AREA, NON-SPECIFIC"


@pytest.fixture(scope="module")
def county_con(warehouse_path, tmp_path_factory):
    path = tmp_path_factory.mktemp("targeting") / "w.duckdb"
    c = duckdb.connect(str(path))
    c.execute("ATTACH ? AS src (READ_ONLY)", [str(warehouse_path)])
    c.execute("CREATE TABLE arrests AS SELECT * FROM src.arrests WHERE aor IN ('LOS', 'HOU', 'DAL') AND fy IN (2017, 2018, 2019)")
    for t in ("population", "policies", "counties", "sanctuary_definitions"):
        c.execute(f"CREATE TABLE {t} AS SELECT * FROM src.{t}")
    c.execute("DETACH src")
    top = c.execute("SELECT aor, landmark, count(*) n FROM arrests WHERE aor IN ('HOU', 'DAL') AND (landmark ILIKE '%HARRIS COUNTY%' "
                    "OR landmark ILIKE '%DALLAS COUNTY%') GROUP BY 1, 2").fetchall()
    c.execute("CREATE TABLE landmark_resolution (aor VARCHAR, landmark VARCHAR, county_fips VARCHAR, state VARCHAR,"
              " level VARCHAR, kind VARCHAR, rule VARCHAR, confidence VARCHAR)")
    c.execute("INSERT INTO landmark_resolution VALUES ('LOS', ?, '06037', 'CA', 'county', 'general_area', 'test', 'high')",
              [LA_GENERAL])
    for aor, lm, _ in top:
        fips = "48201" if "HARRIS" in lm.upper() else "48113"
        c.execute("INSERT INTO landmark_resolution VALUES (?, ?, ?, 'TX', 'county', 'jail', 'test', 'high')", [aor, lm, fips])
    yield c
    c.close()


def test_county_level_uses_resolved_records_only(county_con):
    res = targeting(county_con, definition="state-law", date_from="2016-10-01", date_to="2019-08-31", level="county")
    places = {r["place"]: r for r in res.extra["places"]}
    assert set(places) == {"06037", "48201", "48113"}
    la = county_con.execute("SELECT count(*) FROM arrests WHERE counted AND aor = 'LOS' AND landmark = ? AND event_date BETWEEN "
                            "'2016-10-01' AND '2019-08-31'", [LA_GENERAL]).fetchone()[0]
    assert places["06037"]["arrests"] == la
    unresolved = {u["aor"]: u for u in res.extra["unresolved"]}
    total_los = county_con.execute("SELECT count(*) FROM arrests WHERE counted AND aor = 'LOS' AND event_date BETWEEN "
                                   "'2016-10-01' AND '2019-08-31'").fetchone()[0]
    assert unresolved["LOS"]["arrests"] == total_los and unresolved["LOS"]["resolved"] == la
    assert 0 < unresolved["LOS"]["unresolved_share"] < 1
    ca = [d for d in res.extra["did"] if d["event"] == "2018-01"]
    assert ca and ca[0]["treated"] == ["06037"] and "pyfixest" in ca[0]["method"]
    assert any("resolved to a county" in c for c in res.caveats)


def test_a_term_collinear_with_the_fixed_effects_is_reported_not_identified(warehouse_path):
    """no-287g at county level: the status never changes inside the data for the county DiD, so pyfixest finds
    the term collinear; the result says 'not identified' instead of failing."""
    from icemonitor.analysis.targeting import targeting
    from icemonitor.warehouse import connect

    with connect(warehouse_path) as con:
        r = targeting(con, "no-287g", "2015-10-01", "2019-08-31", level="county")
    assert r.extra["did"], "policy changes inside the data give DiD rows"
    assert all(d["ratio"] is not None or d["note"] for d in r.extra["did"])
