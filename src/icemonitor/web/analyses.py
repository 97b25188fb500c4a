"""The analyses (sweeps, priorities, sanctuary status) run for the web tier, cached until the warehouse changes.

The web tier calls the same library functions as the CLI, with the same parameters, so a page, an API answer
and `icemonitor sweeps --json` agree. Results are cached per (warehouse mtime, analysis, parameters).
"""

from __future__ import annotations

import datetime as dt
import os
import threading
from collections import OrderedDict
from typing import Any, Callable

from icemonitor.messages import msg
from icemonitor.query import vocabulary
from icemonitor.query.filters import Filters, ParamError
from icemonitor.analysis.result import AnalysisResult
from icemonitor.web.db import Warehouse, caching

CACHE_SIZE = 128
_cache: OrderedDict[tuple, Any] = OrderedDict()
_lock = threading.Lock()
_running: dict[tuple, threading.Lock] = {}


def _plain(value: Any) -> Any:
    """numpy floats (a float subclass that JSON and templates print oddly) and nested values as plain Python."""
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


EARLIEST, LATEST = dt.date(1900, 1, 1), dt.date(2100, 12, 31)


def national(place: str | None) -> str | None:
    """None (the whole country) for 'US' and its synonyms, which the place parser does not take."""
    return None if vocabulary.is_nation(place) else place


def check_dates(date_from: dt.date | None, date_to: dt.date | None) -> None:
    """Dates the analyses can work with (their baselines reach back weeks before `from`)."""
    for name, d in (("from", date_from), ("to", date_to)):
        if d is not None and not EARLIEST <= d <= LATEST:
            raise ParamError(name, msg("must lie between {first} and {last}", first=EARLIEST, last=LATEST),
                             d.isoformat())


def _cached(wh: Warehouse, key: tuple, compute: Callable[[], Any]) -> Any:
    """compute() once per warehouse version and key; concurrent callers of one key wait for the first.
    With caching off (db.caching()), compute() on every call."""
    if not caching():
        return compute()
    full = (wh.mtime, *key)
    with _lock:
        if full in _cache:
            _cache.move_to_end(full)
            return _cache[full]
        gate = _running.setdefault(full, threading.Lock())
    with gate:
        with _lock:
            if full in _cache:
                return _cache[full]
        value = compute()
        with _lock:
            _cache[full] = value
            _running.pop(full, None)
            while len(_cache) > CACHE_SIZE:
                _cache.popitem(last=False)
    return value


def sweeps(wh: Warehouse, ref: Any, place: str | None = None, date_from: dt.date | None = None,
           date_to: dt.date | None = None, measure: str = "at_large", levels: tuple[str, ...] | None = None,
           limit: int = 20, release: str | None = None, fold: bool = True) -> AnalysisResult:
    """analysis.sweeps.sweeps with the CLI's defaults (FY2016-FY2019, at-large)."""
    from icemonitor.analysis.sweeps import sweeps as run

    d0 = date_from or dt.date(2015, 10, 1)
    d1 = date_to or dt.date(2019, 9, 30)
    check_dates(d0, d1)
    place = national(place)
    key = ("sweeps", place, d0, d1, measure, levels, limit, release, fold)

    def compute() -> AnalysisResult:
        res = run(wh.cursor(), place=place, date_from=d0, date_to=d1, measure=measure, levels=levels, limit=limit,
                  release=release, fold_echoes=fold, ref=ref)
        res.figures = [_plain(f) for f in res.figures]
        for f in res.figures:
            f["known_as"] = _known_as(f)
        return res

    return _cached(wh, key, compute)


def _known_as(f: dict[str, Any]) -> str | None:
    """The announced operation or known event that explains a sweep (analysis.validation.explain), if any."""
    from icemonitor.analysis.validation import explain

    row = dict(f)
    for k in ("start", "end"):
        if isinstance(row.get(k), str):
            row[k] = dt.date.fromisoformat(row[k])
    try:
        return explain(row) or None
    except Exception:  # an explanation is context; a sweep without one is still shown
        return None


