"""Shared plumbing for the analyses: opening the warehouse, table checks, place and date filters."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from icemonitor.errors import InputError

TABLES = ("arrests", "encounters", "removals", "bookins", "detainers", "i213", "detention_stints", "detention_stays")
AOR_CODES = (
    "ATL BAL BOS BUF CHI DAL DEN DET ELP HOU LOS MIA NEW NOL NYC PHI PHO SEA SFR SLC SNA SND SPM WAS HQ".split()
)
MEASURES = {
    "all": ("TRUE", "all counted events"),
    "at_large": ("method_class = 'at_large'", "method_class = 'at_large' (Apprehension Method in {Located, Non-Custodial Arrest})"),
    "custodial": (
        "method_class = 'custodial'",
        "method_class = 'custodial' (CAP Local/State/Federal Incarceration, 287(g) Program, Probation and Parole)",
    ),
}
RESOLUTION_TABLE = "landmark_resolution"


def open_warehouse(path: Path | str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only (icemonitor.warehouse.connect when available)."""
    try:
        from icemonitor.warehouse import connect  # type: ignore[attr-defined]
    except ImportError:
        connect = None
    if connect is not None:
        return connect(path, read_only=True)
    from icemonitor import config

    p = Path(path) if path else config.warehouse_path()
    if not p.exists():
        raise InputError("No warehouse found; build it first (icemonitor warehouse build)", file=str(p))
    return duckdb.connect(str(p), read_only=True)


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0]
    )


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()
    return {r[0] for r in rows}


def check_table(con: duckdb.DuckDBPyConnection, table: str) -> None:
    if table not in TABLES:
        raise InputError(f"Unknown table; choose one of {', '.join(TABLES)}", field="table", value=table)
    if not has_table(con, table):
        raise InputError("The warehouse has no such table (no release loaded for it)", field="table", value=table)


def parse_date(value: str | dt.date | None, name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError("Dates must be YYYY-MM-DD", field=name, value=value) from None


@dataclass
class Where:
    """A parameterised WHERE clause built piece by piece."""

    parts: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, sql: str, *params: Any) -> "Where":
        self.parts.append(sql)
        self.params.extend(params)
        return self

    def sql(self) -> str:
        return " AND ".join(f"({p})" for p in self.parts) if self.parts else "TRUE"


def counted_in_period(date_from: Any, date_to: Any) -> tuple[Where, dt.date | None, dt.date | None]:
    """A WHERE on counted rows dated within [date_from, date_to] (either may be None), and the parsed dates."""
    d0, d1 = parse_date(date_from, "from"), parse_date(date_to, "to")
    where = Where().add("counted")
    if d0:
        where.add("event_date >= ?", d0)
    if d1:
        where.add("event_date <= ?", d1)
    return where, d0, d1


def resolution_available(con: duckdb.DuckDBPyConnection) -> bool:
    return has_table(con, RESOLUTION_TABLE)


