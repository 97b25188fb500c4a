"""The analyses on the North Carolina DDP arrests, 2023-2025 (`--place NC`): priorities, sweeps and claim checks against
an independent pandas count of the raw file. The rows the warehouse does not place in North Carolina under the event
placement (landmarks it cannot place in a state, and office placements) are reported by the analyses, and the figures
plus those rows add up to the file."""

from __future__ import annotations

import pandas as pd
import pytest

from icemonitor.analysis.claims import Claim, check_claim
from icemonitor.analysis.common import event_source
from icemonitor.analysis.priorities import priorities
from icemonitor.analysis.sweeps import sweeps

from conftest import ICE_DATA

NC = ICE_DATA / "nc-ddp-arrests-2023-25" / "nc_ice_arrests_raw_columns.csv"
RELEASE = "nc-ddp-arrests-2023-25"
FROM, TO = "2023-09-01", "2025-07-28"
CRIMINALITY = {"1 Convicted Criminal": "convicted", "2 Pending Criminal Charges": "pending_charges",
               "3 Other Immigration Violator": "no_record"}
# method classes as codes/apprehension_methods.csv defines them (DESIGN.md): the custodial CAP family, 287(g),
# probation/parole and, from late July 2025, ICE's collapsed "Custodial Arrest"; at-large: Located, Non-Custodial Arrest
CUSTODIAL = {"CAP Local Incarceration", "CAP State Incarceration", "CAP Federal Incarceration", "287(g) Program",
             "Probation and Parole", "Custodial Arrest"}
AT_LARGE = {"Located", "Non-Custodial Arrest"}


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    df = pd.read_csv(NC, dtype=str, keep_default_na=False)
    df["source_row"] = range(2, len(df) + 2)  # line numbers: header on line 1
    df["day"] = df["Apprehension Date"].str[:10]
    df["criminality"] = df["Apprehension Criminality"].map(CRIMINALITY)
    df["method_class"] = df["Apprehension Method"].map(
        lambda m: "custodial" if m in CUSTODIAL else "at_large" if m in AT_LARGE else "other")
    return df


@pytest.fixture(scope="module")
def con(warehouse_con):
    return warehouse_con


@pytest.fixture(scope="module")
def placed(con) -> set[int]:
    """Source rows of the NC file the warehouse places in North Carolina (event placement)."""
    rows = con.execute(f"SELECT source_row FROM {event_source(con, 'arrests')} WHERE release_id = ? AND res_state = 'NC' "
                       "AND counted", [RELEASE]).fetchall()
    return {r[0] for r in rows}


def test_custodial_arrest_maps_to_custodial(con, raw):
    rows = dict(con.execute("SELECT method_raw, method_class FROM arrests WHERE release_id = ? GROUP BY ALL",
                            [RELEASE]).fetchall())
    assert rows["Custodial Arrest"] == "custodial"
    assert {m: c for m, c in rows.items()} == {m: raw.loc[raw["Apprehension Method"] == m, "method_class"].iloc[0]
                                               for m in rows}


def test_rows_not_placed_in_nc_are_the_ones_reported(con, raw, placed):
    recorded = set(raw.loc[raw["Apprehension State"] != "", "source_row"])
    assert recorded <= placed  # every row with a recorded state is placed by it
    missing = len(raw) - len(placed)
    src_any = event_source(con, "arrests", "any")
    (office,) = con.execute(f"SELECT count(*) FROM {src_any} WHERE release_id = ? AND res_state = 'NC' "
                            "AND res_kind = 'office_proxy' AND state IS NULL", [RELEASE]).fetchone()
    (unplaced,) = con.execute(f"SELECT count(*) FROM {src_any} WHERE release_id = ? AND res_state IS NULL",
                              [RELEASE]).fetchone()
    assert missing == office + unplaced and unplaced < 25


def test_priorities_nc_match_pandas(con, raw, placed):
    r = priorities(con, place="NC", date_from=FROM, date_to=TO, period="all")
    assert r.releases == [RELEASE] and r.coverage["status"] == "full"
    sub = raw[raw["source_row"].isin(placed)]
    for fig in r.figures:
        rows = sub if fig["method_class"] == "all" else sub[sub["method_class"] == fig["method_class"]]
        assert fig["events"] == len(rows), fig["method_class"]
        for c in ("convicted", "pending_charges", "no_record"):
            assert fig[f"{c}_share"] == pytest.approx((rows["criminality"] == c).sum() / len(rows))
    # the rows the state records, independent of the landmark resolver, are all inside the figure
    assert next(f for f in r.figures if f["method_class"] == "all")["events"] >= (raw["Apprehension State"] != "").sum()
    # ATL rows the resolver could not place in a state are reported, not counted
    assert any("not resolved to a state" in c for c in r.caveats)


def test_sweeps_nc_observed_equals_pandas(con, raw, placed):
    r = sweeps(con, place="NC", date_from=FROM, date_to=TO, measure="all", limit=5)
    assert r.figures and r.releases == [RELEASE]
    sub = raw[raw["source_row"].isin(placed)]
    for fig in r.figures:
        days = (sub["day"] >= str(fig["start"])) & (sub["day"] <= str(fig["end"]))
        assert fig["observed"] == days.sum(), fig
    top = r.figures[0]
    # the top window (25-26 Jan 2025) holds only rows whose state ICE recorded: the plain file count
    assert (str(top["start"]), str(top["end"]), top["observed"]) == ("2025-01-25", "2025-01-26", 39)
    assert ((raw["day"] >= "2025-01-25") & (raw["day"] <= "2025-01-26")).sum() == 39


def test_claim_checks_nc(con, raw, placed):
    from icemonitor.query.selection import reference_for

    ref = reference_for(con)
    june = raw[raw["source_row"].isin(placed) & raw["day"].between("2025-06-01", "2025-06-30")]
    count = check_claim(con, Claim.model_validate({
        "id": "nc-june", "metric": "count", "period": {"from": "2025-06-01", "to": "2025-06-30"}, "place": "NC",
        "comparison": "about", "value": 430}), ref)
    assert count["observed"] == len(june) and count["verdict"] == "consistent"
    share = check_claim(con, Claim.model_validate({
        "id": "nc-no-conviction", "metric": "share", "period": {"from": FROM, "to": TO}, "place": "NC",
        "share_of": {"criminality": ["pending_charges", "no_record"]}, "comparison": "about", "value": 0.44}), ref)
    sub = raw[raw["source_row"].isin(placed)]
    assert share["observed"] == pytest.approx((sub["criminality"] != "convicted").mean())
    assert share["verdict"] == "consistent"
    at_large = check_claim(con, Claim.model_validate({
        "id": "nc-at-large", "metric": "count", "period": {"from": FROM, "to": TO}, "place": "NC",
        "filters": {"method_class": ["at_large"]}, "comparison": "at_least", "value": 2000}), ref)
    assert at_large["observed"] == (sub["method_class"] == "at_large").sum() and at_large["verdict"] == "inconsistent"
