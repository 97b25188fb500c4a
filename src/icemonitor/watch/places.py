"""Which events a watch covers: its place, selected as every interface selects it (query.Selection: counted rows,
event placements; WatchPlace.select), so a watch on a place counts what `icemonitor summary --place` counts.

US and AOR codes (one or a comma list) need nothing else. States, counties, county names and named groups are
parsed by the places stage (icemonitor.places.place_names.parse_place, given the reference files) and filter
on the landmark resolution (res_state, res_county_fips via icemonitor.analysis.common.event_source), so they need
that resolution in the warehouse; without it they are refused rather than silently matching nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import datetime as dt
from typing import Any

import duckdb

from icemonitor.errors import InputError
from icemonitor.messages import msg, semicolons
from icemonitor.query import vocabulary
from icemonitor.query.selection import Compiled, Selection


@dataclass(frozen=True)
class WatchPlace:
    text: str  # as stored with the watch (normalised)
    label: str  # display text: a message where the languages say it differently (str: its English)
    sql: str  # a WHERE fragment with ? parameters
    params: tuple[str, ...]
    level: str = "aor"  # national / aor / state / county / counties / group
    source: str = "arrests"  # FROM clause the filter applies to
    ref: Callable[[str], Path] | None = field(default=None, compare=False, repr=False)  # reference files
    place: Any = field(default=None, compare=False, repr=False)  # the parsed Place (state, county, group; counties:
    # a tuple of them)

    def select(self, con: duckdb.DuckDBPyConnection, d0: dt.date | None = None, d1: dt.date | None = None,
               measure: str = "all", filters: dict[str, Any] | None = None) -> Compiled:
        """The watch's counted arrests in [d0, d1] (query.Selection; AORs as a column filter; a set of counties as
        the union of their filters)."""
        f = dict(filters or {})
        if self.level == "aor":
            f["aor"] = list(self.params)
        q = Selection.of("arrests", d0, d1, self.place if self.level not in ("national", "aor", "counties") else None,
                         f, measure).compile(con, self.ref)
        if self.level == "counties":
            q.where.add(self.sql, *self.params)
        return q

    def coverage_places(self) -> list[Any] | None:
        """The places whose coverage a figure of this watch needs where its selection does not name them (a set of
        counties, filtered by hand); None: the selection's own place, AORs or nation."""
        return list(self.place) if self.level == "counties" else None


def parse(
    place: str, con: duckdb.DuckDBPyConnection | None = None, ref: Callable[[str], Path] | None = None
) -> WatchPlace:
    """Parse a watch's place; with `con`, AOR codes are checked against the warehouse's arrests."""
    raw = (place or "").strip()
    text = raw.upper()
    if not text:
        raise InputError(msg("give a place: US or an AOR code such as LOS"), field="place", value=place)
    if vocabulary.is_nation(text):  # the same words for the whole country as every other interface
        return WatchPlace("US", vocabulary.nation_label(), "TRUE", (), level="national", ref=ref)
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if all(re.fullmatch(r"[A-Z]{3}", c) for c in codes):
        return _aors(codes, con, place, ref)
    return _resolved(raw, con, ref)


def _aors(codes: list[str], con, place: str, ref=None) -> WatchPlace:
    if con is not None:
        from icemonitor.analysis.holdings import aors

        known = set(aors(con, "arrests"))
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise InputError(
                msg("no arrests in the warehouse for AOR {codes} (known: {known})", codes=", ".join(unknown),
                    known=", ".join(sorted(known))),
                field="place", value=place,
            )
    codes = sorted(set(codes))
    marks = ", ".join("?" for _ in codes)
    label = f"AOR {codes[0]}" if len(codes) == 1 else msg("AORs {codes}", codes=", ".join(codes))
    return WatchPlace(",".join(codes), label, f"aor IN ({marks})", tuple(codes), ref=ref)


def _resolved(raw: str, con, ref) -> WatchPlace:
    parts = [p.strip() for p in raw.split(",") if p.strip()]
    if len(parts) > 1 and all(re.fullmatch(r"\d{4,5}", p) for p in parts):
        # a set of counties by FIPS: the union of each county's filter
        each = [_resolved(p, con, ref) for p in sorted(set(p.zfill(5) for p in parts))]
        return WatchPlace(
            ",".join(w.text for w in each), msg("counties {names}", names=semicolons([w.label for w in each])),
            "(" + " OR ".join(w.sql for w in each) + ")", tuple(x for w in each for x in w.params),
            level="counties", source=each[0].source, ref=ref, place=tuple(w.place for w in each),
        )
    return _one_place(raw, con, ref)


def _one_place(raw: str, con, ref) -> WatchPlace:
    from icemonitor.analysis.common import event_source, resolution_available
    from icemonitor.places.place_names import parse_place, place_label

    if ref is None:
        raise InputError(msg("states and counties need the reference files: run `icemonitor refresh` first"),
                         field="place", value=raw)
    parsed = parse_place(raw, ref)
    if parsed.level == "aor":
        return _aors([parsed.code], con, raw, ref)
    if con is not None and not resolution_available(con):
        raise InputError(
            msg("{place}: state, county and group watches need the landmark resolution (places stage) in the "
                "warehouse, which this warehouse lacks; watch its AOR(s) instead: {aors}", place=parsed.label,
                aors=", ".join(parsed.aors)),
            field="place", value=raw,
        )
    sql, params = parsed.sql_filter(aor_col="aor", state_col="res_state", county_col="res_county_fips")
    source = event_source(con, "arrests") if con is not None else "arrests"
    return WatchPlace(parsed.code if parsed.level == "county" else raw, place_label(parsed), sql, tuple(params),
                      level=parsed.level, source=f"{source} AS events", ref=ref, place=parsed)


def product_ref(home: Path | None = None) -> Callable[[str], Path] | None:
    """The catalog's resolver of reference files (archived under the data folder), if the catalog is installed."""
    from icemonitor.catalog.fetch import reference_resolver

    return reference_resolver(home)
