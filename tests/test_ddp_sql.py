"""DDP's processed Parquet files read straight into the warehouse by DuckDB SQL (warehouse/read_sql.py,
readers/ddp_sql.py, codes/encoder_sql.py) give the warehouse the Polars reader and encoder give it (readers/ddp_ice.py,
codes/encoder.py, through the parse cache's rows): every table equal (rows, columns, types, groups of identical
records, stays, releases, coverage), and the same errors naming file, row and field."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest

from icemonitor.codes.encoder import encode
from icemonitor.codes.encoder_sql import encoded_select
from icemonitor.errors import InputError, UnknownCodeError
from icemonitor.readers import SourceFile, read
from icemonitor.readers.ddp_sql import SqlRead, named, processed_select
from icemonitor.schema import tables
from icemonitor.warehouse import read_sql
from icemonitor.warehouse.build import BuildSource, build

from conftest import ICE_DATA

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import generate_national as gen  # noqa: E402

REDACTED = "(b)(6), (b)(7)(C)"


def _build(path: Path, table: str, target: Path, *, sql: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    src = BuildSource("ddp-ice-processed-latest", path.name, path, "ddp_ice", None, {"table": table})
    with monkeypatch.context() as m:
        if not sql:
            m.setattr(read_sql, "parse", lambda *a, **k: None)
        else:  # the SQL path must take the file: no silent fallback in these tests
            real = read_sql.parse
            m.setattr(read_sql, "parse", lambda *a, **k: real(*a, **k) or pytest.fail("not read by SQL"))
        build([src], target)


def _rows(target: Path, table: str) -> pl.DataFrame:
    con = duckdb.connect(str(target), read_only=True)
    try:
        return pl.from_arrow(con.sql(f'SELECT * FROM "{table}" ORDER BY source_row').to_arrow_table())
    finally:
        con.close()


def assert_same_tables(path: Path, table: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> pl.DataFrame:
    """Build a warehouse of `path` both ways: every table equal (rows, columns, types, duplicate groups, releases);
    returns the table's rows."""
    _build(path, table, tmp_path / "sql.duckdb", sql=True, monkeypatch=monkeypatch)
    _build(path, table, tmp_path / "polars.duckdb", sql=False, monkeypatch=monkeypatch)
    for t in (*tables(), "releases", "coverage_fields", "coverage_spans", "event_days"):
        a, b = (_rows(tmp_path / f"{way}.duckdb", t) if t in tables() else _all(tmp_path / f"{way}.duckdb", t)
                for way in ("sql", "polars"))
        assert a.schema == b.schema, t
        assert a.equals(b), t
    return _rows(tmp_path / "sql.duckdb", table)


def _all(target: Path, table: str) -> pl.DataFrame:
    con = duckdb.connect(str(target), read_only=True)
    try:
        return pl.from_arrow(con.sql(f'SELECT * FROM "{table}"').to_arrow_table()).sort(pl.all())
    finally:
        con.close()


def _groups(rows: pl.DataFrame) -> list[int]:
    return rows["duplicate_group"].to_list()


def _arrests() -> pl.DataFrame:
    """DDP's processed arrests with the forms a national file has: NA and blank text, booleans with a NULL, an
    integer column, sub-second date-times, lower-case AOR and state names, a redacted landmark (kept column) and
    birth date (not kept), operation markers and placeholders, two sources of the recorded state, identical rows."""
    n = 12
    stamp = [dt.datetime(2025, 6, 7, 9, 30, 15, 250_000 * (i % 4)) for i in range(n)]
    frame = pl.DataFrame({
        "apprehension_date": [s.date() for s in stamp], "apprehension_date_time": stamp,
        "apprehension_state_original": ["TEXAS", None, "NA", " california ", "texas", None] * 2,
        "state": ["FLORIDA", "FLORIDA", "GEORGIA", None, "", None] * 2,
        "county": ["HARRIS", "", "NA", None, "MIAMI-DADE", "ÑUÑOA"] * 2,
        "apprehension_aor": ["Houston Area of Responsibility", "houston area of responsibility", None,
                             "Los Angeles Area of Responsibility", "NA", ""] * 2,
        "apprehension_method": ["Located", "Custodial Arrest", "", None, "Non-Custodial Arrest", "NA"] * 2,
        "apprehension_type": ["Targeted", None, "Collateral", "", "NA", "Targeted"] * 2,
        "operation": ["ICE Wall FY26", "(B)(7)(E)", "--", "NA", None, "  Op X  "] * 2,
        "apprehension_criminality": ["1 Convicted Criminal", "2 Pending Criminal Charges",
                                     "3 Other Immigration Violator", "NA", "", None] * 2,
        "apprehension_site_landmark": [REDACTED, "HARRIS COUNTY JAIL", "", "(b)(6),(b)(7)(c)", None, "X (Y)"] * 2,
        "birth_date": [REDACTED] * n, "birth_year": [1990, None, 1985, 1990, None, 2001] * 2,
        "citizenship_country": ["MEXICO", "GUATEMALA", "HONDURAS", "NA", "", None] * 2,
        "gender": ["Male", "Female", "Male", "Male", None, "Female"] * 2,
        "unique_identifier": ["a" * 40, "b" * 40, None, "NA", "c" * 40, "d" * 40] * 2,
        "duplicate_likely": [False, True, None, False, True, False] * 2,
        "duplicate_episode_first": [True, None, False, True, True, False] * 2,
    })
    # rows 6..11 repeat rows 0..5 but for microseconds: identical records at the second the cache keeps
    return frame


