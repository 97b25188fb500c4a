"""analysis.overview.month_aors (partial_months' AORs per month from the aor_months rollup) equals the SQL over
aor_days it replaces, on the real data (months covered by one AOR only included), and partial_months finds the same
runs either way."""

from __future__ import annotations

import datetime as dt

import pytest

from icemonitor.analysis import overview
from icemonitor.query.filters import DATE_KEYS, Filters

D = dt.date


@pytest.mark.parametrize("f", [Filters("arrests"), Filters("arrests", None, None, None, "at_large"),
                               Filters("arrests", D(2014, 10, 1), D(2016, 9, 30)), Filters("encounters"),
                               Filters("removals", D(2015, 1, 1), D(2018, 12, 31), None, "custodial")])
def test_month_aors_equal_the_sql(warehouse_con, f, monkeypatch):
    con = warehouse_con
    q = overview.compiled(con, f)
    source, n = overview._from(con, q, "aor", "event_date")
    month, fmt = DATE_KEYS["month"]
    want = overview.rows(con, f"SELECT strftime(m, '{fmt}') AS month, aors FROM (SELECT {month} AS m, list(DISTINCT "
                              f"aor ORDER BY aor) FILTER (WHERE aor IS NOT NULL) AS aors FROM {source} WHERE "
                              f"{q.where.sql()} AND event_date IS NOT NULL GROUP BY 1) ORDER BY 1", q.where.params)
    got = overview.month_aors(con, f.table, source, q.where, n)
    assert got == want and (got or f.table == "removals")
    runs = overview.partial_months(con, f).figures
    monkeypatch.setattr(overview, "month_aors", lambda *args: None)  # the SQL
    assert overview.partial_months(con, f).figures == runs


def test_partial_months_of_the_real_data(warehouse_con):
    """Before FY2016 only Seattle's production reports arrests: those months are a partial run."""
    runs = overview.partial_months(warehouse_con, Filters("arrests")).figures
    assert runs and all(r["aors"] == ["SEA"] for r in runs[:1])


def test_a_period_of_part_months_is_asked_of_the_sql(warehouse_con):
    f = Filters("arrests", D(2017, 1, 15), D(2017, 6, 30))
    q = overview.compiled(warehouse_con, f)
    source, n = overview._from(warehouse_con, q, "aor", "event_date")
    assert overview.month_aors(warehouse_con, f.table, source, q.where, n) is None
