"""Sweeps: multi-day surges of arrests above an expected daily count, per place, ranked.

Expected count (per place and day) = level x day-of-week factor x holiday factor, where
- the day-of-week factor is the place's share of events on that weekday (holidays left out), shrunk toward
  the national weekday pattern for sparse places;
- the holiday factor is the national ratio of observed to expected counts on federal holidays (data/federal_holidays.csv);
- the level is a robust trailing mean of the weekday-adjusted counts over the preceding `window` days (default 56):
  each day is first capped at the trailing median + 3 sqrt(median), so an earlier surge barely moves the baseline.
  The trailing level follows trends and seasonality without a parametric trend term.
Overdispersion: a negative-binomial variance mu + alpha mu^2 per place, alpha by the method of moments on the
days outside the place's top 1% of Pearson residuals; the level's own estimation error is added for each window.
Detection: every run of `min_days`..`max_days` consecutive days is scored by z = (O - E) / sqrt(Var) (a scan
statistic over window lengths); runs must start and end on days above expectation, include >= 2 days with a daily
z >= 2, an excess of at least `min_excess` events and O/E >= `min_ratio`. Overlapping runs in one place are
resolved greedily by score. Everything is computed on a places x days matrix at once (numpy), no per-place loop.
A grid may hold several groups of places (DailyCounts.groups: e.g. every county's own AOR rows), each modelled as if
alone (its own weekday pattern and holiday factor), so one pass answers many places' questions: every per-place
figure is a function of that place's row (row-wise reductions over C-ordered rows), never of the grid's size.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import heapq
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

import duckdb
import numpy as np
import polars as pl

from icemonitor.analysis.common import (
    MEASURES,
    Where,
    check_table,
    event_source,
    has_table,
    parse_date,
    place_where,
    releases_of,
    resolution_available,
)
from icemonitor.analysis import rollups
from icemonitor.analysis.result import AnalysisResult
from icemonitor.errors import InputError
from icemonitor.messages import DateSpan, msg
from icemonitor.query import vocabulary
from icemonitor.query.coverage import coverage, coverage_of, table_spans
from icemonitor.query.selection import Selection, per_warehouse, rollup_router, unplaced_source

LEVELS = ("national", "aor", "state", "county", "landmark")


@lru_cache(maxsize=1)
def federal_holidays() -> frozenset[dt.date]:
    """Observed U.S. federal holidays (data/federal_holidays.csv)."""
    text = resources.files("icemonitor.analysis.data").joinpath("federal_holidays.csv").read_text()
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return frozenset(dt.date.fromisoformat(r["observed"]) for r in rows)


@dataclass
class DailyCounts:
    """Event counts on a places x days grid (every calendar day in [days[0], days[-1]])."""

    places: list[str]
    days: np.ndarray  # datetime64[D]
    counts: np.ndarray  # float64, shape (P, D)
    covered: np.ndarray | None = None  # (D,) or (P, D) bool: the data cover that day (for that place); None = all
    aors: dict[Any, list[str]] | None = None  # place -> the AORs its events fall in (None: every AOR, the nation)
    groups: list[str] | None = None  # each row's group (a grid of many questions' places); aors keyed (group, place)


@dataclass
class Baseline:
    expected: np.ndarray  # (P, D)
    alpha: np.ndarray  # (P,)
    level_rel_var: np.ndarray  # (P, D): relative variance of the level estimate
    valid: np.ndarray  # (P, D) bool: enough history for a baseline


def _dow(days: np.ndarray) -> np.ndarray:
    return ((days.astype("datetime64[D]").astype(np.int64) + 3) % 7).astype(np.int64)  # Monday = 0


def _rolling(mat: np.ndarray, window: int, how: str, min_periods: int) -> np.ndarray:
    """Trailing rolling statistic along days (ending on the day itself), for all places at once."""
    df = pl.DataFrame(mat.T, schema=[f"c{i}" for i in range(mat.shape[0])], orient="row").fill_nan(None)
    if how == "median":
        out = df.select(pl.all().rolling_median(window, min_samples=min_periods))
    else:
        out = df.select(pl.all().rolling_mean(window, min_samples=min_periods))
    return np.ascontiguousarray(out.to_numpy().T)  # C order: a place's row reductions never depend on the grid


def expected_counts(
    counts: np.ndarray, days: np.ndarray, holidays: frozenset[dt.date] | None = None, window: int = 56,
    shrink: float = 200.0, min_history: int = 21, covered: np.ndarray | None = None,
    national_share: np.ndarray | None = None, groups: np.ndarray | None = None,
) -> Baseline:
    """Expected daily counts for each place from its own preceding weeks (see module docstring).

    Days not `covered` by the data ((D,) for all places or (P, D) per place) are ignored. The first weeks of a
    series, which have no preceding weeks, borrow the level of the first `min_history` days (backward fill).
    `national_share`: the weekday pattern sparse places shrink toward, (7,) or one per place (P, 7); `groups`: (P,)
    labels, each group with its own holiday factor (default: one group).
    """
    holidays = federal_holidays() if holidays is None else holidays
    y = np.asarray(counts, dtype=np.float64)
    P, D = y.shape
    covered = np.ones(D, dtype=bool) if covered is None else np.asarray(covered, dtype=bool)
    covered = np.broadcast_to(covered, (P, D)) if covered.ndim == 1 else covered
    dow = _dow(days)
    hol = np.isin(days.astype("datetime64[D]"), np.array(sorted(holidays), dtype="datetime64[D]"))
    onehot = np.zeros((D, 7))
    onehot[np.arange(D), dow] = 1.0
    onehot[hol] = 0.0
    by_dow = np.where(covered, y, 0.0) @ onehot  # (P, 7) totals per weekday, holidays and uncovered days excluded
    ndays = covered.astype(np.float64) @ onehot  # (P, 7) covered days per weekday
    rate = by_dow / np.maximum(ndays, 1)
    nat = rate.sum(axis=0)
    nat_share = nat / nat.sum() if nat.sum() > 0 else np.full(7, 1 / 7)
    if national_share is not None:
        nat_share = national_share
    tot = rate.sum(axis=1, keepdims=True)
    k = shrink / np.maximum(ndays.mean(axis=1, keepdims=True), 1.0)  # pseudo-events per covered weekday
    share = (rate + k * nat_share) / (tot + k)
    factor = 7.0 * share  # (P, 7), mean 1 per place
    f = factor[:, dow]  # (P, D)
    adj = y / np.maximum(f, 1e-9)
    adj[~covered] = np.nan

    med = _rolling(adj, window, "median", min_history)
    med = np.concatenate([np.full((P, 1), np.nan), med[:, :-1]], axis=1)  # strictly preceding days
    cap = med + 3.0 * np.sqrt(np.maximum(med, 1.0))
    capped = np.where(np.isnan(cap), adj, np.minimum(adj, cap))
    capped[:, hol] = np.nan  # holidays do not inform the level
    lvl_df = pl.DataFrame(capped.T, schema=[f"c{i}" for i in range(P)], orient="row").fill_nan(None)
    lvl_df = lvl_df.select(pl.all().rolling_mean(window, min_samples=min_history))
    lvl_df = lvl_df.select(pl.all().shift(1).fill_null(strategy="backward"))
    level = np.ascontiguousarray(lvl_df.to_numpy().T, dtype=np.float64)
    valid = ~np.isnan(level) & covered
    level = np.where(valid, level, 0.0)

    mu0 = level * f
    # national holiday factor (per group): observed / expected on holidays with a valid baseline
    hmask = valid & hol[None, :]
    h = np.ones(P)
    for idx in group_rows(np.zeros(P, dtype=np.int64) if groups is None else groups):
        ys, ms = y[idx][hmask[idx]].sum(), mu0[idx][hmask[idx]].sum()
        h[idx] = float(ys / ms) if ms > 0 else 1.0
    mu = mu0 * np.where(hol[None, :], h[:, None], 1.0)

    # negative-binomial overdispersion per place, method of moments, surge days trimmed
    with np.errstate(divide="ignore", invalid="ignore"):
        pearson = np.where(valid & (mu > 0), (y - mu) / np.sqrt(mu), np.nan)
    with np.errstate(invalid="ignore"):  # a place without any valid day: -inf - -inf gives NaN, and none is used
        cut = np.nanquantile(np.where(np.isnan(pearson), -np.inf, pearson), 0.99, axis=1, keepdims=True)
    use = valid & (mu > 0) & (pearson <= cut)
    # per-place calibration: the capped trailing level runs slightly low (skew, trend lag); rescale so that
    # expected and observed agree over the place's ordinary days
    ysum, msum = np.where(use, y, 0.0).sum(axis=1), np.where(use, mu, 0.0).sum(axis=1)
    calib = np.clip(np.divide(ysum, msum, out=np.ones(P), where=msum > 0), 0.5, 2.0)
    mu = mu * calib[:, None]
    num = np.where(use, (y - mu) ** 2 - y, 0.0).sum(axis=1)
    den = np.where(use, mu**2, 0.0).sum(axis=1)
    alpha = np.clip(np.divide(num, den, out=np.zeros(P), where=den > 0), 0.0, 5.0)
    level_rel_var = (1.0 / np.maximum(level, 0.05) + alpha[:, None]) / window
    return Baseline(expected=mu, alpha=alpha, level_rel_var=level_rel_var, valid=valid)


def group_rows(groups: Any) -> list[np.ndarray]:
    """The row indices of each group (in row order), groups in order of first appearance."""
    groups = np.asarray(groups)
    if len(groups) == 0:
        return []
    _, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse))[:-1]
    parts = np.split(order, bounds)
    return [parts[i] for i in np.argsort(first, kind="stable")]


def day_variance(base: Baseline) -> np.ndarray:
    """Negative-binomial variance per place-day, floored at 1 so near-empty days cannot dominate a score."""
    mu = base.expected
    return np.maximum(mu + base.alpha[:, None] * mu**2, 1.0)


@dataclass
class Candidates:
    place: np.ndarray
    start: np.ndarray
    length: np.ndarray
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    score: np.ndarray


def scan(
    counts: np.ndarray, base: Baseline, min_days: int = 2, max_days: int = 10, min_excess: float = 20.0,
    min_ratio: float = 1.5, min_score: float = 5.0,
) -> Candidates:
    """Score every run of min_days..max_days days in every place; keep those passing the thresholds."""
    y = np.asarray(counts, dtype=np.float64)
    mu, valid = base.expected, base.valid
    y = np.where(valid, y, 0.0)
    var_day = day_variance(base)
    with np.errstate(divide="ignore", invalid="ignore"):
        zday = np.where(valid & (var_day > 0), (y - mu) / np.sqrt(var_day), 0.0)
    above = (y > mu) & valid
    strong = (zday >= 2.0).astype(np.float64)
    zero = np.zeros((y.shape[0], 1))
    cs = {k: np.concatenate([zero, np.cumsum(v, axis=1)], axis=1)
          for k, v in {"y": y, "mu": mu, "var": var_day, "strong": strong, "valid": valid.astype(float)}.items()}
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("place", "start", "length", "O", "E", "V", "z")}
    D = y.shape[1]
    for L in range(min_days, min(max_days, D) + 1):
        O = cs["y"][:, L:] - cs["y"][:, :-L]
        E = cs["mu"][:, L:] - cs["mu"][:, :-L]
        nvalid = cs["valid"][:, L:] - cs["valid"][:, :-L]
        V = cs["var"][:, L:] - cs["var"][:, :-L] + E**2 * base.level_rel_var[:, : D - L + 1]
        nstrong = cs["strong"][:, L:] - cs["strong"][:, :-L]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(V > 0, (O - E) / np.sqrt(V), 0.0)
        ok = (
            (nvalid == L) & (z >= min_score) & (O - E >= min_excess) & (O >= min_ratio * E)
            & above[:, : D - L + 1] & above[:, L - 1:] & (nstrong >= 2)
        )
        p, s = np.nonzero(ok)
        out["place"].append(p)
        out["start"].append(s)
        out["length"].append(np.full(len(p), L))
        out["O"].append(O[p, s])
        out["E"].append(E[p, s])
        out["V"].append(V[p, s])
        out["z"].append(z[p, s])
    cat = {k: np.concatenate(v) if v else np.array([]) for k, v in out.items()}
    return Candidates(cat["place"].astype(int), cat["start"].astype(int), cat["length"].astype(int),
                      cat["O"], cat["E"], cat["V"], cat["z"])


def select(cands: Candidates, counts: np.ndarray, base: Baseline, max_days: int = 10) -> list[tuple[int, int, int]]:
    """Greedy non-overlapping selection by score within each place, best first.

    Each chosen core run is then extended over adjacent days that are themselves elevated (daily z >= 2),
    up to `max_days`, so a sweep's start and end follow the surge rather than its most extreme days.
    Returns (place, start, length) triples.
    """
    y = np.asarray(counts, dtype=np.float64)
    mu, valid = base.expected, base.valid
    with np.errstate(divide="ignore", invalid="ignore"):
        zday = np.where(valid, (y - mu) / np.sqrt(day_variance(base)), 0.0)
    elevated = zday >= 2.0
    P, D = y.shape
    order = np.argsort(-cands.score, kind="stable")
    taken = np.zeros((P, D), dtype=bool)
    keep = []
    for i in order:
        p, s, L = int(cands.place[i]), int(cands.start[i]), int(cands.length[i])
        if taken[p, s : s + L].any():
            continue
        e = s + L - 1
        while e - s + 1 < max_days and s > 0 and elevated[p, s - 1] and not taken[p, s - 1]:
            s -= 1
        while e - s + 1 < max_days and e < D - 1 and elevated[p, e + 1] and not taken[p, e + 1]:
            e += 1
        taken[p, s : e + 1] = True
        keep.append((p, s, e - s + 1))
    return keep


def _calendar(days: np.ndarray, holidays: frozenset[dt.date] | None) -> tuple[np.ndarray, np.ndarray]:
    """Each day's weekday (Monday = 0) and whether it is a federal holiday."""
    holidays = federal_holidays() if holidays is None else holidays
    return _dow(days), np.isin(days.astype("datetime64[D]"), np.array(sorted(holidays), dtype="datetime64[D]"))


