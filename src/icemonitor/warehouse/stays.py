"""Detention stays derived from detention stints: one row per release, person and stay book-in (DDP's stay: the
person's identifier and the stay book-in time). Persons are never linked across releases. A release whose own stays
file was read (DDP's processed detention-stays) keeps those stays: none are derived for it."""

from __future__ import annotations

import duckdb

# a stint without a person identifier is a stay of its own
_PERSON = "coalesce(person_id, source_file || ':' || source_row)"
_STAY_AT = "coalesce(stay_book_in_at, book_in_at)"

STAYS_SQL = f"""
INSERT INTO detention_stays BY NAME
WITH keyed AS (
  SELECT *, {_PERSON} AS _person, {_STAY_AT} AS _stay_at FROM detention_stints {{where}}
), stays AS (
  SELECT release_id, _person, _stay_at,
         count(DISTINCT strftime(book_in_at, '%Y-%m-%d %H:%M:%S') || '|' || coalesce(facility_code, '')) AS stints,
         max(stay_book_out_at) AS stay_book_out_at,
         arg_max(stay_release_reason, book_in_at) AS stay_release_reason
  FROM keyed GROUP BY ALL
), first_stint AS (
  SELECT * FROM keyed
  QUALIFY row_number() OVER (PARTITION BY release_id, _person, _stay_at ORDER BY book_in_at, source_file, source_row) = 1
)
SELECT f.release_id, f.source_file, f.source_sheet, f.source_row,
       CAST(f._stay_at AS DATE) AS event_date,
       CAST(year(f._stay_at) + CASE WHEN month(f._stay_at) >= 10 THEN 1 ELSE 0 END AS SMALLINT) AS fy,
       f.aor_raw, f.aor, f.state, f.landmark, f.method_raw, f.method_class, f.criminality_field, f.criminality_raw,
       f.criminality, f.operation_raw, f.operation, f.disposition, f.citizenship, f.gender, f.person_id, f.redacted,
       f.duplicate_group, f.duplicate_count, f.counted,
       f._stay_at AS stay_book_in_at, s.stay_book_out_at, s.stay_release_reason,
       f.facility_code AS first_facility_code, f.detention_facility AS first_facility, CAST(s.stints AS INTEGER) AS stints
FROM first_stint f JOIN stays s USING (release_id, _person, _stay_at)
"""


def write_stays(con: duckdb.DuckDBPyConnection, releases: set[str] | None = None,
                read: set[str] | frozenset[str] = frozenset()) -> int:
    """Fill detention_stays from detention_stints (only the stays of `releases` when given: those are derived again,
    the others kept; a release's stays depend on its own stints only). The releases in `read` had their own stays
    file read: their stays are kept and none are derived for them. Returns the number of stays."""
    if releases is not None and not releases:
        return int(con.execute("SELECT count(*) FROM detention_stays").fetchone()[0])
    ids = sorted((set(releases) if releases is not None else
                  {r for (r,) in con.execute("SELECT DISTINCT release_id FROM detention_stints").fetchall()}
                  | {r for (r,) in con.execute("SELECT DISTINCT release_id FROM detention_stays").fetchall()}) - set(read))
    if ids:
        marks = ", ".join("?" for _ in ids)
        con.execute(f"DELETE FROM detention_stays WHERE release_id IN ({marks})", ids)
        con.execute(STAYS_SQL.format(where=f"WHERE release_id IN ({marks})"), ids)
    return int(con.execute("SELECT count(*) FROM detention_stays").fetchone()[0])


def recount(con: duckdb.DuckDBPyConnection, releases: set[str]) -> None:
    """Give the stays of `releases` their first stint's `counted` again (after precedence re-derived it)."""
    for rid in sorted(releases):
        con.execute(
            "UPDATE detention_stays s SET counted = t.counted FROM detention_stints t "
            "WHERE s.release_id = ? AND t.release_id = s.release_id AND t.source_file = s.source_file "
            "AND t.source_sheet IS NOT DISTINCT FROM s.source_sheet AND t.source_row = s.source_row", [rid])
