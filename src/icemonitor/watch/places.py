"""Which events a watch covers: its place as a parameterised SQL filter on an event table."""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from icemonitor.errors import InputError

NATIONAL = ("US", "USA", "NATIONAL", "ALL")


@dataclass(frozen=True)
class WatchPlace:
    text: str  # as stored with the watch (normalised)
    label: str
    sql: str  # a WHERE fragment with ? parameters
    params: tuple[str, ...]


def parse(place: str, con: duckdb.DuckDBPyConnection | None = None) -> WatchPlace:
    """'US', an AOR code or a comma list of AOR codes (LOS or LOS,SFR), checked against the warehouse's AORs.

    States, counties and sets of counties need the places stage (icemonitor.places.place_filter); until its
    landmark resolution is in the warehouse, only AOR-level watches are evaluated."""
    text = (place or "").strip().upper()
    if not text:
        raise InputError("give a place: US or an AOR code such as LOS", field="place", value=place)
    if text in NATIONAL:
        return WatchPlace("US", "United States (all AORs)", "TRUE", ())
    codes = [c.strip() for c in text.split(",") if c.strip()]
    if not all(re.fullmatch(r"[A-Z]{3}", c) for c in codes):
        raise InputError(
            "unknown place: watches take US or AOR codes (e.g. LOS or LOS,SFR); states and counties need the "
            "places stage's landmark resolution", field="place", value=place,
        )
    if con is not None:
        known = {r[0] for r in con.execute("SELECT DISTINCT aor FROM arrests WHERE aor IS NOT NULL").fetchall()}
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise InputError(
                f"no arrests in the warehouse for AOR {', '.join(unknown)} (known: {', '.join(sorted(known))})",
                field="place", value=place,
            )
    codes = sorted(set(codes))
    marks = ", ".join("?" for _ in codes)
    label = ("AOR " if len(codes) == 1 else "AORs ") + ", ".join(codes)
    return WatchPlace(",".join(codes), label, f"aor IN ({marks})", tuple(codes))
