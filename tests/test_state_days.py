"""The build's state_days table (warehouse/aggregates.py: event_days summed over its county columns) and what reads
it: query.Selection routes a question naming a placed state column but no county column to it, with the same
figures as from event_days and from the event rows (random selections on the real data); the place profile's
one-scan parts (place_profile.counted_parts), its peers and summary's placement mix give the figures of the
queries they replace. (tests/test_event_days.py: an incremental refresh derives state_days as a full build does.)"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from icemonitor.query.selection import Selection, rollup_source

TABLES = ("arrests", "encounters", "removals")
STATES = (None, "CA", "TX", "WA", "NY", "IL", "FL")
GROUPS = ("fy", "event_date", "aor", "state", "res_state", "res_by", "method_class", "criminality",
          "criminality_field", "release_id")
DATES = st.dates(min_value=dt.date(2012, 1, 1), max_value=dt.date(2026, 3, 31))
KEYS = "table_name, event_date, fy, release_id, counted, aor, state, res_state, res_by, method_class, " \
       "criminality_field, criminality"


def _rows(con, sql: str, params: list) -> list[tuple]:
    return sorted(con.execute(sql, params).fetchall(), key=repr)


def test_state_days_is_event_days_summed_over_the_county_columns(warehouse_con):
    """The same counts as an independent GROUP BY of event_days, a third or fewer of its arrests rows, and aor_days
    (now summed from state_days) still equal to event_days summed over every placement column."""
    con = warehouse_con
    summed = _rows(con, f"SELECT {KEYS}, sum(n)::BIGINT FROM event_days GROUP BY ALL", [])
    assert summed and _rows(con, f"SELECT {KEYS}, n FROM state_days", []) == summed
    aor_keys = "table_name, event_date, fy, release_id, counted, aor, state, method_class, criminality_field, " \
               "criminality"
    assert _rows(con, f"SELECT {aor_keys}, n FROM aor_days", []) == _rows(
        con, f"SELECT {aor_keys}, sum(n)::BIGINT FROM event_days GROUP BY ALL", [])
    n = lambda t: con.execute(f"SELECT count(*) FROM {t} WHERE table_name = 'arrests'").fetchone()[0]  # noqa: E731
    assert n("aor_days") < n("state_days") and n("state_days") * 2 < n("event_days")


def test_a_placed_state_without_a_county_reads_state_days(warehouse_con):
    con = warehouse_con
    for sql in (("counted AND res_state = ?", "fy"), ("counted AND aor = ?", "res_by"),
                ("counted AND (aor IN (?, ?) OR res_state IN (?))", "method_class, release_id")):
        assert "state_days" in rollup_source(con, "arrests", *sql)[0]
    for county in ("res_county_fips", "office_county_fips", "res_county_by"):
        assert "event_days" in rollup_source(con, "arrests", "counted AND res_state = ?", county)[0]
    assert "aor_days" in rollup_source(con, "arrests", "counted AND aor = ?", "fy")[0]
    state = Selection.of("arrests", "2017-01-01", "2017-12-31", "CA").compile(con)
    assert "state_days" in state.rolled_up(con, "fy").source
    county = Selection.of("arrests", "2017-01-01", "2017-12-31", "06037").compile(con)
    assert "event_days" in county.rolled_up(con, "fy").source  # a county still reads event_days
    anyq = Selection.of("arrests", place="CA", placement="any").compile(con)
    assert anyq.rolled_up(con, "fy") is anyq  # the count tables place by policy `event` only


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(TABLES), place=st.sampled_from(STATES), d0=st.one_of(st.none(), DATES),
       days=st.integers(0, 2000), by=st.lists(st.sampled_from(GROUPS), max_size=3, unique=True),
       method=st.sampled_from([None, "at_large", "custodial,other"]), counted=st.booleans())
def test_state_days_counts_equal_event_days_and_the_event_rows(warehouse_con, table, place, d0, days, by, method,
                                                               counted):
    """Random selections of a state (or the nation) grouped by random columns, with res_state named: the same rows
    and counts from state_days as from event_days and from the event rows."""
    con = warehouse_con
    d1 = d0 + dt.timedelta(days=days) if d0 else None
    q = Selection.of(table, d0, d1, place, {"method_class": method} if method else None,
                     counted_only=counted).compile(con)
    keys = ", ".join([*by, "res_state"])
    rolled = q.rolled_up(con, keys, "release_id")
    assert "state_days" in rolled.source
    days_src = f"(SELECT * FROM event_days WHERE table_name = '{table}')"
    sql = "SELECT {keys}, {n}, list_sort(list(DISTINCT release_id)) FROM {src} WHERE {w} GROUP BY ALL"
    w = q.where.sql()
    from_state = _rows(con, sql.format(keys=keys, n=rolled.count_sql, src=rolled.source, w=w), q.where.params)
    from_days = _rows(con, sql.format(keys=keys, n=rolled.count_sql, src=days_src, w=w), q.where.params)
    direct = _rows(con, sql.format(keys=keys, n="count(*)", src=q.source, w=w), q.where.params)
    assert from_state == from_days == direct
    assert rolled.count(con) == q.count(con)


PLACES = [("CA", None, None), ("TX", "2017-01-01", "2017-12-31"), ("06037", None, None),
          ("48201", "2016-10-01", "2019-09-30"), ("LOS", None, None), ("SEA", "2017-03-01", "2017-03-31"),
          ("WA", "1990-01-01", "1990-12-31"), ("US", None, None)]


@pytest.mark.parametrize("place, d0, d1", PLACES)
def test_counted_parts_are_the_parts_asked_one_by_one(warehouse_con, place, d0, d1):
    """trend, method_mix, criminality and resolution from one scan (the place page's) equal each function's own
    result: rows, releases, totals, caveats and coverage; also where the records cover none of the period."""
    from conftest import shared_ref

    from icemonitor.analysis import place_profile as pp

    d0, d1 = (dt.date.fromisoformat(d) if d else None for d in (d0, d1))
    together = pp.counted_parts(warehouse_con, place, d0, d1, ref=shared_ref, with_resolution=True)
    assert set(together) == {*pp.COUNTED_PARTS, "resolution"}
    for name in (*pp.COUNTED_PARTS, "resolution"):
        alone = getattr(pp, name)(warehouse_con, place, d0, d1, ref=shared_ref)
        assert together[name].model_dump(mode="json") == alone.model_dump(mode="json"), name
    if place == "WA":
        assert together["trend"].figures == [] and together["trend"].extra["total"] is None  # no records, no zero
    else:
        assert together["trend"].figures and together["method_mix"].figures
    assert pp.counted_parts(warehouse_con, place, d0, d1, ref=shared_ref).keys() == set(pp.COUNTED_PARTS)


def _placement_mix(con, q) -> dict[str, int] | None:
    """How the selected events were placed, counted on their own: {'recorded_state': n, 'landmark': n, 'aor': n}
    for a state, county or group place, else None."""
    if q.place is None or q.place.level in ("aor", "nation"):
        return None
    r = q.rolled_up(con, "res_by")
    rows = con.execute(f"SELECT coalesce(res_by, 'aor'), {r.count_sql} FROM {r.source} WHERE {q.where.sql()} "
                       "GROUP BY 1", q.where.params).fetchall()
    return {"recorded_state": 0, "landmark": 0, **dict(rows)}


@pytest.mark.parametrize("place, d0, d1", PLACES[:5])
def test_place_parts_and_state_summaries_equal_the_event_rows(warehouse_path, without_count_tables, place, d0, d1):
    """The one-scan parts, peers (state peers counted per AOR and state before the whole-AOR join) and summary
    (rows and placement mix from one scan) give the same figures on the count tables as on the event rows; and
    summary's placement mix equals a query of its own (events per res_by)."""
    from conftest import shared_ref

    from icemonitor.analysis import place_profile as pp
    from icemonitor.analysis.summary import summary

    dates = [dt.date.fromisoformat(d) if d else None for d in (d0, d1)]

    def run(path: Path):
        con = duckdb.connect(str(path), read_only=True)
        try:
            parts = pp.counted_parts(con, place, *dates, ref=shared_ref, with_resolution=True)
            out = {k: v.model_dump(mode="json") for k, v in parts.items()}
            out["peers"] = pp.peers(con, place, *dates, ref=shared_ref).model_dump(mode="json")
            for by in ("fy", "", "month,method_class"):
                res = summary(con, by=by, date_from=d0, date_to=d1, place=place, ref=shared_ref)
                out[f"summary {by}"] = res.model_dump(mode="json")
                q = Selection.of("arrests", d0, d1, place).compile(con, shared_ref)
                assert res.extra["placement"] == (_placement_mix(con, q) if res.extra["total_events"] else None)
            return out
        finally:
            con.close()

    rolled, direct = run(warehouse_path), run(without_count_tables)
    assert rolled["trend"]["figures"] and rolled["peers"]["figures"]
    assert rolled == direct
