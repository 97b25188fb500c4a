"""Count models for the targeting analysis: rate ratios (negative binomial GLM with an exposure offset, period
fixed effects, cluster-robust standard errors) and difference-in-differences / event-study estimates."""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping
import warnings
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from scipy.stats import norm
from threadpoolctl import ThreadpoolController

from icemonitor.messages import msg

Z95 = float(norm.ppf(0.975))
MAX_SE = 10.0  # a log-scale SE or coefficient beyond this means the term is not identified by the data
NOT_IDENTIFIED = msg("not identified: the data cannot separate this term from the fixed effects (e.g. a single "
                     "period)")
NO_VARIATION = msg("no variation in this term over the places and periods")
TERMS = {(True, True): msg("place + period fixed effects"), (False, True): msg("period fixed effects"),
         (True, False): msg("place + no period effects"), (False, False): msg("no period effects")}


def one_blas_thread():
    """A context in which BLAS runs on one thread: more threads on a shared machine only slow these small fits.
    threadpoolctl's scan of the loaded libraries (the slow part of threadpool_limits) runs again only once more
    modules have been imported, which may have loaded another BLAS."""
    return _blas_controller(len(sys.modules)).limit(limits=1)


@lru_cache(maxsize=4)
def _blas_controller(_modules: int) -> ThreadpoolController:
    return ThreadpoolController()


@dataclass
class Estimate:
    """One exponentiated coefficient: a rate ratio with its 95% interval."""

    term: str
    ratio: float | None
    low: float | None
    high: float | None
    p_value: float | None
    coef: float | None
    se: float | None
    n_obs: int
    n_clusters: int
    alpha: float | None
    method: str
    note: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def _empty(term: str, n: int, k: int, method: str, note: str) -> Estimate:
    return Estimate(term, None, None, None, None, None, None, n, k, None, method, note)


def _estimates(terms: list[str], usable: list[str], coef: Mapping[str, float], se: Mapping[str, float],
               p_value: Callable[[str, float, float], float | None], n: int, n_fit: int, k: int,
               alpha: float | None, method: str) -> list[Estimate]:
    """One Estimate per term (ratio = exp(coef), 95% interval): empty, with the reason, for a term without
    variation or that the data cannot identify."""
    out = []
    for t in terms:
        if t not in usable or t not in coef:
            out.append(_empty(t, n, k, method, NO_VARIATION))
            continue
        b, s = float(coef[t]), float(se[t])
        if not (math.isfinite(b) and math.isfinite(s)) or s > MAX_SE or abs(b) > MAX_SE:
            out.append(_empty(t, n, k, method, NOT_IDENTIFIED))
            continue
        out.append(Estimate(t, math.exp(b), math.exp(b - Z95 * s), math.exp(b + Z95 * s), p_value(t, b, s), b, s,
                            n_fit, k, alpha, method))
    return out


def _dummies(df: pd.DataFrame, col: str) -> pd.DataFrame:
    return pd.get_dummies(df[col].astype(str), prefix=col, drop_first=True, dtype=float)


def nb_alpha(y: np.ndarray, mu: np.ndarray, dof: int | None = None) -> float:
    """NB2 overdispersion by the pooled method of moments on Poisson fitted means: sum((y-mu)^2 - mu) / sum(mu^2).

    Pooled (not an average of per-row ratios) so that cells with tiny expected counts (small counties) cannot
    blow it up. `dof` is accepted for symmetry with other estimators and not used."""
    num = float(np.sum((y - mu) ** 2 - mu))
    den = float(np.sum(mu**2))
    return max(num / den, 1e-8) if den > 0 else 1e-8


