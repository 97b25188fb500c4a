"""What the records cover of a selection, from the build's coverage tables (warehouse/coverage.py).

A place and period is a grid of AOR-days: the place's AORs (every territorial AOR with records for the nation)
by the days of the period. An AOR-day is covered when a release whose rows the selection counts has records for
that AOR around that day (coverage_spans) and, where the release records only one state, the place lies in that
state. A field the selection filters or measures on must be recorded by the release (coverage_fields), or the
release's AOR-days are not covered for this selection. A release the catalog declares a subset of people or cases
(coverage_subsets, e.g. people later detained in Washington) never covers an AOR-day, nor does a one-state release
cover a larger place (an AOR or the nation holding that state): where only such records meet the selection, the
status is `subset`: no total, and the count of its rows is stated as a lower bound.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from types import MappingProxyType
from typing import Any, Mapping

import duckdb

from icemonitor.messages import DateSpan, Given, msg, semicolons  # noqa: F401 - semicolons: here since #11
from icemonitor.query import vocabulary
from icemonitor.query.selection import Compiled, has_table, per_warehouse

SPANS, FIELDS, SUBSETS = "coverage_spans", "coverage_fields", "coverage_subsets"


@dataclass
class Coverage:
    """How much of a selection's period and place the records cover."""

    # full | partial | none | subset (only records of subset releases: not countable, a lower bound) | unknown (a
    # warehouse built before coverage was recorded)
    status: str
    share: float | None  # covered AOR-days / all AOR-days of the period and place
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    aors: list[str] = field(default_factory=list)
    covered_spans: list[dict[str, Any]] = field(default_factory=list)
    uncovered_spans: list[dict[str, Any]] = field(default_factory=list)
    fields_not_recorded: dict[str, list[str]] = field(default_factory=dict)  # field -> releases without it
    releases: list[str] = field(default_factory=list)
    reason: str = ""
    records_reach: str = ""  # how far the table's records reach (reach_text), for every figure's data age
    reach: list[dict[str, Any]] = field(default_factory=list)  # the same, one row per release (records_reach())
    # subset releases with records in the place and period: {release, en, es} (what their rows are, in words)
    subsets: list[dict[str, str]] = field(default_factory=list)
    lower_bound: int | None = None  # status `subset`: the rows the selection counts, a lower bound, not a total

    @property
    def countable(self) -> bool:
        """Whether a count can be given at all (full or partial coverage, or coverage unknown)."""
        return self.status not in ("none", "subset")

    def no_count_caveat(self) -> Any:
        """The caveat of a figure with no count: no records, or records of a subset only (a lower bound)."""
        if self.status == "subset":
            what = _subset_words(self.subsets)
            if self.lower_bound is None:
                return msg("Not countable ({what}). These records hold only part of the events: there is no total.",
                           what=what)
            return msg("Not countable: {n:,} is a lower bound ({what}). These records hold only part of the events: "
                       "there is no total.", n=self.lower_bound, what=what)
        return msg("No records: {why}. There is no count for this question (not zero).", why=self.reason)

    def to_dict(self) -> dict[str, Any]:
        """The fields as a dict (from/to for the dates), lists and dicts copied (what asdict gives, without its
        generic recursion: a figure's coverage is converted on every request)."""
        d = {f.name: _copied(getattr(self, f.name)) for f in dataclass_fields(self)}
        d["from"], d["to"] = d.pop("date_from"), d.pop("date_to")
        return d


def _copied(value: Any) -> Any:
    """A copy of lists and dicts of plain values (a Coverage's fields), as dataclasses.asdict copies them."""
    if isinstance(value, list):
        return [_copied(v) for v in value]
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    return value


def _fmt(d: dt.date) -> str:
    return d.isoformat()


def _span_text(spans: list[dict[str, Any]], limit: int = 4) -> Any:
    """The first `limit` spans ('Apr 6 – Jun 10, 2025 (LOS)'; dates in the reader's language), then how many more."""
    if not spans:
        return ""
    parts = semicolons([msg("{span} ({aors})", span=DateSpan(s["from"], s["to"]), aors=", ".join(s["aors"]))
                        if s.get("aors") else DateSpan(s["from"], s["to"]) for s in spans[:limit]])
    more = len(spans) - limit
    return msg("{spans}; and {more} more", spans=parts, more=more) if more > 0 else parts


# The per-warehouse readers below are `frozen`: every caller gets the one cached value, read-only (tuples,
# frozensets, MappingProxyType), not a copy made for each figure (tests/test_coverage.py tries to change them).

