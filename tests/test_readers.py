"""Readers against independent counts taken straight from the raw files in ../shared/data/ice."""

from __future__ import annotations

import csv
import gzip
import io
import random
from datetime import date
from functools import cache
from pathlib import Path

import pandas as pd
import polars as pl

from icemonitor.readers._canon import RECORD_HASH
import pytest

from icemonitor.readers import READERS, SourceFile, read
from icemonitor.readers._canon import reader_columns

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ICE = SHARED_DATA / "ice"
NATION = ICE / "uwchr-ice-enforce-fy16-19"
SEA = ICE / "uwchr-seattle-aor-fy12-19"
I213 = ICE / "uwchr-i213-sea-22-25"
SEA_XLSX = SEA / "redacted UW v. DHS - ICE Productions_LESA-STU_FINAL.xlsx"
CAP_XLSX = next(SEA.glob("3_25_19 FOIA 2018-ICFO-36170*.xlsx"))
BLN = ICE / "bln-la-aor-arrests" / "la_arrests_2025-06-01_10_transcribed.csv"
JOINED = ICE / "uwchr-ddp-wa-joined" / "joined_df_wa.csv"
ST_CLOUD = ICE / "mn-ddp-extracts" / "st_cloud_denied.csv"

# (path, reader, number of lines before the first data line) for every event-level delimited file
TEXT_FILES = (
    [(p, "lesa_nationwide", 6) for p in sorted(NATION.glob("*.csv.gz"))]
    + [(p, "seattle_aor_csv", 7) for p in sorted(SEA.glob("*.csv.gz")) if not p.name.startswith("CAP-")]
    + [(p, "seattle_cap_csv", 6) for p in sorted(SEA.glob("CAP-*.csv.gz"))]
    + [(I213 / "sea-i213s-2026-02-13.csv.gz", "i213_csv", 1), (BLN, "ddp_bln_arrests", 1), (ST_CLOUD, "ddp_detainers", 1)]
)
SEPARATOR = {"ddp_bln_arrests": ",", "ddp_detainers": ",", "ddp_joined": ","}


def _source(path: Path, reader: str, **options) -> SourceFile:
    return SourceFile(path=path, name=path.name, release_id="test", reader=reader, options=options)


@cache
def _read(path: Path, reader: str) -> dict[str, pl.DataFrame]:
    return read(_source(path, reader))


def _raw_text(path: Path) -> str:
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode("utf-8")


def _one(out: dict[str, pl.DataFrame]) -> pl.DataFrame:
    assert len(out) == 1
    return next(iter(out.values()))


@pytest.mark.parametrize("path,reader,preamble", TEXT_FILES, ids=lambda v: getattr(v, "name", str(v)))
def test_row_count_equals_csv_module_count(path: Path, reader: str, preamble: int) -> None:
    """Rows read = records the stdlib csv module finds after the header (handles quoted newlines)."""
    text = _raw_text(path)
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=SEPARATOR.get(reader, "|")))
    expected = sum(1 for r in records[preamble:] if any(f.strip() for f in r))
    assert _one(_read(path, reader)).height == expected


@pytest.mark.parametrize("path,reader,preamble", TEXT_FILES, ids=lambda v: getattr(v, "name", str(v)))
def test_source_row_points_at_the_physical_line(path: Path, reader: str, preamble: int) -> None:
    """Spot-check: the line named by source_row holds the row's values (landmark/citizenship/gender/date)."""
    frame = _one(_read(path, reader))
    lines = _raw_text(path).split("\n")
    rng = random.Random(7)
    picks = sorted({0, frame.height - 1, *rng.sample(range(frame.height), min(40, frame.height))})
    sep = SEPARATOR.get(reader, "|")
    for i in picks:
        row = frame.row(i, named=True)
        line = lines[row["source_row"] - 1]
        first = next(csv.reader([line], delimiter=sep))
        for col in ("citizenship", "gender", "landmark", "site_code"):
            if row.get(col) is not None:
                assert row[col] in first, (path.name, row["source_row"], col)
        if row.get("event_date") is not None:
            d: date = row["event_date"]
            assert f"{d.month}/{d.day}/{d.year}" in line or d.isoformat() in line or d.strftime("%m/%d/%Y") in line


