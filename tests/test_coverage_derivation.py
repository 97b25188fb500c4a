"""coverage_spans (derived from event_days) and coverage_fields (values and redaction markers counted apart) against
a plain Python walk over the rows, on generated arrests: releases with and without AORs, one or several states,
missing days, both `counted` flags, values and markers on the same field."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from icemonitor.schema import tables
from icemonitor.warehouse import aggregates
from icemonitor.warehouse.coverage import QUIET_DAYS, write_coverage, write_spans

DAY0 = dt.date(2020, 1, 1)
RELEASES = ("test-release-a", "test-release-b")  # not in the catalog: no declared scope or subset

row = st.fixed_dictionaries({
    "release_id": st.sampled_from(RELEASES),
    "event_date": st.one_of(st.none(), st.integers(0, 40).map(lambda d: DAY0 + dt.timedelta(days=d))),
    "aor": st.sampled_from([None, "LOS", "SFR"]),
    "state": st.sampled_from([None, "CA", "NV"]),
    "counted": st.booleans(),
    "gender": st.sampled_from([None, "F"]),
    "redacted": st.sampled_from([None, [], ["gender"], ["gender", "citizenship"]]),
})


def spans_walk(rows: list[dict]) -> set[tuple]:
    """The spans by their definition (warehouse/coverage.py), one row and day at a time."""
    no_aor = {r for r in RELEASES if all(x["aor"] is None for x in rows if x["release_id"] == r)}
    states = {}
    for r in RELEASES:
        mine = [x["state"] for x in rows if x["release_id"] == r]
        states[r] = mine[0] if mine and None not in mine and len(set(mine)) == 1 else None
    days: dict[tuple, dict[dt.date, int]] = defaultdict(lambda: defaultdict(int))
    for x in rows:
        if x["event_date"] is not None and (x["aor"] is not None or x["release_id"] in no_aor):
            days[(x["release_id"], x["counted"], x["aor"])][x["event_date"]] += 1
    out = set()
    for (rel, counted, aor), per_day in days.items():
        run: list[dt.date] = []
        for d in sorted(per_day) + [None]:
            if run and (d is None or (d - run[-1]).days > QUIET_DAYS + 1):
                out.add(("arrests", rel, counted, aor, states[rel], run[0], run[-1], len(run),
                         sum(per_day[x] for x in run)))
                run = []
            if d is not None:
                run.append(d)
    return out


@settings(max_examples=25, deadline=None)
@given(st.lists(row, max_size=30))
def test_spans_and_fields_equal_the_walk_over_the_rows(rows):
    con = duckdb.connect()
    for spec in tables().values():
        con.execute(spec.ddl())
    for i, x in enumerate(rows):
        con.execute("INSERT INTO arrests (release_id, source_file, source_row, event_date, aor, state, counted, "
                    "gender, redacted) VALUES (?, 'f.csv', ?, ?, ?, ?, ?, ?, ?)",
                    [x["release_id"], i, x["event_date"], x["aor"], x["state"], x["counted"], x["gender"],
                     x["redacted"]])
    aggregates.write_event_days(con)
    write_spans(con)
    assert set(con.execute("SELECT * FROM coverage_spans").fetchall()) == spans_walk(rows)

    write_coverage(con)
    got = {(r, f): (k, n) for r, f, k, n in con.execute(
        "SELECT release_id, field, rows_with_value, rows FROM coverage_fields WHERE table_name = 'arrests' "
        "AND field IN ('gender', 'citizenship')").fetchall()}
    want = {}
    for r in {x["release_id"] for x in rows}:
        mine = [x for x in rows if x["release_id"] == r]
        for f in ("gender", "citizenship"):
            want[(r, f)] = (sum(1 for x in mine if x.get(f) is not None or f in (x["redacted"] or [])), len(mine))
    assert got == want


def test_a_refresh_derives_only_the_named_pairs_again():
    """write_spans with pairs: those pairs' spans follow event_days, the others' are kept as they were."""
    con = duckdb.connect()
    for spec in tables().values():
        con.execute(spec.ddl())
    for i, (rel, day) in enumerate([("test-release-a", 0), ("test-release-b", 0), ("test-release-b", 30)]):
        con.execute("INSERT INTO arrests (release_id, source_file, source_row, event_date, aor, counted) "
                    "VALUES (?, 'f.csv', ?, ?, 'LOS', true)", [rel, i, DAY0 + dt.timedelta(days=day)])
    aggregates.write_event_days(con)
    write_spans(con)
    con.execute("UPDATE event_days SET counted = false")  # as a refresh's recount would, for both releases
    write_spans(con, {("arrests", "test-release-b")})
    spans = sorted(con.execute("SELECT release_id, counted, span_from FROM coverage_spans").fetchall())
    assert spans == [("test-release-a", True, DAY0), ("test-release-b", False, DAY0),
                     ("test-release-b", False, DAY0 + dt.timedelta(days=30))]