def test_arrests_with_every_form_of_value(tmp_path, monkeypatch):
    path = tmp_path / "arrests-latest.parquet"
    _arrests().write_parquet(path)
    rows = assert_same_tables(path, "arrests", tmp_path, monkeypatch)
    assert rows["state"].to_list()[:6] == ["FL", "FL", "GA", "CA", "TX", None]  # `state`, else the original
    assert rows["aor"].to_list()[:2] == ["HOU", "HOU"]  # an AOR name in another letter case
    assert rows["redacted"].to_list()[:4] == [["landmark"], ["operation"], [], ["landmark"]]
    assert rows["operation"].to_list()[:6] == ["ICE Wall FY26", None, None, None, None, "Op X"]
    assert rows["duplicate_likely"].to_list()[:3] == [False, True, None]
    assert _groups(rows)[6:] == _groups(rows)[:6]  # rows 7-12 repeat rows 1-6 but below the second


def test_duplicate_groups_of_identical_records(tmp_path, monkeypatch):
    frame = _arrests()
    frame = pl.concat([frame, frame.slice(2, 3), frame.head(1)])  # rows 13-16 repeat rows 3-5 and 1
    path = tmp_path / "arrests-latest.parquet"
    frame.write_parquet(path)
    rows = assert_same_tables(path, "arrests", tmp_path, monkeypatch)
    groups = _groups(rows)
    assert groups[12:] == [groups[2], groups[3], groups[4], groups[0]]
    assert groups[6] == groups[0] and groups[7] == groups[1]  # identical but below the second


def test_generated_tables(tmp_path, monkeypatch):
    """Every table of the generated national set (bench/generate_national.py, distributions from the real files)."""
    manifest = gen.generate(tmp_path / "gen", seed=3, rows={"arrests": 3_000, "detainers": 1_500,
                                                            "encounters": 3_000, "detention_stints": 5_000},
                            chunk_rows=2_000)
    for table, m in manifest.items():
        rows = assert_same_tables(Path(m["parquet"]), table, tmp_path / table, monkeypatch)
        assert rows.height == m["rows"]


def test_stints_with_missing_and_sub_second_times(tmp_path, monkeypatch):
    t = dt.datetime(2025, 1, 2, 3, 4, 5, 678_901)
    frame = pl.DataFrame({
        "stay_book_in_date_time": [t, t, None, t - dt.timedelta(days=30)],
        "book_in_date_time": [t, t + dt.timedelta(hours=5), t, dt.datetime(1969, 12, 31, 23, 59, 59, 500_000)],
        "detention_book_out_date_time": [None, t, t, None],
        "stay_book_out_date": [dt.date(2025, 2, 1), None, None, dt.date(2025, 3, 1)],
        "detention_facility": ["A", "B", "NA", ""], "detention_facility_code": ["X1", "X2", None, "X3"],
        "book_in_aor": ["Miami Area of Responsibility"] * 4,
        "book_in_criminality": ["1 Convicted Criminal", None, "NA", "3 Other Immigration Violator"],
        "unique_identifier": ["p1", "p1", "p2", None], "likely_duplicate": [None, True, False, False],
    })
    path = tmp_path / "detention-stints-latest.parquet"
    frame.write_parquet(path)
    rows = assert_same_tables(path, "detention_stints", tmp_path, monkeypatch)
    assert rows["book_out_at"].to_list()[1] == dt.datetime(2025, 1, 2, 3, 4, 5)
    assert rows["stay_book_out_at"].to_list() == [dt.datetime(2025, 2, 1), None, None, dt.datetime(2025, 3, 1)]


def test_files_sql_does_not_read_alike_go_to_the_polars_reader(tmp_path):
    """Dates written as text and a float column: read by ddp_ice (the SQL would not parse them as it does)."""
    con = duckdb.connect()
    base = _arrests().head(3)
    for name, frame in (("text-dates", base.with_columns(pl.col("apprehension_date").cast(pl.String))),
                        ("float", base.with_columns(pl.col("birth_year").cast(pl.Float64)))):
        path = tmp_path / f"{name}.parquet"
        frame.write_parquet(path)
        src = SourceFile(path, path.name, "r", "ddp_ice", {"table": "arrests"})
        assert processed_select(src, con, tmp_path) is None
    feather = tmp_path / "arrests.feather"
    base.write_ipc(feather)
    src = SourceFile(feather, feather.name, "r", "ddp_ice", {"table": "arrests"})
    assert processed_select(src, con, tmp_path) is None


