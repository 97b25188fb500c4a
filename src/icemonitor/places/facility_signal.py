"""A separate, labelled placement signal for arrests: the county of the first detention facility the same person was
booked into within 5 days after the arrest (same release: person identifiers are never linked across releases).

It is where ICE took the person, not where the arrest happened, so it is never mixed into the arrest's own county
(`res_county_fips`): it lives in its own table, `arrest_facility_counties`, one row per arrest that has such a
book-in, with the facility, the days after the arrest and the facility's county. A facility is placed by the
detention stage's `detention_facility_places` (the records' facility codes placed in a county), else by the UWCHR
facility gazetteer; a facility neither places keeps county_fips NULL.

`signal_coverage` counts, for counted arrests, how each signal places them (`icemonitor places coverage`).
"""

from __future__ import annotations

import duckdb
import polars as pl

from icemonitor.messages import msg
from icemonitor.places.recorded_counties import TABLE as RECORDED_COUNTIES

TABLE = "arrest_facility_counties"
SIGNAL = "first_facility_within_5_days"
DAYS_AFTER = 5
FACILITY_PLACES = "detention_facility_places"
SCHEMA = {"release_id": pl.String, "source_file": pl.String, "source_row": pl.Int32, "signal": pl.String,
          "facility_code": pl.String, "book_in_at": pl.Datetime("us"), "days_after_arrest": pl.Int32,
          "county_fips": pl.String, "placed_by": pl.String}


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}


