"""A place's profile (the place page's figures and `/api/v1/place/{place}`): the monthly trend, the method mix, the
criminal history where a release records it, the arrests resolved to a county, the policy events, and the place's
rate per 10,000 non-citizen residents beside its peers.

Every count selects events through query.Selection (counted rows, event placements, the one place reader), so the
trend sums to `icemonitor summary --place` for the same period. Each function returns an AnalysisResult with the
coverage of its question; where the records do not cover it there are no rows (never zeros).
"""

from __future__ import annotations

import datetime as dt
from types import MappingProxyType
from typing import Any

import duckdb

from icemonitor.analysis.result import AnalysisResult
from icemonitor.analysis.overview import county_aor_map, last_counted_date, population_year, sql_round
from icemonitor.messages import msg
from icemonitor.places.place_filter import AOR_MAP_VINTAGES
from icemonitor.query.coverage import coverage, coverage_of
from icemonitor.query.selection import (Columns, Compiled, Selection, has_table, parse_place, per_warehouse,
                                        table_columns)
from icemonitor.query.filters import GROUP_BY, grouped_sql
from icemonitor.query.sql import in_list

POLICY_COLUMNS = ("policy_id", "jurisdiction", "jurisdiction_level", "state", "county_fips", "place_name", "kind",
                  "start", "end", "end_known", "citation", "source", "source_row", "evidence", "verified")
COUNTED = msg("Counted arrests: rows of table arrests with counted = true (the release with precedence for the AOR "
              "and date), placed by event placements only (query.selection).")
METHOD_CLASS = msg("custodial / at_large / other (codes/apprehension_methods.csv); empty where not recorded")
FY = msg("Federal fiscal year of event_date (1 Oct - 30 Sep)")


def selected(con: duckdb.DuckDBPyConnection, place: Any, d0: dt.date | None, d1: dt.date | None,
             counted: bool = True, ref: Any = None, columns: Columns | None = None) -> Compiled:
    """The place's arrests in the period as `summary --place` selects them; counted=False keeps every release's
    rows, for figures within one release."""
    return Selection.of("arrests", d0, d1, place, counted_only=counted).compile(con, ref, columns)


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _pop_releases(rows: list[dict[str, Any]]) -> list[str]:
    """The releases behind the rows, taken out of each row's `rel` column (query.filters.grouped_sql): one scan
    gives the figures and their releases."""
    return sorted({x for r in rows for x in (r.pop("rel") or []) if x})


def _place_definition(q: Compiled) -> Any:
    if q.place is not None and q.place.level == "aor":
        return msg("Arrests the AOR {aor} recorded (aor = {aor}).", aor=q.place.code)
    return msg("Arrests placed in {place}: the state or county the release records, else the landmark's event "
               "placement; arrests placed only by the arresting office's county are not counted.", place=q.label)


def _grouped_result(q: Compiled, cov: Any, name: str, group: str, rows: list[dict[str, Any]] | None, d0, d1,
                    definitions: dict[str, Any]) -> AnalysisResult:
    """The AnalysisResult of counted arrests per `group` and method class: `rows` (with their `rel` lists) where
    the records cover the question (`cov`, query.coverage), else none."""
    caveats: list[Any] = []
    rows = rows if cov.countable else []
    if not cov.countable:
        caveats.append(cov.no_count_caveat())
    elif cov.status == "partial":
        caveats.append(msg("Partial: {reason}.", reason=cov.reason))
    return AnalysisResult(
        name=name, parameters={"place": q.label, "from": d0, "to": d1},
        columns=[group, "method_class", "n"], figures=rows,
        definitions={"place": _place_definition(q), "n": COUNTED, "method_class": METHOD_CLASS, **definitions},
        releases=_pop_releases(rows), caveats=caveats,
        extra={"total": sum(r["n"] for r in rows) if cov.countable else None}, coverage=cov.to_dict())