def _sql_error(frame: pl.DataFrame, tmp_path: Path, table: str = "arrests") -> InputError:
    path = tmp_path / "bad.parquet"
    frame.write_parquet(path)
    src = SourceFile(path, path.name, "ddp-ice-processed-latest", "ddp_ice", {"table": table})
    with pytest.raises(InputError) as sql_err:
        read_sql.parse(src, tmp_path, duckdb.connect())
    with pytest.raises(InputError) as polars_err:  # the Polars reader and encoder stop at the same place
        got = read(SourceFile(path, path.name, "r", "ddp_ice", {"table": table}))[table]
        encode(got, tables()[table])
    a, b = sql_err.value, polars_err.value
    assert (a.file, a.row, a.value, type(a)) == (b.file, b.row, b.value, type(b))
    return a


@pytest.mark.parametrize("column,value,field", [
    ("apprehension_aor", "Atlantis Area of Responsibility", "aor_raw"),
    ("apprehension_method", "Teleported", "method_raw"),
    ("apprehension_criminality", "9 Unheard Of", "criminality_raw"),
    ("apprehension_site_landmark", "(b)(7)(Z)", "landmark"),
    ("operation", "(b)(7)(q)", "operation_raw"),
    ("apprehension_type", "Random", "apprehension_type_raw"),
])
def test_unknown_codes_stop_naming_the_first_row(tmp_path, column, value, field):
    frame = _arrests()
    values = frame[column].to_list()
    values[7] = values[10] = value  # rows 8 and 11
    err = _sql_error(frame.with_columns(pl.Series(column, values)), tmp_path)
    assert isinstance(err, UnknownCodeError)
    assert (err.file, err.row, err.field, err.value) == ("bad.parquet", 8, field, value)


def test_unknown_state_names_its_source_column_and_row(tmp_path):
    frame = _arrests()
    values = frame["state"].to_list()
    values[9] = "ATLANTIS"  # row 10, read before its apprehension_state_original (the map's order)
    err = _sql_error(frame.with_columns(pl.Series("state", values)), tmp_path)
    assert (err.row, err.field, err.value) == (10, "state", "ATLANTIS")


def test_implausible_event_date_and_unknown_column(tmp_path):
    frame = _arrests()
    days = frame["apprehension_date"].to_list()
    days[4] = dt.date(1, 1, 1)
    err = _sql_error(frame.with_columns(pl.Series("apprehension_date", days)), tmp_path)
    assert (err.row, err.field) == (5, "apprehension_date") and "implausible" in str(err)
    err = _sql_error(frame.with_columns(pl.lit("?").alias("mystery_column")), tmp_path)
    assert (err.row, err.field) == (None, "mystery_column")
    err = _sql_error(frame.drop("apprehension_date"), tmp_path)
    assert "no event date" in str(err)


def test_a_damaged_file_names_it(tmp_path):
    path = tmp_path / "arrests-latest.parquet"
    _arrests().write_parquet(path)
    path.write_bytes(path.read_bytes()[:200] + b"\0" * 100 + path.read_bytes()[300:])
    src = SourceFile(path, path.name, "r", "ddp_ice", {"table": "arrests"})
    with pytest.raises(InputError) as err:
        read_sql.parse(src, tmp_path, duckdb.connect())
    assert err.value.file == path.name and "not a readable" in str(err.value)


@pytest.mark.parametrize("reader,path,table", [
    ("seattle_aor_csv", "uwchr-seattle-aor-fy12-19/arrests.csv.gz", "arrests"),
    ("seattle_aor_csv", "uwchr-seattle-aor-fy12-19/bookins.csv.gz", "bookins"),
    ("seattle_cap_csv", "uwchr-seattle-aor-fy12-19/CAP-FY2017-encounters.csv.gz", "encounters"),
    ("i213_csv", "uwchr-i213-sea-22-25/sea-i213s-2026-02-13.csv.gz", "i213"),
])
def test_encoder_sql_equals_encode_on_real_records(reader, path, table, tmp_path):
    """The encoder in SQL over the canonical rows of real files equals `encode` (criminality not recorded before a
    date, redaction markers of every kind, operations, AOR names)."""
    file = ICE_DATA / path
    frame = read(SourceFile(file, file.name, "r", reader, {"table": table}))[table]
    con = duckdb.connect()
    con.register("canonical", frame.to_arrow())
    enc = encoded_select(con, SqlRead("SELECT * FROM canonical", {}, tmp_path), file.name, tables()[table])
    got = pl.from_arrow(con.sql(enc.select, params=named(enc.select, enc.bound())).to_arrow_table())
    got = got.sort("source_row")
    want = encode(frame, tables()[table]).sort("source_row").drop("_record_hash")  # the reader's, not encoded
    assert got.select(want.columns).equals(want)