@per_warehouse(frozen=True)
def aor_states(con: duckdb.DuckDBPyConnection) -> Mapping[str, frozenset[str]]:
    """AOR -> the states of its counties (any map vintage), from the places tables of the build."""
    if not (has_table(con, "county_aor_periods") and has_table(con, "counties")):
        return MappingProxyType({})
    rows = con.execute("SELECT p.aor, c.state FROM county_aor_periods p JOIN counties c USING (county_fips) "
                       "WHERE p.aor IS NOT NULL AND c.state IS NOT NULL GROUP BY ALL").fetchall()
    out: dict[str, set[str]] = {}
    for a, s in rows:
        out.setdefault(a, set()).add(s)
    return MappingProxyType({a: frozenset(s) for a, s in out.items()})


@per_warehouse(frozen=True)
def covered_aors(con: duckdb.DuckDBPyConnection) -> tuple[str, ...]:
    """Territorial AORs any release has records for (what 'every AOR' means for the nation)."""
    seen = {r[0] for r in con.execute(f"SELECT DISTINCT aor FROM {SPANS}").fetchall()}
    if None in seen:  # a release that records no AOR covers the whole nation
        return tuple(vocabulary.territorial_aors())
    return tuple(a for a in vocabulary.territorial_aors() if a in seen)


@per_warehouse(frozen=True)
def aor_periods(con: duckdb.DuckDBPyConnection) -> tuple[tuple[str, str, Any, Any], ...]:
    """(county_fips, aor, valid_from, valid_to) of the places stage's county_aor_periods (AORs change, e.g.
    Harlingen split from San Antonio in FY2022), read once per warehouse file; empty without the table."""
    if not has_table(con, "county_aor_periods"):
        return ()
    return tuple(con.execute("SELECT county_fips, aor, valid_from, valid_to FROM county_aor_periods "
                             "WHERE aor IS NOT NULL GROUP BY ALL").fetchall())


def _place_periods(con: duckdb.DuckDBPyConnection, place: Any) -> list[tuple[str, Any, Any]]:
    """(aor, valid_from, valid_to) of the AORs holding a county of the place, each period once."""
    fips = set(place.county_fips)
    return list(dict.fromkeys((a, v0, v1) for f, a, v0, v1 in aor_periods(con) if f in fips))


def _applies(con: duckdb.DuckDBPyConnection, place: Any, aors: list[str], days: np.ndarray) -> np.ndarray:
    """(AOR, day) -> the AOR holds part of the place that day (county_aor_periods: AORs change, e.g. Harlingen
    split from San Antonio in FY2022). An AOR place, the nation, or a warehouse without the table: every day."""
    import numpy as np  # here, not at import: a server answers before it has loaded numpy (web/app.py's warm-up)

    out = np.ones((len(aors), len(days)), dtype=bool)
    if (not len(days) or place is None or place.level == "aor" or not place.county_fips
            or not has_table(con, "county_aor_periods")):
        return out
    rows = _place_periods(con, place)
    out[:] = False
    aidx = {a: i for i, a in enumerate(aors)}
    for a, v0, v1 in rows:
        if a in aidx:
            lo = np.datetime64(v0, "D") if v0 else days[0]
            hi = np.datetime64(v1, "D") if v1 else days[-1]
            out[aidx[a]] |= (days >= lo) & (days <= hi)
    return out


def _applies_days(con: duckdb.DuckDBPyConnection, place: Any, aors: list[str], lo: dt.date, hi: dt.date) -> int:
    """How many AOR-days of [lo, hi] count for the place (as _applies, by interval arithmetic)."""
    days = (hi - lo).days + 1
    if place is None or place.level == "aor" or not place.county_fips or not has_table(con, "county_aor_periods"):
        return len(aors) * days
    rows = _place_periods(con, place)
    total = 0
    for a in aors:
        spans = sorted((max(v0 or lo, lo), min(v1 or hi, hi)) for x, v0, v1 in rows if x == a)
        end = lo - dt.timedelta(days=1)
        for s0, s1 in spans:  # the union of the AOR's periods within [lo, hi]
            s0 = max(s0, end + dt.timedelta(days=1))
            if s1 >= s0:
                total += (s1 - s0).days + 1
                end = s1
    return total


