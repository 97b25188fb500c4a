"""What the records cover, written by the build as data: the days with records and the fields each release records.

`coverage_spans`: one row per table, release, counted flag, AOR (NULL for a release that records no AOR in the
table, e.g. ICE's detention stints: it covers the nation, no place within it) (and the one state the release covers: declared in
the catalog as `scope_state`, or where all its rows of the table record the same state) and run of days with records. Days of one series closer than
QUIET_DAYS + 1 apart join one span: a few days without any record inside a series are quiet days (a real zero),
a longer gap is days the records do not cover. Derived from event_days' counts (warehouse/aggregates.py), after it.

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


def _spans_sql(pairs: str = "TRUE") -> str:
    """The spans of every event table's (table, release) pairs `pairs` selects (an SQL condition on table_name and
    release_id), from event_days' counts (the rows per table, release, flag, AOR, recorded state and day; every
    event table's rows, NULL days and AORs included): the same spans as the rows give, from a fifth of the rows,
    and the same SQL for a build and a refresh. A release's scope (the state) is the one the catalog declares, else
    the one state all its rows of the table record."""
    return f"""
    WITH scope AS (
      SELECT t.table_name, t.release_id, coalesce(any_value(d.state),
             CASE WHEN count(DISTINCT t.state) = 1 AND sum(t.n) FILTER (WHERE t.state IS NOT NULL) = sum(t.n)
                  THEN any_value(t.state) END) AS state, count(t.aor) = 0 AS no_aor
      FROM event_days t LEFT JOIN release_scope d USING (release_id) WHERE {pairs}
      GROUP BY t.table_name, t.release_id),
    days AS (
      SELECT table_name, release_id, counted, aor, event_date, n
      FROM (SELECT table_name, release_id, counted, aor, event_date, sum(n) AS n FROM event_days
                     WHERE event_date IS NOT NULL AND {pairs} GROUP BY ALL)
      JOIN scope USING (table_name, release_id) WHERE aor IS NOT NULL OR no_aor),
    runs AS (
      SELECT *, sum(CASE WHEN gap IS NULL OR gap > {QUIET_DAYS + 1} THEN 1 ELSE 0 END)
                OVER (PARTITION BY table_name, release_id, counted, aor ORDER BY event_date) AS run
      FROM (SELECT *, event_date - lag(event_date) OVER (PARTITION BY table_name, release_id, counted, aor
                                                         ORDER BY event_date) AS gap FROM days))
    SELECT r.table_name, r.release_id, r.counted, r.aor, s.state, min(event_date), max(event_date), count(*),
           sum(n)
    FROM runs r JOIN scope s USING (table_name, release_id) GROUP BY r.table_name, r.release_id, r.counted, r.aor,
         s.state, run"""


def _fields_sql(table: str, where: str = "TRUE") -> tuple[str, str, list[str]]:
    """(rows and rows with a value per release and field, the rows whose redaction marker alone records each field
    per release, the fields) for `table`'s rows `where` selects: a field is recorded by a value or a redaction
    marker. The markers are counted apart, over the rows with any (a fifth of the rows or fewer), and only where
    the field has no value, so the sum of the two is the rows with either."""
    names, values, marked = [], [], []
    for c in tables()[table].columns:
        if c.name in NOT_FIELDS:
            continue
        names.append(c.name)
        values.append(f"count(*) FILTER (WHERE {c.recorded_if})" if c.recorded_if else f'count("{c.name}")')
        marked.append("0" if c.recorded_if else
                      f'count(*) FILTER (WHERE "{c.name}" IS NULL AND list_contains(redacted, \'{c.name}\'))')
    return (f'SELECT release_id, count(*), {", ".join(values)} FROM "{table}" WHERE {where} GROUP BY release_id',
            f'SELECT release_id, {", ".join(marked)} FROM "{table}" WHERE ({where}) AND len(redacted) > 0 '
            "GROUP BY release_id", names)


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


def write_coverage(con: duckdb.DuckDBPyConnection, fields_for: set[tuple[str, str]] | None = None) -> None:
    """Write coverage_subsets and coverage_fields for every event table of schema.yaml (coverage_spans: write_spans,
    after event_days). With `fields_for` ((table, release) pairs whose rows changed), coverage_fields is kept and
    only those pairs' rows are derived again (what each release records depends on its own rows only: a refresh
    need not read every column of every table)."""
    if fields_for is None:
        con.execute(FIELDS_DDL)
    else:
        for table, release_id in sorted(fields_for):
            con.execute(f"DELETE FROM {FIELDS_TABLE} WHERE table_name = ? AND release_id = ?", [table, release_id])
    con.execute(SUBSETS_DDL)
    insert_values(con, "coverage_subsets", _declared_subsets())
    for table in tables():
        params = sorted(r for t, r in fields_for if t == table) if fields_for is not None else []
        if fields_for is not None and not params:
            continue
        values_sql, marked_sql, names = _fields_sql(table, _in(len(params)) if params else "TRUE")
        marked = {release_id: counts for release_id, *counts in con.execute(marked_sql, params).fetchall()}
        rows = []
        for release_id, n, *with_value in con.execute(values_sql, params).fetchall():
            with_value = [k + m for k, m in zip(with_value, marked.get(release_id, [0] * len(names)))]
            rows += [[table, release_id, f, k > 0, k, n] for f, k in zip(names, with_value)]
        insert_values(con, FIELDS_TABLE, rows)


def write_spans(con: duckdb.DuckDBPyConnection, spans_for: set[tuple[str, str]] | None = None) -> int:
    """Write coverage_spans from event_days (after it is derived, or updated by a refresh): every (table, release)
    pair's, or with `spans_for` only those pairs' again (pairs whose rows or `counted` flags changed: the others'
    spans are kept). Returns the table's rows."""
    con.execute("CREATE OR REPLACE TEMP TABLE release_scope (release_id VARCHAR, state VARCHAR)")
    insert_values(con, "release_scope", declared_scopes())
    if spans_for is None:
        con.execute(SPANS_DDL)
        con.execute(f"INSERT INTO {SPANS_TABLE} {_spans_sql()}")
    elif spans_for:
        pairs = sorted(spans_for)
        con.execute("CREATE OR REPLACE TEMP TABLE spans_again (table_name VARCHAR, release_id VARCHAR)")
        insert_values(con, "spans_again", pairs)
        con.execute(f"DELETE FROM {SPANS_TABLE} WHERE (table_name, release_id) IN (FROM spans_again)")
        con.execute(f"INSERT INTO {SPANS_TABLE} "
                    f"{_spans_sql('(table_name, release_id) IN (FROM spans_again)')}")
        con.execute("DROP TABLE spans_again")
    con.execute("DROP TABLE release_scope")
    return int(con.execute(f"SELECT count(*) FROM {SPANS_TABLE}").fetchone()[0])
