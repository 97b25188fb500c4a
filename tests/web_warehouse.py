"""Test-only scratch warehouse for the web tests, built from the real files in ../shared/data.

It uses the canonical column names of warehouse/schema.yaml so the web code runs against the same shape the
real build produces. It is NOT the product build (icemonitor.warehouse); when the session fixture
`warehouse_path` from tests/conftest.py is available the web tests use that instead of this helper.
Loaded: the nationwide FY2016-19 arrests (FOIA 2019-ICFO-53623) and the Seattle AOR arrests (UW v. DHS), which
record Most Serious Conviction. Precedence (the `counted` flag) as in warehouse/precedence.csv: the nationwide
release for all its rows, the Seattle release only before the nationwide coverage starts (2015-10-01).
"""

from __future__ import annotations

from pathlib import Path

import duckdb

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
NATIONWIDE = SHARED_DATA / "ice" / "uwchr-ice-enforce-fy16-19"
SEATTLE = SHARED_DATA / "ice" / "uwchr-seattle-aor-fy12-19"
NATIONWIDE_RELEASE = "uwchr-ice-enforce-fy16-19"  # catalog release ids
SEATTLE_RELEASE = "uwchr-seattle-aor-fy12-19"
NATIONWIDE_START = "2015-10-01"

CUSTODIAL = ("CAP Local Incarceration", "CAP State Incarceration", "CAP Federal Incarceration",
             "287(g) Program", "Probation and Parole")
AT_LARGE = ("Located", "Non-Custodial Arrest")

COLUMNS = """
    release_id VARCHAR, source_file VARCHAR, source_sheet VARCHAR, source_row INTEGER, event_date DATE,
    fy SMALLINT, aor_raw VARCHAR, aor VARCHAR, state VARCHAR, landmark VARCHAR, method_raw VARCHAR,
    method_class VARCHAR, criminality_field VARCHAR, criminality_raw VARCHAR, criminality VARCHAR,
    operation_raw VARCHAR, operation VARCHAR, disposition VARCHAR, citizenship VARCHAR, gender VARCHAR,
    person_id VARCHAR, redacted VARCHAR[], duplicate_group BIGINT, duplicate_count INTEGER, counted BOOLEAN,
    most_serious_conviction VARCHAR, detention_facility VARCHAR
"""


def _method_class_sql(col: str) -> str:
    cust = ", ".join("'" + m + "'" for m in CUSTODIAL)
    large = ", ".join("'" + m + "'" for m in AT_LARGE)
    return (f"CASE WHEN {col} IS NULL OR {col} = '' THEN NULL WHEN {col} IN ({cust}) THEN 'custodial' "
            f"WHEN {col} IN ({large}) THEN 'at_large' ELSE 'other' END")


def build(path: Path, *, extra_tables: bool = True) -> Path:
    """Build the scratch warehouse at `path` (overwritten). extra_tables adds counties/landmark_resolution/population."""
    path = Path(path)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE arrests ({COLUMNS})")
    aor_names = SHARED_DATA / "aor" / "aor_codes.csv"
    con.execute("CREATE TEMP TABLE aor_names AS SELECT field_office_name AS name, aor_code FROM read_csv(?, header=true)",
                [str(aor_names)])
    files = sorted(NATIONWIDE.glob("EROArrests_FY*.csv.gz"))
    for f in files:
        con.execute(
            f"""
            INSERT INTO arrests (release_id, source_file, source_row, event_date, fy, aor_raw, aor, landmark, method_raw,
                method_class, criminality_field, operation_raw, operation, disposition, citizenship, gender, counted)
            SELECT ?, ?, CAST(7 + row_number() OVER () - 1 AS INTEGER), d, 
                CAST(year(d) + CASE WHEN month(d) >= 10 THEN 1 ELSE 0 END AS SMALLINT),
                r."Area of Responsibility",
                CASE WHEN r."Area of Responsibility" = 'HQ Area of Responsibility' THEN 'HQ' ELSE n.aor_code END,
                NULLIF(trim(r."Apprehension Landmark"), ''), NULLIF(r."Apprehension Method", ''),
                {_method_class_sql('r."Apprehension Method"')}, 'not_recorded', r."Operation", NULL,
                r."Processing Disposition", r."Citizenship", r."Gender",
                TRUE
            FROM (SELECT *, strptime("Apprehension Date", '%m/%d/%Y')::DATE AS d
                  FROM read_csv(?, delim='|', skip=5, header=true, all_varchar=true, quote='"')) r
            LEFT JOIN aor_names n ON r."Area of Responsibility" = n.name || ' Area of Responsibility'
            """,
            [NATIONWIDE_RELEASE, f.name, str(f)],
        )
    sea = SEATTLE / "arrests.csv.gz"
    con.execute(
        f"""
        INSERT INTO arrests (release_id, source_file, source_row, event_date, fy, aor_raw, aor, landmark, method_raw,
            method_class, criminality_field, criminality_raw, criminality, citizenship, gender, counted,
            most_serious_conviction)
        SELECT ?, ?, CAST(8 + row_number() OVER () - 1 AS INTEGER), d,
            CAST(year(d) + CASE WHEN month(d) >= 10 THEN 1 ELSE 0 END AS SMALLINT), NULL, 'SEA',
            NULLIF(trim(r."Apprehension Landmark"), ''), NULLIF(r."Arrest Method", ''),
            {_method_class_sql('r."Arrest Method"')}, 'most_serious_conviction', r."Most Serious Conviction",
            CASE WHEN d < DATE '2014-10-01' THEN 'unknown'
                 WHEN coalesce(r."Most Serious Conviction", '') = '' THEN 'no_record' ELSE 'convicted' END,
            r."Country of Citizenship", r."Gender", d < DATE '{NATIONWIDE_START}', NULLIF(r."Most Serious Conviction", '')
        FROM (SELECT *, strptime("Arrest Date", '%m/%d/%Y')::DATE AS d
              FROM read_csv(?, delim='|', skip=6, header=true, all_varchar=true, quote='"')) r
        """,
        [SEATTLE_RELEASE, sea.name, str(sea)],
    )
    con.execute("""CREATE TABLE releases AS SELECT release_id, source_file AS file_name, NULL::VARCHAR AS sha256,
                   'arrests' AS table_name, count(*) AS rows_read, count(*) AS rows_loaded, 0::BIGINT AS rows_rejected,
                   count(*) FILTER (WHERE counted) AS rows_counted, min(event_date) AS date_min,
                   max(event_date) AS date_max FROM arrests GROUP BY release_id, source_file""")
    if extra_tables:
        add_place_tables(con)
    con.close()
    return path