def _national_weekday_share(y: np.ndarray, days: np.ndarray, holidays: frozenset[dt.date] | None,
                            covered: np.ndarray | None, calendar: tuple[np.ndarray, np.ndarray] | None = None
                            ) -> np.ndarray:
    """Share of events per weekday over all places (holidays and uncovered days left out); `calendar`: _calendar's
    for these days, when already known."""
    dow, hol = calendar or _calendar(days, holidays)
    if covered is not None and np.ndim(covered) == 2:
        y = np.where(covered, y, 0.0)
        covered = np.asarray(covered).any(axis=0)
    use = ~hol if covered is None else (~hol & np.asarray(covered, dtype=bool))
    tot = y.sum(axis=0)
    rate = np.array([tot[use & (dow == d)].mean() if (use & (dow == d)).any() else 0.0 for d in range(7)])
    return rate / rate.sum() if rate.sum() > 0 else np.full(7, 1 / 7)


def find_sweeps(counts: DailyCounts, holidays: frozenset[dt.date] | None = None, window: int = 56,
                **scan_args: Any) -> list[dict[str, Any]]:
    """Detect sweeps on a DailyCounts grid; one dict per sweep, best score first. On a grid of groups
    (counts.groups), each row names its group (`_group`), and each group is modelled as if it were the whole grid."""
    # places whose busiest max_days-day run cannot reach min_excess cannot hold a sweep: skip them (exact)
    max_days, min_excess = scan_args.get("max_days", 10), scan_args.get("min_excess", 20.0)
    y_all = counts.counts
    cs = np.concatenate([np.zeros((y_all.shape[0], 1)), np.cumsum(y_all, axis=1)], axis=1)
    L = min(max_days, y_all.shape[1])
    busiest = (cs[:, L:] - cs[:, :-L]).max(axis=1) if y_all.shape[1] else np.zeros(y_all.shape[0])
    kept = np.nonzero(busiest >= min_excess)[0]
    if kept.size == 0:  # no place can reach the minimum excess: no sweep, nothing to model
        return []
    groups = np.zeros(len(y_all), dtype=np.int64) if counts.groups is None else np.asarray(counts.groups)
    cov = counts.covered
    two_d = cov is not None and np.ndim(cov) == 2
    # each group's weekday pattern over all its places (as if the group were the grid); groups that hold a kept place
    national_share = np.zeros((len(y_all), 7))
    modelled = np.zeros(len(y_all), dtype=bool)
    modelled[kept] = True
    calendar = _calendar(counts.days, holidays)
    for idx in group_rows(groups):
        if modelled[idx].any():
            national_share[idx] = _national_weekday_share(y_all[idx], counts.days, holidays,
                                                          cov[idx] if two_d else cov, calendar)
    named = counts.groups
    counts = DailyCounts([counts.places[i] for i in kept], counts.days, y_all[kept], cov[kept] if two_d else cov)
    base = expected_counts(counts.counts, counts.days, holidays, window=window, covered=counts.covered,
                           national_share=national_share[kept], groups=groups[kept])
    cands = scan(counts.counts, base, **scan_args)
    keep = select(cands, counts.counts, base, max_days)
    var_day = day_variance(base)
    rows = []
    for p, s, L in keep:
        sl = slice(s, s + L)
        O = float(counts.counts[p, sl].sum())
        E = float(base.expected[p, sl].sum())
        V = float(var_day[p, sl].sum() + E**2 * base.level_rel_var[p, s])
        # the interval for the excess uses the variance at the observed counts (the surge's own noise)
        yo = counts.counts[p, sl]
        V_obs = float(np.maximum(yo + base.alpha[p] * yo**2, 1.0).sum() + E**2 * base.level_rel_var[p, s])
        half = 1.959964 * np.sqrt(V_obs)
        rows.append({
            "place": counts.places[p], "start": counts.days[s].astype(dt.date),
            "end": counts.days[s + L - 1].astype(dt.date), "days": int(L),
            "observed": int(round(O)), "expected": round(E, 1), "excess": round(O - E, 1),
            "excess_low": round(max(O - E - half, 0.0), 1), "excess_high": round(O - E + half, 1),
            "ratio": round(O / E, 2) if E > 0 else None, "score": round((O - E) / np.sqrt(V), 2),
            "_daily": {counts.days[s + i].astype(dt.date): (float(yo[i]), float(base.expected[p, s + i]))
                       for i in range(L)},
            **({} if named is None else {"_group": named[kept[p]]}),
        })
    rows.sort(key=lambda r: -r["score"])
    return rows


