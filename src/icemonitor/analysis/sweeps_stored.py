"""The sweeps model's default answers as derived data (schema.yaml's sweep_runs and sweep_findings).

Every build (and refresh) runs the model once for the questions the CLI, API and pages ask by default: at-large
arrests, the default window and least excess, for the nation and every AOR and state with records, over the
series of records that holds the default period (FY2016-FY2019), and for the nation also the one that holds the
last twelve months of arrests data (the overview's recent sweeps); and for every county (those the records place
counted arrests in, and the others of the places stage's county table) over the series that hold both periods, so
a county page reads its sweeps and the model never runs for it. A run is one level's scan
(analysis.sweeps.level_sweeps: every sweep found over the whole series, with its daily counts and the counts behind
the details of those the default questions show), keyed by what it reads (run_key). The places of one kind (AORs,
states, counties) are modelled in one pass per scan and level (level_sweeps with a group: each place's rows its
own grid, as its own question would have them), not one place at a time. analysis.sweeps.sweeps reads a level from
here when its scan has the same key and runs the model otherwise, so a stored answer is the on-the-fly one,
whatever part of the series is asked. Coverage ("cannot be measured", "no records") is decided per question, never
stored: a question the records cannot answer says so either way.

A refresh keeps the stored sweeps when what they were derived from is unchanged (sweep_inputs: a digest of the code,
the counted arrests' counts, the files of the releases holding them, and the other tables the model reads: coverage
spans, places): e.g. a release whose rows all rank after those counted. Otherwise they are derived again whole.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from icemonitor.analysis.common import has_table, resolution_available
from icemonitor.analysis.sweeps import (FIGURES, FINDINGS, RUNS, Plan, detail_rows, level_sweeps, place_plans, plan,
                                       question_rows, run_key)
from icemonitor.analysis.overview import last_event_date
from icemonitor.query.filters import Filters
from icemonitor.query.selection import rollup_router
from icemonitor.schema import derived_tables, tables as event_tables
from icemonitor.warehouse.aggregates import EVENT_DAYS, KEPT_BY_REFRESH

log = logging.getLogger(__name__)

MEASURE = "at_large"  # the CLI's, the API's and the pages' default
DEFAULT_PERIOD = (dt.date(2015, 10, 1), dt.date(2019, 9, 30))  # the CLI's and the API's default period
RECENT = dt.timedelta(days=365)  # the overview's recent sweeps: the last twelve months of arrests data
INPUTS = "sweep_inputs"  # the digest of what the stored sweeps were derived from
# tables the digest leaves out: the counted arrests' counts stand for the event and count tables (and the files of
# their releases for the rows' other columns); the releases table's other rows and build_info change with any file
UNREAD = frozenset({"releases", "build_info", RUNS, FINDINGS, INPUTS})


def inputs_digest(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of everything the stored sweeps read: the package's code and rules, event_days' counted arrests
    counts, the files (release, name, SHA-256) of the releases holding counted arrests, and every other table but
    the event and count tables (UNREAD; of a table with rows per event table, its arrests' rows), each as its rows'
    count and their hashes summed (order-free)."""
    h = hashlib.sha256()
    package = Path(str(resources.files("icemonitor")))
    for p in sorted(package.rglob("*")):
        if p.suffix in (".py", ".csv", ".yaml") and p.is_file():
            h.update(str(p.relative_to(package)).encode())
            h.update(p.read_bytes())
    names = sorted(r[0] for r in con.execute(  # the warehouse's own (not a build's temporary scratch tables)
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_catalog = current_database()").fetchall())
    counted = f"SELECT * FROM {EVENT_DAYS} WHERE table_name = 'arrests' AND counted"
    parts = [("counted arrests", counted if EVENT_DAYS in names else None),
             ("their files", f"SELECT release_id, file_name, sha256 FROM releases WHERE table_name = 'arrests' AND "
                             f"release_id IN (SELECT release_id FROM ({counted}))"
              if {"releases", EVENT_DAYS} <= set(names) else None)]
    per_table = {r[0] for r in con.execute(  # tables of rows per event table: the arrests' rows only
        "SELECT table_name FROM information_schema.columns WHERE table_schema = 'main' AND column_name = 'table_name' "
        "AND table_catalog = current_database()").fetchall()}
    parts += [(n, f'SELECT * FROM "{n}"' + (" WHERE table_name = 'arrests'" if n in per_table else ""))
              for n in names if n not in UNREAD and n not in event_tables() and n not in KEPT_BY_REFRESH]
    for label, sql in parts:
        h.update(label.encode())
        if sql:
            h.update(str(con.execute(f"SELECT count(*), sum(hash(t)::HUGEINT) FROM ({sql}) t").fetchone()).encode())
    return h.hexdigest()


def _scopes(con: duckdb.DuckDBPyConnection) -> tuple[list[str], list[str]]:
    """Every AOR and every placed state with counted arrests (from event_days, the build's count table)."""
    if not has_table(con, "event_days"):
        return [], []
    rows = "FROM event_days WHERE table_name = 'arrests' AND counted"
    aors = [r[0] for r in con.execute(f"SELECT DISTINCT aor {rows} AND aor IS NOT NULL ORDER BY 1").fetchall()]
    states = [r[0] for r in con.execute(f"SELECT DISTINCT res_state {rows} AND res_state IS NOT NULL ORDER BY 1"
                                        ).fetchall()]
    return aors, states


DETAILED = 25  # per level and period, the best sweeps whose detail is stored (the API lists 20 by default)


def _shown(rows: list[dict[str, Any]], periods: list[tuple[dt.date, dt.date]]) -> list[dict[str, Any]]:
    """The rows among the DETAILED best of the level in each default period: the ones the default questions show.
    Others' details are counted when a question shows them."""
    out: dict[int, dict[str, Any]] = {}
    for d0, d1 in periods:
        out.update((id(r), r) for r in [r for r in rows if r["end"] >= d0 and r["start"] <= d1][:DETAILED])
    return list(out.values())


def _counties(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every county the records place counted arrests in (event_days), and every other county of the places
    stage's county table (their questions find no records: stored, they say so without counting)."""
    if not has_table(con, "event_days"):
        return []
    rows = "SELECT DISTINCT res_county_fips FROM event_days WHERE table_name = 'arrests' AND counted"
    if has_table(con, "counties"):
        rows += " UNION SELECT county_fips FROM counties"
    return [r[0] for r in con.execute(f"SELECT * FROM ({rows}) c(fips) WHERE fips IS NOT NULL ORDER BY 1").fetchall()]


COUNTY = "res_county_fips"  # a county question's rows: the question without its place, and this column = the county


def _scans(con: duckdb.DuckDBPyConnection, column: str, places: list[str], periods: list[tuple[dt.date, dt.date]],
           ref: Any) -> tuple[dict[tuple, list[tuple[str, Plan]]], list[tuple[str, Plan]]]:
    """Each place's question in each period (analysis.sweeps.place_plans), those whose rows are the place's by one
    column (`column` = the place, e.g. res_county_fips = the county) grouped by their scan's days; the others
    (e.g. DC, read by its state; CA, by its state and the AORs inside it) apart."""
    by_scan: dict[tuple, list[tuple[str, Plan]]] = {}
    apart: list[tuple[str, Plan]] = []
    base = question_rows(con, None, MEASURE, None, ref)[0]
    for (code, _), p in place_plans(con, places, periods, MEASURE, "arrests", 56, ref).items():
        if p.where.parts == [*base.parts, f"({column} IN (?))"] and p.where.params == [*base.params, code]:
            by_scan.setdefault((p.scan_from, p.scan_to), []).append((code, p))
        else:
            apart.append((code, p))
    return by_scan, apart


def _grouped_runs(con: duckdb.DuckDBPyConnection, column: str, places: list[str],
                  periods: list[tuple[dt.date, dt.date]], shown_in: list[tuple[dt.date, dt.date]], ref: Any,
                  route: Any, store: Callable[..., None]) -> None:
    """Each place's question runs (places of one kind: AORs by `aor`, states by `res_state`, counties by
    res_county_fips), stored through `store(key, place, plan, level, rows, details)`: one pass per scan and level
    over every place with those days (the grid grouped by `column`), the details of their sweeps shown in
    `shown_in` counted in one query per pass."""
    by_scan, apart = _scans(con, column, places, periods, ref)
    log.info("%s sweeps: %d places, %d scans, %d questions read apart", column, len(places), len(by_scan), len(apart))
    for (m0, m1), members in by_scan.items():
        p = members[0][1]
        where = p.where.copy()
        where.parts, where.params = where.parts[:-1], where.params[:-1]  # the question without its place
        codes = sorted({code for code, _ in members})
        if len(codes) < len(places):
            where.add(f"{column} IN ({', '.join('?' * len(codes))})", *codes)
        scope = Plan(p.table, p.source, where, p.cover, None, p.levels, True, True, None, "", p.date_from, p.date_to,
                     m0, m1, p.window, None)
        for level in scope.levels:
            rows = level_sweeps(con, scope, level, route, group=column)
            mine: dict[str, list[dict[str, Any]]] = {}
            for r in rows:
                mine.setdefault(r.pop("_group"), []).append(r)
            shown = {code: _shown(mine.get(code, []), shown_in) for code in codes}
            todo = [{**r, "_group": code} for code in codes for r in shown[code]]
            counts = detail_rows(con, scope.source, scope.where, level, todo, scope.window, scope.table, route,
                                 group=column)
            details = {id(r): c for r, c in zip((r for code in codes for r in shown[code]), counts)}
            for code, q in members:
                store(run_key(q, level), code, q, level, mine.get(code, []), details)
    for code, q in apart:  # a place read by other columns: its own question, as asked
        for level in q.levels:
            rows = level_sweeps(con, q, level, route)
            shown = _shown(rows, shown_in)
            store(run_key(q, level), code, q, level, rows, dict(zip(map(id, shown), detail_rows(
                con, q.source, q.where, level, shown, q.window, q.table, route))))


def write_stored_sweeps(con: duckdb.DuckDBPyConnection, ref: Any = None) -> int | None:
    """(Re)create sweep_runs and sweep_findings: each default question's scans (see the module), run once; returns
    the sweeps stored. A warehouse without arrests or coverage spans gets empty tables (every question runs). When
    the tables are there with the digest of the inputs they were derived from (a refresh kept them) and it still
    holds, they are kept: returns None."""
    tables = derived_tables()
    digest = inputs_digest(con)
    if has_table(con, INPUTS) and has_table(con, RUNS) and has_table(con, FINDINGS) and con.execute(
            f"SELECT any_value(digest) FROM {INPUTS}").fetchone()[0] == digest:
        log.info("%s, %s kept: their inputs are unchanged", RUNS, FINDINGS)
        return None
    for name in (RUNS, FINDINGS, INPUTS):
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute(tables[name].ddl())
    con.execute(f"INSERT INTO {INPUTS} VALUES (?)", [digest])
    if not has_table(con, "arrests") or not has_table(con, "coverage_spans"):
        return 0
    last = last_event_date(con, Filters("arrests"))  # the overview's last day (web.pages.recent_sweeps)
    periods = [DEFAULT_PERIOD] + ([(last - RECENT, last)] if last else [])
    route = rollup_router(con, "arrests")
    runs: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    keys: set[str] = set()

    def store(key: str, place: str, p: Plan, level: str, rows: list[dict[str, Any]], details: dict[int, list]) -> None:
        """One run's rows (and the details counted for those shown) as sweep_runs and sweep_findings rows."""
        if key in keys:
            return
        keys.add(key)
        runs.append({"run_key": key, "place": place, "measure": MEASURE,
                     "level": level, "scan_from": p.scan_from, "scan_to": p.scan_to, "window_days": p.window,
                     "min_excess": float(p.floor(level)), "sweeps": len(rows)})
        for i, r in enumerate(rows):
            detail = details.get(id(r))
            found.append({
                "run_key": key, "ordinal": i, "level": level,
                **{(c if c not in ("start", "end") else "sweep_" + c): r[c] for c in FIGURES},
                "aors": json.dumps(r["aors"]), "detail": None if detail is None else json.dumps(detail),
                "daily": json.dumps([[d.isoformat(), o, e] for d, (o, e) in r["_daily"].items()])})

    for d0, d1 in periods:  # the nation's questions
        p = plan(con, None, d0, d1, MEASURE, None, "arrests", None, 56, ref, None)
        for level in p.levels:
            key = run_key(p, level)
            if key in keys:
                continue
            rows = level_sweeps(con, p, level, route)
            shown = _shown(rows, periods)
            store(key, "US", p, level, rows, dict(zip(map(id, shown), detail_rows(
                con, p.source, p.where, level, shown, p.window, p.table, route))))
    aors, states = _scopes(con)  # the default period (the last twelve months: the overview's, national)
    _grouped_runs(con, "aor", aors, periods[:1], periods, ref, route, store)
    _grouped_runs(con, "res_state", states, periods[:1], periods, ref, route, store)
    if resolution_available(con):  # county questions read the places stage's resolution; both periods
        _grouped_runs(con, COUNTY, _counties(con), periods, periods, ref, route, store)
    cur = con.cursor()  # the model's queries may leave a result open on `con`
    for name, rows in ((RUNS, runs), (FINDINGS, found)):
        if rows:
            frame = pl.DataFrame(rows, schema={c.name: c.polars_type for c in tables[name].columns}, orient="row")
            cur.register("_sweep_frame", frame.to_arrow())
            cur.execute(f"INSERT INTO {name} SELECT * FROM _sweep_frame")
            cur.unregister("_sweep_frame")
    cur.close()
    log.info("%s: %d runs, %s: %d sweeps written", RUNS, len(runs), FINDINGS, len(found))
    return len(found)


def sweeps_stage(ref: Any = None) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """The build hook that derives the stored sweeps (after the count tables, which the model reads), places
    read through `ref`; its `tables`: those a refresh keeps for it (kept while their inputs are unchanged)."""

    def stage(con: duckdb.DuckDBPyConnection) -> None:
        write_stored_sweeps(con, ref)

    stage.tables = (RUNS, FINDINGS, INPUTS)  # type: ignore[attr-defined]
    return stage
