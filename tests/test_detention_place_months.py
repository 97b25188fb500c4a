"""analysis.detention.monthly_held (a place's people held per day, averaged by month) against the SQL it stands for,
on facility days with missing counts, gaps and several facilities per county and per day."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from icemonitor.analysis import detention

MONTHLY_SQL = ("SELECT month, avg(held)::DOUBLE AS held_per_day FROM (SELECT date_trunc('month', d.date)::DATE AS "
               "month, d.date, sum(d.n_detained) AS held FROM detention_facility_days d JOIN "
               "detention_facility_places p ON d.detention_facility_code = p.facility_code WHERE list_contains(?, "
               "p.county_fips) GROUP BY ALL) GROUP BY month ORDER BY month")


@pytest.fixture()
def con(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("CREATE TABLE detention_facility_places (facility_code VARCHAR, county_fips VARCHAR)")
    con.execute("INSERT INTO detention_facility_places VALUES ('A', '06037'), ('B', '06037'), ('C', '06059'), "
                "('D', NULL), ('E', '48201')")
    con.execute("CREATE TABLE detention_facility_days (detention_facility_code VARCHAR, date DATE, n_detained INTEGER)")
    rows = []
    for i in range(75):  # 2025-01-01 .. 2025-03-16
        day = dt.date(2025, 1, 1) + dt.timedelta(days=i)
        rows += [("A", day, None if i % 7 == 0 else 100 + i), ("C", day, 3 * i % 11), ("D", day, 5)]
        if i % 3 == 0:
            rows.append(("B", day, None if i > 40 else 17))  # February onwards: B's rows carry no count
        if day.month == 2:
            rows.append(("E", day, None))  # a county whose only month has no count at all
    rows.append(("A", dt.date(2025, 1, 31), 2_000_000_000))  # a second row for a day; a sum past 32 bits
    con.executemany("INSERT INTO detention_facility_days VALUES (?, ?, ?)", rows)
    return con


@pytest.mark.parametrize("counties", [["06037"], ["06037", "06059"], ["06059"], ["48201"], ["06037", "48201"],
                                      ["01001"], []])
def test_monthly_held_is_the_sql_average(con, counties) -> None:
    expected = [dict(zip(("month", "held_per_day"), r)) for r in con.execute(MONTHLY_SQL, [counties]).fetchall()]
    assert detention.monthly_held(con, frozenset(counties)) == expected


def test_a_month_with_rows_but_no_count_has_no_figure(con) -> None:
    assert detention.monthly_held(con, frozenset(["48201"])) == [{"month": dt.date(2025, 2, 1), "held_per_day": None}]
