"""Office codes and hand mappings added from hold-room evidence: cited facilities exist where the rules say,
usage dates cited as evidence hold in the raw files, and the resolver places the codes as office proxies."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import polars as pl
import pytest

from icemonitor.places.landmarks import resolve_landmarks

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
DATA = Path(__file__).resolve().parents[1] / "src" / "icemonitor" / "places" / "data"
ARRESTS = [SHARED_DATA / f"ice/uwchr-ice-enforce-fy16-19/EROArrests_FY{y}.csv.gz" for y in range(2016, 2020)]
DETLOC = re.compile(r"detention_facilities ([A-Z0-9]{5,8})\b")


def ref(path: str) -> Path:
    return SHARED_DATA / path


def one(aor, landmark):
    return resolve_landmarks(pl.DataFrame({"aor": [aor], "landmark": [landmark]}), ref).row(0, named=True)


@pytest.fixture(scope="module")
def facilities() -> dict[str, dict[str, str]]:
    with open(SHARED_DATA / "aor/uwchr_detention_facilities_geocoded.csv", encoding="utf-8") as fh:
        return {r["detloc"]: r for r in csv.DictReader(fh)}


def _rows(name: str) -> list[dict[str, str]]:
    with open(DATA / name, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_cited_facilities_exist_in_the_aor_and_county(facilities):
    """Every 'detention_facilities DETLOC' cited as evidence names a real facility of the row's AOR; for a
    county-level row citing one facility, the facility's lat/long county is the mapped county."""
    checked = 0
    for name in ("office_codes.csv", "landmark_mappings.csv"):
        for row in _rows(name):
            cited = DETLOC.findall(row["evidence"])
            for detloc in cited:
                fac = facilities.get(detloc)
                assert fac is not None, (name, row["id"], detloc)
                assert fac["aor"] == row["aor"], (name, row["id"], detloc, fac["aor"])
            if row["level"] == "county" and len(cited) == 1:
                assert facilities[cited[0]]["county_fips5_from_latlong"] == row["county_fips"], (name, row["id"])
                checked += 1
    assert checked >= 8


@pytest.fixture(scope="module")
def code_years() -> pl.DataFrame:
    """Rows per (aor, landmark, fiscal year) for 'XXX GENERAL AREA, NON-SPECIFIC' landmarks, from the raw files."""
    frames = []
    for fy, path in zip(range(2016, 2020), ARRESTS):
        df = pl.read_csv(path, separator="|", skip_rows=5, infer_schema=False)
        frames.append(df.select(pl.col("Area of Responsibility").alias("aor_name"),
                                pl.col("Apprehension Landmark").alias("landmark"),
                                pl.col("Apprehension Method").alias("method"), pl.lit(fy).alias("fy")))
    return pl.concat(frames).filter(pl.col("landmark").str.contains(r"^[A-Z]{3} GENERAL AREA, NON-SPECIFIC$"))


def _by_year(df: pl.DataFrame, aor_name: str, code: str) -> dict[int, int]:
    sub = df.filter((pl.col("aor_name") == aor_name) & pl.col("landmark").str.starts_with(code + " "))
    return dict(sub.group_by("fy").len().iter_rows())


def test_usage_dates_cited_as_evidence(code_years):
    # BSC: used FY2016-17, hold room last used March 2017
    bsc = _by_year(code_years, "Dallas Area of Responsibility", "BSC")
    assert bsc.get(2016, 0) + bsc.get(2017, 0) > 2_500 and bsc.get(2018, 0) + bsc.get(2019, 0) < 10
    # HPC gives way to MTG in FY2019
    hpc = _by_year(code_years, "Houston Area of Responsibility", "HPC")
    mtg = _by_year(code_years, "Houston Area of Responsibility", "MTG")
    assert hpc[2018] > 2_000 and hpc.get(2019, 0) < 100 and mtg.get(2019, 0) > 1_500 and mtg.get(2017, 0) == 0
    # BSC and CRP are almost all CAP Federal Incarceration
    for aor_name, code in (("Dallas Area of Responsibility", "BSC"), ("Houston Area of Responsibility", "CRP")):
        sub = code_years.filter((pl.col("aor_name") == aor_name) & pl.col("landmark").str.starts_with(code + " "))
        assert (sub["method"] == "CAP Federal Incarceration").mean() > 0.95, code