def _grouped(con: duckdb.DuckDBPyConnection, name: str, group: str, place: Any, d0, d1, ref: Any,
             columns: Columns | None, definitions: dict[str, Any]) -> AnalysisResult:
    """Counted arrests of the place and period per `group` (a query.filters.GROUP_BY key) and method class, with
    coverage."""
    q = selected(con, place, d0, d1, ref=ref, columns=columns)
    cov = coverage(con, q)
    rows = None
    if cov.countable:
        r = q.rolled_up(con, GROUP_BY[group][0], "method_class, release_id", columns=columns,
                        months=True)  # the count tables if they can
        rows = _rows(con, grouped_sql([group, "method_class"], r.count_sql, r.source, q.where.sql()), q.where.params)
    return _grouped_result(q, cov, name, group, rows, d0, d1, definitions)


MONTH = {"month": msg("Calendar month of event_date")}
CRIMINALITY_KEPT = "criminality_field IS NOT NULL AND criminality_field <> 'not_recorded'"


def trend(con: duckdb.DuckDBPyConnection, place: Any, d0: dt.date | None = None, d1: dt.date | None = None,
          ref: Any = None, columns: Columns | None = None) -> AnalysisResult:
    """Counted arrests per calendar month and method class (month 'YYYY-MM')."""
    return _grouped(con, "place_trend", "month", place, d0, d1, ref, columns, MONTH)


def method_mix(con: duckdb.DuckDBPyConnection, place: Any, d0: dt.date | None = None, d1: dt.date | None = None,
               ref: Any = None, columns: Columns | None = None) -> AnalysisResult:
    """Counted arrests per fiscal year and method class."""
    return _grouped(con, "place_method_mix", "fy", place, d0, d1, ref, columns, {"fy": FY})


def _criminality_result(con: duckdb.DuckDBPyConnection, q: Compiled, rows: list[dict[str, Any]], d0, d1
                        ) -> AnalysisResult:
    cov = coverage_of(con, "arrests", d0, d1, q.place, q.label, ("criminality",))
    missing = cov.fields_not_recorded.get("criminality") or []
    caveats = [msg("Criminality is not recorded in {releases}.", releases=", ".join(sorted(missing)))] if missing else []
    caveats.append(msg("Criminality means different things per release; each figure names its source field."))
    return AnalysisResult(
        name="place_criminality", parameters={"place": q.label, "from": d0, "to": d1},
        columns=["release_id", "criminality_field", "fy", "criminality", "n"], figures=rows,
        definitions={"place": _place_definition(q), "fy": FY,
                     "n": msg("Rows of the release (counted or not) with a criminality field, within that release"),
                     "criminality": msg("convicted / pending_charges / no_record / unknown, from the release's own "
                                        "field (criminality_field)")},
        releases=sorted({r["release_id"] for r in rows}), caveats=caveats, coverage=cov.to_dict())


def _has_criminality(con: duckdb.DuckDBPyConnection, columns: Columns | None) -> bool:
    return {"criminality_field", "criminality"} <= (columns or (lambda t: table_columns(con, t)))("arrests")


def criminality(con: duckdb.DuckDBPyConnection, place: Any, d0: dt.date | None = None, d1: dt.date | None = None,
                ref: Any = None, columns: Columns | None = None) -> AnalysisResult:
    """Arrests by release, criminality field, fiscal year and class, where the release records criminality. Each
    group stays within one release, so all its rows are used (not only counted ones): a release that records
    criminality may overlap a fuller release that has precedence for counts but does not."""
    q = selected(con, place, d0, d1, counted=False, ref=ref, columns=columns)
    rows: list[dict[str, Any]] = []
    if _has_criminality(con, columns):
        r = q.rolled_up(con, "release_id, criminality_field, fy, criminality", CRIMINALITY_KEPT, columns=columns,
                        months=True)
        rows = _rows(con, f"SELECT release_id, criminality_field, CAST(fy AS INTEGER) AS fy, criminality, "
                          f"{r.count_sql} AS n FROM {r.source} WHERE {q.where.sql()} AND {CRIMINALITY_KEPT} "
                          "GROUP BY ALL ORDER BY release_id, criminality_field, fy, criminality", q.where.params)
    return _criminality_result(con, q, rows, d0, d1)


