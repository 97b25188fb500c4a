"""ICE's March 2026 detainers workbooks (FOIA 2026-ICLI-00005) in the titles of DDP's reader of them, read by ddp_ice."""

from __future__ import annotations

import datetime as dt

from icemonitor.codes.encoder import encode
from icemonitor.readers import SourceFile, read
from icemonitor.warehouse.schema import table

from xlsx_support import write_xlsx

TITLE = [["ICE ERO LESA Statistical Tracking Unit"], [], ["FOIA 2026-ICLI-00005"], [], [], []]
# deportationdata/ice code/detainers-latest.R at 71fb6ae: col_types_all (65 titles, in order; "FY23 and FY24 files lack
# the Birth Date column", so DDP reads those with the list less its 16th title)
DETAINERS = ["Detainer Prepare Date", "Facility State", "Facility AOR", "Port of Departure", "Departure Country",
             "Departed Date", "Case Status", "Detainer Criminality", "Detainer Facility", "Detainer Facility Code",
             "Facility City", "Detainer Threat Level", "Gender", "Citizenship Country", "Birth Country",
             "Birth Date", "Birth Year", "Entry Status", "MSC Charge", "MSC Sentence Days", "MSC Sentence Months",
             "MSC Sentence Years", "MSC Charge Code", "MSC Charge Date", "MSC Conviction Date",
             "Aggravated Felon Yes No", "Processing Disposition", "Case Category", "TOA Case Category",
             "TOA Current Program", "Apprehension Method", "Final Order Yes No", "Final Order Date",
             "Apprehension Date", "Entry Date", "Prior Felony Yes No", "Multiple Prior MISD Yes No",
             "Violent Misdemeanor Yes No", "Illegal Entry Yes No", "Illegal Reentry Yes No",
             "Immigration Fraud Yes No", "Significant Risk Yes No", "Other Removal Reason Yes No",
             "Other Removal Reason", "Criminal Street Gang Yes No", "Aggravated Felony Yes No",
             "Deportation Ordered Yes No", "Order to Show Cause Served Yes No", "Order to Show Cause Served Date",
             "Biometric Match Yes No", "Statements Made Yes No", "Unlawful Attempt Yes No", "Unlawful Entry Yes No",
             "Visa Yes No", "Federal Register Notice Yes No", "Resume Custody Yes No", "Detainer Lift Reason",
             "Detainer Lift Reason Code", "Active Investigation Yes No", "Arrest Warrant Served Date",
             "Detainer Type", "Notify Release Request Yes No", "TOD Current Duty Site", "EID DTA ID",
             "Anonymized Identifier"]
CRIMES = ["1 Convicted Criminal", "2 Pending Criminal Charges", "3 Other Immigration Violator"]


def _row(columns: list[str], i: int) -> list[object]:
    values = {"Detainer Prepare Date": dt.datetime(2025, 11, 3 + i), "Facility State": "TEXAS",
              "Facility AOR": "Houston Area of Responsibility", "Detainer Criminality": CRIMES[i % 3],
              "Detainer Facility": "HARRIS COUNTY JAIL", "Detainer Facility Code": "HARRITX",
              "MSC Charge": "Assault", "Gender": "Male", "Citizenship Country": "MEXICO",
              "Processing Disposition": "Detainer", "Anonymized Identifier": f"{i:040x}", "Birth Year": 1990}
    return [values.get(c, "(b)(6), (b)(7)(C)" if c in ("Birth Date", "EID DTA ID") else None) for c in columns]


def test_march_2026_detainers_with_and_without_birth_date(tmp_path):
    fy23 = [c for c in DETAINERS if c != "Birth Date"]
    path = write_xlsx(tmp_path / "2026-ICLI-00005_Detainers_FY23..FY26_20260311_Redacted.xlsx", {
        "FY23": TITLE + [fy23] + [_row(fy23, i) for i in range(2)],
        "FY26": TITLE + [DETAINERS] + [_row(DETAINERS, i) for i in range(2, 5)]})
    frame = read(SourceFile(path, path.name, "ddp-ice-2026-03", "ddp_ice", {"table": "detainers"}))["detainers"]
    assert frame.height == 5 and frame["source_row"].to_list() == [8, 9, 8, 9, 10]
    assert frame["event_date"].to_list() == [dt.date(2025, 11, 3 + i) for i in range(5)]
    assert frame["person_id"].to_list() == [f"{i:040x}" for i in range(5)]
    assert set(frame["detention_facility"]) == {"HARRIS COUNTY JAIL"} and set(frame["most_serious_conviction"]) == {"Assault"}
    coded = encode(frame, table("detainers"))
    assert coded["criminality"].to_list() == ["convicted", "pending_charges", "no_record", "convicted", "pending_charges"]
    assert set(coded["state"]) == {"TX"} and set(coded["aor"]) == {"HOU"}


# DDP's draft reader of the March 2026 Encounters files (deportationdata/ice pull request #9 head 58c2642,
# code/encounters-latest.R): 23 titles, ICE's "Citizenship County" (sic)
ENCOUNTERS = ["Event Date", "Event Type", "Event Landmark", "Operation", "Encounter Threat Level", "Responsible AOR",
              "Responsible Site", "Lead Event Type", "Lead Source", "Final Program", "Arresting Agency",
              "Encounter Criminality", "Processing Disposition", "Case Status", "Case Category", "Departed Date",
              "Departure Country", "Final Order Yes No", "Final Order Date", "Birth Year", "Citizenship County", "Gender",
              "Anonymized Identifier"]


def test_march_2026_encounters(tmp_path):
    values = {"Event Date": dt.datetime(2026, 1, 5, 9, 30), "Event Landmark": "HARRIS COUNTY JAIL",
              "Operation": "ICE Wall FY26", "Responsible AOR": "Houston Area of Responsibility",
              "Encounter Criminality": "2 Pending Criminal Charges", "Citizenship County": "HONDURAS", "Gender": "Female",
              "Anonymized Identifier": "c" * 40}
    path = write_xlsx(tmp_path / "2026-ICLI-00005_Encounters_FY23..FY26_20260311_Redacted.xlsx",
                      {"FY26": TITLE + [ENCOUNTERS] + [[values.get(c) for c in ENCOUNTERS]] * 2})
    frame = read(SourceFile(path, path.name, "ddp-ice-2026-03", "ddp_ice", {"table": "encounters"}))["encounters"]
    assert frame.height == 2 and frame["event_date"].to_list() == [dt.date(2026, 1, 5)] * 2
    assert frame["citizenship"].to_list() == ["HONDURAS"] * 2 and frame["person_id"].to_list() == ["c" * 40] * 2
    coded = encode(frame, table("encounters"))
    assert set(coded["operation"]) == {"ICE Wall FY26"} and set(coded["aor"]) == {"HOU"}
    assert set(coded["criminality"]) == {"pending_charges"} and set(coded["landmark"]) == {"HARRIS COUNTY JAIL"}
