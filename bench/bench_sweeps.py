"""Bench: sweeps over every AOR-day and every place-day of FY2016-2019, vectorised vs a naive per-place pandas loop.

County-day needs the places stage's landmark_resolution table; without it the bench uses landmark-day
(about 7,000 raw landmark places per AOR, more places than there are counties) as the stand-in.
"query" is the place x day grid as the sweeps analysis reads it (analysis.sweeps.level_counts: the build's
event_days count table where the warehouse has it, else the event rows).
"county questions" is the build's stored county sweeps (analysis.sweeps_stored: every county's own question, both
levels, in one grouped pass per scan and level) against running each county's question alone (the baseline: what a
per-county loop in the build, or a county page before, costs), on a sample of counties extrapolated to all; CPU
seconds of the process (DuckDB's threads included).
Run: PYTHONPATH=src python bench/bench_sweeps.py [warehouse.duckdb]  (default: ICEMONITOR_HOME's warehouse)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import warnings

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from icemonitor.analysis.common import Where, resolution_available  # noqa: E402
from icemonitor.analysis.sweeps import federal_holidays, find_sweeps, level_counts  # noqa: E402
from icemonitor.query.selection import rollup_router  # noqa: E402


def naive(grid, window=56, max_days=10, min_excess=20.0):
    """The same model, one place at a time with pandas (the baseline we compare against)."""
    hol = pd.DatetimeIndex(sorted(federal_holidays()))
    idx = pd.DatetimeIndex(grid.days.astype("datetime64[ns]"))
    is_hol = idx.isin(hol)
    found = 0
    for p in range(len(grid.places)):
        y = pd.Series(grid.counts[p], index=idx)
        if y.rolling(max_days).sum().max() < min_excess:  # same exact pruning as the vectorised code
            continue
        ok = ~is_hol
        dow_mean = y[ok].groupby(idx[ok].day_of_week).mean()
        f = (dow_mean / dow_mean.mean()).reindex(range(7)).fillna(1.0).clip(lower=0.05)
        fac = pd.Series(f.values[idx.day_of_week], index=idx)
        adj = y / fac
        med = adj.rolling(window, min_periods=21).median().shift(1)
        capped = np.minimum(adj, med + 3 * np.sqrt(med.clip(lower=1))).where(med.notna(), adj)
        level = capped.where(~is_hol).rolling(window, min_periods=21).mean().shift(1).bfill()
        mu = (level * fac).fillna(0)
        var = np.maximum(mu + 0.05 * mu**2, 1.0)
        for L in range(2, max_days + 1):
            O, E, V = y.rolling(L).sum(), mu.rolling(L).sum(), var.rolling(L).sum()
            z = (O - E) / np.sqrt(V)
            found += int(((z >= 5) & (O - E >= min_excess) & (O >= 1.5 * E)).sum())
    return found


def main() -> None:
    warnings.simplefilter("ignore")
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if path is None:  # the built warehouse of ICEMONITOR_HOME (icemonitor build)
        from icemonitor import config

        path = config.warehouse_path()
    con = duckdb.connect(str(path), read_only=True)
    where = Where().add("counted")
    route = rollup_router(con, "arrests")  # the warehouse's catalogue is read before the clock starts
    import datetime as dt

    d0, d1 = dt.date(2015, 10, 1), dt.date(2019, 9, 30)
    small_level = "county" if resolution_available(con) else "landmark"
    for level in ("aor", small_level):
        t0 = time.perf_counter()
        grid = level_counts(con, "arrests", where, level, d0, d1, route=route)
        t1 = time.perf_counter()
        rows = find_sweeps(grid, min_excess=20 if level == "aor" else 10)
        t2 = time.perf_counter()
        naive_n = naive(grid, min_excess=20 if level == "aor" else 10)
        t3 = time.perf_counter()
        cells = grid.counts.size
        print(f"{level:9s} places={len(grid.places):5d} place-days={cells:,}  query {t1 - t0:.2f}s  "
              f"vectorised detect {t2 - t1:.2f}s ({len(rows)} sweeps)  naive pandas loop {t3 - t2:.2f}s  "
              f"ratio naive/vectorised {(t3 - t2) / (t2 - t1):.1f}x  total ours {t2 - t0:.2f}s")
    if resolution_available(con):
        from icemonitor.analysis.overview import last_event_date
        from icemonitor.query.filters import Filters

        last = last_event_date(con, Filters("arrests"))  # and the stage's other period: the last twelve months
        for period in [(d0, d1)] + ([(last - dt.timedelta(days=365), last)] if last else []):
            county_questions(con, route, period)


def county_questions(con, route, period, sample: int = 60) -> None:
    """Every county's default question in one pass (the build's) vs each county's question alone (a sample)."""
    from icemonitor.analysis.sweeps import detail_rows, level_sweeps, run_key
    from icemonitor.analysis.sweeps_stored import COUNTY, _counties, _grouped_runs, _scans, _shown
    from icemonitor.catalog.fetch import reference_resolver

    ref = reference_resolver()
    kept: dict[str, tuple] = {}
    c0 = time.process_time()
    counties = _counties(con)
    _grouped_runs(con, COUNTY, counties, [period], [period], ref, route,
                  lambda key, fips, p, level, rows, details: kept.setdefault(key, (fips, level, len(rows))))
    ours = time.process_time() - c0
    by_scan, apart = _scans(con, COUNTY, counties, [period], ref)
    plans = sorted((fips, p) for members in by_scan.values() for fips, p in members)
    picked = plans[:: max(1, len(plans) // sample)]
    c0 = time.process_time()
    for fips, p in picked:
        for level in p.levels:
            rows = level_sweeps(con, p, level, route)
            detail_rows(con, p.source, p.where, level, _shown(rows, [period]), p.window, p.table, route)
            assert kept[run_key(p, level)][2] == len(rows)  # the same sweeps, counted alone
    alone = (time.process_time() - c0) / len(picked) * len(counties)
    found = sum(k[2] for k in kept.values())
    print(f"county questions {period[0]}..{period[1]}: {len(counties)} counties, {len(kept)} runs, {found} sweeps; "
          f"one pass {ours:.2f} s CPU; each alone ({len(picked)} sampled, extrapolated) {alone:.1f} s CPU; "
          f"ratio alone/one pass {alone / ours:.0f}x")


if __name__ == "__main__":
    main()