def priorities(wh: Warehouse, ref: Any, table: str = "arrests", place: str | None = None,
               date_from: dt.date | None = None, date_to: dt.date | None = None, by: str = "fy") -> AnalysisResult:
    from icemonitor.analysis.priorities import priorities as run

    check_dates(date_from, date_to)
    place = national(place)
    key = ("priorities", table, place, date_from, date_to, by)
    return _cached(wh, key, lambda: run(wh.cursor(), table=table, place=place, date_from=date_from,
                                        date_to=date_to, period=by, ref=ref))


def place_status(wh: Warehouse, ref: Any, place: str, date: dt.date, definition: str | None):
    """places.sanctuary.status (reads the policy files through `ref`)."""
    from icemonitor.places.sanctuary import status

    key = ("status", place, date, definition)
    return _cached(wh, key, lambda: status(place, date, definition, ref))


def parse_place(wh: Warehouse, ref: Any, text: str):
    """places.place_filter.parse_place, cached."""
    from icemonitor.places.place_names import parse_place as run

    return _cached(wh, ("place", text.strip()), lambda: run(text, ref))


def clear() -> None:
    with _lock:
        _cache.clear()


def targeting(wh: Warehouse, definition: str | None, date_from: dt.date | None, date_to: dt.date | None,
              level: str = "aor", period: str = "month") -> AnalysisResult:
    """analysis.targeting.targeting (the CLI's `icemonitor targeting`), cached."""
    from icemonitor.analysis.targeting import targeting as run

    date_from, date_to = date_from or dt.date(2015, 10, 1), date_to or dt.date(2019, 9, 30)
    check_dates(date_from, date_to)
    key = ("targeting", definition, date_from, date_to, level, period)

    def compute() -> AnalysisResult:
        res = run(wh.cursor(), definition=definition, date_from=date_from, date_to=date_to, level=level,
                  period=period)
        res.figures = [_plain(f) for f in res.figures]
        res.extra = _plain(res.extra)
        return res

    return _cached(wh, key, compute)


MAX_CLAIMS_BYTES = 256 * 1024
MAX_CLAIMS = 50  # claims per request: each one runs a few queries over the event tables
CHECK_SECONDS = float(os.environ.get("ICEMONITOR_CHECK_SECONDS", "10"))  # wall time one request may check for
CHECKS_AT_ONCE = threading.BoundedSemaphore(2)  # claim checks running at once (the rest wait, then get 503)


class Busy(Exception):
    """Every claim-check slot stayed taken for CHECK_SECONDS: the server answers 503 with Retry-After."""


def check_claims(wh: Warehouse, ref: Any, text: str) -> AnalysisResult:
    """analysis.claims over a claims document (YAML or JSON text; no aliases, at most MAX_CLAIMS claims, checked
    for at most CHECK_SECONDS), cached by its text."""
    from icemonitor.analysis.claims import check_parsed, parse_claims

    source, claims = parse_claims(text, "the claims file", MAX_CLAIMS)

    def compute() -> AnalysisResult:
        if not CHECKS_AT_ONCE.acquire(timeout=CHECK_SECONDS):
            raise Busy
        try:
            res = check_parsed(wh.cursor(), source, claims, ref, {"file": "(uploaded)", "source": source},
                               seconds=CHECK_SECONDS)
        finally:
            CHECKS_AT_ONCE.release()
        res.figures = [_plain(f) for f in res.figures]
        return res

    return _cached(wh, ("check", text), compute)


def coverage(wh: Warehouse, ref: Any, place: Any, date_from: dt.date | None, date_to: dt.date | None,
             table: str = "arrests", filters: dict[str, str | None] | None = None) -> dict[str, Any]:
    """What the records cover of a place and period (query.coverage), as the CLI and API give it. `place`: what
    a person typed, or a Place the page already read (a code in a page's path is literal: /place/LA is Louisiana).
    An AOR code needs no reference files; other places take `ref` (the app's resolver)."""
    from icemonitor.query.coverage import coverage as cover
    from icemonitor.query.selection import Selection

    kept = tuple(sorted((k, v) for k, v in (filters or {}).items() if v))
    key = ("coverage", table, getattr(place, "level", None), getattr(place, "code", place), date_from, date_to, kept)

    def compute() -> dict[str, Any]:
        con = wh.cursor()
        sel = Selection.of(table, date_from, date_to, place if not isinstance(place, str) else national(place),
                           dict(kept))
        return cover(con, sel.compile(con, ref)).to_dict()

    return _cached(wh, key, compute)