def event_source(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """FROM clause for a table, joined to the landmark resolution when the places stage has built it.

    Adds columns res_state, res_county_fips (NULL where unresolved) and res_by (how the row was placed:
    'recorded_state' where the release records a state, which wins over the landmark; 'landmark' where only
    the landmark resolver places it; NULL where neither does). A landmark county in another state than the
    recorded one is dropped. The join is many-to-one by (aor, landmark).
    """
    if resolution_available(con) and {"aor", "landmark"} <= table_columns(con, table):
        state = "e.state"  # a common column of every event table (schema.yaml)
        return (
            f"(SELECT e.*, coalesce({state}, r.state) AS res_state, "
            f"CASE WHEN {state} IS NULL OR r.state = {state} THEN r.county_fips END AS res_county_fips, "
            f"CASE WHEN {state} IS NOT NULL THEN 'recorded_state' WHEN r.state IS NOT NULL THEN 'landmark' END "
            f"AS res_by FROM {table} e "
            f"LEFT JOIN (SELECT aor, landmark, any_value(state) AS state, any_value(county_fips) AS county_fips "
            f"FROM {RESOLUTION_TABLE} GROUP BY aor, landmark) r ON e.aor = r.aor AND e.landmark = r.landmark)"
        )
    return (f"(SELECT e.*, e.state AS res_state, NULL::VARCHAR AS res_county_fips, "
            f"CASE WHEN e.state IS NOT NULL THEN 'recorded_state' END AS res_by FROM {table} e)")


NATION = ("US", "USA", "UNITED STATES", "NATIONAL", "NATIONWIDE", "ALL")  # place words meaning the whole country


def reference_for(con: duckdb.DuckDBPyConnection) -> Any:
    """The reference files of the data folder this warehouse was built in (its raw archive)."""
    from icemonitor.catalog.fetch import reference_resolver

    files = [r[2] for r in con.execute("PRAGMA database_list").fetchall() if r[2]]
    if not files:
        raise InputError("place filters need a warehouse file inside its data folder", field="place")
    return reference_resolver(home=Path(files[0]).parent)


def place_where(con: duckdb.DuckDBPyConnection, place: str | None, where: Where, ref: Any = None) -> str | None:
    """Add a place filter; returns a plain description of it.

    Uses the places stage's parser (icemonitor.places.place_filter.parse_place) when present. Without it,
    accepts 'US', an AOR code (LOS), a 2-letter state (needs resolved states) or a 5-digit county FIPS.
    """
    if not place:
        return None
    if place.strip().upper() in NATION:
        return "United States (all AORs)"
    try:
        from icemonitor.places.place_filter import parse_place  # type: ignore[import-not-found]
    except ImportError:
        parse_place = None
    if parse_place is not None:
        parsed = parse_place(place, ref or reference_for(con))
        clause = parsed.sql_filter(aor_col="aor", state_col="res_state", county_col="res_county_fips")
        sql, params = clause if isinstance(clause, tuple) else (clause, [])
        where.add(sql, *params)
        return str(getattr(parsed, "label", place))
    text = place.strip()
    up = text.upper()
    if up in AOR_CODES:
        where.add("aor = ?", up)
        return f"AOR {up}"
    if re.fullmatch(r"\d{5}", text):
        if not resolution_available(con):
            raise InputError("County filters need resolved landmarks (run the places stage)", field="place", value=place)
        where.add("res_county_fips = ?", text)
        return f"county {text}"
    if re.fullmatch(r"[A-Za-z]{2}", text):
        where.add("res_state = ?", up)
        return f"state {up}"
    raise InputError("Unknown place; use US, an AOR code (e.g. LOS), a state (CA) or a county FIPS", field="place", value=place)


def unresolved_in_place(con: duckdb.DuckDBPyConnection, source: str, base: Where, place: str | None,
                        ref: Any = None) -> dict[str, Any] | None:
    """For a state, county or group place: the events under `base` (every filter but the place) in the place's
    AORs that the landmark resolver did not place at the place's level, so they may or may not lie in the place.
    None where nothing is undecided (no place, the nation, an AOR, or AORs wholly inside the place)."""
    if not place or place.strip().upper() in NATION + tuple(AOR_CODES) or not resolution_available(con):
        return None
    try:
        from icemonitor.places.place_filter import parse_place  # type: ignore[import-not-found]
    except ImportError:
        return None
    parsed = parse_place(place, ref or reference_for(con))
    aors = [a for a in parsed.aors if a not in parsed.filter_aors]
    if parsed.level == "aor" or not aors or not (parsed.filter_counties or parsed.filter_states):
        return None
    w = Where(list(base.parts), list(base.params)).add(f"aor IN ({', '.join('?' * len(aors))})", *aors)
    if parsed.filter_counties:
        level = "county"
        states = list(parsed.states)
        w.add(f"res_county_fips IS NULL AND (res_state IS NULL OR res_state IN ({', '.join('?' * len(states))}))",
              *states)
    else:
        level = "state"
        w.add("res_state IS NULL")
    n = int(con.execute(f"SELECT count(*) FROM {source} WHERE {w.sql()}", w.params).fetchone()[0])
    return {"events": n, "aors": aors, "level": level,
            "text": (f"{n:,} events of the same filters in {', '.join(aors)} are not resolved to a {level} (landmark "
                     f"blank, an office code, or ambiguous): they may or may not lie in {parsed.label} and are not "
                     "counted here")}


def placement_mix(con: duckdb.DuckDBPyConnection, source: str, where: Where, place: str | None) -> dict[str, int] | None:
    """For a state, county or group place: how the events under `where` (place included) were placed, as
    {'recorded_state': n, 'landmark': n} (event_source's res_by). None for no place, the nation or an AOR."""
    if not place or place.strip().upper() in NATION + tuple(AOR_CODES):
        return None
    rows = con.execute(f"SELECT coalesce(res_by, 'aor'), count(*) FROM {source} WHERE {where.sql()} GROUP BY 1",
                       where.params).fetchall()
    return {"recorded_state": 0, "landmark": 0, **dict(rows)}


def releases_of(con: duckdb.DuckDBPyConnection, source: str, where: Where) -> list[str]:
    rows = con.execute(f"SELECT DISTINCT release_id FROM {source} WHERE {where.sql()}", where.params).fetchall()
    return sorted(r[0] for r in rows if r[0] is not None)


def split_list(values: Sequence[str] | str | None) -> list[str]:
    """Accept repeated options and comma lists alike."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for v in values:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out