def _runs(mask: np.ndarray, aors: list[str], days: np.ndarray) -> list[tuple[tuple[str, ...], dt.date, dt.date]]:
    """Runs of consecutive days on which the same AORs are set in `mask` (AOR x day): (those AORs, first day,
    last day). Vectorised: a period of years costs a few array passes, not a Python loop per day and AOR."""
    import numpy as np

    if not len(days):
        return []
    change = np.flatnonzero(np.any(mask[:, 1:] != mask[:, :-1], axis=0)) + 1
    starts = np.concatenate(([0], change))
    ends = np.concatenate((change, [len(days)])) - 1
    return [(tuple(a for a, on in zip(aors, mask[:, s]) if on), days[s].astype(dt.date), days[e].astype(dt.date))
            for s, e in zip(starts, ends)]


def coverage(con: duckdb.DuckDBPyConnection, q: Compiled) -> Coverage:
    """The coverage of a compiled selection (module docstring); where only subset releases have records, the
    selection's count as the lower bound."""
    sel = q.selection
    cov = coverage_of(con, sel.table, sel.date_from, sel.date_to, q.place, q.label, q.fields, sel.release,
                      dict(sel.filters).get("release"))
    if cov.status == "subset":
        cov.lower_bound = q.count(con)
        cov.reason = subset_text(cov.lower_bound, cov.subsets)
    return cov


def _subset_words(subsets: list[dict[str, str]]) -> Any:
    """What the subset releases' rows are, in the catalog's own words in each language."""
    return semicolons([Given(s["en"], es=s["es"]) for s in subsets])


def subset_text(n: int | None, subsets: list[dict[str, str]]) -> Any:
    """'not countable; 4 is a lower bound (only people later detained in Washington)' (the catalog's `subset`
    words in each language)."""
    what = _subset_words(subsets)
    return (msg("not countable; {n:,} is a lower bound ({what})", n=n, what=what) if n is not None else
            msg("not countable ({what})", what=what))


@per_warehouse(frozen=True)
def subset_releases(con: duckdb.DuckDBPyConnection) -> Mapping[str, Mapping[str, str]]:
    """release -> {release, en, es} for releases the catalog declares a subset of people or cases."""
    if not has_table(con, SUBSETS):
        return MappingProxyType({})
    return MappingProxyType({r: MappingProxyType({"release": r, "en": en, "es": es}) for r, en, es in con.execute(
        f"SELECT release_id, what_en, what_es FROM {SUBSETS}").fetchall()})