COUNTED_PARTS = ("trend", "method_mix", "criminality")


def counted_parts(con: duckdb.DuckDBPyConnection, place: Any, d0: dt.date | None = None, d1: dt.date | None = None,
                  ref: Any = None, columns: Columns | None = None, with_resolution: bool = False
                  ) -> dict[str, AnalysisResult]:
    """trend, method_mix and criminality (the same results as those functions) from one scan of the place's rows:
    the rows of every release grouped once per month, fiscal year, release, counted flag, method class and
    criminality, then summed three ways (counted rows for trend and method_mix, rows with a criminality field for
    criminality). `with_resolution`: resolution too, its count of the place's counted arrests from the same scan."""
    every = selected(con, place, d0, d1, counted=False, ref=ref, columns=columns)
    q = selected(con, every.place, d0, d1, ref=ref, columns=columns)
    if q.where.parts != ["counted", *every.where.parts] or q.where.params != every.where.params:
        one_by_one = {"trend": trend, "method_mix": method_mix, "criminality": criminality,  # not the same rows
                      **({"resolution": resolution} if with_resolution else {})}
        return {name: fn(con, every.place, d0, d1, ref, columns) for name, fn in one_by_one.items()}
    crim = _has_criminality(con, columns)
    keys = "counted, method_class, release_id" + (", criminality_field, criminality" if crim else "")
    r = every.rolled_up(con, "date_trunc('month', event_date), fy", keys, columns=columns, months=True)
    found = con.execute(f"SELECT date_trunc('month', event_date)::DATE AS m, CAST(fy AS INTEGER) AS fy, {keys}, "
                        f"{r.count_sql} AS n FROM {r.source} WHERE {every.where.sql()} GROUP BY ALL",
                        every.where.params).fetchall()
    parts, resolved = _summed_parts(found, crim)
    cov = coverage(con, q)
    extra = {"resolution": _resolution(con, q, cov, d0, d1, columns, resolved)} if with_resolution else {}
    return {**extra, "trend": _grouped_result(q, cov, "place_trend", "month", parts["trend"], d0, d1, MONTH),
            "method_mix": _grouped_result(q, cov, "place_method_mix", "fy", parts["method_mix"], d0, d1, {"fy": FY}),
            "criminality": _criminality_result(con, every, parts["criminality"], d0, d1)}


def _last(value: Any) -> tuple[bool, Any]:
    """A sort key putting None last (SQL's ORDER BY ... NULLS LAST)."""
    return (value is None, value)


def _summed_parts(found: list[tuple], crim: bool) -> tuple[dict[str, list[dict[str, Any]]], tuple[int, list[str]]]:
    """counted_parts' figures from its grouped rows (month, fiscal year, counted, method class, release[,
    criminality field, criminality], n), summed three ways as grouped_sql and criminality's SQL sum them: counted
    rows per month and class (trend) and per fiscal year and class (method_mix), with the releases behind each;
    rows with a criminality field per release, field, fiscal year and class; and the counted rows with their
    releases (resolution's count)."""
    trend: dict[tuple, list] = {}
    mix: dict[tuple, list] = {}
    kept: dict[tuple, int] = {}
    total, releases = 0, []
    for row in found:
        month, fy, counted, method, release, n = row[0], row[1], row[2], row[3], row[4], row[-1]
        if counted:
            for groups, key in ((trend, (month, method)), (mix, (fy, method))):
                acc = groups.setdefault(key, [0, []])
                acc[0] += n
                acc[1].append(release)
            total += n
            releases.append(release)
        if crim and row[5] is not None and row[5] != "not_recorded":
            key = (release, row[5], fy, row[6])
            kept[key] = kept.get(key, 0) + n
    order = lambda key: tuple(_last(k) for k in key)  # noqa: E731
    written = {m: m.strftime("%Y-%m") for m in {m for m, _ in trend} if m is not None}
    parts = {
        "trend": [{"month": written.get(m), "method_class": c, "n": n, "rel": rel}
                  for (m, c), (n, rel) in sorted(trend.items(), key=lambda kv: order(kv[0]))],
        "method_mix": [{"fy": fy, "method_class": c, "n": n, "rel": rel}
                       for (fy, c), (n, rel) in sorted(mix.items(), key=lambda kv: order(kv[0]))],
        "criminality": [{"release_id": rel, "criminality_field": field, "fy": fy, "criminality": c, "n": n}
                        for (rel, field, fy, c), n in sorted(kept.items(), key=lambda kv: order(kv[0]))]}
    return parts, (total, releases)


