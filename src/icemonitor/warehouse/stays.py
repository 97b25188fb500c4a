"""Detention stays derived from detention stints: one row per release, person and stay book-in (DDP's stay: the
person's identifier and the stay book-in time). Persons are never linked across releases. A release whose own stays
file was read (DDP's processed detention-stays) keeps those stays: none are derived for it."""

from __future__ import annotations

import duckdb

# a stint without a person identifier is a stay of its own
_PERSON = "coalesce(person_id, source_file || ':' || source_row)"
_STAY_AT = "coalesce(stay_book_in_at, book_in_at)"

# One aggregate over the stints (no window over whole rows): each stay's first stint (by book-in, file, row; a
# stint without book-in last) is found by its rowid and joined back for its fields; the stay's release reason is its
# last stint's (ties broken by file and row, so a rebuild gives the same answer).
STAYS_SQL = f"""
INSERT INTO detention_stays BY NAME
WITH stays AS (
  SELECT release_id,
         arg_min(rowid, (coalesce(book_in_at, 'infinity'::TIMESTAMP), source_file, source_row)) AS first_rowid,
         count(DISTINCT CASE WHEN book_in_at IS NOT NULL
                        THEN (date_trunc('second', book_in_at), coalesce(facility_code, '')) END) AS stints,
         max(stay_book_out_at) AS stay_book_out_at,
         arg_max(stay_release_reason, CASE WHEN book_in_at IS NOT NULL THEN (book_in_at, source_file, source_row) END)
           AS stay_release_reason
  FROM detention_stints {{where}}
  GROUP BY release_id, {_PERSON}, {_STAY_AT}
), first_stint AS (
  SELECT f.* EXCLUDE (stay_book_out_at, stay_release_reason), {_STAY_AT} AS _stay_at,
         s.stay_book_out_at, s.stay_release_reason, s.stints
  FROM stays s JOIN detention_stints f ON f.rowid = s.first_rowid
)
SELECT release_id, source_file, source_sheet, source_row,
       CAST(_stay_at AS DATE) AS event_date,
       CAST(year(_stay_at) + CASE WHEN month(_stay_at) >= 10 THEN 1 ELSE 0 END AS SMALLINT) AS fy,
       aor_raw, aor, state, landmark, method_raw, method_class, criminality_field, criminality_raw,
       criminality, operation_raw, operation, disposition, citizenship, gender, person_id, redacted,
       duplicate_group, duplicate_count, counted,
       _stay_at AS stay_book_in_at, stay_book_out_at, stay_release_reason,
       facility_code AS first_facility_code, detention_facility AS first_facility, CAST(stints AS INTEGER) AS stints
FROM first_stint
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