def glm_nb(y: np.ndarray, X: np.ndarray, offset: np.ndarray, alpha: float, groups: np.ndarray,
           max_iter: int = 100, tol: float = 1e-9, start: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NB2 (alpha > 0) or Poisson (alpha = 0) GLM with log link by Fisher scoring on the normal equations, and
    the cluster-robust covariance as statsmodels computes it (G/(G-1) * (N-1)/(N-K) correction).

    Returns (coefficients, covariance, fitted means). Much faster than a QR/pinv per iteration for the tall
    designs of county x month panels; tested against statsmodels' GLM."""
    n, k = X.shape
    if start is None:
        mu = np.maximum(y, 0.5) if y.mean() > 0 else np.full(n, 0.5)
        eta = np.log(mu)
    else:
        eta = np.clip(X @ start + offset, -700, 700)
        mu = np.exp(eta)
    beta = np.zeros(k)
    dev_old = dev_prev = np.inf
    for it in range(max_iter):
        w = mu / (1 + alpha * mu)
        z = eta - offset + (y - mu) / mu
        xtw = X.T * w
        beta = np.linalg.solve(xtw @ X, xtw @ z)
        eta = np.clip(X @ beta + offset, -700, 700)
        mu = np.exp(eta)
        with np.errstate(divide="ignore", invalid="ignore"):
            if alpha > 0:
                dev = 2 * np.sum(np.where(y > 0, y * np.log(y / mu), 0) - (y + 1 / alpha) * np.log((1 + alpha * y) / (1 + alpha * mu)))
            else:
                dev = 2 * np.sum(np.where(y > 0, y * np.log(y / mu), 0) - (y - mu))
        if abs(dev - dev_old) <= tol * (abs(dev) + 0.1):
            break
        if it > 5 and abs(dev - dev_old) > abs(dev_old - dev_prev) * 0.99 and abs(dev - dev_old) < 1e-6 * abs(dev):
            break  # floating-point noise floor reached
        dev_prev = dev_old
        dev_old = dev
    glm_nb.iterations = it + 1  # type: ignore[attr-defined]
    w_obs = mu * (1 + alpha * y) / (1 + alpha * mu) ** 2  # observed information (as statsmodels' sandwich)
    bread = np.linalg.inv((X.T * w_obs) @ X)
    score = X * ((y - mu) / (1 + alpha * mu))[:, None]
    g = pd.factorize(groups)[0]
    n_groups = g.max() + 1
    sums = np.zeros((n_groups, k))
    np.add.at(sums, g, score)
    meat = sums.T @ sums
    corr = n_groups / (n_groups - 1) * (n - 1) / (n - k)
    return beta, corr * bread @ meat @ bread, mu


def fit_rate_ratios(
    df: pd.DataFrame, count: str, exposure: str, terms: list[str], period: str | None, cluster: str,
    place_effects: bool = False, offset: str | None = None,
) -> list[Estimate]:
    """Negative binomial GLM of `count` on `terms` with log(`exposure`) as offset (or a ready `offset` column),
    period (and optionally place) fixed effects and standard errors clustered by `cluster`.

    Alpha (NB2) comes from the method of moments on a Poisson fit with the same terms; the cluster-robust
    sandwich keeps the intervals valid if alpha is off. Returns one Estimate per term (ratio = exp(coef))."""
    method = msg("NB2 GLM, log link, offset log(exposure), {terms}, cluster-robust SE by {cluster}",
                 terms=TERMS[bool(place_effects), bool(period)], cluster=cluster)
    d = df[(df[exposure] > 0)].copy() if offset is None else df.copy()
    n, k = len(d), d[cluster].nunique() if len(d) else 0
    if n == 0 or k < 2:
        return [_empty(t, n, k, method, msg("too few places to estimate")) for t in terms]
    const_terms = [t for t in terms if d[t].nunique() < 2]
    X = d[terms].astype(float)
    parts = [X]
    if period:
        parts.append(_dummies(d, period))
    if place_effects:
        parts.append(_dummies(d, cluster))
    X = pd.concat(parts, axis=1)
    X.insert(0, "const", 1.0)
    X = X.loc[:, X.std(ddof=0).gt(0) | (X.columns == "const")]
    y = d[count].astype(float).to_numpy()
    off = d[offset].to_numpy(dtype=float) if offset else np.log(d[exposure].to_numpy(dtype=float))
    groups = pd.factorize(d[cluster])[0]
    usable = [t for t in terms if t in X.columns and t not in const_terms]
    if not usable:
        return [_empty(t, n, k, method, NO_VARIATION) for t in terms]
    cols = list(X.columns)
    Xa = X.to_numpy(dtype=float)
    with warnings.catch_warnings(), one_blas_thread():
        warnings.simplefilter("ignore")
        try:
            b0, _, mu0 = glm_nb(y, Xa, off, 0.0, groups)
            alpha = nb_alpha(y, mu0, n - Xa.shape[1])
            beta, cov, _ = glm_nb(y, Xa, off, alpha, groups, start=b0)
        except np.linalg.LinAlgError:
            return [_empty(t, n, k, method, NOT_IDENTIFIED) for t in terms]
    se_all = np.sqrt(np.clip(np.diag(cov), 0, None))
    return _estimates(terms, usable, dict(zip(cols, beta)), dict(zip(cols, se_all)),
                      lambda _t, b, se: float(2 * norm.sf(abs(b / se))) if se > 0 else None, n, n, k, alpha, method)


def event_time_bins(rel: pd.Series, lo: int = -6, hi: int = 6) -> pd.Series:
    """Clip relative periods (e.g. quarters since the change) into [lo, hi]; the end bins pool the tails."""
    return rel.clip(lower=lo, upper=hi)


def fit_event_study(
    df: pd.DataFrame, count: str, exposure: str, rel: str, treated: str, period: str, cluster: str,
    reference: int = -1,
) -> list[Estimate]:
    """Event study: count on treated x relative-period dummies (reference period left out), place and period
    fixed effects, NB2 GLM with offset, cluster-robust SE. `rel` holds the binned relative period of each row
    (ignored for control rows, where `treated` is 0)."""
    d = df.copy()
    levels = sorted(int(v) for v in d.loc[d[treated] > 0, rel].dropna().unique() if int(v) != reference)
    names = []
    for v in levels:
        name = f"rel_{v:+d}"
        d[name] = ((d[treated] > 0) & (d[rel] == v)).astype(float)
        names.append(name)
    return fit_rate_ratios(d, count, exposure, names, period, cluster, place_effects=True)


def fit_poisson_fe(df: pd.DataFrame, count: str, exposure: str, terms: list[str], period: str, cluster: str) -> list[Estimate]:
    """Poisson pseudo-likelihood with place and period fixed effects absorbed (pyfixest fepois), offset
    log(exposure), cluster-robust SE by place: the DiD estimator for many places (counties), where place dummies
    in a GLM would be too large. Consistent under overdispersion; the sandwich gives the intervals."""
    import pyfixest as pf

    method = msg("Poisson PML (pyfixest fepois), offset log(exposure), place + period fixed effects absorbed, CRV1 by "
                 "{cluster}", cluster=cluster)
    d = df[df[exposure] > 0].copy()
    n, k = len(d), d[cluster].nunique() if len(d) else 0
    usable = [t for t in terms if d[t].nunique() > 1] if n else []
    if k < 2 or not usable:
        return [_empty(t, n, k, method, NO_VARIATION) for t in terms]
    # places (or periods) with no events carry no information in Poisson PML with their fixed effect: drop them
    # here (exactly what pyfixest's separation check would do, without its cost)
    d = d[d.groupby(cluster)[count].transform("sum") > 0]
    d = d[d.groupby(period)[count].transform("sum") > 0]
    d["_log_exposure"] = np.log(d[exposure].astype(float))
    d["_place"] = d[cluster].astype(str)
    d["_period"] = d[period].astype(str)
    with warnings.catch_warnings(), one_blas_thread():
        warnings.simplefilter("ignore")
        try:
            fit = pf.fepois(f"{count} ~ {' + '.join(usable)} | _place + _period", data=d, offset="_log_exposure",
                            vcov={"CRV1": "_place"}, separation_check=[])
        except ValueError as exc:  # e.g. every term collinear with the fixed effects
            if "collinear" not in str(exc):
                raise
            return [_empty(t, n, k, method, NOT_IDENTIFIED) for t in terms]
    pvals = fit.pvalue()
    return _estimates(terms, usable, fit.coef().to_dict(), fit.se().to_dict(), lambda t, _b, _s: float(pvals[t]),
                      n, int(fit._N), k, None, method)