def test_nationwide_counts_per_fiscal_year_and_aor_match_pandas() -> None:
    """FY2017 arrests per AOR and removals per Removal Date month, against pandas with the SOURCE.md recipe."""
    path = NATION / "EROArrests_FY2017.csv.gz"
    pdf = pd.read_csv(path, sep="|", skiprows=5, dtype=str, keep_default_na=False)
    ours = _one(_read(path, "lesa_nationwide"))
    theirs = pdf["Area of Responsibility"].replace("", None).value_counts(dropna=False)
    got = dict(ours.group_by("aor_raw").len().iter_rows())
    assert {(None if pd.isna(k) else k): v for k, v in theirs.items()} == got
    dates = pd.to_datetime(pdf["Apprehension Date"], format="%m/%d/%Y")
    assert ours["event_date"].min() == dates.min().date() and ours["event_date"].max() == dates.max().date()
    sept = ours.filter(pl.col("event_date").is_between(date(2017, 9, 24), date(2017, 9, 27))).height
    assert sept == int(dates.between("2017-09-24", "2017-09-27").sum())

    path = NATION / "ICERemovals_FY2018.csv.gz"
    pdf = pd.read_csv(path, sep="|", skiprows=5, dtype=str, keep_default_na=False)
    ours = _one(_read(path, "lesa_nationwide"))
    months = pd.to_datetime(pdf["Removal Date"], format="%m/%d/%Y").dt.month.value_counts().to_dict()
    assert dict(ours.group_by(pl.col("event_date").dt.month()).len().iter_rows()) == months
    assert ours["apprehension_date"].null_count() == int((pdf["Apprehension Date"] == "").sum())


def test_seattle_arrests_per_fiscal_year_match_pandas() -> None:
    path = SEA / "arrests.csv.gz"
    pdf = pd.read_csv(path, sep="|", skiprows=6, dtype=str, keep_default_na=False)
    d = pd.to_datetime(pdf["Arrest Date"], format="%m/%d/%Y")
    expected = (d.dt.year + (d.dt.month >= 10)).value_counts().to_dict()
    ours = _one(_read(path, "seattle_aor_csv"))
    fy = ours.select((pl.col("event_date").dt.year() + (pl.col("event_date").dt.month() >= 10)).alias("fy"))
    assert dict(fy.group_by("fy").len().iter_rows()) == expected
    # Most Serious Conviction: raw in both columns, blank -> NULL
    assert ours["most_serious_conviction"].null_count() == int((pdf["Most Serious Conviction"] == "").sum())
    assert ours["criminality_raw"].equals(ours["most_serious_conviction"])
    assert ours["aor_raw"].unique().to_list() == ["Seattle Area of Responsibility"]


def test_redaction_markers_and_na_survive_raw() -> None:
    path = NATION / "ICERemovals_FY2016.csv.gz"
    text = _raw_text(path)
    ours = _one(_read(path, "lesa_nationwide"))
    counts = dict(ours.group_by("criminality_raw").len().iter_rows())
    pdf = pd.read_csv(io.StringIO(text), sep="|", skiprows=5, dtype=str, keep_default_na=False)
    assert counts == pdf["RC Threat Level"].value_counts().to_dict()
    assert set(counts) == {"(B)(7)(E) ", "NA"}  # trailing space kept, NA kept as text
    arrests = _one(_read(NATION / "EROArrests_FY2016.csv.gz", "lesa_nationwide"))
    ops = dict(arrests.group_by("operation_raw").len().iter_rows())
    raw_ops = pd.read_csv(NATION / "EROArrests_FY2016.csv.gz", sep="|", skiprows=5, dtype=str, keep_default_na=False)
    assert ops["(B)(7)(E) "] == int((raw_ops["Operation"] == "(B)(7)(E) ").sum()) > 0
    assert ops.get("--") == int((raw_ops["Operation"] == "--").sum())