def window_score(counts: DailyCounts, place: str, start: dt.date, end: dt.date,
                 holidays: frozenset[dt.date] | None = None, window: int = 56) -> dict[str, Any]:
    """Observed, expected and score of one given run of days in one place, with the sweep baseline.

    For checking a known operation's days whether or not the detector flagged them (e.g. one too small to
    reach the thresholds). Same expected count and variance as find_sweeps.
    """
    i = counts.places.index(place)
    cov = counts.covered
    cov = cov[i : i + 1] if cov is not None and np.ndim(cov) == 2 else cov
    base = expected_counts(counts.counts[i : i + 1], counts.days, holidays, window=window, covered=cov)
    d = counts.days
    sl = (d >= np.datetime64(start, "D")) & (d <= np.datetime64(end, "D"))
    s0 = int(np.argmax(sl))
    O = float(counts.counts[i, sl].sum())
    E = float(base.expected[0, sl].sum())
    V = float(day_variance(base)[0, sl].sum() + E**2 * base.level_rel_var[0, s0])
    return {"place": place, "start": start, "end": end, "observed": int(round(O)), "expected": round(E, 1),
            "excess": round(O - E, 1), "score": round(float((O - E) / np.sqrt(V)), 2) if V > 0 else None}


# ---------------------------------------------------------------- warehouse side

def place_expr(level: str) -> str:
    return {
        "national": "'US'",
        "aor": "coalesce(aor, 'unknown')",
        "state": "coalesce(res_state, 'unresolved:' || coalesce(aor, 'unknown'))",
        "county": "coalesce(res_county_fips, 'unresolved:' || coalesce(aor, 'unknown'))",
        "landmark": "coalesce(aor, 'unknown') || ' | ' || coalesce(landmark, '(blank)')",
    }[level]


NATIONAL_COVERAGE = 0.75  # national days count only where releases cover >= 75% of the AORs seen


# What the releases cover of a scan (the days with covered rows; each release's first and last day per AOR) depends
# on the covering rows and the days only, never on the measure or the place asked: read once per warehouse version
# (query.selection.per_warehouse: metadata of a read-only file; a build's writable connection asks every time).