def resolution(con: duckdb.DuckDBPyConnection, place: Any, d0: dt.date | None = None, d1: dt.date | None = None,
               ref: Any = None, columns: Columns | None = None) -> AnalysisResult:
    """For a county (or any place within AORs): counted arrests resolved to it, and the counted arrests of its
    AOR(s) that no landmark resolution places in any county (they may belong to this county or another)."""
    q = selected(con, place, d0, d1, ref=ref, columns=columns)
    return _resolution(con, q, coverage(con, q), d0, d1, columns)


def _resolution(con: duckdb.DuckDBPyConnection, q: Compiled, cov: Any, d0, d1, columns: Columns | None,
                resolved: tuple[int, list[str]] | None = None) -> AnalysisResult:
    """resolution's result for the compiled selection `q`; `resolved`: its counted arrests and their releases
    where already counted (counted_parts), else counted here."""
    aors = list(q.place.aors) if q.place is not None else []
    row: dict[str, Any] = {"resolved": None, "aor_total": None, "aor_unresolved": None, "aors": aors}
    releases: list[str] = []
    if cov.countable:
        if resolved is None:
            r = q.rolled_up(con, "release_id", columns=columns, months=True)  # the count tables where they answer
            resolved = con.execute(f"SELECT {r.count_sql}, list(DISTINCT release_id) FROM {r.source} "
                                   f"WHERE {q.where.sql()}", q.where.params).fetchone()
        row["resolved"], rel = resolved
        releases = sorted({x for x in rel or [] if x})
        from icemonitor.analysis import rollups  # numpy: after start-up (web/app.py's warm-up)

        by = rollups.keyed_counts(con, q.selection.table, "aor_resolved", q.base, tuple(aors)) if aors else None
        if by is not None:  # (aor, unresolved) -> counted arrests, from the month rollup
            row["aor_total"] = sum(n for n, _ in by.values())
            row["aor_unresolved"] = sum(n for (_, unresolved), (n, _) in by.items() if unresolved)
        elif aors:
            sql, params = in_list("aor", aors)
            w = q.base.copy().add(sql, *params)
            r = q.rolled_up(con, w.sql(), "res_county_fips", columns=columns, months=True)
            unresolved = ("coalesce(sum(n) FILTER (WHERE res_county_fips IS NULL), 0)::BIGINT" if r is not q
                          else "count(*) FILTER (WHERE res_county_fips IS NULL)")
            row["aor_total"], row["aor_unresolved"] = con.execute(
                f"SELECT {r.count_sql}, {unresolved} FROM {r.source} WHERE {w.sql()}", w.params).fetchone()
        else:
            row["aor_total"] = row["aor_unresolved"] = 0
    return AnalysisResult(
        name="place_resolution", parameters={"place": q.label, "from": d0, "to": d1},
        columns=list(row), figures=[row],
        definitions={"resolved": COUNTED,
                     "aor_total": msg("Counted arrests of the place's AOR(s) in the period"),
                     "aor_unresolved": msg("Counted arrests of the place's AOR(s) that no landmark resolution places "
                                           "in a county: they may or may not lie in the place")},
        releases=releases, caveats=[] if cov.countable else [cov.no_count_caveat()], coverage=cov.to_dict())


