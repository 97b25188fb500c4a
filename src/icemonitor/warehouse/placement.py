"""The SQL that places an event table's rows in a state and county (query/selection.py's event_source documents the
columns it adds): the release's recorded state and county first, else the landmark's resolution by the places
stage (landmark_resolution, recorded_counties). Here, below the places and query layers, so that the build can
derive its count table (warehouse/aggregates.py) from the very same SQL the queries use."""

from __future__ import annotations

from collections.abc import Callable

RESOLUTION_TABLE = "landmark_resolution"
RECORDED_COUNTY_TABLE = "recorded_counties"

Columns = Callable[[str], set[str]]  # table -> its columns (empty when there is no such table)
# the columns of the placement tables placed_source reads (their other columns, e.g. counts of arrests, place nothing)
READS = {RESOLUTION_TABLE: ("aor", "landmark", "state", "county_fips", "level", "kind"),
         RECORDED_COUNTY_TABLE: ("state", "county_raw", "county_fips")}


def placed_source(table: str, placement: str, columns: Columns) -> str:
    """FROM clause for `table` with res_state, res_county_fips, office_county_fips, res_level, res_kind, res_by and
    res_county_by; `placement`: 'event' (office placements apart) or 'any'."""
    cols = columns(table)
    state = "e.state" if "state" in cols else "NULL::VARCHAR"
    res_cols = columns(RESOLUTION_TABLE)
    county, by_county, join = _recorded_county(cols, bool(columns(RECORDED_COUNTY_TABLE)))
    if res_cols and {"aor", "landmark"} <= cols:
        kind = "r.kind" if "kind" in res_cols else "NULL::VARCHAR"
        level = "r.level" if "level" in res_cols else "NULL::VARCHAR"
        placed = f"{kind} IS DISTINCT FROM 'office_proxy'" if placement == "event" else "TRUE"
        # the policy is applied to the resolution table's rows (one per AOR and landmark), not to every event
        res = (f"(SELECT r.aor, r.landmark, CASE WHEN {placed} THEN r.state END AS placed_state, "
               f"CASE WHEN {placed} THEN r.county_fips END AS placed_county, "
               f"CASE WHEN {kind} = 'office_proxy' THEN r.county_fips END AS office_county, {level} AS level, "
               f"{kind} AS kind FROM {RESOLUTION_TABLE} r)")
        # the state a release records wins over the landmark's; a landmark county in another state is dropped
        same_state = f"({state} IS NULL OR r.placed_state = {state})"
        landmark_county = f"CASE WHEN {same_state} THEN r.placed_county END"
        return (
            f"(SELECT e.*, coalesce({state}, r.placed_state) AS res_state, "
            f"coalesce({county}, {landmark_county}) AS res_county_fips, "
            f"CASE WHEN {same_state} THEN r.office_county END AS office_county_fips, r.level AS res_level, "
            f"r.kind AS res_kind, CASE WHEN {state} IS NOT NULL THEN 'recorded_state' "
            f"WHEN r.placed_state IS NOT NULL THEN 'landmark' END AS res_by, "
            f"CASE WHEN {county} IS NOT NULL THEN '{by_county}' WHEN {landmark_county} IS NOT NULL THEN 'landmark' "
            f"END AS res_county_by "
            f"FROM {table} e LEFT JOIN {res} r ON e.aor = r.aor AND e.landmark = r.landmark{join})"
        )
    return (f"(SELECT e.*, {state} AS res_state, {county} AS res_county_fips, "
            f"NULL::VARCHAR AS office_county_fips, NULL::VARCHAR AS res_level, NULL::VARCHAR AS res_kind, "
            f"CASE WHEN {state} IS NOT NULL THEN 'recorded_state' END AS res_by, "
            f"CASE WHEN {county} IS NOT NULL THEN '{by_county}' END AS res_county_by FROM {table} e{join})")


def _recorded_county(cols: set[str], mapped: bool) -> tuple[str, str, str]:
    """(county expression, its res_county_by label, join) for the county a release records (places'
    recorded_counties table: the recorded state and county name mapped to a FIPS code), which wins over the
    landmark's county; NULL where the table records no county or the warehouse has no mapping (`mapped`)."""
    if {"state", "county_raw"} <= cols and mapped:
        return ("rc.county_fips", "recorded_county",
                f" LEFT JOIN {RECORDED_COUNTY_TABLE} rc ON rc.state = e.state AND rc.county_raw = e.county_raw")
    return "NULL::VARCHAR", "recorded_county", ""