@per_warehouse(frozen=True)
def cover_days(con: duckdb.DuckDBPyConnection, source: str, cover_sql: str, params: tuple, date_from: dt.date,
               date_to: dt.date) -> np.ndarray:
    """The days (datetime64[D], read-only) on which `source` holds rows under `cover_sql`, within the dates."""
    days = con.execute(
        f"SELECT DISTINCT event_date FROM {source} WHERE {cover_sql} AND event_date BETWEEN ? AND ?",
        [*params, date_from, date_to],
    ).fetchnumpy()["event_date"].astype("datetime64[D]")
    days.flags.writeable = False
    return days


@per_warehouse(frozen=True)
def cover_spans(con: duckdb.DuckDBPyConnection, source: str, cover_sql: str, params: tuple, date_from: dt.date,
                date_to: dt.date) -> tuple[tuple[str, dt.date, dt.date], ...]:
    """(AOR, first day, last day) of each release's rows per AOR under `cover_sql`, within the dates."""
    return tuple(con.execute(
        f"SELECT coalesce(aor, 'unknown') AS aor, min(event_date), max(event_date) FROM {source} "
        f"WHERE {cover_sql} AND event_date BETWEEN ? AND ? GROUP BY release_id, 1",
        [*params, date_from, date_to],
    ).fetchall())


def _coverage(con, source: str, cover: Where, level: str, row_aors: list[str | None], days: np.ndarray) -> np.ndarray:
    """(P, D) bool: the day lies within the span of a release that covers the place's AOR.

    Spans are per (release, AOR): first to last event date of the rows counted for that AOR. A state, county or
    landmark place takes the AOR holding most of its events; the nation is covered on days where the releases
    cover at least NATIONAL_COVERAGE of the AORs seen. So a regional release reaching back before the nationwide
    one (e.g. Seattle 2012-2015) does not make the other AORs look empty before the nationwide series starts.
    `row_aors`: the AOR each row's coverage follows (None: every day covered).
    """
    spans = cover_spans(con, source, cover.sql(), tuple(cover.params), days[0].astype(dt.date),
                        days[-1].astype(dt.date))
    aors = sorted({a for a, _, _ in spans})
    aidx = {a: i for i, a in enumerate(aors)}
    by_aor = np.zeros((len(aors), len(days)), dtype=bool)
    for a, d0, d1 in spans:
        by_aor[aidx[a]] |= (days >= np.datetime64(d0, "D")) & (days <= np.datetime64(d1, "D"))
    if level == "national":
        n = by_aor.sum(axis=0)
        return np.broadcast_to(n >= NATIONAL_COVERAGE * max(n.max(), 1), (len(row_aors), len(days))).copy()
    out = np.ones((len(row_aors), len(days)), dtype=bool)
    for i, a in enumerate(row_aors):
        if a in aidx:
            out[i] = by_aor[aidx[a]]
    return out


def daily_counts(con: duckdb.DuckDBPyConnection, source: str, where: Where, level: str,
                 date_from: dt.date, date_to: dt.date, cover: Where | None = None,
                 count_sql: str = "count(*)", group: str | None = None) -> DailyCounts:
    """Counted events per place and day, as a dense grid, with per-place coverage (see _coverage).

    `cover` selects the rows that define coverage (default: counted rows); it should not carry the measure or
    place filters, so coverage follows the releases rather than the events of interest. `count_sql`: how `source`
    counts rows (query.selection.rollup_source: the sum of n on the build's event_days). With `group` (an SQL
    expression, e.g. res_county_fips), one grid holds every group's own grid (rows with a NULL group left out): the
    rows of group g are the grid `where AND group = g` gives, in the same order (DailyCounts.groups).
    """
    cover = cover if cover is not None else Where().add("counted")
    grp, grp_sql, by = ("", "", "") if group is None else ("grp, ", f"{group} AS grp, ", f"{group}, ")
    rows = con.execute(
        f"SELECT {grp_sql}{place_expr(level)} AS place, event_date AS day, ({count_sql})::DOUBLE AS n FROM {source} "
        f"WHERE {where.sql()}{'' if group is None else f' AND {group} IS NOT NULL'} AND event_date BETWEEN ? AND ? "
        "GROUP BY ALL", [*where.params, date_from, date_to],
    ).fetchnumpy()
    rows = pl.DataFrame({k: rows[k] for k in ([] if group is None else ["grp"]) + ["place", "day", "n"]})
    cov = cover_days(con, source, cover.sql(), tuple(cover.params), date_from, date_to)
    if len(cov):
        date_from, date_to = max(date_from, cov.min().astype(dt.date)), min(date_to, cov.max().astype(dt.date))
    days = np.arange(np.datetime64(date_from, "D"), np.datetime64(date_to, "D") + 1)
    has_data = np.isin(days, cov)
    rows = rows.filter((pl.col("day") >= date_from) & (pl.col("day") <= date_to))
    if rows.height == 0:
        return DailyCounts([], days, np.zeros((0, len(days))), has_data, groups=None if group is None else [])
    keyed = ["place"] if group is None else ["grp", "place"]
    index = rows.select(keyed).unique().sort(keyed).with_row_index("i")
    rows = rows.join(index, on=keyed, how="left")
    places = index["place"].to_list()
    groups = None if group is None else index["grp"].to_list()
    keys = places if group is None else list(zip(groups, places))
    mat = np.zeros((len(places), len(days)))
    di = (rows["day"].to_numpy().astype("datetime64[D]") - days[0]).astype(int)
    np.add.at(mat, (rows["i"].to_numpy().astype(np.int64), di), rows["n"].to_numpy())
    aors: dict[Any, list[str]] | None = None
    if level in ("aor", "landmark"):
        aors = {k: [p.split(" | ")[0]] for k, p in zip(keys, places)}
    elif level in ("state", "county"):
        # every AOR holding >= 5% of the place's events (states such as TX span several AORs); modal AOR first
        keys_by = "1, 2" if group is None else "1, 2, 3"
        shares = con.execute(
            f"""SELECT {grp}place, aor, n FROM (
                  SELECT {grp_sql}{place_expr(level)} AS place, coalesce(aor, 'unknown') AS aor, {count_sql} AS n,
                         sum({count_sql}) OVER (PARTITION BY {by}{place_expr(level)}) AS tot
                  FROM {source} WHERE {where.sql()} AND event_date BETWEEN ? AND ? GROUP BY {keys_by})
                WHERE n >= 0.05 * tot ORDER BY {grp}place, n DESC, aor""", [*where.params, date_from, date_to]
        ).fetchall()
        aors = {}
        for *key, a, _ in shares:
            aors.setdefault(key[0] if group is None else tuple(key), []).append(a)
    row_aors = [None if aors is None or k not in aors else aors[k][0] for k in keys]
    covered = _coverage(con, source, cover, level, row_aors, days) & has_data[None, :]
    return DailyCounts(places, days, mat, covered, aors, groups)