def test_bogus_historic_apprehension_date_keeps_the_row(caplog: pytest.LogCaptureFixture) -> None:
    path = NATION / "ICERemovals_FY2019.csv.gz"
    with caplog.at_level("WARNING", logger="icemonitor.readers._canon"):
        ours = _one(read(_source(path, "lesa_nationwide")))
    assert "1 placeholder date(s) in 'Apprehension Date'" in caplog.text
    lines = _raw_text(path).split("\n")
    bogus = [i + 1 for i, line in enumerate(lines) if '"07/02/0999"' in line]
    assert len(bogus) == 1
    row = ours.filter(pl.col("source_row") == bogus[0])
    assert row.height == 1 and row["apprehension_date"][0] is None and row["event_date"][0] is not None


def test_cap_files() -> None:
    arrests = _one(_read(SEA / "CAP-FY2017-arrests.csv.gz", "seattle_cap_csv"))
    safe = arrests.filter(pl.col("operation_raw") == "6B8 - SAFE CITIES")
    assert safe.height == _raw_text(SEA / "CAP-FY2017-arrests.csv.gz").count('"6B8 - SAFE CITIES"')
    assert safe["event_date"].is_between(date(2017, 9, 24), date(2017, 9, 27)).all()
    enc = _one(_read(SEA / "CAP-FY2017-encounters.csv.gz", "seattle_cap_csv"))
    assert enc["event_date"].null_count() == enc.height
    rem = _one(_read(SEA / "CAP-FY2018-removals.csv.gz", "seattle_cap_csv"))
    text = _raw_text(SEA / "CAP-FY2018-removals.csv.gz")
    assert rem["event_date"].null_count() == rem.height
    assert rem["apprehension_date"].null_count() == text.count('"01/01/0001"')
    assert rem["criminality_field"].unique().to_list() == ["removals_threat_level"]
    assert sorted(rem["criminality_raw"].unique().to_list()) == ["1", "2", "3", "NA"]


def _strip_provenance(frame: pl.DataFrame) -> pl.DataFrame:
    """Drop file/sheet names and the whole-record hash (workbook cells are typed, CSV fields are text); trim
    whitespace at the ends of strings: the workbook stores a few shared strings with leading tabs but without
    xml:space="preserve" (e.g. "\t\tCOOK INLET PRETRIAL FACILITY"), which calamine trims while UWCHR's CSV export
    kept them."""
    return frame.drop("source_file", "source_sheet", RECORD_HASH).with_columns(pl.col(pl.String).str.strip_chars())


def test_seattle_xlsx_gives_the_same_rows_as_the_csv_exports() -> None:
    book = read(_source(SEA_XLSX, "seattle_aor_xlsx"))
    assert set(book) == {"arrests", "bookins", "removals"}
    for table, files in {
        "arrests": ["arrests.csv.gz"],
        "bookins": ["bookins.csv.gz"],
        "removals": ["expedited-removals.csv.gz", "other-removals.csv.gz"],
    }.items():
        csv_frame = pl.concat([_one(_read(SEA / f, "seattle_aor_csv")) for f in files])
        assert _strip_provenance(book[table]).equals(_strip_provenance(csv_frame)), table
    assert set(book["removals"]["source_sheet"].unique()) == {"Expedited Removals", "Other Removals"}


def test_cap_xlsx_gives_the_same_rows_as_the_csv_exports() -> None:
    book = read(_source(CAP_XLSX, "seattle_cap_xlsx"))
    for table, name in {"arrests": "arrests", "encounters": "encounters", "removals": "removals"}.items():
        for fy in ("2017", "2018"):
            sheet = book[table].filter(pl.col("source_sheet") == f"FY{fy} {table.title()}")
            text = _one(_read(SEA / f"CAP-FY{fy}-{name}.csv.gz", "seattle_cap_csv"))
            assert _strip_provenance(sheet).equals(_strip_provenance(text)), (table, fy)


