"""Targeting: do ICE arrests concentrate on sanctuary jurisdictions?

Compares places (AORs, or counties from resolved landmarks) under a selectable sanctuary definition on arrests
and at-large arrests per 10,000 non-citizen residents per year and the at-large share, estimates rate ratios with
a negative binomial count model (non-citizen person-years as exposure, period fixed effects, cluster-robust SEs by
place), and, where a place's status changed inside the data, difference-in-differences and event-study estimates
against places whose status did not change. See docs/analyses.md ("Targeting").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import polars as pl

from icemonitor.analysis.common import Where, event_source, has_table, parse_date, resolution_available
from icemonitor.analysis.rate_models import fit_event_study, fit_poisson_fe, fit_rate_ratios
from icemonitor.analysis.result import AnalysisResult
from icemonitor.analysis.sanctuary_grid import county_month_status, county_status_segments, frame
from icemonitor.analysis.stats import wilson_interval
from icemonitor.errors import InputError
from icemonitor.messages import Month, msg
from icemonitor.query.selection import rollup_source

LEVELS = ("aor", "county")
PERIODS = ("month", "fy")
MIN_DAYS_COVERED = 20  # a month counts as covered by the data when counted arrests fall on >= 20 of its days
MIN_SPREAD = 0.2  # below this spread of the exposure, a 0-to-1 ratio is flagged as an extrapolation
SANCTUARY_CUT = 0.5  # descriptive groups: a place-period is "sanctuary" when >= half its non-citizens live under yes
NO_RESOLUTION = msg("county resolution not available in this warehouse")
GROUP_NAMES = {"sanctuary": msg("sanctuary"), "not sanctuary": msg("not sanctuary"), "unknown": msg("unknown")}
POOLED = msg("all changes (pooled)")

DEFINITIONS = {
    "arrests": msg("Counted rows of table arrests (counted = true) with event_date in the window"),
    "at_large": msg("Arrests with method_class = 'at_large' (Apprehension Method Located or Non-Custodial Arrest)"),
    "person_years": msg("Non-citizen residents x days / 365.25, summed over the place's months; non-citizens = ACS "
                        "5-year total - CVAP citizens (warehouse table population, nearest vintage per county)"),
    "rate_per_10k": msg("arrests per 10,000 non-citizen residents per year = 10,000 x arrests / person_years"),
    "at_large_share": msg("at-large arrests / all arrests, Wilson 95% interval"),
    "sanctuary_share": msg("AOR level: share of the place's non-citizen residents living in counties answered 'yes' "
                           "under the definition, averaged over days (a continuous exposure from 0 to 1); county level: "
                           "share of the days the county was answered 'yes'"),
    "rate_ratio": msg("exp(coefficient of sanctuary_share) in a negative binomial GLM with offset log(person_years) and "
                      "period fixed effects, cluster-robust 95% CI by place: the ratio of arrest rates between a place "
                      "wholly under sanctuary status and one wholly without it, in the same period"),
    "at_large_share_ratio": msg("the same model for at-large arrests with offset log(all arrests): the ratio of at-large "
                                "shares"),
    "did": msg("the same model with place fixed effects added (two-way fixed effects), fitted on the places whose "
               "status changed in one policy event plus the places whose status never changed in the window: the "
               "change in the arrest rate after the policy relative to the change in places without a change"),
    "event_study": msg("treated x quarters-since-change dummies (quarter -1 is the reference, tails pooled at -6 and +6) "
                       "in the two-way fixed-effects model: rate ratios relative to the quarter before the change"),
}

PLAIN_WORDS = [
    msg("A rate ratio above 1 means that, in the same months, ICE recorded more arrests per non-citizen resident in "
        "places under sanctuary status (as the chosen definition has it) than elsewhere; below 1, fewer."),
    msg("Arrests are outcomes, not intentions: a higher rate does not show that ICE chose to target a place, and a "
        "lower one does not show that it did not. Enforcement capacity, jail populations, local crime and policing, "
        "and who lives where all differ between places."),
    msg("Custodial arrests (transfers from jails and prisons) fall where jails refuse ICE detainers, and ICE then "
        "arrests some of the same people at large, so at-large arrests and the at-large share rise mechanically "
        "under such laws even with no change in intent."),
    msg("AOR-level figures mix sanctuary and non-sanctuary counties inside one field office area; the exposure is "
        "the share of non-citizens under sanctuary status, not a clean yes/no. Arrests are placed by the AOR that "
        "recorded them, which is not necessarily where the person lived."),
    msg("Population denominators come from ACS 5-year vintages 2012-2016 and 2013-2017; later years use the "
        "nearest vintage (flagged), so rates for 2018-2019 assume an unchanged non-citizen population."),
    msg("The difference-in-differences estimate compares changes, not levels: it is a causal effect of the policy "
        "only if treated and control places would otherwise have moved in parallel (the event-study pre-period "
        "coefficients are the check), and other things that changed at the same time in the same places "
        "(new enforcement priorities from January 2017, ICE staffing) are not separated from the policy."),
    msg("With few places changing status (e.g. three California AORs), cluster-robust intervals are approximate."),
]


def _covered_months(con: duckdb.DuckDBPyConnection, d0: dt.date, d1: dt.date) -> tuple[list[dt.date], list[str]]:
    src = (rollup_source(con, "arrests", "counted event_date") or ("arrests",))[0]  # the same days on event_days
    rows = con.execute(
        f"SELECT date_trunc('month', event_date)::DATE AS m, count(DISTINCT event_date) AS days FROM {src} "
        "WHERE counted AND event_date BETWEEN ? AND ? GROUP BY 1 ORDER BY 1", [d0, d1]).fetchall()
    kept = [m for m, n in rows if n >= MIN_DAYS_COVERED]
    dropped = [msg("{month} ({n} days with data)", month=Month(m), n=n) for m, n in rows if n < MIN_DAYS_COVERED]
    return kept, dropped


def _fy(month: pd.Series) -> pd.Series:
    return month.dt.year + (month.dt.month >= 10).astype(int)


def _place_months_aor(con, status: pl.DataFrame) -> pl.DataFrame:
    """AOR x month: person-years, sanctuary and unknown shares (population-weighted over the AOR's counties)."""
    pop = frame(con, "SELECT county_fips, aor, year, noncitizen_pop, imputed FROM population WHERE aor IS NOT NULL")
    j = status.with_columns(pl.col("month").dt.year().alias("year")).join(pop, on=["county_fips", "year"], how="inner")
    return j.group_by(pl.col("aor").alias("place"), "month").agg(
        (pl.col("noncitizen_pop") * pl.col("month_days") / 365.25).sum().alias("person_years"),
        pl.col("noncitizen_pop").sum().alias("noncitizens"),
        ((pl.col("noncitizen_pop") * pl.col("yes_frac")).sum() / pl.col("noncitizen_pop").sum()).alias("sanctuary_share"),
        ((pl.col("noncitizen_pop") * pl.col("unknown_frac")).sum() / pl.col("noncitizen_pop").sum()).alias("unknown_share"),
        pl.col("imputed").any().alias("population_imputed"),
    )


def _place_months_county(con, status: pl.DataFrame) -> pl.DataFrame:
    pop = frame(con, "SELECT county_fips, year, noncitizen_pop, imputed FROM population")
    j = status.with_columns(pl.col("month").dt.year().alias("year")).join(pop, on=["county_fips", "year"], how="inner")
    return j.select(
        pl.col("county_fips").alias("place"), "month",
        (pl.col("noncitizen_pop") * pl.col("month_days") / 365.25).alias("person_years"),
        pl.col("noncitizen_pop").alias("noncitizens"),
        pl.col("yes_frac").alias("sanctuary_share"), pl.col("unknown_frac").alias("unknown_share"),
        pl.col("imputed").alias("population_imputed"),
    )


def _weighed(con, level: str, where: Where, *sql: str) -> tuple[str, str, Any]:
    """The place column of `level`, the FROM clause of its arrests and how to count their rows that meet a condition:
    the build's event_days where the question names only its columns (rows weigh n there;
    query.selection.rollup_source), else the event rows (the bare table at AOR level)."""
    key = "aor" if level == "aor" else "res_county_fips"
    rolled = rollup_source(con, "arrests", where.sql(), key, *sql)
    if rolled:
        return key, rolled[0], lambda cond: f"coalesce(sum(n) FILTER (WHERE {cond}), 0)::BIGINT"
    return key, "arrests" if level == "aor" else event_source(con, "arrests"), lambda cond: (
        f"count(*) FILTER (WHERE {cond})")


def _counts(con, level: str, d0: dt.date, d1: dt.date) -> tuple[pl.DataFrame, dict[str, Any], list[str]]:
    """Arrests and at-large arrests per place and month; plus what was left out and the releases used."""
    where = Where().add("counted").add("event_date BETWEEN ? AND ?", d0, d1)
    key, src, count = _weighed(con, level, where, "method_class release_id aor")
    at_large = count("method_class = 'at_large'")
    df = frame(
        con, f"SELECT {key} AS place, date_trunc('month', event_date)::DATE AS month, {count('TRUE')} AS arrests, "
        f"{at_large} AS at_large, list_distinct(list(DISTINCT release_id)) AS releases FROM {src} "
        f"WHERE {where.sql()} GROUP BY 1, 2", where.params)
    releases = sorted({r for rs in df["releases"].to_list() for r in rs if r})
    left = {"no_place": int(df.filter(pl.col("place").is_null())["arrests"].sum())}
    if level == "county":
        aor_tot = con.execute(
            f"SELECT coalesce(aor, '(blank)') AS aor, {count('TRUE')} AS arrests, "
            f"{count('res_county_fips IS NOT NULL')} AS resolved FROM {src} WHERE {where.sql()} GROUP BY 1 ORDER BY 1",
            where.params).fetchall()
        left["by_aor"] = [{"aor": a, "arrests": n, "resolved": r, "unresolved_share": (n - r) / n if n else None}
                          for a, n, r in aor_tot]
    return df.drop("releases").filter(pl.col("place").is_not_null()), left, releases


def _aggregate(panel: pd.DataFrame, period: str) -> pd.DataFrame:
    if period == "month":
        panel = panel.copy()
        panel["period"] = panel["month"].dt.strftime("%Y-%m")
        return panel
    panel = panel.assign(period=_fy(panel["month"]).astype(str))
    w = panel["person_years"]
    panel = panel.assign(_s=panel["sanctuary_share"] * w, _u=panel["unknown_share"] * w)
    g = panel.groupby(["place", "period"], as_index=False).agg(
        arrests=("arrests", "sum"), at_large=("at_large", "sum"), person_years=("person_years", "sum"),
        noncitizens=("noncitizens", "mean"), _s=("_s", "sum"), _u=("_u", "sum"), month=("month", "min"),
        population_imputed=("population_imputed", "any"))
    g["sanctuary_share"] = g["_s"] / g["person_years"]
    g["unknown_share"] = g["_u"] / g["person_years"]
    return g.drop(columns=["_s", "_u"])


def _rates(arrests: int, at_large: int, person_years: float) -> dict[str, Any]:
    lo, hi = wilson_interval(int(at_large), int(arrests))
    return {
        "arrests": int(arrests), "at_large": int(at_large), "person_years": float(person_years),
        "rate_per_10k": 1e4 * arrests / person_years if person_years else None,
        "at_large_rate_per_10k": 1e4 * at_large / person_years if person_years else None,
        "at_large_share": at_large / arrests if arrests else None, "at_large_share_low": lo, "at_large_share_high": hi,
    }


def _group_rows(panel: pd.DataFrame) -> list[dict[str, Any]]:
    grp = pd.Series("not sanctuary", index=panel.index)
    grp[panel["sanctuary_share"] >= SANCTUARY_CUT] = "sanctuary"
    grp[(panel["unknown_share"] >= SANCTUARY_CUT)] = "unknown"
    out = []
    for name in ("sanctuary", "not sanctuary", "unknown"):
        p = panel[grp == name]
        if p.empty:
            continue
        row = {"group": GROUP_NAMES[name], "places": int(p["place"].nunique()), "place_periods": int(len(p))}
        row.update(_rates(p["arrests"].sum(), p["at_large"].sum(), p["person_years"].sum()))
        out.append(row)
    return out


def _place_rows(panel: pd.DataFrame) -> list[dict[str, Any]]:
    p = panel.assign(_s=panel["sanctuary_share"] * panel["person_years"], _u=panel["unknown_share"] * panel["person_years"],
                     _al=panel["at_large"])
    g = p.groupby("place", sort=True).agg(noncitizens=("noncitizens", "mean"), _s=("_s", "sum"), _u=("_u", "sum"),
                                          arrests=("arrests", "sum"), at_large=("at_large", "sum"),
                                          person_years=("person_years", "sum"))
    rows = []
    for place, r in g.iterrows():
        py = r["person_years"]
        row = {"place": place, "noncitizens": float(r["noncitizens"]),
               "sanctuary_share": float(r["_s"] / py) if py else None,
               "unknown_share": float(r["_u"] / py) if py else None}
        row.update(_rates(r["arrests"], r["at_large"], py))
        rows.append(row)
    return rows


def status_changes(seg: pl.DataFrame, start: dt.date) -> list[dict[str, Any]]:
    """Changes of answer inside the window, one row per state (county-specific changes listed as counties)."""
    seg = seg.sort("county_fips", "seg_from")
    prev = seg.with_columns(pl.col("answer").shift(1).over("county_fips").alias("before"))
    ch = prev.filter((pl.col("seg_from") > start) & pl.col("before").is_not_null())
    g = ch.group_by("state", "seg_from", "before", "answer").agg(pl.len().alias("counties")).sort("seg_from", "state")
    return [{"state": s, "date": d, "from": b, "to": a, "counties": n} for s, d, b, a, n in g.iter_rows()]


def _first_changes(seg: pl.DataFrame, start: dt.date, place_of: dict[str, str]) -> dict[str, tuple[pd.Timestamp, set[str]]]:
    """Per place: the month of its first county status change inside the window and the states changing then."""
    seg = seg.sort("county_fips", "seg_from").with_columns(pl.col("answer").shift(1).over("county_fips").alias("before"))
    ch = seg.filter((pl.col("seg_from") > start) & pl.col("before").is_not_null())
    out: dict[str, tuple[pd.Timestamp, set[str]]] = {}
    for fips, state, day in ch.select("county_fips", "state", "seg_from").sort("seg_from").iter_rows():
        place = place_of.get(fips)
        if place is None:
            continue
        month = pd.Timestamp(day.year, day.month, 1)
        if place not in out:
            out[place] = (month, {state})
        elif out[place][0] == month:
            out[place][1].add(state)
    return out


def _share_change(panel: pd.DataFrame, places: list[str], first: dict) -> float:
    """Mean absolute change of sanctuary_share in the treated places: after their change minus before."""
    rows = panel[panel["place"].isin(places)][["place", "month", "sanctuary_share"]]
    change = rows["place"].map({p: first[p][0] for p in places})
    pre = rows[rows["month"] < change].groupby("place")["sanctuary_share"].mean()
    post = rows[rows["month"] > change].groupby("place")["sanctuary_share"].mean()
    diff = (post - pre).abs().dropna()
    return float(diff.mean()) if len(diff) else 0.0


def _did(panel: pd.DataFrame, level: str, first: dict[str, tuple[pd.Timestamp, set[str]]]) -> tuple[list[dict], list[dict]]:
    """DiD per policy event (places with a county whose status changed in that month vs places where no county
    changed in the window), and pooled over events; event studies per event at AOR level."""
    present = set(panel["place"])
    first = {p: v for p, v in first.items() if p in present}
    never = present - set(first)
    events: dict[str, list[str]] = {}
    states_of: dict[str, set[str]] = {}
    for place, (m, states) in first.items():
        events.setdefault(m.strftime("%Y-%m"), []).append(place)
        states_of.setdefault(m.strftime("%Y-%m"), set()).update(states)
    first_change = first
    did_rows, es_rows = [], []
    fit = fit_poisson_fe if level == "county" else None
    for label, places in sorted(events.items()) + [(POOLED, sorted(first_change))]:
        pooled = label.startswith("all")
        if pooled and len(events) < 2:
            continue
        sub = panel[panel["place"].isin(set(places) | never)]
        states = sorted(states_of.get(label, set()))
        for outcome in ("arrests", "at_large"):
            if fit:
                est = fit(sub, outcome, "person_years", ["sanctuary_share"], "period", "place")[0]
            else:
                est = fit_rate_ratios(sub, outcome, "person_years", ["sanctuary_share"], "period", "place",
                                      place_effects=True)[0]
            moved = _share_change(sub, places, first)
            if est.ratio is not None and moved < MIN_SPREAD:
                est.note = msg("the treated places' sanctuary_share changed by only {x:.2f} on average: the ratio "
                               "(a full 0-to-1 change) extrapolates far beyond the data", x=moved)
            row = {"event": label, "states": states, "share_change": moved, "treated": sorted(places) if len(places) <= 12 else f"{len(places)} places",
                   "controls": len(never), "outcome": outcome}
            row.update({k: v for k, v in est.to_dict().items() if k != "term"})
            did_rows.append(row)
        if level == "aor" and not pooled:
            change = pd.Timestamp(label + "-01")
            s = sub.copy()
            s["treated"] = s["place"].isin(places).astype(int)
            months = (s["month"].dt.year - change.year) * 12 + (s["month"].dt.month - change.month)
            s["rel"] = (months // 3).clip(-6, 6)
            for outcome in ("arrests", "at_large"):
                for est in fit_event_study(s, outcome, "person_years", "rel", "treated", "period", "place"):
                    es_rows.append({"event": label, "outcome": outcome, "quarter": int(est.term[4:]),
                                    **{k: v for k, v in est.to_dict().items() if k in ("ratio", "low", "high", "p_value", "note")}})
    return did_rows, es_rows


def targeting(
    con: duckdb.DuckDBPyConnection, definition: str | None = None, date_from: str | dt.date | None = "2015-10-01",
    date_to: str | dt.date | None = "2019-09-30", level: str = "aor", period: str = "month",
) -> AnalysisResult:
    """Rates, rate ratios and DiD estimates of arrests in sanctuary vs other places (see the module doc)."""
    if level not in LEVELS:
        raise InputError(msg("level must be one of {choices}", choices=", ".join(LEVELS)), field="level", value=level)
    if period not in PERIODS:
        raise InputError(msg("period must be one of {choices}", choices=", ".join(PERIODS)), field="period",
                         value=period)
    d0, d1 = parse_date(date_from, "from") or dt.date(2015, 10, 1), parse_date(date_to, "to") or dt.date(2019, 9, 30)
    if d1 < d0:
        raise InputError(msg("--to is before --from"), field="to", value=str(d1))
    for t in ("arrests", "population", "policies", "counties"):
        if not has_table(con, t):
            raise InputError(f"the warehouse has no table {t}; rebuild it (icemonitor build)", field="warehouse")
    months, dropped = _covered_months(con, d0, d1)
    d, seg = county_status_segments(con, definition, d0, d1)
    params = {"definition": d.name, "level": level, "from": d0, "to": d1, "period": period}
    base = dict(name="targeting", parameters=params,
                definitions={**DEFINITIONS, "definition": msg("{name}: {text}", name=d.name, text=d.description)})
    caveats = [msg("definition {name}: {text}", name=d.name, text=c) for c in d.caveats]
    if dropped:
        caveats.append(msg("Months left out because the data cover fewer than {n} of their days: {months}.",
                           n=MIN_DAYS_COVERED, months=dropped))
    if level == "county" and not resolution_available(con):
        return AnalysisResult(**base, columns=["group", "note"], figures=[{"group": msg("all"), "note": NO_RESOLUTION}],
                              caveats=caveats + [msg("county resolution not available in this warehouse: county "
                                                     "figures need the landmark_resolution table (places stage); "
                                                     "nothing is estimated rather than guessing counties.")],
                              extra={"plain_words": PLAIN_WORDS, "county_resolution": NO_RESOLUTION})
    status = county_month_status(seg, d0, d1).filter(pl.col("month").is_in(months))
    exposure = _place_months_aor(con, status) if level == "aor" else _place_months_county(con, status)
    counts, left, releases = _counts(con, level, d0, d1)
    if level == "county":
        counts_places = counts["place"].unique()
        exposure = exposure.filter(pl.col("place").is_in(counts_places.implode()))
    panel = exposure.join(counts, on=["place", "month"], how="left").with_columns(
        pl.col("arrests").fill_null(0), pl.col("at_large").fill_null(0)).to_pandas()
    panel["month"] = pd.to_datetime(panel["month"])
    in_panel = set(panel["place"])
    left["outside_places"] = int(counts.filter(~pl.col("place").is_in(list(in_panel)))["arrests"].sum())
    panel = _aggregate(panel, period)
    models = []
    lo_s, hi_s = float(panel["sanctuary_share"].min()), float(panel["sanctuary_share"].max())
    for outcome in ("arrests", "at_large"):
        est = fit_rate_ratios(panel, outcome, "person_years", ["sanctuary_share"], "period", "place")[0]
        models.append({"outcome": outcome, "comparison": "sanctuary_share 1 vs 0", **est.to_dict()})
    share_panel = panel[panel["arrests"] > 0].assign(log_arrests=lambda x: np.log(x["arrests"].astype(float)))
    est = fit_rate_ratios(share_panel, "at_large", "arrests", ["sanctuary_share"], "period", "place",
                          offset="log_arrests")[0]
    models.append({"outcome": "at_large_share", "comparison": "sanctuary_share 1 vs 0", **est.to_dict()})
    for m in models:
        m["share_range"] = [lo_s, hi_s]
        if m["ratio"] is not None and hi_s - lo_s < MIN_SPREAD:
            m["note"] = msg("sanctuary_share ranges only from {lo:.2f} to {hi:.2f}: the 1-vs-0 ratio extrapolates "
                            "far beyond the data", lo=lo_s, hi=hi_s)
    changes = status_changes(seg, d0)
    if level == "aor":
        place_of = dict(con.execute("SELECT county_fips, any_value(aor) FROM population WHERE aor IS NOT NULL "
                                    "AND year BETWEEN ? AND ? GROUP BY 1", [d0.year, d1.year]).fetchall())
    else:
        place_of = {f: f for f in panel["place"].unique()}
    did_rows, es_rows = _did(panel, level, _first_changes(seg, d0, place_of))
    if not did_rows:
        caveats.append(msg("No place's status changed under {name} between {d0} and {d1}: no "
                           "difference-in-differences estimate.", name=d.name, d0=d0, d1=d1))
    if panel["sanctuary_share"].max() <= 0:
        caveats.append(msg("No place is answered 'yes' under {name} in this window, so no rate ratio can be "
                           "estimated.", name=d.name))
    if level == "county":
        caveats.append(msg("County level uses only arrests whose landmark resolved to a county, and only counties "
                           "with at least one such arrest; the unresolved share per AOR is in extra.unresolved. "
                           "Resolution rates differ between AORs, so county rates are lower bounds and comparisons "
                           "can be biased."))
    caveats.append(msg("Arrests without a place in this level ({n:,}: blank AOR or unresolved landmark) and in places "
                       "without population ({m:,}, e.g. HQ) are left out of the rates.", n=left["no_place"],
                       m=left["outside_places"]))
    if panel["population_imputed"].any():
        caveats.append(msg("Some years use the nearest population vintage (ACS 2013-2017 for 2018 and 2019)."))
    figures = _group_rows(panel)
    extra = {
        "plain_words": PLAIN_WORDS, "models": models, "did": did_rows, "event_study": es_rows,
        "status_changes": changes, "places": _place_rows(panel), "left_out": left,
        "status_source": "warehouse tables policies + counties, rules of icemonitor.places.sanctuary",
        "periods": sorted(panel["period"].unique().tolist()),
    }
    if level == "county":
        extra["unresolved"] = left.get("by_aor", [])
    return AnalysisResult(
        **base, columns=["group", "places", "place_periods", "arrests", "at_large", "person_years", "rate_per_10k",
                         "at_large_rate_per_10k", "at_large_share", "at_large_share_low", "at_large_share_high"],
        figures=figures, releases=releases, caveats=caveats, extra=extra)
