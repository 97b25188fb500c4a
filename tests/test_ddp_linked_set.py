"""DDP's Feather files of the 2012-2023 linked set (arrests, detentions, risk-classification decisions) and DDP's processed
detention stays, written here from the column names of DDP's own code (code/arrests-2012-2023.R, detentions-2012-2023.R,
rca-2012-2023.R, detention-stays-latest.R), read and built; an unknown column stops naming file and column."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from icemonitor.analysis.summary import summary
from icemonitor.errors import InputError
from icemonitor.readers import SourceFile, read
from icemonitor.warehouse.build import BuildSource, build

from ddp_feather_support import DETENTIONS as DDP_DETENTIONS

RELEASE = "ddp-ice-2012-2023"
D = dt.datetime
# code/arrests-2012-2023.R: col_nms, DDP's file/sheet/row and its same-day flag
ARRESTS = {"file": ["2023-ICFO_42034_Admin Arrests_FY16-12_LESA-STU_FINAL-Redacted_raw.xlsx"] * 3,
           "sheet": ["FY2013"] * 3, "row": [7, 8, 9],
           "apprehension_date": [dt.date(2013, 3, 1), dt.date(2013, 3, 1), dt.date(2019, 12, 2)],
           "apprehension_method": ["CAP Local Incarceration", "Located", "Custodial Arrest"],
           "arrest_created_by": ["(b)(6), (b)(7)(C)"] * 3, "case_id": [None] * 3, "subject_id": [None] * 3,
           "alien_file_number": ["(b)(6), (b)(7)(C)"] * 3, "unique_identifier": ["a" * 40, "a" * 40, None],
           "dupe_flag_day": [True, True, None]}
# code/detentions-2012-2023.R col_types, janitor names; dates only
DETENTIONS = DDP_DETENTIONS
# code/rca-2012-2023.R col_types: ICE's titles (DDP writes the frame before janitor), with the sheets' title variants
RCA = ["RCA_AOR", "RCA_DCO", "A_NUMBER", "SUBJ_ID", "LAST_NAME", "FIRST_NAME", "ALERT_CODE", "ACTIVE_INACTIVE",
       "SUBMISSION_DATE", "STATUS_CODE", "RISK_TO_PUBLIC_SAFETY", "RISK_OF_FLIGHT", "SPECIAL_VULNERABILITY",
       "RCA_CASE_NUMBER", "CASE_CAT_AT_RCA_DECISION", "FO_AT_RCA_DECISION", "FO_DATE_AT_RCA_DECISION",
       "REMOVAL_LIKELY_AT_RCA_DECISION", "MAN_DET_PER_STAT_ALLEG", "RCA_DECISION_TYPE", "RCA_RECOMMENDATION",
       "RCA_BOND_RECOMMENDATION", "OFFICER_ID", "OFFICER_AGREE_DISAGREE", "SUPERVISOR_ID", "SUPERVISOR_AGREE_DISAGREE",
       "RCA_FINAL_DECISION", "FINAL_BOND_AMOUNT", "RCA_DECISION_DATE", "RCA_SCORING_VER", "SPEC_VULN_VER", "MAN_DET_VER",
       "DISC_INFR_VER", "fiscal_year_code", "fiscal_quarter_name", "ANONYMIZED_IDENTIFIER",
       "SPECIAL_VULNERABILITY_COMMENTS", "REASON_REMOVAL_UNLIKELY_AT_RCA_DECISION", "OFFICER_COMMENTS",
       "SUPERVISOR_COMMENTS", "SUBJ ID", "A Number", "LAST NAME", "FIRST NAME", "RCA_CASE NUMBER", "OFFICER ID",
       "SUPERVISOR ID", "A NUMBER", "SUJB ID", "RCA CASE NUMBER", "file", "sheet"]


def _detentions(path) -> None:
    values = {"stay_book_in_date": [dt.date(2015, 4, 1)] * 2 + [dt.date(2016, 1, 9)],
              "detention_book_in_date": [dt.date(2015, 4, 1), dt.date(2015, 4, 3), dt.date(2016, 1, 9)],
              "detention_facility": ["FACILITY A", "FACILITY B", "FACILITY A"],
              "detention_facility_code": ["FACA", "FACB", "FACA"],
              "detention_book_out_date": [dt.date(2015, 4, 3), dt.date(2015, 5, 1), None],
              "detention_release_reason": ["Transferred", "Removed", None],
              "stay_book_out_date": [dt.date(2015, 5, 1), dt.date(2015, 5, 1), None],
              "stay_release_reason": ["Removed", "Removed", None], "gender": ["Male"] * 3,
              "anonymized_identifier": ["b" * 40, "b" * 40, "c" * 40], "file": ["ICE Detentions_FY2015.xlsx"] * 3,
              "sheet": ["Sheet1"] * 3, "row": [7, 8, 9]}
    pl.DataFrame({c: values.get(c, [None] * 3) for c in DETENTIONS}, strict=False).write_ipc(path)


def _rca(path) -> None:
    values = {"RCA_AOR": ["NOL", "HOU"], "RISK_TO_PUBLIC_SAFETY": ["Low", "High"], "RISK_OF_FLIGHT": ["Medium", "Low"],
              "SPECIAL_VULNERABILITY": ["NONE", "NONE"], "MAN_DET_PER_STAT_ALLEG": ["N", "Y"],
              "RCA_DECISION_TYPE": ["Detain/Release ", "Detain/Release "],
              "RCA_RECOMMENDATION": ["Release on Community Supervision", "Detain without bond"],
              "RCA_FINAL_DECISION": ["Detain in the Custody of This Service", "Detain in the Custody of This Service"],
              "FINAL_BOND_AMOUNT": [9000.0, None], "RCA_DECISION_DATE": [D(2015, 5, 11), D(2018, 2, 3)],
              "ANONYMIZED_IDENTIFIER": ["0423d85cb15c74d429f83f123824ff3a06dbc718", None],
              "LAST_NAME": ["b(6), b(7)(c)"] * 2, "file": ["RCA FY2015.xlsx"] * 2, "sheet": ["Sheet1"] * 2}
    pl.DataFrame({c: values.get(c, [None, None]) for c in RCA}, strict=False).write_ipc(path)


def _stays(path) -> None:
    """DDP's detention-stays-latest: stay-level columns and the stints' columns it keeps."""
    pl.DataFrame({
        "stay_ID": ["e_1", "f_1"], "n_stints": [2, 1], "detention_facility_codes_all": ["FACA; FACB", "FACC"],
        "unique_identifier": ["e" * 40, "f" * 40],
        "stay_book_in_date_time": [D(2025, 2, 1, 8, 30), D(2025, 9, 3, 22, 0)],
        "stay_book_out_date_time": [D(2025, 3, 1, 10), None], "stay_release_reason": ["Removed", None],
        "book_in_criminality": ["1 Convicted Criminal", "3 Other Immigration Violator"], "gender": ["Male", "Female"],
        "citizenship_country": ["MEXICO", "HONDURAS"], "departed_date": [dt.date(2025, 3, 1), None],
        "n_stays": [1, 1], "detention_facility_first": ["FACILITY A", "FACILITY C"],
        "detention_facility_code_first": ["FACA", "FACC"], "book_in_date_time_first": [D(2025, 2, 1, 8, 30), D(2025, 9, 3, 22)],
        "detention_facility_last": ["FACILITY B", "FACILITY C"], "detention_facility_code_last": ["FACB", "FACC"],
    }).write_parquet(path)


def _read(path, table: str) -> pl.DataFrame:
    return read(SourceFile(path, path.name, RELEASE, "ddp_ice", {"table": table}))[table]


@pytest.fixture(scope="module")
def wh(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp-linked")
    arrests, detentions, rca = tmp / "ice-arrests-2012-2023.feather", tmp / "ice-detentions-2012-2023.feather", tmp / "ice-rcas-2012-2023.feather"
    pl.DataFrame(ARRESTS, strict=False).write_ipc(arrests)
    _detentions(detentions)
    _rca(rca)
    stays = tmp / "detention-stays-latest.parquet"
    _stays(stays)
    sources = [BuildSource(RELEASE, p.name, p, "ddp_ice", None, {"table": t})
               for p, t in ((arrests, "arrests"), (detentions, "detention_stints"), (rca, "rca_decisions"))]
    sources.append(BuildSource("ddp-ice-processed-latest", stays.name, stays, "ddp_ice", None, {"table": "detention_stays"}))
    report = build(sources, tmp / "wh.duckdb")
    assert (report.rows["arrests"], report.rows["detention_stints"], report.rows["rca_decisions"]) == (3, 3, 2)
    with duckdb.connect(str(tmp / "wh.duckdb"), read_only=True) as con:
        yield con


def test_linked_arrests_date_and_method_only(wh):
    rows = wh.execute("SELECT event_date, method_class, criminality_field, criminality, aor, duplicate_likely, source_row "
                      "FROM arrests ORDER BY source_row").fetchall()
    assert rows == [(dt.date(2013, 3, 1), "custodial", "not_recorded", "unknown", None, True, 1),
                    (dt.date(2013, 3, 1), "at_large", "not_recorded", "unknown", None, True, 2),
                    (dt.date(2019, 12, 2), "custodial", "not_recorded", "unknown", None, None, 3)]


def test_linked_detentions_stints_and_derived_stays(wh):
    stints = wh.execute("SELECT book_in_at, book_out_at, stay_book_out_at, facility_code, release_reason FROM detention_stints "
                        "ORDER BY source_row").fetchall()
    assert stints[0] == (D(2015, 4, 1), D(2015, 4, 3), D(2015, 5, 1), "FACA", "Transferred")
    stays = wh.execute("SELECT release_id, person_id, stints, stay_release_reason, first_facility_code FROM detention_stays "
                       "WHERE release_id = ? ORDER BY person_id", [RELEASE]).fetchall()
    assert stays == [(RELEASE, "b" * 40, 2, "Removed", "FACA"), (RELEASE, "c" * 40, 1, None, "FACA")]


def test_processed_stays_read_not_derived(wh):
    rows = wh.execute(
        "SELECT person_id, stay_book_in_at, stay_book_out_at, stay_release_reason, first_facility_code, first_facility, "
        "stints, event_date, criminality, counted FROM detention_stays WHERE release_id = 'ddp-ice-processed-latest' "
        "ORDER BY person_id").fetchall()
    assert rows == [
        ("e" * 40, D(2025, 2, 1, 8, 30), D(2025, 3, 1, 10), "Removed", "FACA", "FACILITY A", 2, dt.date(2025, 2, 1), "convicted", True),
        ("f" * 40, D(2025, 9, 3, 22), None, None, "FACC", "FACILITY C", 1, dt.date(2025, 9, 3), "no_record", True),
    ]
    r = summary(wh, table="detention_stays", by="criminality", date_from="2025-01-01", date_to="2025-12-31")
    assert {f["criminality"].split(" [")[0]: f["events"] for f in r.figures} == {"convicted": 1, "no_record": 1}
    assert any("hospitals" in c for c in r.caveats)  # processed from the March 2026 release


def test_rca_decisions(wh):
    rows = wh.execute("SELECT event_date, aor, risk_public_safety, risk_flight, mandatory_detention, recommendation, "
                      "final_decision, final_bond_amount, criminality_field, person_id FROM rca_decisions ORDER BY event_date").fetchall()
    assert rows[0] == (dt.date(2015, 5, 11), "NOL", "Low", "Medium", "N", "Release on Community Supervision",
                       "Detain in the Custody of This Service", "9000.0", "not_recorded",
                       "0423d85cb15c74d429f83f123824ff3a06dbc718")
    assert rows[1][1] == "HOU" and rows[1][7] is None


@pytest.mark.parametrize("writer,table,name", [
    (lambda p: pl.DataFrame(ARRESTS, strict=False).with_columns(pl.lit(1).alias("landmark_code")).write_ipc(p), "arrests", "landmark_code"),
    (lambda p: (_detentions(p), pl.read_ipc(p).with_columns(pl.lit("x").alias("cell_block")).write_ipc(p)), "detention_stints", "cell_block"),
    (lambda p: (_rca(p), pl.read_ipc(p).with_columns(pl.lit("x").alias("RCA_SCORE")).write_ipc(p)), "rca_decisions", "RCA_SCORE"),
    (lambda p: (_stays(p), pl.read_parquet(p).with_columns(pl.lit("x").alias("n_beds")).write_parquet(p)), "detention_stays", "n_beds"),
])
def test_unknown_column_stops_naming_file_and_column(tmp_path, writer, table, name):
    path = tmp_path / ("x.parquet" if table == "detention_stays" else "x.feather")
    writer(path)
    with pytest.raises(InputError) as err:
        _read(path, table)
    assert (err.value.file, err.value.field) == (path.name, name)


def test_bad_stint_count_in_processed_stays_stops(tmp_path):
    path = tmp_path / "detention-stays-latest.parquet"
    _stays(path)
    pl.read_parquet(path).with_columns(pl.Series("n_stints", ["2", "two"])).write_parquet(path)
    with pytest.raises(InputError) as err:
        _read(path, "detention_stays")
    assert (err.value.row, err.value.field, err.value.value) == (2, "n_stints", "two")


def test_outcomes_show_the_problems_of_the_stays_they_draw_on(tmp_path):
    """An arrest linked to a stay of DDP's processed March 2026 stays: the outcome carries that release's warning."""
    from icemonitor.analysis.outcomes import outcomes

    stays = tmp_path / "detention-stays-latest.parquet"
    _stays(stays)
    arrests = tmp_path / "arrests-latest.parquet"
    pl.DataFrame({"apprehension_date": [dt.date(2025, 1, 30)], "apprehension_method": ["Located"],
                  "apprehension_criminality": ["1 Convicted Criminal"], "unique_identifier": ["e" * 40]}).write_parquet(arrests)
    build([BuildSource("ddp-ice-processed-latest", p.name, p, "ddp_ice", None, {"table": t})
           for p, t in ((stays, "detention_stays"), (arrests, "arrests"))], tmp_path / "wh.duckdb")
    with duckdb.connect(str(tmp_path / "wh.duckdb"), read_only=True) as con:
        r = outcomes(con)
    assert [(f["outcome"], f["arrests"]) for f in r.figures] == [("Removed", 1)]
    assert any("hospitals" in c for c in r.caveats) and r.extra["known_problems"][0]["release_id"] == "ddp-ice-processed-latest"