def test_i213_csv_and_xlsx_agree_and_criminality_matches_uwchr_flag() -> None:
    csv_frame = _one(_read(I213 / "sea-i213s-2026-02-13.csv.gz", "i213_csv"))
    xlsx_path = I213 / "sea-i213s-2026-02-13-geocoded.xlsx"
    xlsx_frame = _one(read(_source(xlsx_path, "i213_xlsx")))
    shared = [c for c in csv_frame.columns if c not in {"source_file", "source_sheet", "source_row", "state", "county_name", RECORD_HASH}]
    assert xlsx_frame.select(shared).equals(csv_frame.select(shared))
    # independent: UWCHR's own criminal_charge_status column in the workbook (Conviction / Pending / None)
    uwchr = pd.read_excel(xlsx_path, engine="calamine", dtype=str, keep_default_na=False)["criminal_charge_status"]
    ours = csv_frame["criminality_raw"].replace({"Convicted": "Conviction"}).to_list()
    assert ours == uwchr.to_list()
    geo = pd.read_excel(xlsx_path, engine="calamine", dtype=str, keep_default_na=False)["state"]
    assert xlsx_frame["state"].to_list() == [v or None for v in geo]
    assert csv_frame["state"].null_count() == csv_frame.height
    # one record per spreadsheet row below the header (row 1)
    assert xlsx_frame["source_row"].to_list() == list(range(2, len(uwchr) + 2))
    assert xlsx_frame["source_sheet"].unique().to_list() == ["sea-i213s-2026-02-13-geocoded"]


def test_i213_source_row_is_the_first_line_of_multiline_records() -> None:
    path = I213 / "sea-i213s-2026-02-13.csv.gz"
    frame = _one(_read(path, "i213_csv"))
    lines = _raw_text(path).split("\n")
    gaps = frame["source_row"].diff().drop_nulls()
    assert gaps.min() == 1 and gaps.max() > 1  # some records span several lines
    records = list(csv.DictReader(io.StringIO(_raw_text(path), newline=""), delimiter="|"))
    for i in (frame["source_row"].diff() > 1).arg_true().to_list():
        row = frame.row(i, named=True)
        assert lines[row["source_row"] - 1].startswith(records[i]["site_code"] + "|")
        assert records[i]["apprehension_date"] in lines[row["source_row"] - 1]


def test_ddp_joined_deduplicates_per_table() -> None:
    out = read(_source(JOINED, "ddp_joined"))
    pdf = pd.read_csv(JOINED, dtype=str, keep_default_na=False)
    for table, suffix in {"arrests": ".arrest", "encounters": ".encounter", "detainers": ".detainer"}.items():
        cols = [c for c in pdf.columns if c.endswith(suffix)] + ["unique_identifier"]
        sub = pdf[cols]
        real = sub[~(sub.drop(columns="unique_identifier") == "NA").all(axis=1)]
        assert out[table].height == len(real.drop_duplicates()), table
        # source_row = first line (header is line 1) where the record appears
        first_lines = sorted(real.drop_duplicates().index + 2)
        assert out[table]["source_row"].to_list() == first_lines
    states = dict(out["arrests"].group_by("state").len().iter_rows())
    assert set(states) <= {"WA", "TX", "WI", None}
    assert out["detainers"]["state"].unique().to_list() == ["WA"]


def test_ddp_bln_and_st_cloud_value_counts_match_pandas() -> None:
    bln = _one(_read(BLN, "ddp_bln_arrests"))
    pdf = pd.read_csv(BLN, dtype=str, keep_default_na=False)
    assert dict(bln.group_by("criminality_raw").len().iter_rows()) == pdf["arrest_criminality"].value_counts().to_dict()
    assert dict(bln.group_by("method_raw").len().iter_rows()) == pdf["arrest_street_custodial"].value_counts().to_dict()
    assert bln["person_id"].to_list() == pdf["bln_person_id"].to_list()
    assert bln["state"].unique().to_list() == ["CA"]
    det = _one(_read(ST_CLOUD, "ddp_detainers"))
    sdf = pd.read_csv(ST_CLOUD, dtype=str, keep_default_na=False)
    assert det["lift_reason"].unique().to_list() == ["Detainer Declined by LEA"]
    assert det["event_date"].cast(pl.String).to_list() == sdf["detainer_prepare_date"].to_list()
    assert det["state"].unique().to_list() == ["MN"]
    assert det["most_serious_conviction"].null_count() == int((sdf["most_serious_conviction_charge"] == "NA").sum())


def test_state_list_matches_census_codes() -> None:
    """The package's state list agrees with an independent copy (geo/addfips/states.csv)."""
    from icemonitor.readers._canon import _states

    ref = pd.read_csv(SHARED_DATA / "geo" / "addfips" / "states.csv", dtype=str)
    ours = _states()
    for name, postal in zip(ref["name"], ref["postal"]):
        if name.upper() in ours:
            assert ours[name.upper()] == postal
    assert {"WA", "CA", "MN", "TX", "WI", "OR"} <= set(ours.values())