def coverage_of(con: duckdb.DuckDBPyConnection, table: str, d0: dt.date | None, d1: dt.date | None, place: Any,
                label: str, fields: tuple[str, ...] | list[str] = (), release: str | None = None,
                releases_filter: tuple[str, ...] | list[str] | None = None) -> Coverage:
    """Coverage of `table` for a place (places' Place, None for the nation) and period, where the figure uses
    `fields`; counted rows, or `release`'s own rows; `releases_filter` keeps only those releases.

    Worked out for every question from the build's coverage tables (kept per warehouse version: metadata); the
    answer itself is never kept, as no figure is when the web tier's answer caches are off."""
    import numpy as np

    if not has_table(con, SPANS):
        return Coverage("unknown", None, d0, d1,
                        reason=msg("this warehouse was built without coverage tables; rebuild it"))
    # the table's spans whose rows the selection counts: counted rows, or one release's own
    kept = [s for s in table_spans(con, table) if (s[5] if release is None else s[0] == release)
            and (not releases_filter or s[0] in releases_filter)]
    if d0 is None or d1 is None:
        lo = min((s[3] for s in kept if s[3] is not None), default=None)
        hi = max((s[4] for s in kept if s[4] is not None), default=None)
        d0, d1 = d0 or lo, d1 or hi
    if d0 is None or d1 is None or d1 < d0:
        return Coverage("none", 0.0, d0, d1, reason=msg("no records of {table} at all", table=table),
                        records_reach=reach_text([], table))
    if place is None:
        aors = list(covered_aors(con))
    elif place.level == "aor":
        aors = [place.code]
    else:
        aors = sorted(place.aors)
    states_of = aor_states(con)
    place_states = set(place.states) if place is not None and place.level != "aor" else None
    spans = [s[:5] for s in kept if s[4] is not None and s[3] is not None and s[4] >= d0 and s[3] <= d1]
    missing_fields: dict[str, set[str]] = {}
    for t, f, rid in unrecorded_fields(con) if fields else ():
        if t == table and f in fields:
            missing_fields.setdefault(f, set()).add(rid)
    lacking = set().union(*missing_fields.values()) if missing_fields else set()
    # the grid spans only the days some span reaches; days before and after are uncovered, counted arithmetically
    # (a period of centuries costs no more than the records it meets)
    g0 = max(d0, min(s[3] for s in spans)) if spans else d0
    g1 = min(d1, max(s[4] for s in spans)) if spans else d0 - dt.timedelta(days=1)
    days = np.arange(np.datetime64(g0, "D"), np.datetime64(g1, "D") + 1)
    aidx = {a: i for i, a in enumerate(aors)}
    records = np.zeros((len(aors), len(days)), dtype=bool)
    usable = np.zeros_like(records)
    used_releases, field_gaps, subsets_met = set(), {}, {}
    subset_of = subset_releases(con)
    applies = _applies(con, place, aors, days)  # an AOR counts only on days it holds part of the place
    for rid, aor, state, s0, s1 in spans:
        if aor is None and place is None:  # a release with no AOR: it covers the nation, never a place within it
            rows_of = slice(None)
        elif aor in aidx:
            rows_of = aidx[aor]
        else:
            continue
        # the span's days on the grid, a slice (every span in `spans` meets the grid)
        on = slice(max(0, (s0 - g0).days), (s1 - g0).days + 1)
        if state is not None:  # a release limited to one state covers the part of the place in that state
            inside = place_states if place_states is not None else states_of.get(aor)
            # an AOR whose states the warehouse does not know (built without the places stage) is taken as covered
            if inside is not None and (not inside or not inside <= {state}):
                if state in inside and applies[rows_of, on].any():  # a larger place: its rows, a lower bound
                    subsets_met.setdefault(rid, {"release": rid, "en": f"only events in {state}",
                                                 "es": f"solo hechos en {state}"})
                continue
        if rid in subset_of:  # records of some people only: never a covered AOR-day
            if applies[rows_of, on].any():
                subsets_met[rid] = dict(subset_of[rid])
            continue
        records[rows_of, on] = True
        if rid in lacking:
            for f, rids in missing_fields.items():
                if rid in rids:
                    field_gaps.setdefault(f, set()).add(rid)
        else:
            usable[rows_of, on] = True
            used_releases.add(rid)
    usable &= applies
    outside = [(d0, g0 - dt.timedelta(days=1)), (g1 + dt.timedelta(days=1), d1)] if len(days) else [(d0, d1)]
    outside = [(a, b) for a, b in outside if a <= b]
    n = int(applies.sum()) + sum(_applies_days(con, place, aors, a, b) for a, b in outside)
    share = float(usable.sum() / n) if n else 0.0
    covered = _runs(usable, aors, days)
    missing = _runs(applies & ~usable, aors, days)
    covered_spans = [{"from": _fmt(a), "to": _fmt(b), "aors": list(k) if len(k) < len(aors) else []}
                     for k, a, b in covered if k]
    uncovered_spans = [{"from": _fmt(a), "to": _fmt(b), "aors": list(k) if len(k) < len(aors) else []}
                       for k, a, b in missing if k]
    uncovered_spans = sorted(uncovered_spans + [{"from": _fmt(a), "to": _fmt(b), "aors": []} for a, b in outside],
                             key=lambda s: s["from"])
    not_recorded = {f: sorted(r) for f, r in field_gaps.items()}
    where = lambda: msg("{place}, {span}", place=label, span=DateSpan(d0, d1))  # noqa: E731 - made only where a reason says it
    unrecorded = [msg("{field} is not recorded in {releases}", field=f, releases=", ".join(r))
                  for f, r in not_recorded.items()]
    subsets = [subsets_met[r] for r in sorted(subsets_met)]
    met = bool((records & applies).any())
    if not met and subsets:
        status, reason = "subset", subset_text(None, subsets)
    elif not met:
        status, reason = "none", msg("no records of {table} for {where}", table=table, where=where())
    elif share == 0:
        status = "none"
        reason = (semicolons(unrecorded) if unrecorded else
                  msg("no usable records of {table} for {where}", table=table, where=where()))
    elif share < 1:
        status = "partial"
        reason = msg("records cover {share:.0%} of {where} (AOR-days); covered: {spans}{unrecorded}", share=share,
                     where=where(), spans=_span_text(covered_spans),
                     unrecorded=msg("; {reasons}", reasons=semicolons(unrecorded)) if unrecorded else "")
    else:
        status, reason = "full", ""
    if subsets and status in ("partial", "full"):
        reason = semicolons(([reason] if reason else []) + [
            msg("rows of {release} ({what}) are counted too, a lower bound where no other release covers them",
                release=s["release"], what=_subset_words([s])) for s in subsets])
    reach, reach_line = _reach(con, table)
    return Coverage(status, round(share, 4), d0, d1, aors, covered_spans, uncovered_spans, not_recorded,
                    sorted(used_releases), reason, reach_line, [_thawed(r) for r in reach], subsets)


