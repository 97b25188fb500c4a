"""Small statistics used by the analyses."""

from __future__ import annotations

import math

import numpy as np
from scipy.special import ndtri  # the normal quantile (what scipy.stats.norm.ppf computes), without scipy.stats' import


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """Wilson score interval for a binomial proportion; (None, None) when n == 0."""
    if n <= 0:
        return None, None
    if successes < 0 or successes > n:
        raise ValueError(f"successes must lie in [0, n]: {successes} of {n}")
    z = float(ndtri(1 - (1 - confidence) / 2))
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_arrays(successes: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Wilson interval; NaN where n == 0."""
    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = float(ndtri(1 - (1 - confidence) / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = successes / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi
