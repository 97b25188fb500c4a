"""The sweeps model on a grid of groups (analysis.sweeps.find_sweeps with DailyCounts.groups: the build's one pass
over every county's question) against the model run on each group's own grid: the same sweeps, to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

from icemonitor.analysis.sweeps import DailyCounts, find_sweeps, group_rows


def _grid(seed: int, sizes: list[int], days: int = 500):
    """Groups of places (sizes: places per group) with negative-binomial counts, each group its own weekday pattern
    and level (sparse and busy), a few injected surges, some days not covered per place, and holidays in range."""
    rng = np.random.default_rng(seed)
    d = np.arange(np.datetime64("2016-08-01"), np.datetime64("2016-08-01") + days)
    dow = (d.astype(np.int64) + 3) % 7
    rows, groups, places, covered = [], [], [], []
    for g, n in enumerate(sizes):
        week = rng.uniform(0.3, 1.5, 7)[dow]
        for i in range(n):
            mu = rng.choice([0.05, 0.5, 3.0, 25.0]) * week * (1 + 0.2 * np.sin(np.arange(days) / 60))
            if rng.random() < 0.5:
                s = rng.integers(100, days - 10)
                mu[s : s + rng.integers(2, 6)] *= rng.uniform(3, 8)
            rows.append(rng.negative_binomial(5.0, 5.0 / (5.0 + mu)).astype(float))
            cov = np.ones(days, dtype=bool)
            if rng.random() < 0.3:
                cov[: rng.integers(10, 120)] = False
            covered.append(cov)
            groups.append(f"G{g:02d}")
            places.append(f"P{i}")
    return DailyCounts(places, d, np.array(rows), np.array(covered), groups=groups)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_each_group_gets_what_its_own_grid_gives(seed):
    sizes = [1, 3, 1, 2, 5, 1, 1, 4]
    grid = _grid(seed, sizes)
    together = find_sweeps(grid, min_excess=10)
    assert together, "a real comparison: the surges are found"
    for idx in group_rows(grid.groups):
        g = grid.groups[idx[0]]
        alone = find_sweeps(DailyCounts([grid.places[i] for i in idx], grid.days, grid.counts[idx],
                                        grid.covered[idx]), min_excess=10)
        mine = [{k: v for k, v in r.items() if k != "_group"} for r in together if r["_group"] == g]
        assert mine == alone, g  # every figure and daily count, bit for bit, in the same order
    # the groups matter: the same places modelled as one grid (one weekday pattern, one holiday factor) differ
    pooled = find_sweeps(DailyCounts(grid.places, grid.days, grid.counts, grid.covered), min_excess=10)
    assert [r["score"] for r in pooled] != [r["score"] for r in together]


def test_a_group_too_small_for_a_sweep_has_none():
    """A group whose busiest days cannot reach the least excess is left out of the model, as alone."""
    grid = _grid(4, [1, 1])
    grid.counts[0] = 0.0
    grid.counts[0, 200] = 3.0
    assert not [r for r in find_sweeps(grid, min_excess=10) if r["_group"] == "G00"]
    assert find_sweeps(DailyCounts(grid.places[:1], grid.days, grid.counts[:1], grid.covered[:1]),
                       min_excess=10) == []


def test_group_rows_keep_order():
    assert [list(i) for i in group_rows(["b", "a", "b", "c", "a"])] == [[0, 2], [1, 4], [3]]
    assert group_rows([]) == []