def policies(con: duckdb.DuckDBPyConnection, place: Any, ref: Any = None) -> AnalysisResult:
    """Policy events (warehouse `policies`, places/data) for the place: laws and lists of its state(s), and for a
    county the county's and its cities' own agreements and listings. For a state or AOR, county and city events in
    its counties are counted by kind (extra `local_counts`) rather than listed."""
    place = parse_place(con, place, ref)
    rows: list[dict[str, Any]] = []
    local: list[dict[str, Any]] = []
    if has_table(con, "policies") and place is not None:
        by_state, by_county = _policy_index(con)  # state laws and lists; a county's and its cities' own events
        rows = [dict(r) for state in dict.fromkeys(place.states) for r in by_state.get(state, ())]
        if place.level == "county":
            rows += [dict(r) for fips in dict.fromkeys(place.county_fips) for r in by_county.get(fips, ())]
        rows.sort(key=lambda r: (_last(r.get("start")), _last(r.get("policy_id"))))
        if place.level != "county" and place.county_fips:
            kinds: dict[Any, list[Any]] = {}
            for fips in dict.fromkeys(place.county_fips):
                for r in by_county.get(fips, ()):
                    kinds.setdefault(r.get("kind"), []).append(r.get("start"))
            local = [{"kind": kind, "n": len(starts), "first": min((d for d in starts if d is not None), default=None),
                      "last": max((d for d in starts if d is not None), default=None)}
                     for kind, starts in sorted(kinds.items(), key=lambda kv: _last(kv[0]))]
    return AnalysisResult(
        name="place_policies", parameters={"place": getattr(place, "label", None)},
        columns=list(POLICY_COLUMNS), figures=rows,
        definitions={"kind": msg("The kind of policy event (places/data/policy_kinds): a state law, a 287(g) "
                                 "agreement, a federal list of jurisdictions, ..."),
                     "start": msg("The day the policy took effect (or the list was published)"),
                     "local_counts": msg("County and city policy events in the place's counties, by kind")},
        caveats=[msg("Policy events are the project's curated list with a source for each (warehouse table "
                     "policies); a place missing from it is not known to have no policy.")],
        extra={"local_counts": local})


@per_warehouse(frozen=True)
def _policy_rows(con: duckdb.DuckDBPyConnection) -> tuple[MappingProxyType, ...]:
    """The policies table's rows (POLICY_COLUMNS it has, and what policies() selects them by), read once per
    warehouse version (the project's curated list, a reference table of a few thousand rows)."""
    have = table_columns(con, "policies")
    names = [c for c in POLICY_COLUMNS if c in have]
    quoted = ", ".join('"' + c + '"' for c in names)
    return tuple(MappingProxyType(dict(zip(names, r))) for r in con.execute(f"SELECT {quoted} FROM policies"
                                                                             ).fetchall())


@per_warehouse(frozen=True)
def _policy_index(con: duckdb.DuckDBPyConnection) -> tuple[MappingProxyType, MappingProxyType]:
    """_policy_rows as ({state: its state-level rows}, {county_fips: the county's and its cities' rows}): what
    policies() picks for a place (jurisdiction_level 'state', else any other level but none)."""
    by_state: dict[str, list] = {}
    by_county: dict[str, list] = {}
    for r in _policy_rows(con):
        level = r.get("jurisdiction_level")
        if level == "state" and r.get("state") is not None:
            by_state.setdefault(r["state"], []).append(r)
        elif level is not None and level != "state" and r.get("county_fips") is not None:
            by_county.setdefault(r["county_fips"], []).append(r)
    return (MappingProxyType({k: tuple(v) for k, v in by_state.items()}),
            MappingProxyType({k: tuple(v) for k, v in by_county.items()}))