@per_warehouse(frozen=True)
def _reach(con: duckdb.DuckDBPyConnection, table: str) -> tuple[tuple[Mapping[str, Any], ...], Any]:
    """records_reach (read-only) and its line of text (reach_text), made once per warehouse file for every figure's
    data age."""
    reach = records_reach(con, table)
    return tuple(_frozen(r) for r in reach), reach_text(reach, table)


def _frozen(value: Any) -> Any:
    """Dicts and lists of plain values as read-only mappings and tuples (what a frozen reader keeps)."""
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


def _thawed(value: Any) -> Any:
    """A caller's own copy of a _frozen value: dicts and lists again."""
    if isinstance(value, MappingProxyType):
        return {k: _thawed(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_thawed(v) for v in value]
    return value


@per_warehouse(frozen=True)
def table_spans(con: duckdb.DuckDBPyConnection, table: str) -> tuple[tuple[Any, ...], ...]:
    """(release_id, aor, state, span_from, span_to, counted) of the table's coverage spans (the build's
    coverage_spans, a few rows per release and AOR), read once per warehouse file."""
    return tuple(con.execute(f"SELECT release_id, aor, state, span_from, span_to, counted FROM {SPANS} "
                             "WHERE table_name = ?", [table]).fetchall())


@per_warehouse(frozen=True)
def unrecorded_fields(con: duckdb.DuckDBPyConnection) -> tuple[tuple[str, str, str], ...]:
    """(table, field, release) for each field a release does not record (the build's coverage_fields)."""
    if not has_table(con, FIELDS):
        return ()
    return tuple(con.execute(f"SELECT table_name, field, release_id FROM {FIELDS} WHERE NOT recorded").fetchall())


@per_warehouse
def records_reach(con: duckdb.DuckDBPyConnection, table: str = "arrests") -> list[dict[str, Any]]:
    """How far a table's counted records reach: one row per release, nationwide (>= 3/4 of the AORs with
    records) or per AOR, with first and last day and the days with records."""
    if not has_table(con, SPANS):
        return []
    every = covered_aors(con)
    rows = con.execute(  # days with records: the most of any one AOR (an AOR's days, not AOR-days)
        f"SELECT release_id, list_sort(list(aor)), min(d0), max(d1), max(n), any_value(state) FROM ("
        f"  SELECT release_id, aor, min(span_from) AS d0, max(span_to) AS d1, sum(days_with_records) AS n, "
        f"  any_value(state) AS state FROM {SPANS} WHERE table_name = ? AND counted GROUP BY release_id, aor) "
        f"GROUP BY release_id ORDER BY 3", [table]).fetchall()
    out, subsets = [], subset_releases(con)
    for rid, aors, d0, d1, ndays, state in rows:
        territorial = [a for a in aors if a in every]
        nationwide = len(every) > 0 and len(territorial) >= 0.75 * len(every)
        out.append({"table": table, "release": rid, "scope": "nationwide" if nationwide else "aor",
                    "aors": [] if nationwide else territorial, "state": state, "from": d0, "to": d1,
                    "days_with_records": int(ndays), "subset": dict(subsets[rid]) if rid in subsets else None})
    return out


def reach_text(reach: list[dict[str, Any]], table: str = "arrests") -> str:
    """One line (a message): "arrests records reach: nationwide Oct 1, 2015 – Sep 1, 2019 (...); AOR LOS Jun 1–10,
    2025 (...)", dates in the reader's language."""
    if not reach:
        return msg("{table} records: none loaded", table=table)
    parts = [msg("{where} {span} (up to {n:,} days with records per AOR, {release}{subset})",
                 where=msg("nationwide") if r["scope"] == "nationwide" else msg("AOR {codes}", codes=", ".join(r["aors"])),
                 span=DateSpan(r["from"], r["to"]), n=r["days_with_records"], release=r["release"],
                 subset=msg("; a subset: {what}", what=_subset_words([r["subset"]])) if r.get("subset") else "")
             for r in reach]
    return msg("{table} records reach: {parts}", table=table, parts=semicolons(parts))


def gap_runs(days: list[dict[str, Any]], key: str) -> list[tuple[str, str]]:
    """Runs of chart days whose `key` is None (no records) as (first day, the day after the run), ISO dates."""
    out: list[list[str]] = []
    for r in days:
        if r[key] is not None:
            continue
        end = (dt.date.fromisoformat(r["day"]) + dt.timedelta(days=1)).isoformat()
        if out and out[-1][1] == r["day"]:
            out[-1][1] = end
        else:
            out.append([r["day"], end])
    return [(a, b) for a, b in out]
