"""Shared plumbing for the analyses: opening the warehouse, table checks, place and date filters (the selection
layer, icemonitor.query, owns the vocabulary, the place parser and the placement policy)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import duckdb

from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.query import vocabulary
from icemonitor.query.selection import (  # noqa: F401 - the analyses' plumbing, re-exported
    RESOLUTION_TABLE,
    event_source,
    has_table,
    parse_date,
    parse_place,
    reference_for,
    split_list,
    table_columns,
)
from icemonitor.query.sql import Where  # noqa: F401

TABLES = vocabulary.table_names()
AOR_CODES = vocabulary.aor_codes()
MEASURES = {k: (m["sql"], msg(m["definition"])) for k, m in vocabulary.measures().items()}
LEVEL_WORDS = {"county": msg("county"), "state": msg("state")}
NATION = tuple(sorted(vocabulary.nation_words()))  # place words meaning the whole country


def open_warehouse(path: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only."""
    from icemonitor.warehouse import connect

    return connect(Path(path) if path else None, read_only=True)


def check_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    if table not in TABLES:
        raise InputError(msg("Unknown table; choose one of {choices}", choices=", ".join(TABLES)), field="table",
                         value=table)
    if not has_table(con, table):
        raise InputError(msg("The warehouse has no such table (no release loaded for it)"), field="table", value=table)


def counted_in_period(date_from: Any, date_to: Any) -> tuple[Where, dt.date | None, dt.date | None]:
    """A WHERE on counted rows dated within [date_from, date_to] (either may be None), and the parsed dates."""
    d0, d1 = parse_date(date_from, "from"), parse_date(date_to, "to")
    if d0 and d1 and d0 > d1:
        raise InputError(msg("the period ends ({d1}) before it starts ({d0})", d1=d1, d0=d0), field="from",
                         value=f"{d0}..{d1}", hint=msg("swap --from and --to: --from is the first day, --to the last"))
    where = Where().add("counted")
    if d0:
        where.add("event_date >= ?", d0)
    if d1:
        where.add("event_date <= ?", d1)
    return where, d0, d1


def resolution_available(con: duckdb.DuckDBPyConnection) -> bool:
    return has_table(con, RESOLUTION_TABLE)


def place_where(con: duckdb.DuckDBPyConnection, place: str | None, where: Where, ref: Any = None) -> str | None:
    """Add a place filter (the selection layer's parser); returns the place's label (None for no place)."""
    if not place:
        return None
    parsed = parse_place(con, place, ref)
    if parsed is None:
        return vocabulary.nation_label()
    sql, params = parsed.sql_filter(aor_col="aor", state_col="res_state", county_col="res_county_fips")
    where.add(sql, *params)
    from icemonitor.places.place_names import place_label

    return place_label(parsed)


def unresolved_in_place(con: duckdb.DuckDBPyConnection, source: str, base: Where, place: str | None,
                        ref: Any = None, count_sql: str = "count(*)", table: str | None = None
                        ) -> dict[str, Any] | None:
    """For a state, county or group place: the events under `base` (every filter but the place) in the place's
    AORs that the landmark resolver did not place at the place's level, so they may or may not lie in the place.
    None where nothing is undecided (no place, the nation, an AOR, or AORs wholly inside the place). `table`
    (placement `event`): counted from analysis.rollups' month rollup where it answers."""
    if vocabulary.is_nation(place) or place.strip().upper() in AOR_CODES or not resolution_available(con):
        return None
    parsed = parse_place(con, place, ref)
    aors = [a for a in parsed.aors if a not in parsed.filter_aors]
    if parsed.level == "aor" or not aors or not (parsed.filter_counties or parsed.filter_states):
        return None
    level = "county" if parsed.filter_counties else "state"
    n = _unresolved(con, table, base, tuple(aors), level, parsed.states)
    if n is None:
        w = Where(list(base.parts), list(base.params)).add(f"aor IN ({', '.join('?' * len(aors))})", *aors)
        if level == "county":
            states = list(parsed.states)
            w.add(f"res_county_fips IS NULL AND (res_state IS NULL OR res_state IN ({', '.join('?' * len(states))}))",
                  *states)
        else:
            w.add("res_state IS NULL")
        n = int(con.execute(f"SELECT {count_sql} FROM {source} WHERE {w.sql()}", w.params).fetchone()[0])
    from icemonitor.places.place_names import place_label

    return {"events": n, "aors": aors, "level": level,
            "text": msg("{n:,} events of the same filters in {aors} are not resolved to a {level} (landmark blank, an "
                        "office code, or ambiguous): they may or may not lie in {place} and are not counted here",
                        n=n, aors=", ".join(aors), level=LEVEL_WORDS[level], place=place_label(parsed))}


def _unresolved(con: duckdb.DuckDBPyConnection, table: str | None, base: Where, aors: tuple[str, ...], level: str,
                states: tuple[str, ...]) -> int | None:
    """unresolved_in_place's count from analysis.rollups' month rollups (events of `aors` per AOR and placed
    state: without a state, or without a county and a state other than the place's), where `base` is counted rows
    and a period; None where they do not answer."""
    if table is None:
        return None
    from icemonitor.analysis import rollups  # numpy: after start-up (web/app.py's warm-up)

    by = rollups.keyed_counts(con, table, "state" if level == "state" else "unplaced_county", base, aors)
    if by is None:
        return None
    return sum(n for (_, state), (n, _) in by.items() if state is None or (level == "county" and state in states))


def releases_of(con: duckdb.DuckDBPyConnection, source: str, where: Where) -> list[str]:
    rows = con.execute(f"SELECT DISTINCT release_id FROM {source} WHERE {where.sql()}", where.params).fetchall()
    return sorted(r[0] for r in rows if r[0] is not None)


def placement_mix_applies(q: Any) -> bool:
    """Whether a figure of the compiled selection `q` says how its events were placed (recorded state, landmark
    or AOR; summary's placement mix): for a state, county or group place, not for none, the nation or an AOR."""
    return q.place is not None and q.place.level not in ("aor", "nation")

