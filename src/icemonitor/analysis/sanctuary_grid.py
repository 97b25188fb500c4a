"""Sanctuary status of every county over a date range, from the warehouse's `policies` table, under one of the
places stage's definitions (icemonitor.places.sanctuary). Same rules as sanctuary.status(), evaluated once per
state (for counties without local events) and once per county that has local events, and only at the days
where some event starts or ends, so a four-year monthly grid takes a fraction of a second."""

from __future__ import annotations

import datetime as dt
import warnings

import duckdb
import polars as pl

from icemonitor.analysis.common import has_table
from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.places.place_filter import Place
from icemonitor.places.sanctuary import Definition, _covered, _relevant, _role, default_definition, definitions

ONE_DAY = dt.timedelta(days=1)


def frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """A query result as a Polars frame (via Arrow)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # duckdb notes the Arrow copy of a DB-API result
        return pl.from_arrow(con.execute(sql, params or []).to_arrow_table())


def get_definition(con: duckdb.DuckDBPyConnection | None, name: str | None) -> Definition:
    """The named definition (default: the places stage's default); InputError listing the known ones."""
    defs = definitions()
    name = name or default_definition()[0]
    known = list(defs)
    if con is not None and has_table(con, "sanctuary_definitions"):
        known = [r[0] for r in con.execute("SELECT name FROM sanctuary_definitions ORDER BY name").fetchall()]
    if name not in defs or name not in known:
        raise InputError(msg("unknown sanctuary definition (known: {known})", known=", ".join(known)),
                         field="definition", value=name)
    return defs[name]


def answer(d: Definition, roles: set[str], day: dt.date) -> str:
    """yes / no / unknown from the roles of the events that apply on `day` (as sanctuary.status)."""
    if d.test == "presence":
        if "in_force" in roles:
            return "yes"
        return "unknown" if roles else "no"
    if "in_force" in roles:
        return "no"
    if _covered(d, day) is None:
        return "unknown"
    return "unknown" if roles else "yes"


def _breakpoints(events: list[dict], d: Definition, start: dt.date, end: dt.date) -> list[dt.date]:
    days = {start}
    for e in events:
        for x in (e["start"], (e["end"] + ONE_DAY) if e["end"] else None, (e["end_by"] + ONE_DAY) if e["end_by"] else None):
            if x and start < x <= end:
                days.add(x)
    for c in d.coverage:
        for x in (dt.date.fromisoformat(str(c["from"])), dt.date.fromisoformat(str(c["to"])) + ONE_DAY if c.get("to") else None):
            if x and start < x <= end:
                days.add(x)
    return sorted(days)


def segments(events: list[dict], d: Definition, start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date, str]]:
    """(from, to, answer) runs covering [start, end] for one place whose relevant events are `events`."""
    pts = _breakpoints(events, d, start, end)
    out = []
    for i, a in enumerate(pts):
        b = pts[i + 1] - ONE_DAY if i + 1 < len(pts) else end
        roles = {r for e in events if (r := _role(e, a, d))}
        ans = answer(d, roles, a)
        if out and out[-1][2] == ans:
            out[-1] = (out[-1][0], b, ans)
        else:
            out.append((a, b, ans))
    return out


def county_status_segments(con: duckdb.DuckDBPyConnection, definition: str | None, start: dt.date, end: dt.date
                           ) -> tuple[Definition, pl.DataFrame]:
    """Per county: runs of yes/no/unknown between start and end (county_fips, state, seg_from, seg_to, answer)."""
    d = get_definition(con, definition)
    if not has_table(con, "policies") or not has_table(con, "counties"):
        raise InputError("the warehouse has no places tables (policies, counties); rebuild it with the places stage",
                         field="warehouse")
    policies = frame(con, "SELECT * FROM policies")
    counties = frame(con, "SELECT county_fips, state FROM counties WHERE state IS NOT NULL AND state <> ''")
    rel_kinds = policies.filter(pl.col("kind").is_in(d.kinds))
    local_fips = set(rel_kinds.filter(pl.col("jurisdiction_level") != "state")["county_fips"].drop_nulls().to_list())
    rows = []
    by_state: dict[str, list] = {}
    for state in counties["state"].unique().to_list():
        generic = Place(level="county", code="", label=state, county_fips=(), aors=(), states=(state,))
        by_state[state] = segments(list(_relevant(policies, generic, d).iter_rows(named=True)), d, start, end)
    for fips, state in counties.iter_rows():
        if fips in local_fips:
            place = Place(level="county", code=fips, label=fips, county_fips=(fips,), aors=(), states=(state,))
            segs = segments(list(_relevant(policies, place, d).iter_rows(named=True)), d, start, end)
        else:
            segs = by_state[state]
        rows.extend((fips, state, a, b, ans) for a, b, ans in segs)
    df = pl.DataFrame(rows, schema={"county_fips": pl.Utf8, "state": pl.Utf8, "seg_from": pl.Date, "seg_to": pl.Date,
                                    "answer": pl.Utf8}, orient="row")
    return d, df


def month_starts(start: dt.date, end: dt.date) -> list[dt.date]:
    out, m = [], dt.date(start.year, start.month, 1)
    while m <= end:
        out.append(m)
        m = dt.date(m.year + (m.month == 12), m.month % 12 + 1, 1)
    return out


def county_month_status(seg: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Per county and month: days in the window, and the fractions of those days answered yes / unknown."""
    months = pl.DataFrame({"month": month_starts(start, end)}).with_columns(
        pl.max_horizontal(pl.col("month"), pl.lit(start)).alias("m_from"),
        pl.min_horizontal(pl.col("month").dt.offset_by("1mo") - pl.duration(days=1), pl.lit(end)).alias("m_to"),
    )
    j = seg.join(months, how="cross").with_columns(
        ((pl.min_horizontal("seg_to", "m_to") - pl.max_horizontal("seg_from", "m_from")).dt.total_days() + 1)
        .clip(lower_bound=0).alias("days"),
        ((pl.col("m_to") - pl.col("m_from")).dt.total_days() + 1).alias("month_days"),
    ).filter(pl.col("days") > 0)
    return j.group_by("county_fips", "state", "month").agg(
        pl.col("month_days").first(),
        (pl.col("days").filter(pl.col("answer") == "yes").sum() / pl.col("month_days").first()).alias("yes_frac"),
        (pl.col("days").filter(pl.col("answer") == "unknown").sum() / pl.col("month_days").first()).alias("unknown_frac"),
    ).with_columns(pl.col("yes_frac").fill_null(0.0), pl.col("unknown_frac").fill_null(0.0))
