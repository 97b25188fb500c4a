"""Small statistics used by the analyses."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # numpy and scipy are imported on use: a command that only counts starts without them
    import numpy as np

# scipy.special.ndtri(0.975), bit for bit (tests/test_analysis_stats.py checks it): the 95% interval, every analysis's
# default, without importing scipy (a quarter of a second at a command's start)
Z_95 = 1.959963984540054


def normal_quantile_two_sided(confidence: float) -> float:
    """z with P(|Z| <= z) = confidence for a standard normal Z (scipy.special.ndtri(1 - (1 - confidence) / 2))."""
    if confidence == 0.95:
        return Z_95
    from scipy.special import ndtri  # the normal quantile (what scipy.stats.norm.ppf computes), without scipy.stats

    return float(ndtri(1 - (1 - confidence) / 2))


def wilson_interval(successes: int, n: int, confidence: float = 0.95) -> tuple[float | None, float | None]:
    """Wilson score interval for a binomial proportion; (None, None) when n == 0."""
    if n <= 0:
        return None, None
    if successes < 0 or successes > n:
        raise ValueError(f"successes must lie in [0, n]: {successes} of {n}")
    z = normal_quantile_two_sided(confidence)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def wilson_arrays(successes: np.ndarray, n: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Wilson interval; NaN where n == 0."""
    import numpy as np

    successes = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = normal_quantile_two_sided(confidence)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = successes / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
    hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi
