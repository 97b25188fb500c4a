"""What the records cover, written by the build as data: the days with records and the fields each release records.

`coverage_spans`: one row per table, release, counted flag, AOR (NULL for a release that records no AOR in the
table, e.g. ICE's detention stints: it covers the nation, no place within it) (and the one state the release covers: declared in
the catalog as `scope_state`, or where all its rows of the table record the same state) and run of days with records. Days of one series closer than
QUIET_DAYS + 1 apart join one span: a few days without any record inside a series are quiet days (a real zero),
a longer gap is days the records do not cover.

`coverage_subsets`: one row per release the catalog declares a subset of people or cases (`subset`, e.g. people
later detained in Washington), with what it holds in English and Spanish: its spans never make a place and period
countable, and its count is a lower bound (query/coverage.py).

`coverage_fields`: one row per table, release and field: whether the release records the field at all (some row
has a value or a redaction marker for it). A field's `recorded_if` in schema.yaml overrides the test (criminality:
the release has a criminality source field). New tables and columns of schema.yaml are covered with no code change.
"""

from __future__ import annotations

import duckdb

from icemonitor.schema import tables
from icemonitor.warehouse.values import insert_values

# Longest run of days without records that still counts as covered (the nationwide series' longest quiet run in
# a field office is 5 days, weekends and holidays; a regional production's gaps run to weeks).
QUIET_DAYS = 7

# Bookkeeping columns, not fields a release may or may not record.
NOT_FIELDS = {"release_id", "source_file", "source_sheet", "source_row", "event_date", "fy", "aor_raw", "redacted",
              "duplicate_group", "duplicate_count", "counted", "criminality_field", "criminality_raw"}

SPANS_TABLE = "coverage_spans"
SPANS_DDL = """CREATE TABLE coverage_spans (
  table_name VARCHAR, release_id VARCHAR, counted BOOLEAN, aor VARCHAR, state VARCHAR,
  span_from DATE, span_to DATE, days_with_records INTEGER, rows BIGINT
)"""
SUBSETS_DDL = "CREATE TABLE coverage_subsets (release_id VARCHAR, what_en VARCHAR, what_es VARCHAR)"
FIELDS_TABLE = "coverage_fields"
FIELDS_DDL = f"""CREATE TABLE {FIELDS_TABLE} (
  table_name VARCHAR, release_id VARCHAR, field VARCHAR, recorded BOOLEAN, rows_with_value BIGINT, rows BIGINT
)"""


def _spans_sql(table: str, releases: str = "TRUE") -> str:
    """The spans of `table`'s rows of the releases `releases` selects (an SQL condition on release_id)."""
    return f"""
    WITH rows AS (SELECT * FROM "{table}" WHERE {releases}),
    scope AS (
      SELECT t.release_id, coalesce(any_value(d.state),
             CASE WHEN count(DISTINCT t.state) = 1 AND count(t.state) = count(*) THEN any_value(t.state) END) AS state
      FROM rows t LEFT JOIN release_scope d USING (release_id) GROUP BY t.release_id),
    no_aor AS (SELECT release_id FROM rows GROUP BY release_id HAVING count(aor) = 0),
    days AS (
      SELECT release_id, counted, aor, event_date, count(*) AS n FROM rows
      WHERE event_date IS NOT NULL AND (aor IS NOT NULL OR release_id IN (SELECT release_id FROM no_aor))
      GROUP BY ALL){_runs(table)}"""


def _spans_from_days_sql(releases: str) -> str:
    """The spans of the releases `releases` selects (on release_id; parameters: the table's name, the releases, the
    table's name) from event_days' counts instead of the rows: for a refresh's recounted releases, whose rows are
    unchanged and whose counts event_days already holds with their new flags (warehouse/incremental.
    recount_event_days). Their scope (the state) is the one their spans had before (kept_scope): it depends on the
    rows only."""
    return f"""
    WITH counts AS (SELECT * FROM event_days WHERE table_name = ? AND {releases}),
    scope AS (SELECT release_id, state FROM kept_scope WHERE table_name = ?),
    no_aor AS (SELECT release_id FROM counts GROUP BY release_id HAVING count(aor) = 0),
    days AS (
      SELECT release_id, counted, aor, event_date, sum(n) AS n FROM counts
      WHERE event_date IS NOT NULL AND (aor IS NOT NULL OR release_id IN (SELECT release_id FROM no_aor))
      GROUP BY ALL)"""


def _runs(table: str) -> str:
    """The rest of a spans query after its `days` (release, flag, AOR, day, rows) and `scope` (release, state)."""
    return f""",
    runs AS (
      SELECT *, sum(CASE WHEN gap IS NULL OR gap > {QUIET_DAYS + 1} THEN 1 ELSE 0 END)
                OVER (PARTITION BY release_id, counted, aor ORDER BY event_date) AS run
      FROM (SELECT *, event_date - lag(event_date) OVER (PARTITION BY release_id, counted, aor ORDER BY event_date)
                   AS gap FROM days))
    SELECT '{table}', r.release_id, r.counted, r.aor, s.state, min(event_date), max(event_date), count(*), sum(n)
    FROM runs r JOIN scope s USING (release_id) GROUP BY r.release_id, r.counted, r.aor, s.state, run"""


