"""The policies table against direct reads of the sanctuary and 287(g) files."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from icemonitor.errors import InputError
from icemonitor.places.policies import KINDS, g287_events, load_policies, read_policy_csv

from conftest import SHARED_DATA  # ../shared/data beside the repo
pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")


def ref(p: str) -> Path:
    return SHARED_DATA / p


def _rows(rel: str) -> list[dict[str, str]]:
    with open(SHARED_DATA / rel, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def policies():
    return load_policies(ref)


def test_kinds_and_dates(policies):
    assert set(policies["kind"].unique()) <= set(KINDS)
    ended = policies.filter(policies["end"].is_not_null())
    assert (ended["end"] >= ended["start"]).all()


def test_state_laws_one_row_each(policies):
    laws = _rows("sanctuary/state_immigration_cooperation_laws.csv")
    st = policies.filter(policies["kind"].str.starts_with("state_law"))
    assert st.height == len(laws)
    assert st.filter(st["kind"] == "state_law_restricts").height == sum(r["direction"] == "restricts_cooperation" for r in laws)
    sb54 = st.filter(st["citation"].str.contains("SB 54")).row(0, named=True)
    assert (sb54["jurisdiction"], sb54["start"], sb54["verified"]) == ("CA", dt.date(2018, 1, 1), True)
    # rows the source marks unverified and the project could not confirm stay unverified
    ct13 = st.filter(st["citation"].str.contains("13-155")).row(0, named=True)
    assert ct13["verified"] is False


def test_federal_lists(policies):
    doj = _rows("sanctuary/doj_sanctuary_jurisdictions_2025-08-05.csv")
    got = policies.filter(policies["kind"] == "federal_list_doj_2025")
    expected = sum(len((r["city_primary_county_fips5"] or r["county_fips5"]).split(";")) if r["listed_level"] == "city"
                   else 1 for r in doj)
    assert got.height == expected
    la_city = got.filter(got["jurisdiction"] == "city:Los Angeles, CA").row(0, named=True)
    assert la_city["county_fips"] == "06037" and la_city["jurisdiction_level"] == "city"
    nyc = got.filter(got["jurisdiction"].str.starts_with("city:New York City"))
    assert sorted(nyc["county_fips"].to_list()) == ["36005", "36047", "36061", "36081", "36085"]
    dhs = _rows("sanctuary/dhs_sanctuary_jurisdictions_2025-05-29.csv")
    dhs_counties = {r["county_fips5"] for r in dhs if r["county_fips5"] and r["match_method"] not in ("state", "dc")}
    got_dhs = policies.filter((policies["kind"] == "federal_list_dhs_2025") & (policies["jurisdiction_level"] == "county"))
    assert set(got_dhs["jurisdiction"].to_list()) == dhs_counties


def test_287g_current_agreements(policies):
    cur = _rows("287g/ice_287g_agreements_2026-05-18_with_county_fips.csv")
    model_kind = {"JEM": "287g_jail_enforcement", "TFM": "287g_task_force", "WSO": "287g_warrant_service_officer"}
    expected = 0
    for r in cur:
        if r["county_fips5"]:
            expected += len(r["county_fips5"].split(";"))
        elif r["fips_match"] == "no_county":
            expected += 1
    got = policies.filter(policies["source"] == "287g/ice_287g_agreements_2026-05-18_with_county_fips.csv")
    assert got.height == expected
    harris = [r for r in cur if r["county_fips5"] == "48201"]
    got_h = got.filter(got["jurisdiction"] == "48201")
    assert sorted(got_h["kind"].to_list()) == sorted(model_kind[r["model"]] for r in harris)
    # the documented typo (2016 for 2026) is corrected from the corrections data file
    mohawk = got.filter(got["citation"] == "Mohawk Village Police Department").row(0, named=True)
    assert mohawk["start"] == dt.date(2026, 3, 19)


def test_287g_wapo_runs(policies):
    wapo = _rows("287g/wapo_287g_curated_2019.csv")
    etowah = next(r for r in wapo if r["FIPS"] == "1055.0")
    years = [y for y in range(2005, 2020) if etowah[f"y{y}"].upper() == "X"]
    got = policies.filter((policies["source"] == "287g/wapo_287g_curated_2019.csv") & (policies["jurisdiction"] == "01055"))
    assert got.height == 1
    row = got.row(0, named=True)
    assert row["start"] == dt.date(min(years), 1, 1) and row["end"] == dt.date(max(years), 12, 31)
    _, skipped = g287_events(ref)
    assert skipped["wapo_no_fips"] == sum(1 for r in wapo if not r["FIPS"])


def test_end_before_start_is_named(tmp_path):
    f = tmp_path / "local.csv"
    f.write_text("jurisdiction,kind,start,end,source,confidence,verified\n"
                 "06037,local_detainer_limit,2015-01-01,2016-01-01,test,low,no\n"
                 "06075,local_detainer_limit,2019-05-01,2018-01-01,test,low,no\n")
    with pytest.raises(InputError) as exc:
        read_policy_csv(f)
    assert exc.value.row == 3 and exc.value.field == "end" and str(f) in str(exc.value)


def test_unknown_kind_is_named(tmp_path):
    f = tmp_path / "local.csv"
    f.write_text("jurisdiction,kind,start,end,source\n06037,sanctuary_vibes,2015-01-01,,x\n")
    with pytest.raises(InputError, match="kind"):
        read_policy_csv(f)


def test_partial_dates_are_conservative():
    from icemonitor.places.policies import parse_policy_date

    assert parse_policy_date("2018-05", file="f", row=2, field="start") == (dt.date(2018, 5, 31), "month")
    assert parse_policy_date("1987", file="f", row=2, field="start") == (dt.date(1987, 12, 31), "year")
    assert parse_policy_date("3/10/25", file="f", row=2, field="start") == (dt.date(2025, 3, 10), "day")
    with pytest.raises(InputError) as exc:
        parse_policy_date("May 2018", file="f.csv", row=7, field="start")
    assert exc.value.row == 7 and exc.value.file == "f.csv"
