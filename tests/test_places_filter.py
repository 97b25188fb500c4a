"""parse_place and its SQL filters, checked on a DuckDB table built from the crosswalk."""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest

from icemonitor.errors import InputError
from icemonitor.places.place_names import parse_place

from conftest import SHARED_DATA  # ../shared/data beside the repo
pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")


def ref(p: str) -> Path:
    return SHARED_DATA / p


@pytest.fixture(scope="module")
def crosswalk() -> list[dict[str, str]]:
    with open(SHARED_DATA / "aor/county_aor_crosswalk.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_aor_state_county(crosswalk):
    los = parse_place("LOS", ref)
    assert los.level == "aor" and set(los.county_fips) == {r["fips5"] for r in crosswalk if r["uwchr_aor_code"] == "LOS"}
    ca = parse_place("CA", ref)
    assert ca.level == "state" and ca.states == ("CA",)
    assert parse_place("california", ref).code == "CA"
    for text in ("06037", "Los Angeles County, CA", "los angeles county, ca", "LOS ANGELES COUNTY, California"):
        p = parse_place(text, ref)
        assert (p.level, p.code, p.county_fips, p.aors) == ("county", "06037", ("06037",), ("LOS",))
    assert parse_place("San Antonio AOR", ref).code == "SNA"


def test_southern_california_group(crosswalk):
    p = parse_place("Southern California", ref)
    expected = {r["fips5"] for r in crosswalk if r["uwchr_aor_code"] == "LOS"} | {"06073", "06025"}
    assert p.level == "group" and set(p.county_fips) == expected and len(p.county_fips) == 9
    assert set(p.aors) == {"LOS", "SND"}


def test_seattle_group_states():
    p = parse_place("Seattle AOR states", ref)
    assert p.states == ("AK", "OR", "WA")


def test_sql_filter_is_parameterised_and_selects_the_right_rows(crosswalk):
    con = duckdb.connect()
    con.execute("CREATE TABLE t (aor VARCHAR, state VARCHAR, county_fips VARCHAR)")
    con.executemany("INSERT INTO t VALUES (?, ?, ?)",
                    [(r["uwchr_aor_code"] or None, r["state_abbr"] or None, r["fips5"]) for r in crosswalk])
    # rows known only by AOR/state (county unknown) must also match when wholly inside the place
    con.execute("INSERT INTO t VALUES ('SND', 'CA', NULL), ('SFR', 'CA', NULL), ('SEA', 'WA', NULL)")
    for text in ("Southern California", "Los Angeles County, CA", "CA", "LOS", "Seattle AOR states"):
        p = parse_place(text, ref)
        sql, params = p.sql_filter()
        assert "'" not in sql and sql.count("?") == len(params)
        got = con.execute(f"SELECT county_fips FROM t WHERE {sql}", params).fetchall()
        counties = {c for (c,) in got if c is not None}
        in_table = {r["fips5"] for r in crosswalk}
        assert counties == set(p.county_fips) & in_table
        nulls = sum(1 for (c,) in got if c is None)
        assert nulls == {"Southern California": 1, "Los Angeles County, CA": 0, "CA": 2, "LOS": 0,
                         "Seattle AOR states": 1}[text]


def test_unknown_text_suggests():
    with pytest.raises(InputError) as exc:
        parse_place("Los Angelos County, CA", ref)
    assert "Los Angeles County, CA" in str(exc.value)
    with pytest.raises(InputError, match="Southern California"):
        parse_place("Southern Califrnia", ref)
    with pytest.raises(InputError, match="99999"):
        parse_place("99999", ref)
    with pytest.raises(InputError):
        parse_place("", ref)