def level_counts(con: duckdb.DuckDBPyConnection, table: str, where: Where, level: str, date_from: dt.date,
                 date_to: dt.date, cover: Where | None = None, route: Any = None,
                 group: str | None = None) -> DailyCounts:
    """daily_counts of `table` at `level` as sweeps() reads them: from the build's event_days where the question
    names only its columns (`route`: query.selection.rollup_router), else counted on the event rows."""
    cover = cover if cover is not None else Where().add("counted")
    route = route or rollup_router(con, table)
    src, count_sql = (route(where.sql(), cover.sql(), place_expr(level), group or "")
                      or (event_source(con, table), "count(*)"))
    return daily_counts(con, src, where, level, date_from, date_to, cover, count_sql, group)


SWEEP_DEFINITIONS = {
    "sweep": msg("A run of 2-10 consecutive days on which a place's counted events exceed the expected count "
                 "(z >= 5, excess >= min_excess, observed/expected >= 1.5, >= 2 days with daily z >= 2)."),
    "expected": msg("Trailing robust level of the preceding 8 weeks x the place's day-of-week factor x a national "
                    "federal-holiday factor (analysis/data/federal_holidays.csv)."),
    "excess": msg("observed - expected; 95% interval = +/- 1.96 sqrt(negative-binomial variance at the observed counts "
                  "+ the baseline's estimation error)."),
    "score": msg("z = (observed - expected) / sqrt(variance): how many standard deviations above expectation."),
    "counted": msg("Only rows with counted = true (the release with precedence for the table, AOR and date), "
                   "unless a release is chosen: then that release's own rows."),
    "aors": msg("The AORs the sweep's events fall in (state/county: each AOR with >= 5% of the place's events; "
                "national: null, every AOR)."),
    "also_seen_as": msg("Sweeps at other levels (nation, state, county, landmark) on the same days whose excess lies "
                        "mostly (>= 50%) in this AOR sweep: the same event seen at two levels, folded into the AOR sweep "
                        "rather than ranked twice."),
}


def detail_rows(con, source: str, where: Where, level: str, found: list[dict[str, Any]], window: int,
                table: str | None = None, route: Any = None, group: str | None = None) -> list[dict[str, list]]:
    """The counts behind each sweep's detail (see _detail), for several sweeps of one level in three queries: per
    sub-place in the sweep and in the `window` days before, per method class, per criminality field and class. With
    `table`, each query reads the build's event_days where its columns allow (rows weigh `n` there, 1 on the event
    rows). Plain lists (the derived table keeps them as JSON). With `group` (level_sweeps' grouped rows), each
    sweep's counts are its group's (`where AND group = _group`), as that group's own question counts them."""
    if not found:
        return []
    w = Where(list(where.parts), list(where.params))
    on = "TRUE"
    if level != "national":
        w.add(f"{place_expr(level)} = ?", None)  # the columns the sources are chosen by; the join names the place
        on = f"{place_expr(level)} = sw_place"
    if group is not None:
        w.add(f"{group} = ?", None)
        on += f" AND {group} = sw_group"
    sub = DETAIL_PARTS[level]
    route = route or (rollup_router(con, table) if table else (lambda *sql: None))

    def weighed(*sql: str) -> tuple[str, str]:
        rolled = route(w.sql(), *sql)
        return (rolled[0], "n") if rolled else ((table and unplaced_source(table, w.sql(), *sql)) or source, "1")

    values, params = [], []
    for i, r in enumerate(found):
        values.append("(?, ?, ?::DATE, ?::DATE, ?::DATE, ?::DATE, ?)")
        params += [i, str(r["place"]), r["start"], r["end"], r["start"] - dt.timedelta(days=window),
                   r["start"] - dt.timedelta(days=1), None if group is None else str(r["_group"])]
    sw = f"(SELECT * FROM (VALUES {', '.join(values)}) v(sw_i, sw_place, sw_s0, sw_s1, sw_b0, sw_b1, sw_group))"
    cond = where.sql()

    def query(src: str, select: str, sums: str, start: str) -> list[tuple]:
        return con.execute(
            f"SELECT sw_i, {select}, {sums} FROM {src} JOIN {sw} ON {on} AND event_date BETWEEN {start} AND sw_s1 "
            f"WHERE {cond} GROUP BY ALL", [*params, *where.params]).fetchall()

    src, wt = weighed(sub)
    parts = query(src, f"{sub} AS part", f"coalesce(sum({wt}) FILTER (event_date BETWEEN sw_s0 AND sw_s1), 0), "
                  f"coalesce(sum({wt}) FILTER (event_date BETWEEN sw_b0 AND sw_b1), 0)", "sw_b0")
    src, wt = weighed("method_class criminality_field criminality")
    # the method mix and the criminal history from one scan: counts per (method, field, class), summed each way
    both = query(src, "coalesce(method_class, 'not recorded'), criminality_field, coalesce(criminality, 'unknown')",
                 f"sum({wt})", "sw_s0")
    mix_n: dict[tuple, int] = {}
    crim_n: dict[tuple, int] = {}
    for i, method, field, cls, n in both:
        mix_n[i, method] = mix_n.get((i, method), 0) + int(n)
        crim_n[i, field, cls] = crim_n.get((i, field, cls), 0) + int(n)
    mix = [(*k, n) for k, n in mix_n.items()]
    crim = [(*k, n) for k, n in crim_n.items()]
    out: list[dict[str, list]] = [{"parts": [], "mix": [], "crim": []} for _ in found]
    for r in sorted(parts, key=lambda r: (r[0], r[1])):  # in a fixed order (the stored and the counted alike)
        out[r[0]]["parts"].append([r[1], int(r[2]), int(r[3])])
    for r in sorted(mix, key=lambda r: (-r[2], r[1])):
        out[r[0]]["mix"].append([r[1], int(r[2])])
    for r in sorted(crim, key=lambda r: (r[1] is None, r[1] or "", -r[3], r[2])):
        out[r[0]]["crim"].append([r[1], r[2], int(r[3])])
    return out


DETAIL_PARTS = {"national": "coalesce(aor, 'unknown')", "aor": "coalesce(landmark, '(blank)')",
                "state": "coalesce(aor, 'unknown')", "county": "coalesce(landmark, '(blank)')",
                "landmark": "coalesce(method_raw, '(blank)')"}


def _detail(counts: dict[str, list], sweep: dict[str, Any]) -> dict[str, Any]:
    """Where a sweep concentrated (the sub-places with the largest excess, each expected at its share of the weeks
    before), its method mix and criminal history (where recorded), from detail_rows' counts."""
    tot_before = sum(r[2] for r in counts["parts"]) or 1
    expected = sweep["expected"]
    # the five parts with the largest excess (ties by observed, then name: the same on every run; then the order
    # given), written out for those five only
    top = heapq.nsmallest(5, ((-round(r[1] - r[2] / tot_before * expected, 1), -r[1], str(r[0]), i)
                              for i, r in _top_candidates(counts["parts"], tot_before, expected)))
    parts = [{"part": r[0], "observed": r[1], "expected": round(r[2] / tot_before * expected, 1),
              "excess": round(r[1] - r[2] / tot_before * expected, 1)} for r in (counts["parts"][k[3]] for k in top)]
    recorded = [r for r in counts["crim"] if r[0] != "not_recorded"]
    return {
        "concentration": parts,
        "method_mix": {r[0]: r[1] for r in counts["mix"]},
        "criminality": ({msg("{cls} ({field})", cls=CRIMINALITY_CLASSES.get(r[1], r[1]), field=r[0]): r[2]
                         for r in recorded} if recorded else msg("not recorded in this release")),
    }