@per_warehouse(frozen=True)
def _whole_aor_pairs(con: duckdb.DuckDBPyConnection) -> tuple[tuple[str, str], ...]:
    """(aor, state) of each AOR whose counties (in one map vintage with the counties every vintage shares) all lie
    in one state: a state place counts such an AOR's arrests by its code (places.place_filter). Read from the
    reference tables county_aor_periods and counties once per warehouse file."""
    if not ({"county_fips", "aor", "vintage"} <= table_columns(con, "county_aor_periods")
            and has_table(con, "counties")):
        return ()
    return tuple(con.execute(
        "SELECT DISTINCT aor, state FROM (SELECT v.v, p.aor, min(c.state) AS state, count(DISTINCT c.state) AS k "
        "FROM (SELECT unnest(?) AS v) v JOIN county_aor_periods p ON p.vintage IN (v.v, 'all') "
        "JOIN counties c USING (county_fips) WHERE p.aor IS NOT NULL GROUP BY 1, 2) WHERE k = 1 ORDER BY 1, 2",
        [list(AOR_MAP_VINTAGES)]).fetchall())


PEER_KEYS = {"aor": "aor", "state": "aor, res_state", "county": "res_county_fips"}  # what a peer's counts name


def _peer_counts(con: duckdb.DuckDBPyConnection, every: Compiled, level: str, columns: Columns | None,
                 within: tuple[str, ...] | None = None) -> dict[tuple, tuple[int, set[str]]]:
    """(the level's key: AOR; AOR and placed state; county) -> (counted arrests, their releases) under `every`
    (every place's counted arrests in the period): from analysis.rollups' keyed_months where it answers, else
    counted from the smallest count table holding the level's columns (or the rows). `within`: only these peers
    (values of the level's first key column)."""
    from icemonitor.analysis import rollups  # numpy: after start-up (web/app.py's warm-up)

    counts = rollups.keyed_counts(con, "arrests", level, every.where, within)
    if counts is not None:
        return counts
    kept = rollups.KEYINGS[level][3]
    among, params = rollups.keyed_within(level, within)
    r = every.rolled_up(con, PEER_KEYS[level], "release_id", columns=columns, months=True)
    out: dict[tuple, tuple[int, set[str]]] = {}
    for *key, release, n in con.execute(f"SELECT {PEER_KEYS[level]}, release_id, {r.count_sql} FROM {r.source} "
                                        f"WHERE {every.where.sql()} AND {kept} AND {among} GROUP BY ALL",
                                        [*every.where.params, *params]).fetchall():
        n0, rel = out.get(tuple(key), (0, set()))
        out[tuple(key)] = (n0 + n, rel | {release})
    return out


@per_warehouse(frozen=True)
def _peer_population(con: duckdb.DuckDBPyConnection, level: str, year: int, *key: Any
                     ) -> tuple[tuple[str, str | None, float], ...]:
    """(peer, name, non-citizen residents in `year`) of each peer with residents (a reference table, read once per
    warehouse version): every AOR of the county-to-AOR map `key` (its SQL and parameters), every state, or every
    county of the state `key`."""
    if level == "aor":
        sql, params = key
        found = con.execute(
            f"WITH c AS ({sql}) SELECT c.aor AS peer, NULL AS name, sum(p.noncitizen_pop) AS noncitizen_pop FROM c "
            "JOIN (SELECT county_fips, sum(noncitizen_pop) AS noncitizen_pop FROM population WHERE year = ? "
            "GROUP BY 1) p USING (county_fips) GROUP BY 1", [*params, year]).fetchall()
    elif level == "state":
        found = con.execute("SELECT state AS peer, NULL AS name, sum(noncitizen_pop) AS noncitizen_pop FROM population "
                            "WHERE year = ? GROUP BY 1", [year]).fetchall()
    else:
        found = con.execute("SELECT county_fips AS peer, any_value(county_name) AS name, sum(noncitizen_pop) AS "
                            "noncitizen_pop FROM population WHERE year = ? AND state = ? GROUP BY 1",
                            [year, key[0]]).fetchall()
    return tuple(r for r in found if r[0] is not None and r[2] is not None and r[2] > 0)