# A few real landmarks resolved by hand for the test (the product resolver lives in icemonitor.places).
TEST_LANDMARKS = [
    ("LOS", "LOS ANGELES COUNTY JAIL, LOS ANGELES, CA", "06037"),
    ("LOS", "LOS ANGELES COUNTY GENERAL AREA, NON-SPECIFIC", "06037"),
    ("HOU", "HARRIS COUNTY JAIL, HOUSTON, TX", "48201"),
    ("SEA", "YAKIMA COUNTY JAIL", "53077"),
]


def add_place_tables(con: duckdb.DuckDBPyConnection) -> None:
    """counties (from the UWCHR crosswalk), a small landmark_resolution, population (ACS 2013-2017 non-citizens)."""
    con.execute("""CREATE TABLE counties AS SELECT fips5 AS county_fips, county_name AS name, state_abbr AS state,
                   uwchr_aor_code AS aor FROM read_csv(?, header=true, all_varchar=true)
                   WHERE uwchr_aor_code IS NOT NULL AND uwchr_aor_code <> ''""",
                [str(SHARED_DATA / "aor" / "county_aor_crosswalk.csv")])
    con.execute("CREATE TABLE landmark_resolution (aor VARCHAR, landmark VARCHAR, county_fips VARCHAR, level VARCHAR, kind VARCHAR)")
    con.executemany("INSERT INTO landmark_resolution VALUES (?, ?, ?, 'county', 'event')", TEST_LANDMARKS)
    # An office-proxy placement: must not count towards county rates.
    con.execute("INSERT INTO landmark_resolution VALUES ('LOS', 'FUGITIVE OPERATIONS CA STATE', '06037', 'county', 'office_proxy')")
    # the state of each placed county, as the product's table has it (sweeps' state level reads it)
    con.execute("ALTER TABLE landmark_resolution ADD COLUMN state VARCHAR")
    con.execute("UPDATE landmark_resolution r SET state = c.state FROM counties c WHERE c.county_fips = r.county_fips")
    pop = SHARED_DATA / "population" / "county_noncitizen_acs5_2013_2017.csv"
    fips = "fips5"
    nonc = "noncitizens_acs5_2017_derived"
    con.execute(f"""CREATE TABLE population AS SELECT lpad(CAST("{fips}" AS VARCHAR), 5, '0') AS county_fips,
                    2017 AS year, CAST(CAST("{nonc}" AS DOUBLE) AS BIGINT) AS noncitizen_pop
                    FROM read_csv(?, header=true, all_varchar=true)""", [str(pop)])


def cached_build(base: Path, name: str = "web_warehouse.duckdb", *, extra_tables: bool = True) -> Path:
    """Build once per pytest session directory (several test modules share it)."""
    path = Path(base) / name
    if not path.exists():
        tmp = path.with_suffix(".building")
        build(tmp, extra_tables=extra_tables)
        tmp.rename(path)
    return path


def tiny(path: Path, rows: list[dict]) -> Path:
    """A small warehouse with the canonical arrests columns, from explicit rows (for escaping and edge cases)."""
    path = Path(path)
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    con.execute(f"CREATE TABLE arrests ({COLUMNS})")
    for r in rows:
        keys = list(r)
        con.execute(f"INSERT INTO arrests ({', '.join(keys)}) VALUES ({', '.join('?' for _ in keys)})",
                    [r[k] for k in keys])
    con.close()
    return path