def _top_candidates(parts: list[list], tot_before: float, expected: float, k: int = 5) -> list[tuple[int, list]]:
    """(index, part) of the parts that can be among the `k` with the largest rounded excess: round(x, 1) moves x by
    at most 0.05 and keeps its order, so a part whose raw excess is 0.2 below the k-th largest raw excess rounds to
    less than at least k others and is left out (an area's thousands of landmarks are not all rounded and sorted)."""
    if len(parts) <= k:
        return list(enumerate(parts))
    excess = [r[1] - r[2] / tot_before * expected for r in parts]
    floor = heapq.nlargest(k, excess)[-1] - 0.2
    if floor != floor:  # nan: no order to rely on
        return list(enumerate(parts))
    return [(i, parts[i]) for i, e in enumerate(excess) if e >= floor]


LEVEL_NAMES = {"state": msg("state"), "county": msg("county"), "landmark": msg("landmark"), "aor": msg("aor")}
CRIMINALITY_CLASSES = {"convicted": msg("convicted"), "pending_charges": msg("pending_charges"),
                       "no_record": msg("no_record"), "unknown": msg("unknown")}

ECHO_SHARE = 0.5  # a sweep is an echo when AOR sweeps on its days hold at least half its excess


def fold_echoes_into_aor_sweeps(rows: list[dict[str, Any]], share: float = ECHO_SHARE,
                               named: bool = True) -> list[dict[str, Any]]:
    """Fold sweeps at other levels that merely echo AOR sweeps into those AOR sweeps; return the folded rows.

    The AOR (field office) is the unit that runs operations, so the ranked list names each event once, at AOR
    level. A national, state, county or landmark sweep is an echo when the AOR sweeps of its AORs (row key
    "aors"; all AORs for the nation) on the days both runs share hold at least `share` of its excess
    (observed - expected summed over those days): the same event seen at two levels. It then leaves the ranked
    list and is named on each AOR sweep it echoes (`also_seen_as`). A surge that no AOR sweep holds (a national
    run spread over many AORs, or a county surge too small to lift its AOR) stays ranked at its own level.
    With `named` False, the echoes are kept in `_echoes` and named (echo_name) by the caller for the rows it shows.
    """
    aor_rows = [r for r in rows if r["level"] == "aor"]
    spans = [(a["start"], a["end"], a["_daily"]) for a in aor_rows]
    by_place: dict[str, list[int]] = {}
    for i, a in enumerate(aor_rows):
        by_place.setdefault(a["place"], []).append(i)
    every = range(len(aor_rows))
    of_aors: dict[frozenset, list[int]] = {}  # a set of AORs -> their sweeps (indices into aor_rows, in order)
    folded = []
    for r in rows:
        if r["level"] == "aor" or r["excess"] <= 0:
            continue
        mine = r.get("aors")
        if mine is None:
            mine_idx = every
        else:
            key = frozenset(mine)
            mine_idx = of_aors.get(key)
            if mine_idx is None:
                mine_idx = of_aors[key] = sorted(i for p in key for i in by_place.get(p, ()))
        start, end, daily = r["start"], r["end"], r["_daily"]
        held, parts = 0.0, []
        for i in mine_idx:  # the sweep's AORs' sweeps, in the rows' order
            a_start, a_end, a_daily = spans[i]
            if a_end < start or a_start > end:
                continue  # no day in common
            shared = [d for d in daily if d in a_daily]
            if shared:
                held += sum(a_daily[d][0] - a_daily[d][1] for d in shared)
                parts.append(aor_rows[i])
        if parts and held >= share * r["excess"]:
            r["echo_of"] = [f"{a['place']} {a['start']}..{a['end']}" for a in parts]
            r["echo_share"] = round(held / r["excess"], 2)
            for a in parts:
                a.setdefault("_echoes", []).append(r)
                if named:
                    a.setdefault("also_seen_as", []).append(echo_name(r))
            folded.append(r)
    return folded


def echo_name(r: dict[str, Any]) -> Any:
    """How an AOR sweep names a sweep folded into it (`also_seen_as`)."""
    if r["level"] == "national":
        return msg("US {span} (score {score})", span=DateSpan(r["start"], r["end"]), score=r["score"])
    return msg("{level} {place} {span} (score {score})", level=LEVEL_NAMES[r["level"]], place=r["place"],
               span=DateSpan(r["start"], r["end"]), score=r["score"])


MIN_BASELINE_DAYS = 21  # days with records the trailing baseline needs before the first scanned day


def _measurable(con, table: str, place: str | None, d0: dt.date, d1: dt.date, window: int, release: str | None,
                ref: Any) -> tuple[bool, Any, str]:
    """Whether sweeps can be measured for the place and period: records must cover the period, and the baseline
    needs MIN_BASELINE_DAYS days with records in the `window` days before it and the period (the first weeks of a
    series borrow the level of its first days); days without records never enter a baseline."""
    q = Selection.of(table, d0, d1, place, release=release).compile(con, ref)
    cov = coverage(con, q)
    if cov.status == "unknown":
        return True, cov, ""
    if not cov.countable:
        return False, cov, cov.reason
    h0 = d0 - dt.timedelta(days=window)
    hist = coverage_of(con, table, h0, d1, q.place, q.label, release=release)
    span = (d1 - h0).days + 1
    days = round((hist.share or 0.0) * span)
    need = MIN_BASELINE_DAYS + 2  # a baseline and a run of at least two days to score against it
    if days < need:
        return False, cov, msg("the expected count needs at least {need} days with records in {span} (the {w} days "
                               "before the period and the period), and records cover {n} of them for {place} ({reach})",
                               need=need, span=DateSpan(h0, d1), w=window, n=days, place=q.label,
                               reach=cov.records_reach)
    return True, cov, ""


def _series_period(spans: Any, aors: Any, d0: dt.date, d1: dt.date, release: str | None) -> tuple[dt.date, dt.date]:
    """First and last day of the records series (`spans`: the table's coverage_spans, None without them; of the
    place's AORs: its coverage's) that the period meets."""
    if not aors or spans is None:
        return d0, d1
    aors = set(aors)
    met = [(start, end) for rel, aor, _, start, end, counted in spans
           if (counted if release is None else rel == release) and aor in aors
           and start is not None and end is not None and end >= d0 and start <= d1]
    lo, hi = min((m[0] for m in met), default=None), max((m[1] for m in met), default=None)
    return (min(d0, lo) if lo else d0), (max(d1, hi) if hi else d1)