def _fields_sql(table: str, where: str = "") -> tuple[str, list[str]]:
    spec = tables()[table]
    names, exprs = [], []
    for c in spec.columns:
        if c.name in NOT_FIELDS:
            continue
        test = c.recorded_if or f'"{c.name}" IS NOT NULL OR list_contains(redacted, \'{c.name}\')'
        names.append(c.name)
        exprs.append(f"count(*) FILTER (WHERE {test})")
    return f'SELECT release_id, count(*), {", ".join(exprs)} FROM "{table}" {where} GROUP BY release_id', names


def _in(n: int) -> str:
    """The condition `release_id IN (?, ...)` for n parameters."""
    return f"release_id IN ({', '.join('?' for _ in range(n))})"


def declared_scopes() -> list[tuple[str, str]]:
    """(release, state) for releases the catalog declares a selection of one state's rows (scope_state)."""
    from icemonitor.catalog.catalog import load_catalog

    return [(r.id, r.scope_state) for r in load_catalog().releases if r.scope_state]


def _declared_subsets() -> list[tuple[str, str, str]]:
    """(release, what EN, what ES) for releases the catalog declares a subset of people or cases (subset)."""
    from icemonitor.catalog.catalog import load_catalog

    return [(r.id, r.subset.en, r.subset.es) for r in load_catalog().releases if r.subset]


def write_coverage(con: duckdb.DuckDBPyConnection, fields_for: set[tuple[str, str]] | None = None,
                   spans_for: set[tuple[str, str]] | None = None,
                   spans_from_days: set[tuple[str, str]] | None = None) -> None:
    """Write coverage_spans, coverage_subsets and coverage_fields for every event table of schema.yaml. With
    `fields_for` ((table, release) pairs whose rows changed), coverage_fields is kept and only those pairs' rows are
    derived again (what each release records depends on its own rows only: a refresh need not read every column of
    every table); likewise coverage_spans with `spans_for` (pairs whose rows or `counted` flags changed). The pairs
    of `spans_for` also in `spans_from_days` (only their `counted` flags changed, and event_days holds their counts
    with the new flags) are derived from event_days instead of their rows (_spans_from_days_sql)."""
    from_days = sorted((spans_from_days or set()) & (spans_for or set()))
    con.execute("CREATE OR REPLACE TEMP TABLE kept_scope (table_name VARCHAR, release_id VARCHAR, state VARCHAR)")
    for table, release_id in from_days:  # their scope, before their spans are deleted
        con.execute("INSERT INTO kept_scope SELECT table_name, release_id, any_value(state) FROM coverage_spans "
                    "WHERE table_name = ? AND release_id = ? GROUP BY ALL", [table, release_id])
    if spans_for is None:
        con.execute(SPANS_DDL)
    else:
        for table, release_id in sorted(spans_for):
            con.execute("DELETE FROM coverage_spans WHERE table_name = ? AND release_id = ?", [table, release_id])
    if fields_for is None:
        con.execute(FIELDS_DDL)
    else:
        for table, release_id in sorted(fields_for):
            con.execute(f"DELETE FROM {FIELDS_TABLE} WHERE table_name = ? AND release_id = ?", [table, release_id])
    con.execute(SUBSETS_DDL)
    insert_values(con, "coverage_subsets", _declared_subsets())
    con.execute("CREATE TEMP TABLE release_scope (release_id VARCHAR, state VARCHAR)")
    insert_values(con, "release_scope", declared_scopes())
    for table in tables():
        if spans_for is None:
            con.execute(f"INSERT INTO coverage_spans {_spans_sql(table)}")
        else:
            recounted = sorted(r for t, r in from_days if t == table)
            if spans := sorted(r for t, r in spans_for if t == table and r not in recounted):
                con.execute(f"INSERT INTO coverage_spans {_spans_sql(table, _in(len(spans)))}", spans)
            if recounted:
                con.execute(f"INSERT INTO coverage_spans {_spans_from_days_sql(_in(len(recounted)))}{_runs(table)}",
                            [table, *recounted, table])
        if fields_for is None:
            sql, names = _fields_sql(table)
            params: list[str] = []
        else:
            params = sorted(r for t, r in fields_for if t == table)
            if not params:
                continue
            sql, names = _fields_sql(table, f"WHERE {_in(len(params))}")
        rows = []
        for release_id, n, *with_value in con.execute(sql, params).fetchall():
            rows += [[table, release_id, f, k > 0, k, n] for f, k in zip(names, with_value)]
        insert_values(con, FIELDS_TABLE, rows)
