"""Counties and AOR by date, checked against direct reads of the shared reference files."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from icemonitor.errors import InputError
from icemonitor.places.counties import aor_of, county_aor_periods, county_topojson_path, load_counties

from conftest import SHARED_DATA  # ../shared/data beside the repo
pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")


def ref(p: str) -> Path:
    return SHARED_DATA / p


def _crosswalk() -> dict[str, dict[str, str]]:
    with open(SHARED_DATA / "aor/county_aor_crosswalk.csv", newline="", encoding="utf-8") as fh:
        return {r["fips5"]: r for r in csv.DictReader(fh)}


def test_counties_cover_fips_list_and_crosswalk():
    with open(SHARED_DATA / "geo/counties_fips.csv", newline="", encoding="utf-8") as fh:
        geo = {r["fips5"]: r for r in csv.DictReader(fh)}
    xw = _crosswalk()
    c = load_counties(ref)
    assert c["county_fips"].n_unique() == c.height == len(set(geo) | set(xw))
    la = c.filter(c["county_fips"] == "06037").row(0, named=True)
    assert (la["state"], la["state_fips"], la["county_name"], la["aor"]) == ("CA", "06", "Los Angeles County", "LOS")
    assert all(len(f) == 5 for f in c["county_fips"])


def test_texas_county_aor_before_and_after_harlingen_split():
    xw = _crosswalk()
    # Cameron County, TX: San Antonio in the c. 2020 map, Harlingen in the 2026 map
    assert (xw["48061"]["uwchr_aor_code"], xw["48061"]["dd2026_aor_code"]) == ("SNA", "HAL")
    assert aor_of("48061", "2019-06-30", ref) == "SNA"
    assert aor_of("48061", "2023-03-01", ref) == "HAL"
    # Nueces County (Corpus Christi): Houston before, Harlingen after
    assert aor_of("48355", "2017-01-01", ref) == "HOU"
    assert aor_of("48355", "2024-01-01", ref) == "HAL"
    # a county whose AOR never changed answers the same on any date
    assert aor_of("48201", "2010-01-01", ref) == aor_of("48201", "2025-01-01", ref) == "HOU"


def test_periods_change_only_where_the_maps_differ():
    xw = _crosswalk()
    differ = {f for f, r in xw.items() if r["uwchr_aor_code"] and r["dd2026_aor_code"] != r["uwchr_aor_code"]}
    p = county_aor_periods(ref)
    changed = set(p.filter(p["vintage"] != "all")["county_fips"].to_list())
    assert changed == differ
    assert len(differ) == 25
    # no county has overlapping periods
    for f in changed:
        rows = p.filter(p["county_fips"] == f).sort("valid_to", nulls_last=True).to_dicts()
        assert rows[0]["valid_to"] < rows[1]["valid_from"]


def test_unknown_fips_is_named():
    with pytest.raises(InputError, match="99999"):
        aor_of("99999", "2020-01-01", ref)
    with pytest.raises(InputError, match="date"):
        aor_of("06037", "2020-13-45", ref)


def test_topojson_is_served_from_reference_folder():
    path = county_topojson_path(ref)
    assert path == SHARED_DATA / "geo/us_atlas_counties-10m.topojson.json"
    assert path.read_bytes()[:1] == b"{"
