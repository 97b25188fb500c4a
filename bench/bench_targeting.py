"""Bench: a targeting run (AOR and county level, FY2016-2019, state-law) against a naive baseline that builds the
same panel with per-place pandas loops and per-state-month sanctuary.status() calls, then fits the same model.

County level needs the places stage's landmark_resolution table. When the warehouse has none, the bench copies
the tables it needs into a scratch DuckDB and adds a SYNTHETIC resolution (each AOR landmark assigned to one of
its AOR's counties by a hash) so the county-level run can be timed at realistic size; its figures mean nothing.
Run: PYTHONPATH=src python bench/bench_targeting.py [warehouse.duckdb] [shared/data]
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
import warnings
from pathlib import Path

import duckdb
import pandas as pd

from icemonitor.analysis.common import event_source, has_table
from icemonitor.analysis.rate_models import fit_rate_ratios
from icemonitor.analysis.targeting import targeting

START, END = dt.date(2015, 10, 1), dt.date(2019, 9, 30)


def naive(con: duckdb.DuckDBPyConnection, level: str, ref) -> pd.DataFrame:
    """The same place x month panel, one place and one month at a time, then the same NB model."""
    from icemonitor.places.place_filter import parse_exact
    from icemonitor.places.sanctuary import status

    key = "aor" if level == "aor" else "res_county_fips"
    src = "arrests" if level == "aor" else event_source(con, "arrests")
    ev = con.execute(f"SELECT {key} AS place, event_date, method_class FROM {src} WHERE counted AND event_date "
                     f"BETWEEN ? AND ?", [START, END]).df()
    ev["event_date"] = pd.to_datetime(ev["event_date"])
    pop = con.execute("SELECT county_fips, state, aor, year, noncitizen_pop FROM population").df()
    months = pd.date_range(START, END, freq="MS")
    covered = [m for m in months if ev.loc[(ev["event_date"] >= m) & (ev["event_date"] < m + pd.offsets.MonthBegin(1)),
                                           "event_date"].nunique() >= 20]
    status_cache: dict[tuple[str, pd.Timestamp], float] = {}

    def yes_frac(state: str, month: pd.Timestamp) -> float:
        if (state, month) not in status_cache:
            # one status call per state and month (on the 1st; ours weighs the days exactly); the state by its code
            # (parse_exact: 'LA' is Louisiana here, where the place parser asks which of several places is meant)
            state_place = parse_exact(state, ref)
            status_cache[(state, month)] = float(status(state_place, month.date(), "state-law", ref).answer == "yes")
        return status_cache[(state, month)]

    places = sorted(p for p in ev["place"].dropna().unique() if (pop["aor" if level == "aor" else "county_fips"] == p).any())
    rows = []
    for place in places:
        sub = ev[ev["place"] == place]
        for m in covered:
            in_m = sub[(sub["event_date"] >= m) & (sub["event_date"] < m + pd.offsets.MonthBegin(1))]
            p = pop[(pop["year"] == m.year) & (pop["aor" if level == "aor" else "county_fips"] == place)]
            nc = p["noncitizen_pop"].sum()
            share = sum(r.noncitizen_pop * yes_frac(r.state, m) for r in p.itertuples()) / nc if nc else 0.0
            rows.append({"place": place, "period": m.strftime("%Y-%m"), "arrests": len(in_m),
                         "at_large": int((in_m["method_class"] == "at_large").sum()),
                         "person_years": nc * m.days_in_month / 365.25, "sanctuary_share": share})
    panel = pd.DataFrame(rows)
    fit_rate_ratios(panel, "arrests", "person_years", ["sanctuary_share"], "period", "place")
    return panel


def synthetic_resolution(src: Path) -> Path:
    path = Path(tempfile.mkdtemp()) / "bench_targeting.duckdb"
    c = duckdb.connect(str(path))
    c.execute("ATTACH ? AS src (READ_ONLY)", [str(src)])
    for t in ("arrests", "population", "policies", "counties", "sanctuary_definitions"):
        c.execute(f"CREATE TABLE {t} AS SELECT * FROM src.{t}")
    c.execute("""
        CREATE TABLE landmark_resolution AS
        WITH lm AS (SELECT DISTINCT aor, landmark FROM arrests WHERE landmark IS NOT NULL AND aor IS NOT NULL),
             cty AS (SELECT DISTINCT county_fips, state, aor, dense_rank() OVER (PARTITION BY aor ORDER BY county_fips) AS k,
                            count(*) OVER (PARTITION BY aor) AS n FROM (SELECT DISTINCT county_fips, state, aor FROM population WHERE year = 2017 AND aor IS NOT NULL))
        SELECT lm.aor, lm.landmark, cty.county_fips, cty.state, 'county' AS level, 'synthetic' AS kind,
               'bench hash' AS rule, 'none' AS confidence
        FROM lm JOIN cty ON cty.aor = lm.aor AND cty.k = 1 + hash(lm.landmark) % cty.n""")
    c.execute("DETACH src")
    c.close()
    return path


def main() -> None:
    warnings.simplefilter("ignore")
    from icemonitor import config

    path = Path(sys.argv[1]) if len(sys.argv) > 1 else config.warehouse_path()
    data = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(__file__).resolve().parents[2] / "shared" / "data"
    ref = lambda p: data / p  # noqa: E731
    con = duckdb.connect(str(path), read_only=True)
    county_con, note = con, ""
    if not has_table(con, "landmark_resolution"):
        county_con = duckdb.connect(str(synthetic_resolution(path)), read_only=True)
        note = " (SYNTHETIC landmark resolution: timing only)"
    print("level   | ours (full run: rates, models, DiD, event studies) | naive (panel + one model) | ratio", flush=True)
    for level, c in (("aor", con), ("county", county_con)):
        t0 = time.perf_counter()
        res = targeting(c, definition="state-law", date_from=START, date_to=END, level=level)
        ours = time.perf_counter() - t0
        t0 = time.perf_counter()
        panel = naive(c, level, ref)
        base = time.perf_counter() - t0
        n_ours = sum(f["arrests"] for f in res.figures)
        assert n_ours == int(panel["arrests"].sum()), (level, n_ours, int(panel["arrests"].sum()))
        print(f"{level:7} | {ours:6.2f} s ({len(res.extra['places'])} places){note if level == 'county' else ''} | "
              f"{base:6.2f} s | {base / ours:5.1f}x", flush=True)


if __name__ == "__main__":
    main()