def peers(con: duckdb.DuckDBPyConnection, place: Any, d0: dt.date | None = None, d1: dt.date | None = None,
          ref: Any = None, columns: Columns | None = None) -> AnalysisResult:
    """Counted arrests per 10,000 non-citizen residents for the place and its peers: every AOR for an AOR, every
    state for a state, the counties of the same state for a county (ranked, `current` marks the place). No rows
    without the population table, for a named group, or where the records cover none of the period."""
    q = selected(con, place, d0, d1, ref=ref, columns=columns)
    every = selected(con, None, d0, d1, ref=ref, columns=columns)  # every place's counted arrests, placed alike
    cov = coverage(con, every)
    p = q.place
    result = dict(name="place_peers", parameters={"place": q.label, "from": d0, "to": d1, "level": getattr(p, "level", None)},
                  columns=["rank", "peer", "name", "n", "noncitizen_pop", "rate", "current"], coverage=cov.to_dict())
    year = None
    if p is not None and p.level != "group" and has_table(con, "population") and cov.countable:
        end = d1 or last_counted_date(con, "arrests")  # the last counted day (of the period: the same day)
        year = population_year(con, end)
    if year is None:
        why = msg("no peer comparison: it needs the population table, a county, state or AOR, and records for the "
                  "period")
        return AnalysisResult(**result, caveats=[why if cov.countable else cov.no_count_caveat()])
    level = p.level if p.level in ("aor", "state") else "county"
    if level == "aor":
        amap = county_aor_map(con, d1 or end)
        if amap is None:
            return AnalysisResult(**result, caveats=[msg("no peer comparison: the warehouse has no county-to-AOR map")])
        key: tuple = (amap[0], tuple(amap[1]))
    else:
        key = (p.states[0] if p.states else None,) if level == "county" else ()
    population = _peer_population(con, level, year, *key)
    counts = _peer_counts(con, every, level, columns, tuple(r[0] for r in population) if level == "county" else None)
    if level == "state":  # a state's arrests as `summary --place` selects them: placed in it, or recorded by an
        whole: dict[str, list[str]] = {}  # AOR wholly inside it (counted per AOR and state first, then placed)
        for aor, state in _whole_aor_pairs(con):
            whole.setdefault(aor, []).append(state)
        events: dict[Any, tuple[int, set[str]]] = {}
        for (aor, state), (n, rel) in counts.items():
            for peer in whole.get(aor) or [state]:
                n0, rel0 = events.get(peer, (0, set()))
                events[peer] = (n0 + n, rel0 | rel)
    else:
        events = {k[0]: v for k, v in counts.items()}
    rows = []
    for peer, name, pop in population:
        n, rel = events.get(peer, (None, None))
        if n is None and level != "county":  # a county of the state is shown without arrests, an AOR or state not
            continue
        rows.append({"peer": peer, "name": name, "n": n or 0, "noncitizen_pop": pop,
                     "rate": sql_round((n or 0) * 10000 / pop), "rel": None if rel is None else sorted(rel)})
    rows.sort(key=lambda r: (-r["rate"], r["peer"]))
    releases = _pop_releases(rows)
    for i, r in enumerate(rows):
        r["rank"] = i + 1
        r["current"] = r["peer"] == p.code
    caveats = [msg("Partial: {reason}.", reason=cov.reason)] if cov.status == "partial" else []
    return AnalysisResult(
        **result, figures=rows, releases=releases,
        definitions={"n": COUNTED,
                     "noncitizen_pop": msg("Non-citizen residents in {year} (Census ACS estimates, warehouse table "
                                           "population)", year=year),
                     "rate": msg("Counted arrests per 10,000 non-citizen residents")},
        caveats=caveats, extra={"population_year": year})
