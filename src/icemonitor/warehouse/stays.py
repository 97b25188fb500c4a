"""Detention stays derived from detention stints: one row per release, person and stay book-in (DDP's stay: the
person's identifier and the stay book-in time). Persons are never linked across releases. A release whose own stays
file was read (DDP's processed detention-stays) keeps those stays: none are derived for it."""

from __future__ import annotations

import duckdb

# Stints aggregated at a time: a release with more is split by person (hash(person) % parts), every stay within one
# part, and DuckDB's memory raised to PART_MEMORY while its parts are derived: each part's aggregate then fits
# instead of spilling (the 8x generated set's 15.6 M stints in one aggregate spilled 4.5 GB to disk under 512 MB;
# 8 parts of 2 M under 512 MB: 75 s CPU, each part scanning every stint). A release within PART_STINTS keeps the
# build's limit.
PART_STINTS = 4_000_000
PART_MEMORY = "1GB"
# a stint without a person identifier is a stay of its own
_PERSON = "coalesce(person_id, source_file || ':' || source_row)"
_STAY_AT = "coalesce(stay_book_in_at, book_in_at)"

# A stint's place in its release's order (book-in, file, row; a stint without book-in last) as one HUGEINT: the
# book-in in microseconds, then the file's rank among the release's stint files ($files, sorted) and the row, each in
# bits of its own. The same order as the tuple (book_in_at, source_file, source_row), without a string in every
# aggregate state: the tuple's aggregate over the 8x set's 15.6 M stints spilled gigabytes.
_ORDER = ("(CAST(coalesce(epoch_us(book_in_at), 4611686018427387904) AS HUGEINT) * 1099511627776"
          " + CAST(list_position($files, source_file) AS HUGEINT) * 4294967296 + CAST(source_row AS HUGEINT))")

# One aggregate over the stints (no window over whole rows): each stay's first stint (by book-in, file, row; a
# stint without book-in last) is found by its rowid and joined back for its fields; the stay's release reason is its
# last stint's (ties broken by file and row, so a rebuild gives the same answer).
STAYS_SQL = f"""
INSERT INTO detention_stays BY NAME
WITH stays AS (
  SELECT any_value(release_id) AS release_id,
         arg_min(rowid, {_ORDER}) AS first_rowid,
         count(DISTINCT CASE WHEN book_in_at IS NOT NULL
                        THEN (date_trunc('second', book_in_at), coalesce(facility_code, '')) END) AS stints,
         max(stay_book_out_at) AS stay_book_out_at,
         arg_max(stay_release_reason, CASE WHEN book_in_at IS NOT NULL THEN {_ORDER} END) AS stay_release_reason
  FROM detention_stints {{where}}
  GROUP BY {_PERSON}, {_STAY_AT}
), first_stint AS (
  SELECT f.* EXCLUDE (stay_book_out_at, stay_release_reason), {_STAY_AT} AS _stay_at,
         s.stay_book_out_at, s.stay_release_reason, s.stints
  FROM stays s JOIN (SELECT rowid AS _rowid, * FROM detention_stints {{where}}) f ON f._rowid = s.first_rowid
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
    for rid in ids:  # one release at a time: its stays depend on its own stints only
        con.execute("DELETE FROM detention_stays WHERE release_id = ?", [rid])
        n = con.execute("SELECT count(*) FROM detention_stints WHERE release_id = ?", [rid]).fetchone()[0]
        files = [f for (f,) in con.execute("SELECT DISTINCT source_file FROM detention_stints WHERE release_id = ? "
                                           "ORDER BY source_file", [rid]).fetchall()]
        if len(files) >= 256:  # the file's rank has 8 bits in the order (_ORDER)
            raise ValueError(f"release {rid}: {len(files)} stint files, more than the stays' order holds (255)")
        parts = max(1, -(-n // PART_STINTS))
        limit = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
        if parts > 1:
            con.execute(f"SET memory_limit = '{PART_MEMORY}'")
        try:
            for part in range(parts):
                where = "WHERE release_id = $rid" + (f" AND hash({_PERSON}) % {parts} = {part}" if parts > 1 else "")
                con.execute(STAYS_SQL.format(where=where), {"rid": rid, "files": files})
        finally:
            if parts > 1:
                con.execute(f"SET memory_limit = '{limit}'")
    return int(con.execute("SELECT count(*) FROM detention_stays").fetchone()[0])


def recount(con: duckdb.DuckDBPyConnection, releases: set[str]) -> set[str]:
    """Give the stays of `releases` their first stint's `counted` again (after precedence re-derived it); returns
    the releases whose stays changed. The stays whose flag differs from their first stint's are found by a join into
    a temporary table of row ids, then updated by row id: one UPDATE joined to the stints (8x: 9 M stays, 15.6 M
    stints) cost three times as much CPU."""
    changed = set()
    for rid in sorted(releases):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE stay_flips AS SELECT s.rowid AS stay_rowid, t.counted "
            "FROM detention_stays s JOIN detention_stints t ON t.source_file = s.source_file "
            "AND t.source_row = s.source_row AND t.source_sheet IS NOT DISTINCT FROM s.source_sheet "
            "WHERE s.release_id = ? AND t.release_id = ? AND s.counted IS DISTINCT FROM t.counted", [rid, rid])
        if con.execute("SELECT count(*) FROM stay_flips").fetchall()[0][0]:
            changed.add(rid)
        con.execute("UPDATE detention_stays SET counted = f.counted FROM stay_flips f "
                    "WHERE detention_stays.rowid = f.stay_rowid")
        con.execute("DROP TABLE stay_flips")
    return changed