def _spans(con, table: str) -> Any:
    """The table's coverage spans (query.coverage.table_spans: read once per warehouse), None without them."""
    return table_spans(con, table) if has_table(con, "coverage_spans") else None


@dataclass
class Plan:
    """What a sweeps question scans: the rows (`where`: counted or a release's, the measure, the place), the levels,
    whether the records can measure it, and the days each level's model runs over (the whole series of records the
    period lies in, with `window` days of history before it)."""

    table: str
    source: str
    where: Where
    cover: Where
    label: str | None
    levels: tuple[str, ...]
    resolved: bool
    measurable: bool
    cov: Any
    why: str
    date_from: dt.date
    date_to: dt.date
    scan_from: dt.date
    scan_to: dt.date
    window: int
    min_excess: float | None

    def floor(self, level: str) -> float:
        """The least excess a sweep at `level` must reach."""
        return self.min_excess if self.min_excess is not None else {"national": 60, "aor": 20, "state": 20}.get(level, 10)


def plan(con: duckdb.DuckDBPyConnection, place: str | None, date_from: str | dt.date | None,
         date_to: str | dt.date | None, measure: str, levels: tuple[str, ...] | None, table: str,
         min_excess: float | None, window: int, ref: Any, release: str | None) -> Plan:
    """The checked parameters of a sweeps question and what it scans (see Plan)."""
    if measure not in MEASURES:
        raise InputError(msg("Unknown measure; choose one of {choices}", choices=", ".join(MEASURES)), field="measure",
                         value=measure)
    check_table(con, table)
    d0, d1 = parse_date(date_from, "from"), parse_date(date_to, "to")
    if d0 is None or d1 is None or d1 < d0:
        raise InputError(msg("Give --from and --to with from <= to"), field="from", value=f"{d0}..{d1}")
    source = event_source(con, table)
    where, cover, label = question_rows(con, place, measure, release, ref)
    resolved = resolution_available(con)
    if levels is None:
        national = label is None or label.startswith("United States")
        if national:
            levels = ("national", "aor") + (("state", "county") if resolved else ())
        else:  # a place was chosen: the place's own AOR(s) and, once landmarks resolve, its counties
            levels = ("aor",) + (("county",) if resolved else ())
    bad = [lv for lv in levels if lv not in LEVELS]
    if bad:
        raise InputError(msg("Unknown level; choose from {choices}", choices=", ".join(LEVELS)), field="level",
                         value=bad[0])
    measurable, cov, why = _measurable(con, table, place, d0, d1, window, release, ref)
    # The model runs over the whole series of records the period lies in, whatever part of it was asked, so a
    # sweep has the same observed and expected counts in every interface (CLI, API, pages, reports, watches);
    # history before the series' first day feeds the baseline, so its first weeks can be scanned too.
    m0, m1 = _series_period(_spans(con, table), cov.aors, d0, d1, release)
    return Plan(table, source, where, cover, label, tuple(levels) if measurable else (), resolved, measurable, cov,
                why, d0, d1, m0 - dt.timedelta(days=window), m1, window, min_excess)


def question_rows(con: duckdb.DuckDBPyConnection, place: Any, measure: str, release: str | None,
                  ref: Any) -> tuple[Where, Where, str | None]:
    """What a question counts (counted rows or a release's, the measure, the place: a code, or a Place already
    read), what defines its coverage (the rows without measure and place), and the place's label."""
    where = Where().add("counted") if release is None else Where().add("release_id = ?", release)
    cover = Where(list(where.parts), list(where.params))
    where.add(MEASURES[measure][0])
    return where, cover, place_where(con, place, where, ref)


def place_plans(con: duckdb.DuckDBPyConnection, places: list[str], periods: list[tuple[dt.date, dt.date]],
                measure: str, table: str, window: int, ref: Any) -> dict[tuple[str, tuple[dt.date, dt.date]], Plan]:
    """(place, period) -> the plan plan() makes for the place's question (an AOR, state or county code) in the
    period (default levels, least excess and release), without reading its coverage (`cov` None, taken as
    measurable): what the build's stored runs are keyed by (run_key). The scan is plan()'s: the series of the
    place's AORs' records that the period meets. A code the place index does not read has no plan."""
    from icemonitor.query.selection import parse_place

    source = event_source(con, table)
    spans = _spans(con, table)
    levels = ("aor",) + (("county",) if resolution_available(con) else ())  # plan()'s for a place
    out = {}
    for code in places:
        try:
            place = parse_place(con, code, ref)  # read once: question_rows takes the Place as it is
        except InputError:  # its questions run when asked
            continue
        where, cover, label = question_rows(con, place, measure, None, ref)
        aors = [place.code] if place.level == "aor" else sorted(place.aors)  # its coverage's (query.coverage)
        for d0, d1 in periods:
            m0, m1 = _series_period(spans, aors, d0, d1, None)
            out[code, (d0, d1)] = Plan(table, source, where, cover, label, levels, True, True, None, "", d0, d1,
                                       m0 - dt.timedelta(days=window), m1, window, None)
    return out


def level_sweeps(con: duckdb.DuckDBPyConnection, p: Plan, level: str, route: Any,
                 group: str | None = None) -> list[dict[str, Any]]:
    """The sweeps the model finds at `level` over the plan's whole scan (not yet cut to the asked period), best
    score first, each with its level and AORs (find_sweeps' rows). With `group` (an SQL expression), each group's
    sweeps as its own question (`p`'s rows and `group = g`) would find them, in one pass; each row names its group
    (`_group`)."""
    grid = level_counts(con, p.table, p.where, level, p.scan_from, p.scan_to, p.cover, route, group)
    found = find_sweeps(grid, window=p.window, min_excess=p.floor(level))
    for r in found:
        r["level"] = level
        key = r["place"] if group is None else (r["_group"], r["place"])
        r["aors"] = None if grid.aors is None else grid.aors.get(key, [])
    return found


# ---------------------------------------------------------------- the build's stored scans (analysis.sweeps_stored)

RUNS, FINDINGS = "sweep_runs", "sweep_findings"
FIGURES = ("place", "start", "end", "days", "observed", "expected", "excess", "excess_low", "excess_high", "ratio",
           "score")


def run_key(p: Plan, level: str) -> str:
    """What one level's scan reads: the rows' conditions and parameters, the level, the days, the window and the
    least excess. Two questions with one key get the same sweeps from the model."""
    what = [p.table, p.where.sql(), p.where.params, p.cover.sql(), p.cover.params, level, p.scan_from.isoformat(),
            p.scan_to.isoformat(), p.window, p.floor(level)]
    return hashlib.sha256(json.dumps(what, default=str).encode()).hexdigest()[:32]


