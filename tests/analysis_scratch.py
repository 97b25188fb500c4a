"""TEST HELPER ONLY: the warehouse for the analysis tests.

`analysis_warehouse(request, tmp_path_factory)` returns main's session `warehouse_path` (the real build from
../shared/data). While that build fails on main, it falls back, with a warning, to a scratch warehouse built here.

Builds `arrests` (nationwide FY2016-19, FOIA 2019-ICFO-53623) and `removals` (same release) with the
canonical column names of warehouse/schema.yaml, straight from ../shared/data. Not product code.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NATIONAL = SHARED_DATA / "ice" / "uwchr-ice-enforce-fy16-19"
RELEASE = "uwchr-ice-enforce-fy16-19"

_AOR = """
CASE replace(aor_raw, ' Area of Responsibility', '')
 WHEN 'Atlanta' THEN 'ATL' WHEN 'Baltimore' THEN 'BAL' WHEN 'Boston' THEN 'BOS' WHEN 'Buffalo' THEN 'BUF'
 WHEN 'Chicago' THEN 'CHI' WHEN 'Dallas' THEN 'DAL' WHEN 'Denver' THEN 'DEN' WHEN 'Detroit' THEN 'DET'
 WHEN 'El Paso' THEN 'ELP' WHEN 'Houston' THEN 'HOU' WHEN 'Los Angeles' THEN 'LOS' WHEN 'Miami' THEN 'MIA'
 WHEN 'Newark' THEN 'NEW' WHEN 'New Orleans' THEN 'NOL' WHEN 'New York City' THEN 'NYC' WHEN 'Philadelphia' THEN 'PHI'
 WHEN 'Phoenix' THEN 'PHO' WHEN 'Seattle' THEN 'SEA' WHEN 'San Francisco' THEN 'SFR' WHEN 'Salt Lake City' THEN 'SLC'
 WHEN 'San Antonio' THEN 'SNA' WHEN 'San Diego' THEN 'SND' WHEN 'St. Paul' THEN 'SPM' WHEN 'Washington' THEN 'WAS'
 WHEN 'HQ' THEN 'HQ' ELSE NULL END
"""


def _fy(col: str) -> str:
    return f"CAST(year({col}) + CASE WHEN month({col}) >= 10 THEN 1 ELSE 0 END AS SMALLINT)"


def _files(paths) -> str:
    return "[" + ", ".join(f"'{p}'" for p in sorted(paths)) + "]"


def build(path: Path) -> Path:
    """Build the scratch warehouse at `path` (skipped when it exists)."""
    if path.exists():
        return path
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    arrests = _files(NATIONAL.glob("EROArrests_FY20*.csv.gz"))
    con.execute(f"""
    CREATE TABLE arrests AS
    WITH raw AS (
      SELECT "Area of Responsibility" AS aor_raw, strptime("Apprehension Date", '%m/%d/%Y')::DATE AS event_date,
             "Apprehension Method" AS method_raw, "Apprehension Landmark" AS landmark, "Operation" AS operation_raw,
             "Processing Disposition" AS disposition, "Citizenship" AS citizenship, "Gender" AS gender,
             regexp_extract(filename, '[^/]+$') AS source_file
      FROM read_csv({arrests}, delim='|', skip=5, header=true, all_varchar=true, filename=true))
    SELECT '{RELEASE}' AS release_id, source_file, NULL::VARCHAR AS source_sheet, NULL::INTEGER AS source_row,
           event_date, {_fy('event_date')} AS fy, aor_raw, {_AOR} AS aor, NULL::VARCHAR AS state,
           NULLIF(trim(landmark), '') AS landmark, method_raw,
           CASE WHEN method_raw IN ('CAP Local Incarceration','CAP State Incarceration','CAP Federal Incarceration',
                                    '287(g) Program','Probation and Parole') THEN 'custodial'
                WHEN method_raw IN ('Located','Non-Custodial Arrest') THEN 'at_large'
                WHEN method_raw IS NULL OR method_raw = '' THEN NULL ELSE 'other' END AS method_class,
           'not_recorded' AS criminality_field, NULL::VARCHAR AS criminality_raw, 'unknown' AS criminality,
           operation_raw, NULL::VARCHAR AS operation, disposition, citizenship, gender, NULL::VARCHAR AS person_id,
           CASE WHEN operation_raw LIKE '(B)(7)(E)%' THEN ['operation'] ELSE []::VARCHAR[] END AS redacted,
           NULL::BIGINT AS duplicate_group, 1 AS duplicate_count, TRUE AS counted
    FROM raw""")
    removals = _files(NATIONAL.glob("ICERemovals_FY20*.csv.gz"))
    con.execute(f"""
    CREATE TABLE removals AS
    WITH raw AS (
      SELECT "Area of Responsibility" AS aor_raw, strptime("Removal Date", '%m/%d/%Y')::DATE AS event_date,
             "RC Threat Level" AS criminality_raw, "Processing Disposition Code" AS disposition,
             "Citizenship" AS citizenship, "Gender" AS gender, "Final Charge Section" AS final_charge,
             regexp_extract(filename, '[^/]+$') AS source_file
      FROM read_csv({removals}, delim='|', skip=5, header=true, all_varchar=true, filename=true))
    SELECT '{RELEASE}' AS release_id, source_file, event_date, {_fy('event_date')} AS fy, aor_raw, {_AOR} AS aor,
           NULL::VARCHAR AS state, NULL::VARCHAR AS landmark, NULL::VARCHAR AS method_raw, NULL::VARCHAR AS method_class,
           'removals_threat_level' AS criminality_field, criminality_raw,
           CASE WHEN criminality_raw = 'NA' THEN 'no_record' WHEN criminality_raw LIKE '(B)(7)(E)%' THEN 'convicted'
                ELSE 'unknown' END AS criminality,
           disposition, citizenship, gender, final_charge, TRUE AS counted
    FROM raw""")
    con.close()
    tmp.rename(path)
    return path


def analysis_warehouse(request, tmp_path_factory) -> Path:
    """The real warehouse (conftest's warehouse_path) or, while its build fails, the scratch one."""
    import os
    import warnings

    if os.environ.get("ICEMONITOR_TEST_WAREHOUSE"):  # a warehouse built elsewhere (manual runs)
        return Path(os.environ["ICEMONITOR_TEST_WAREHOUSE"])
    try:
        return request.getfixturevalue("warehouse_path")
    except Exception as exc:  # noqa: BLE001 - the integrator's build is still settling
        warnings.warn(f"warehouse_path fixture failed ({type(exc).__name__}: {exc}); using the scratch warehouse")
        return build(tmp_path_factory.getbasetemp() / "analysis_scratch.duckdb")
