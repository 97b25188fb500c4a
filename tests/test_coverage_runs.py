"""query.coverage._runs (vectorised runs of days with the same AORs) against the plain per-day walk."""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from icemonitor.query.coverage import _runs


def walk(mask: np.ndarray, aors: list[str], days: np.ndarray) -> list[tuple]:
    """One day at a time: the AORs set that day; a new run whenever they change."""
    keys = [tuple(a for i, a in enumerate(aors) if mask[i, j]) for j in range(len(days))]
    out, start = [], 0
    for i in range(1, len(keys) + 1):
        if i == len(keys) or keys[i] != keys[start]:
            out.append((keys[start], days[start].astype(dt.date), days[i - 1].astype(dt.date)))
            start = i
    return out


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 5).flatmap(lambda n: st.tuples(
    st.just(n), arrays(bool, st.tuples(st.just(n), st.integers(0, 60))))))
def test_runs_equal_the_day_by_day_walk(case):
    n, mask = case
    aors = [f"A{i}" for i in range(n)]
    days = np.arange(np.datetime64("2017-01-01"), np.datetime64("2017-01-01") + mask.shape[1])
    assert _runs(mask, aors, days) == walk(mask, aors, days)