def facility_signal_table(con: duckdb.DuckDBPyConnection, gazetteer: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per arrest with a book-in of the same person and release from the arrest's day to 5 days after:
    the first such book-in's facility and its county. `gazetteer`: facility_code, county_fips (fallback)."""
    present = _tables(con)
    if not {"arrests", "detention_stints"} <= present:
        return pl.DataFrame(schema=SCHEMA)
    places = (f"SELECT facility_code, county_fips, 'detention_facility_places' AS placed_by FROM {FACILITY_PLACES} "
              "WHERE county_fips IS NOT NULL" if FACILITY_PLACES in present else None)
    if gazetteer is not None:
        con.register("_gazetteer", gazetteer.select("facility_code", "county_fips").to_arrow())
        gaz = "SELECT facility_code, county_fips, 'gazetteer' AS placed_by FROM _gazetteer WHERE county_fips IS NOT NULL"
        places = f"{places} UNION ALL {gaz}" if places else gaz
    placed = (f"(SELECT * FROM ({places}) QUALIFY row_number() OVER (PARTITION BY facility_code "
              "ORDER BY placed_by = 'gazetteer', county_fips) = 1)" if places else
              "(SELECT NULL::VARCHAR AS facility_code, NULL::VARCHAR AS county_fips, NULL::VARCHAR AS placed_by)")
    sql = f"""
    WITH first AS (
      SELECT a.release_id, a.source_file, a.source_row, s.facility_code, s.book_in_at,
             date_diff('day', a.event_date, CAST(s.book_in_at AS DATE)) AS days_after_arrest
      FROM arrests a JOIN detention_stints s
        ON s.release_id = a.release_id AND s.person_id = a.person_id
       AND CAST(s.book_in_at AS DATE) BETWEEN a.event_date AND a.event_date + {DAYS_AFTER}
      WHERE a.person_id IS NOT NULL
      QUALIFY row_number() OVER (PARTITION BY a.release_id, a.source_file, a.source_row
                                 ORDER BY s.book_in_at, s.facility_code) = 1)
    SELECT f.release_id, f.source_file, f.source_row, '{SIGNAL}' AS signal, f.facility_code, f.book_in_at,
           CAST(f.days_after_arrest AS INTEGER) AS days_after_arrest, p.county_fips, p.placed_by
    FROM first f LEFT JOIN {placed} p ON p.facility_code = f.facility_code
    ORDER BY 1, 2, 3"""
    try:
        return pl.from_arrow(con.sql(sql).to_arrow_table()).cast(SCHEMA)  # type: ignore[arg-type]
    finally:
        if gazetteer is not None:
            con.unregister("_gazetteer")


def write_facility_signal(con: duckdb.DuckDBPyConnection, gazetteer: pl.DataFrame | None = None) -> int:
    """Create the signal table in the warehouse (after the detention stage placed the facilities); its row count."""
    df = facility_signal_table(con, gazetteer)
    con.register("_signal_frame", df.to_arrow())
    con.execute(f"CREATE OR REPLACE TABLE {TABLE} AS SELECT * FROM _signal_frame")
    con.unregister("_signal_frame")
    return df.height


def signal_coverage(con: duckdb.DuckDBPyConnection) -> dict:
    """Counted arrests by how each placement signal places them (every arrest counted once per signal):
    county: by the recorded county (mapped to FIPS), else by the landmark's event county, else none;
    state: by the recorded state, else by the landmark, else none;
    facility: arrests whose first facility within 5 days has a county (and how many of them no other signal places
    in a county); unplaced: no state, no county and no facility county."""
    present = _tables(con)
    cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                      "WHERE table_name = 'arrests'").fetchall()}
    state = "a.state" if "state" in cols else "NULL::VARCHAR"
    rc = ("LEFT JOIN recorded_counties rc ON rc.state = a.state AND rc.county_raw = a.county_raw"
          if RECORDED_COUNTIES in present and {"state", "county_raw"} <= cols else "")
    rc_fips = "rc.county_fips" if rc else "NULL::VARCHAR"
    lr = ("LEFT JOIN (SELECT aor, landmark, CASE WHEN kind IS DISTINCT FROM 'office_proxy' THEN state END AS st, "
          "CASE WHEN kind IS DISTINCT FROM 'office_proxy' AND level = 'county' THEN county_fips END AS fips "
          "FROM landmark_resolution) lr ON lr.aor = a.aor AND lr.landmark = a.landmark"
          if "landmark_resolution" in present and {"aor", "landmark"} <= cols else "")
    lr_st, lr_fips = ("lr.st", "lr.fips") if lr else ("NULL::VARCHAR", "NULL::VARCHAR")
    fs = (f"LEFT JOIN {TABLE} fs ON fs.release_id = a.release_id AND fs.source_file = a.source_file "
          "AND fs.source_row = a.source_row" if TABLE in present and "release_id" in cols else "")
    fs_fips = "fs.county_fips" if fs else "NULL::VARCHAR"
    landmark_county = f"CASE WHEN {state} IS NULL OR {lr_st} = {state} THEN {lr_fips} END"
    sql = f"""
    WITH p AS (
      SELECT CASE WHEN {rc_fips} IS NOT NULL THEN 'recorded_county' WHEN {landmark_county} IS NOT NULL
                  THEN 'landmark' ELSE 'none' END AS county_by,
             CASE WHEN {state} IS NOT NULL THEN 'recorded_state' WHEN {lr_st} IS NOT NULL THEN 'landmark'
                  ELSE 'none' END AS state_by,
             {fs_fips} IS NOT NULL AS facility
      FROM arrests a {rc} {lr} {fs} WHERE {"a.counted" if "counted" in cols else "TRUE"})
    SELECT count(*),
           count(*) FILTER (WHERE county_by = 'recorded_county'), count(*) FILTER (WHERE county_by = 'landmark'),
           count(*) FILTER (WHERE county_by = 'none'),
           count(*) FILTER (WHERE state_by = 'recorded_state'), count(*) FILTER (WHERE state_by = 'landmark'),
           count(*) FILTER (WHERE state_by = 'none'),
           count(*) FILTER (WHERE facility), count(*) FILTER (WHERE facility AND county_by = 'none'),
           count(*) FILTER (WHERE county_by = 'none' AND state_by = 'none' AND NOT facility)
    FROM p"""
    n, rcty, lcty, ncty, rst, lst, nst, fac, fac_only, unplaced = con.execute(sql).fetchone()
    return {
        "definition": msg("counted arrests by placement signal. county: the county the release records (state and "
                          "county name mapped to a FIPS code), else the landmark's event county, else none; state: "
                          "the state the release records, else the landmark's; facility: the county of the first "
                          "detention facility booked within {days} days after the arrest (a separate signal, never "
                          "the arrest's county); unplaced: no state, no county and no facility county",
                          days=DAYS_AFTER),
        "arrests": n,
        "county": {"recorded_county": rcty, "landmark": lcty, "none": ncty},
        "state": {"recorded_state": rst, "landmark": lst, "none": nst},
        "facility": {"with_county": fac, "only_facility_county": fac_only},
        "unplaced": unplaced,
        "signals_available": {"recorded_counties": bool(rc), "landmark_resolution": bool(lr), TABLE: bool(fs)},
    }