def test_new_office_codes_are_office_proxies():
    for aor, code, fips in (("HOU", "HPC", "48201"), ("HOU", "CRP", "48355"), ("DAL", "BSC", "48227"),
                            ("PHI", "PKE", "42103"), ("NOL", "VVS", "22017"), ("WAS", "LTV", "51059")):
        r = one(aor, f"{code} GENERAL AREA, NON-SPECIFIC")
        assert (r["county_fips"], r["level"], r["kind"]) == (fips, "county", "office_proxy"), (aor, code, r)
    # hold room without an address: Harrisonburg city or Rockingham County cannot be told apart
    r = one("WAS", "HBG GENERAL AREA, NON-SPECIFIC")
    assert (r["level"], r["state"], r["county_fips"]) == ("state", "VA", None)
    # codes whose blind label is 'unknown' or disagrees with the evidence stay unmapped (see docs/landmarks.md)
    for aor, code in (("HOU", "MTG"), ("CHI", "KAN"), ("NYC", "CIP")):
        assert one(aor, f"{code} GENERAL AREA, NON-SPECIFIC")["rule"] == "office_code_unmapped"
    # a code used outside its own AOR is not placed (JAK = Jackson MS hold room, New Orleans AOR)
    assert one("BOS", "JAK GENERAL AREA, NON-SPECIFIC")["level"] == "aor"


def test_new_mappings():
    r = one("PHI", "WAYNE COUNTY PRISON")  # PA county prison, not Wayne County WV
    assert (r["county_fips"], r["kind"]) == ("42127", "event")
    r = one("PHI", "PHI AOR FUGITIVE OPERATIONS")
    assert (r["county_fips"], r["kind"]) == ("42101", "office_proxy")
    r = one("SND", "SAN DIEGO BORDER PATROL")  # sector office, stations outside the county too
    assert (r["county_fips"], r["kind"]) == ("06073", "office_proxy")
    assert one("BOS", "NEW BRITIAN, CT")["county_fips"] == "09003"
    assert one("PHO", "LEAR - ARIZONA DEPARTMENT OF PUBLIC SAFETY")["level"] == "state"


def test_wisconsin_team_prefix_hint_is_backed_by_the_data():
    """Without the hint, every Chicago-AOR 'A -'..'D -' landmark placed at a county lies in Wisconsin; with it,
    same-named counties are read as the Wisconsin one."""
    import dataclasses

    from icemonitor.places.landmark_reference import load_reference
    from icemonitor.places.landmark_resolve import Resolver
    from icemonitor.places.landmark_rules import load_rules

    landmarks = set()
    for path in ARRESTS:
        df = pl.read_csv(path, separator="|", skip_rows=5, infer_schema=False)
        sub = df.filter((pl.col("Area of Responsibility") == "Chicago Area of Responsibility")
                        & pl.col("Apprehension Landmark").str.contains(r"^\s*[A-D] ?-"))
        landmarks |= set(sub["Apprehension Landmark"].to_list())
    rules = load_rules()
    bare = Resolver(load_reference(ref, "uwchr"), dataclasses.replace(rules, state_hints=()))
    placed = [bare.resolve("CHI", lm) for lm in landmarks]
    states = {r.state for r in placed if r.level == "county"}
    assert len([r for r in placed if r.level == "county"]) >= 70 and states == {"WI"}
    r = one("CHI", "D - BROWN COUNTY JAIL")
    assert (r["county_fips"], r["kind"]) == ("55009", "event")
    assert bare.resolve("CHI", "D - BROWN COUNTY JAIL").rule == "county_name_ambiguous"
    # the hint is scoped to its AOR (a shape no New Orleans-AOR hint covers)
    assert one("NOL", "D - BENTON COUNTY SHERIFF")["level"] != "county"