def records_reach(wh: Warehouse, table: str = "arrests") -> list[dict[str, Any]]:
    """How far a table's records reach, per release (query.coverage.records_reach)."""
    from icemonitor.query.coverage import records_reach as reach

    return _cached(wh, ("records_reach", table), lambda: reach(wh.cursor(), table))


def app_ref(request: Any) -> Any:
    """The app's reference resolver, else the one of the folder the warehouse was built in."""
    ref = request.app.state.ref
    if ref is None:
        from icemonitor.query.selection import reference_for

        ref = reference_for(request.app.state.warehouse.cursor())
    return ref


def summary(wh: Warehouse, ref: Any, table: str, by: list[str], date_from: dt.date | None, date_to: dt.date | None,
            place: str | None, filters: dict[str, str | None]) -> AnalysisResult:
    """analysis.summary.summary (the CLI's `summary`), cached per warehouse version."""
    from icemonitor.analysis.summary import summary as run

    kept = tuple(sorted((k, v) for k, v in filters.items() if v))
    key = ("summary", table, tuple(by), date_from, date_to, place, kept)
    return _cached(wh, key, lambda: run(wh.cursor(), table, by, date_from, date_to, national(place), dict(kept),
                                        ref=ref))


# -- the dashboard's figures (analysis.overview) and what the warehouse holds (analysis.holdings) -----------------

def counts(wh: Warehouse, f: Filters, by: list[str]) -> AnalysisResult:
    """analysis.overview.counts: counted events grouped by `by`, with the coverage of the period and AOR."""
    from icemonitor.analysis.overview import counts as run

    return _cached(wh, ("counts", f, tuple(by)), lambda: run(wh.cursor(), f, by, wh.columns))


def one_of_each_place(wh: Warehouse) -> tuple[str, ...]:
    """analysis.overview.one_of_each_place: a county, its AOR and its state (the warm-up's place pages)."""
    from icemonitor.analysis.overview import one_of_each_place as run

    return run(wh.cursor())


def release_spans(wh: Warehouse, f: Filters) -> AnalysisResult:
    from icemonitor.analysis.overview import release_spans as run

    return _cached(wh, ("release_spans", f), lambda: run(wh.cursor(), f, wh.columns))


def partial_months(wh: Warehouse, f: Filters) -> AnalysisResult:
    from icemonitor.analysis.overview import partial_months as run

    return _cached(wh, ("partial_months", f), lambda: run(wh.cursor(), f, wh.columns))


def criminality_fields(wh: Warehouse, f: Filters) -> AnalysisResult:
    from icemonitor.analysis.overview import criminality_fields as run

    return _cached(wh, ("criminality_fields", f), lambda: run(wh.cursor(), f, wh.columns))


def last_event_date(wh: Warehouse, f: Filters) -> dt.date | None:
    from icemonitor.analysis.overview import last_event_date as run

    return _cached(wh, ("last_event_date", f), lambda: run(wh.cursor(), f, wh.columns))


def aor_map(wh: Warehouse, f: Filters, by_aor: AnalysisResult | None = None) -> AnalysisResult:
    """analysis.overview.aor_map; `by_aor`: counts(f, ["aor"]) if the caller has it (not counted twice)."""
    from icemonitor.analysis.overview import aor_map as run

    return _cached(wh, ("aor_map", f), lambda: run(wh.cursor(), f, wh.columns, by_aor))


def county_rates(wh: Warehouse, f: Filters, by_aor: AnalysisResult | None = None) -> AnalysisResult:
    """analysis.overview.county_rates; `by_aor` as for aor_map."""
    from icemonitor.analysis.overview import county_rates as run

    return _cached(wh, ("county_rates", f), lambda: run(wh.cursor(), f, wh.columns, by_aor))