class StoredSweeps:
    """The build's stored runs of one warehouse connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.present = has_table(con, RUNS) and has_table(con, FINDINGS)

    def level_sweeps(self, p: Plan, level: str) -> list[dict[str, Any]] | None:
        """level_sweeps(p, level) as the build stored it, or None when the build did not run this scan. Each row is
        the caller's own (the analysis annotates the rows it ranks); the daily counts are shared, read only."""
        if not self.present:
            return None
        run = stored_run(self.con, run_key(p, level))
        if run is None:
            return None
        return [{**r, "aors": None if r["aors"] is None else list(r["aors"])} for r in run]


@per_warehouse(frozen=True)
def stored_run(con: duckdb.DuckDBPyConnection, key: str) -> tuple[MappingProxyType, ...] | None:
    """The sweeps of one stored run (sweep_findings, in their order), None where the build did not run it: derived
    data of the warehouse file, read and parsed once per warehouse version (query.selection.per_warehouse), as
    read-only rows (MappingProxyType; aors a tuple, the daily counts a read-only mapping) that StoredSweeps copies
    for each question."""
    if con.execute(f"SELECT 1 FROM {RUNS} WHERE run_key = ?", [key]).fetchone() is None:
        return None
    rows = con.execute(
        f"SELECT level, {', '.join(c if c not in ('start', 'end') else 'sweep_' + c for c in FIGURES)}, aors, daily, "
        f"detail FROM {FINDINGS} WHERE run_key = ? ORDER BY ordinal", [key]).fetchall()
    out = []
    for row in rows:
        r = dict(zip(FIGURES, row[1:12]))
        aors = json.loads(row[12])
        r.update(level=row[0], aors=None if aors is None else tuple(aors), _detail=row[14],  # JSON, read when shown
                 _daily=MappingProxyType({dt.date.fromisoformat(d): (o, e) for d, o, e in json.loads(row[13])}))
        out.append(MappingProxyType(r))
    return tuple(out)


def sweeps(
    con: duckdb.DuckDBPyConnection, place: str | None = None, date_from: str | dt.date | None = "2015-10-01",
    date_to: str | dt.date | None = "2019-09-30", measure: str = "all", levels: tuple[str, ...] | None = None,
    table: str = "arrests", limit: int = 20, min_excess: float | None = None, window: int = 56, ref: Any = None,
    release: str | None = None, fold_echoes: bool = True, stored: bool = True,
) -> AnalysisResult:
    """Find and rank sweeps for a place (default: the nation and every AOR).

    With `release`, counts that release's own rows (whether or not another release has precedence for them), e.g.
    to read a regional production as a series of its own. With `fold_echoes` (default), sweeps at other levels that
    echo AOR sweeps on the same days are folded into them (fold_echoes_into_aor_sweeps) instead of ranked twice.
    With `stored` (default), a level whose scan the build ran already (analysis.sweeps_stored: the defaults'
    scans, derived on every build) is read from the warehouse's sweep_findings; any other scan runs here.
    """
    p = plan(con, place, date_from, date_to, measure, levels, table, min_excess, window, ref, release)
    d0, d1, where, source = p.date_from, p.date_to, p.where, p.source
    measurable, cov, why, resolved, label = p.measurable, p.cov, p.why, p.resolved, p.label
    levels = p.levels
    all_rows: list[dict[str, Any]] = []
    route = rollup_router(con, table)  # the build's event_days where a question names only its columns
    store = StoredSweeps(con) if stored else None
    for level in p.levels:
        found = store.level_sweeps(p, level) if store is not None else None
        if found is None:
            found = level_sweeps(con, p, level, route)
        all_rows += [r for r in found if r["end"] >= d0 and r["start"] <= d1]
    folded = fold_echoes_into_aor_sweeps(all_rows, named=False) if fold_echoes and "aor" in p.levels else []
    folded_ids = {id(r) for r in folded}
    all_rows = [r for r in all_rows if id(r) not in folded_ids]
    all_rows.sort(key=lambda r: -r["score"])
    top = all_rows[:limit] if limit else all_rows
    for r in top:
        if r.get("_echoes"):  # the sweeps folded into it, named for the rows shown only
            r["also_seen_as"] = [echo_name(e) for e in r["_echoes"]]
        if isinstance(r.get("_detail"), str):
            r["_detail"] = json.loads(r["_detail"])
    for level in levels:  # the counts behind the shown sweeps' details: stored, or counted here per level
        todo = [r for r in top if r["level"] == level and not r.get("_detail")]
        for r, counts in zip(todo, detail_rows(con, source, where, level, todo, window, table, route)):
            r["_detail"] = counts
    for r in top:
        r.update(_detail(r["_detail"], r))
    rel_source = (route(where.sql()) or (source,))[0]
    rel_where = Where(where.parts + ["event_date BETWEEN ? AND ?"], where.params + [d0, d1])
    releases = rollups.releases(con, table, rel_source, rel_where)
    if releases is None:
        releases = releases_of(con, rel_source, rel_where)
    if measurable and not releases:  # no records is not zero: the records hold nothing to find a sweep in
        measurable, why = False, msg("no records: no counted rows of {table} of the measure {measure} are placed in "
                                     "{place}, {span}", table=table, measure=measure,
                                     place=label or vocabulary.nation_label(), span=DateSpan(d0, d1))
    cols = ["level", "place", "start", "end", "days", "observed", "expected", "excess", "excess_low",
            "excess_high", "ratio", "score", "aors", "also_seen_as", "concentration", "method_mix", "criminality"]
    figures = [{c: r.get(c) for c in cols} for r in top]
    caveats = [
        msg("A sweep is a statistical surge against the place's own recent weeks; it does not say why arrests rose."),
        msg("Data-entry batches (many records keyed on one day) and holidays can look like surges; check the method "
            "mix."),
    ]
    if not measurable:
        caveats.insert(0, msg("Cannot be measured: {why}. This is not 'no sweep'.", why=why))
    elif cov.status == "partial":
        caveats.insert(0, msg("Partial: {reason}; days without records are left out of the baselines.",
                              reason=cov.reason))
    if not resolved:
        caveats.append(msg("State and county levels need the places stage's landmark resolution, which this "
                           "warehouse lacks."))
    else:
        caveats.append(msg("Events whose landmark was not resolved are grouped per AOR as 'unresolved:<AOR>', never "
                           "dropped."))
    return AnalysisResult(
        name="sweeps",
        parameters={"place": label or "United States", "from": d0, "to": d1, "measure": measure, "table": table,
                    "levels": list(levels), "limit": limit, "window_days": window, "release": release,
                    "fold_echoes": fold_echoes},
        columns=cols, figures=figures,
        definitions={**SWEEP_DEFINITIONS, "measure": MEASURES[measure][1]},
        releases=releases, caveats=caveats,
        coverage=cov.to_dict(),
        extra={"measurable": measurable, "not_measurable_because": None if measurable else why,
               "n_sweeps_found": len(all_rows) if measurable else None,
               "folded_echoes": [{k: r[k] for k in ("level", "place", "start", "end", "observed", "expected", "excess",
                                                    "score", "echo_of", "echo_share")} for r in folded]},
    )