def test_frames_follow_the_schema() -> None:
    """Only reader columns of the table (and the whole-record hash), right dtypes, never an empty string."""
    allowed = reader_columns()
    frames = [(t, f) for (p, r, _) in TEXT_FILES for t, f in _read(p, r).items()]
    frames += list(read(_source(JOINED, "ddp_joined")).items())
    for table, frame in frames:
        cols = allowed[table]
        assert frame.columns == [*cols, RECORD_HASH], table  # all reader columns, schema order, then the hash
        assert frame[RECORD_HASH].dtype == pl.UInt64 and frame[RECORD_HASH].null_count() == 0
        for name, dtype in frame.drop(RECORD_HASH).schema.items():
            expected = {"DATE": pl.Date, "INTEGER": pl.Int32, "BOOLEAN": pl.Boolean,
                        "TIMESTAMP": pl.Datetime("us")}.get(cols[name], pl.String)
            assert dtype == expected, (table, name)
            if dtype == pl.String:
                assert not (frame[name] == "").any(), (table, name)
        assert frame["source_row"].is_unique().all() and frame["source_row"].null_count() == 0
        assert frame["criminality_field"].null_count() == 0


def test_every_reader_is_registered() -> None:
    assert set(READERS) == {
        "lesa_nationwide", "seattle_aor_csv", "seattle_aor_xlsx", "seattle_cap_csv", "seattle_cap_xlsx",
        "i213_csv", "i213_xlsx", "ddp_bln_arrests", "ddp_joined", "ddp_detainers", "ddp_ice",
        "detention_stats", "ddp_facility_population",  # aggregates (docs/detention.md)
    }


def test_table_option_and_inference_agree() -> None:
    path = NATION / "EROEncounters_FY2019.csv.gz"
    inferred = _read(path, "lesa_nationwide")
    assert set(inferred) == {"encounters"}
    assert read(_source(path, "lesa_nationwide", table="encounters"))["encounters"].equals(inferred["encounters"])


@pytest.mark.parametrize(("path", "reader"), [
    (NATION / "ICERemovals_FY2019.csv.gz", "lesa_nationwide"),
    (SEA / "arrests.csv.gz", "seattle_aor_csv"),
    (SEA / "CAP-FY2017-removals.csv.gz", "seattle_cap_csv"),
])
def test_chunked_reading_gives_the_rows_of_whole_file_reading(path: Path, reader: str,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    """The pipe exports come to the build in chunks of at most `rows` records (memory): together they are the whole
    file's frame, record hashes too, and a placeholder date is logged once per file, not per chunk."""
    from icemonitor.readers import CHUNK_READERS, read_chunks

    assert reader in CHUNK_READERS
    whole = _one(read(_source(path, reader)))
    rows = whole.height // 3 + 1
    caplog.clear()
    with caplog.at_level("WARNING", logger="icemonitor.readers._canon"):
        chunks = [_one(c) for c in read_chunks(_source(path, reader), rows)]
    assert [c.height for c in chunks] == [rows, rows, whole.height - 2 * rows]
    assert pl.concat(chunks).equals(whole)
    assert caplog.text.count("placeholder date(s)") == (1 if reader != "seattle_aor_csv" else 0)


def test_workbook_columns_are_converted_as_cell_by_cell() -> None:
    """A workbook column converted by Polars (text only, dates only) gives what `_cell` gives each cell, and a
    mixed column falls back to it."""
    import datetime as dt

    from icemonitor.readers._xlsx import _cell, _column

    columns = [
        ["a", "", None, " b "],
        [dt.date(2017, 1, 2), "", None, dt.date(999, 7, 2)],
        [dt.date(2017, 1, 2), "x"],
        [1.0, 2.5, "", "a", True],
        [dt.datetime(2017, 1, 2, 3, 4), dt.date(2017, 1, 1), dt.datetime(2017, 1, 2, 3, 4, 5, 6)],
        [],
        [""],
    ]
    for cells in columns:
        assert _column("c", cells).to_list() == [_cell(v) for v in cells], cells
