"""North Carolina DDP arrests (late-July 2025 release, 23 raw ICE columns): the warehouse against an independent pandas
count of the file, placement in North Carolina, and the summary a user asks for."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from icemonitor.analysis.common import Where, event_source
from icemonitor.analysis.summary import summary
from icemonitor.errors import InputError
from icemonitor.readers import SourceFile, read

from conftest import ICE_DATA

NC = ICE_DATA / "nc-ddp-arrests-2023-25" / "nc_ice_arrests_raw_columns.csv"
RELEASE = "nc-ddp-arrests-2023-25"
CRIMINALITY = {"1 Convicted Criminal": "convicted", "2 Pending Criminal Charges": "pending_charges",
               "3 Other Immigration Violator": "no_record"}


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    df = pd.read_csv(NC, dtype=str, keep_default_na=False)
    df["month"] = df["Apprehension Date"].str[:7]
    return df


@pytest.fixture(scope="module")
def con(warehouse_con):
    return warehouse_con


def _counts(con, expr: str) -> dict:
    rows = con.execute(f"SELECT {expr}, count(*) FROM arrests WHERE release_id = ? GROUP BY 1", [RELEASE]).fetchall()
    return {k: n for k, n in rows}


def test_counts_by_month_method_criminality_equal_pandas(con, raw):
    assert len(raw) == 4595
    assert _counts(con, "strftime(event_date, '%Y-%m')") == raw["month"].value_counts().to_dict()
    assert _counts(con, "method_raw") == raw["Apprehension Method"].value_counts().to_dict()
    assert _counts(con, "criminality_raw") == raw["Apprehension Criminality"].value_counts().to_dict()
    # the codes, against SOURCE.md's measured figures
    assert _counts(con, "criminality") == {"convicted": 2549, "pending_charges": 1088, "no_record": 958}
    assert _counts(con, "method_class")["at_large"] == 1101 == raw["Apprehension Method"].isin(
        ["Located", "Non-Custodial Arrest"]).sum()
    assert _counts(con, "strftime(event_date, '%Y-%m')")["2025-06"] == 432
    # person identifier within the release; ICE wrote no county, type or operation in this release
    n_ids = raw.loc[raw["Unique Identifier"] != "", "Unique Identifier"].nunique()
    assert con.execute("SELECT count(DISTINCT person_id) FROM arrests WHERE release_id = ?", [RELEASE]).fetchone()[0] == n_ids
    assert _counts(con, "county_raw IS NULL AND apprehension_type IS NULL AND operation IS NULL") == {True: 4595}


def test_every_row_placed_in_north_carolina_or_reported_unplaced(con, raw):
    src = event_source(con, "arrests")
    rows = dict(con.execute(
        f"SELECT coalesce(res_by, 'unplaced') || ':' || coalesce(res_state, '-'), count(*) FROM {src} "
        "WHERE release_id = ? GROUP BY 1", [RELEASE]).fetchall())
    recorded = int((raw["Apprehension State"] != "").sum())
    assert rows["recorded_state:NC"] == recorded == 4441
    assert set(rows) <= {"recorded_state:NC", "landmark:NC", "unplaced:-"}
    assert sum(rows.values()) == 4595
    # the unplaced rows are exactly those without a state whose landmark the resolver cannot place in a state
    no_state = raw.loc[raw["Apprehension State"] == ""]
    assert rows["landmark:NC"] + rows.get("unplaced:-", 0) == len(no_state)
    # landmarks that name only the arresting office (office placements) are not event placements (query.selection):
    # counted with them, fewer than 25 rows stay unplaced
    src_any = event_source(con, "arrests", "any")
    unplaced_any = con.execute(f"SELECT count(*) FROM {src_any} WHERE release_id = ? AND res_by IS NULL",
                               [RELEASE]).fetchone()[0]
    assert unplaced_any < 25 and unplaced_any <= rows.get("unplaced:-", 0)


def test_summary_june_2025_by_criminality(con, raw, built_home):
    # every row of the file lies in NC (a North Carolina selection): counted with office placements, all 432 are there
    r = summary(con, by="criminality", date_from="2025-06-01", date_to="2025-06-30", place="NC", placement="any")
    june = raw[raw["month"] == "2025-06"]
    want = june["Apprehension Criminality"].map(CRIMINALITY).value_counts().to_dict()
    got = {f["criminality"].split(" [")[0]: f["events"] for f in r.figures}
    assert got == want and sum(got.values()) == 432
    assert r.releases == [RELEASE]
    assert r.extra["placement"]["recorded_state"] == int((june["Apprehension State"] != "").sum())
    assert r.extra["placement"]["recorded_state"] + r.extra["placement"]["landmark"] == 432
    assert any("by the state the release records" in c for c in r.caveats)
    # by default (event placements only) the rows placed only by the arresting office's county are left out, and said
    event = summary(con, by="criminality", date_from="2025-06-01", date_to="2025-06-30", place="NC")
    assert event.extra["total_events"] + (event.extra["office_placements"] or 0) == 432


def test_summary_cli_states_release_and_placement(built_home, monkeypatch):
    from icemonitor.cli import app

    monkeypatch.setenv("ICEMONITOR_HOME", str(built_home))
    out = CliRunner().invoke(app, ["summary", "--place", "NC", "--from", "2025-06-01", "--to", "2025-06-30",
                                   "--by", "criminality", "--json"])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.output)
    assert doc["releases"] == [RELEASE]
    events = sum(f["events"] for f in doc["figures"])
    assert events == doc["extra"]["total_events"] and events + (doc["extra"]["office_placements"] or 0) == 432
    assert any("Placed in North Carolina" in c for c in doc["caveats"])
    assert any("office placements" in c for c in doc["caveats"])


def test_los_angeles_and_north_carolina_feed_one_arrests_table(con):
    rows = dict(con.execute(
        "SELECT release_id, count(*) FROM arrests WHERE counted AND event_date BETWEEN '2025-06-01' AND '2025-06-10' "
        "GROUP BY 1").fetchall())
    assert rows["bln-la-aor-arrests-2025-06"] == 705 and rows[RELEASE] > 0
    r = summary(con, by="release", date_from="2025-06-01", date_to="2025-06-10")
    assert {f["release"] for f in r.figures} >= {"bln-la-aor-arrests-2025-06", RELEASE}


def _source(path: Path, name: str) -> SourceFile:
    return SourceFile(path, name, RELEASE, "ddp_ice", {"table": "arrests"})


def test_unknown_column_stops_naming_file_row_and_field(tmp_path):
    head = NC.read_text(encoding="utf-8").splitlines()[:3]
    bad = tmp_path / "nc.csv"
    bad.write_text("\n".join([head[0] + ",Surprise Column"] + [h + ",x" for h in head[1:]]) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read(_source(bad, "nc.csv"))
    assert (err.value.file, err.value.row, err.value.field) == ("nc.csv", 1, "Surprise Column")


def test_lower_cased_aor_and_state_read_like_ice_spelling(tmp_path):
    frame = read(_source(NC, NC.name))["arrests"]
    assert frame.filter(frame["aor_raw"].is_not_null())["aor_raw"].unique().to_list() == ["atlanta area of responsibility"]
    assert set(frame["state"].drop_nulls().unique().to_list()) == {"NC"}
    assert frame["source_row"].min() == 2 and frame.height == 4595


def test_a_one_state_selection_covers_no_other_state(con):
    """The catalog declares the North Carolina file a selection of NC rows (scope_state): Georgia, in the same AOR
    and month, has no records (no count), not zero arrests; North Carolina is covered."""
    georgia = summary(con, date_from="2025-06-01", date_to="2025-06-30", place="GA")
    assert georgia.extra["total_events"] is None and georgia.coverage["status"] == "none"
    nc = summary(con, date_from="2025-06-01", date_to="2025-06-30", place="NC")
    assert nc.coverage["status"] == "full" and nc.extra["total_events"] > 0
    spans = con.execute("SELECT DISTINCT state FROM coverage_spans WHERE release_id = ?", [RELEASE]).fetchall()
    assert spans == [("NC",)]