def event_tables(wh: Warehouse) -> list[str]:
    from icemonitor.analysis.holdings import event_tables as run

    return _cached(wh, ("event_tables",), lambda: run(wh.cursor(), wh.columns))


def aors(wh: Warehouse, table: str = "arrests") -> list[str]:
    from icemonitor.analysis.holdings import aors as run

    return _cached(wh, ("aors", table), lambda: run(wh.cursor(), table, wh.columns))


def table_coverage(wh: Warehouse) -> AnalysisResult:
    from icemonitor.analysis.holdings import table_coverage as run

    return _cached(wh, ("table_coverage",), lambda: run(wh.cursor(), wh.columns))


def loaded_releases(wh: Warehouse) -> list[dict[str, Any]]:
    from icemonitor.analysis.holdings import loaded_releases as run

    return _cached(wh, ("loaded_releases",), lambda: run(wh.cursor(), wh.columns))


def method_codes(wh: Warehouse, table: str) -> dict[str, list[str]]:
    from icemonitor.analysis.holdings import method_codes as run

    return _cached(wh, ("method_codes", table), lambda: run(wh.cursor(), table, wh.columns))


PLACE_PROFILE = ("trend", "method_mix", "criminality", "resolution", "policies", "peers")


def place_profile(wh: Warehouse, ref: Any, part: str, place: Any, date_from: dt.date | None = None,
                  date_to: dt.date | None = None) -> AnalysisResult:
    """One figure of a place's profile (analysis.place_profile: trend, method_mix, criminality, resolution, policies,
    peers) for a Place or what a person typed, cached per warehouse version."""
    from icemonitor.analysis import place_profile as profile

    if part not in PLACE_PROFILE:
        raise ValueError(part)
    check_dates(date_from, date_to)
    key = ("place_profile", part, getattr(place, "level", None), getattr(place, "code", place), date_from, date_to)

    def compute() -> AnalysisResult:
        if part == "policies":
            return profile.policies(wh.cursor(), place, ref)
        return getattr(profile, part)(wh.cursor(), place, date_from, date_to, ref=ref, columns=wh.columns)

    return _cached(wh, key, compute)


def place_profile_counts(wh: Warehouse, ref: Any, place: Any, date_from: dt.date | None = None,
                         date_to: dt.date | None = None, with_resolution: bool = False) -> dict[str, AnalysisResult]:
    """place_profile's trend, method_mix and criminality (and resolution, `with_resolution`), each cached under its
    own key, computed together from one scan where any is not cached (analysis.place_profile.counted_parts)."""
    from icemonitor.analysis import place_profile as profile

    check_dates(date_from, date_to)
    together: dict[str, AnalysisResult] = {}

    def part(name: str) -> AnalysisResult:
        def compute() -> AnalysisResult:
            if not together:
                together.update(profile.counted_parts(wh.cursor(), place, date_from, date_to, ref=ref,
                                                      columns=wh.columns, with_resolution=with_resolution))
            return together[name]

        key = ("place_profile", name, getattr(place, "level", None), getattr(place, "code", place), date_from, date_to)
        return _cached(wh, key, compute)

    return {name: part(name) for name in (*profile.COUNTED_PARTS, *(["resolution"] if with_resolution else []))}


def sweep_days(wh: Warehouse, ref: Any, level: str, place: str, measure: str, start: dt.date,
               end: dt.date) -> AnalysisResult:
    """analysis.sweep_days.sweep_days (a sweep page's daily counts around the sweep), cached."""
    from icemonitor.analysis.sweep_days import sweep_days as run

    key = ("sweep_days", level, place, measure, start, end)
    return _cached(wh, key, lambda: run(wh.cursor(), level, place, measure, start, end, ref, wh.columns))


def detention_in_place(wh: Warehouse, label: str, county_fips: tuple[str, ...]) -> AnalysisResult:
    """analysis.detention.in_place (a place page's detention section), cached per warehouse version as the page's
    other figures are."""
    from icemonitor.analysis.detention import in_place as run

    fips = tuple(county_fips)
    return _cached(wh, ("detention_in_place", label, fips), lambda: run(wh.cursor(), label, fips))
