"""ICE's errors as data (detention_exclusions) and the panels, on real postings where each error occurs and on
synthetic postings; the detention stage written by the atomic build."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from detention_workbooks import BOOKINS, DETAINED, detention_cells, posting
from icemonitor.catalog.catalog import load_catalog
from icemonitor.places.ref import dir_ref
from icemonitor.warehouse.build import BuildSource, build
from icemonitor.places.detention_facilities import facility_tables
from icemonitor.warehouse.detention_step import detention_stage, read_all
from icemonitor.warehouse.schema import aggregate_tables

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
REAL = {  # postings where each known error occurs
    "2021-01-07_FY21-detentionstats.xlsx", "2021-01-15_FY21-detentionstats.xlsx",  # same bytes twice
    "2021-01-14_FY20-detentionstats.xlsx",  # archived after 2021-01-07 but states 2020-10-02
    "2021-12-18_FY22-detentionStats.xlsx", "FY22-detentionStats.xlsx",  # one ICE name, other bytes
    "2024-06-21_FY24_detentionStats06202024.xlsx", "2024-07-09_FY24_detentionStats07082024.xlsx",  # facility list copied
    "2025-12-23_FY26_detentionStats12222025.xlsx",
    "2026-01-09_FY26_detentionStats01082026.xlsx",  # stale 'Detention EOFY2020' sheet; 'null' in a count
}


def _sources(names: set[str]) -> list[BuildSource]:
    return [BuildSource(r.id, f.name, SHARED / f.mirror_path, f.reader, f.sha256, dict(f.options))
            for r in load_catalog().aggregate_releases() for f in r.files if f.name in names]


@pytest.fixture(scope="module")
def real() -> dict[str, pl.DataFrame]:
    sources = _sources(REAL)
    assert len(sources) == len(REAL)
    return read_all(sources)


def _reasons(ex: pl.DataFrame, reason: str) -> pl.DataFrame:
    return ex.filter(pl.col("reason") == reason)


def test_real_errors_are_listed_with_evidence(real) -> None:
    ex = real["detention_exclusions"]
    same = _reasons(ex, "same_bytes_reposted").row(0, named=True)
    assert same["source_file"] == "2021-01-15_FY21-detentionstats.xlsx" and same["excluded"]
    assert "2021-01-07_FY21-detentionstats.xlsx" in same["evidence"] and "c049a757da9a" in same["evidence"]
    other = _reasons(ex, "repost_other_bytes")
    assert set(other["source_file"]) == {"2021-12-18_FY22-detentionStats.xlsx", "FY22-detentionStats.xlsx"}
    assert not other["excluded"].any() and "3133b71ce7bc" in other["evidence"][0] and "b29a5d4a4822" in other["evidence"][0]
    older = _reasons(ex, "stated_date_older").row(0, named=True)
    assert older["source_file"] == "2021-01-14_FY20-detentionstats.xlsx"
    assert "states Oct 2, 2020" in older["evidence"] and "stated Jan 2, 2021" in older["evidence"]
    stale = _reasons(ex, "stale_sheet").filter(pl.col("source_sheet").str.starts_with("Detention")).row(0, named=True)
    assert (stale["source_file"], stale["source_sheet"], stale["excluded"]) == (
        "2026-01-09_FY26_detentionStats01082026.xlsx", "Detention EOFY2020", True)
    # the ATD sheets read since carry the same error: a FY2023 year-end ATD sheet inside a FY2024 posting
    atd = _reasons(ex, "stale_sheet").filter(pl.col("source_file") == "2024-06-21_FY24_detentionStats06202024.xlsx")
    assert atd["source_sheet"].to_list() == ["ATD EOFY23 "] and "also has sheet 'ATD FY24 YTD'" in atd["evidence"][0]
    copied = _reasons(ex, "unchanged_table").filter(pl.col("table_key") == "facilities").row(0, named=True)
    assert copied["source_file"] == "2024-07-09_FY24_detentionStats07082024.xlsx"
    assert "2024-06-21_FY24_detentionStats06202024.xlsx" in copied["evidence"]
    assert "stated Jun 10, 2024" in copied["evidence"] and "stated Jun 24, 2024" in copied["evidence"]
    stopped = _reasons(ex, "table_stopped").row(0, named=True)
    assert "cell F60: 'null' is not a number" in stopped["evidence"]
    revised = _reasons(ex, "value_revised")
    assert revised.height > 0 and not revised["excluded"].any()


def test_real_revision_matches_the_two_workbooks(real) -> None:
    """A book-ins month that changed between the December 2025 and January 2026 postings: both values are the
    workbooks' cells, and the panel keeps the later one with the range."""
    values = real["detention_values"].filter(
        (pl.col("table_key") == "bookins_by_agency_month") & (pl.col("row_key") == "total")
        & (pl.col("month") == dt.date(2025, 11, 1)) & (pl.col("source_sheet") == "Detention FY26"))
    by_file = dict(zip(values["source_file"], values["value"], strict=True))
    dec, jan = by_file["2025-12-23_FY26_detentionStats12222025.xlsx"], by_file["2026-01-09_FY26_detentionStats01082026.xlsx"]
    panel = real["detention_monthly"].filter((pl.col("statistic") == "bookins") & (pl.col("agency") == "total")
                                             & (pl.col("month") == dt.date(2025, 11, 1))).row(0, named=True)
    assert panel["value"] == jan and panel["source_file"] == "2026-01-09_FY26_detentionStats01082026.xlsx"
    assert (panel["value_min"], panel["value_max"]) == (min(dec, jan), max(dec, jan))
    if dec != jan:
        ev = _reasons(real["detention_exclusions"], "value_revised").filter(
            pl.col("evidence").str.contains("Nov 2025 Total") & pl.col("table_key").eq("bookins_by_agency_month"))
        assert ev.height == 1 and f"{dec:g} in 2025-12-23" in ev["evidence"][0]


def test_stale_sheet_is_not_in_the_snapshot(real) -> None:
    snap = real["detention_snapshots"].filter((pl.col("agency") == "total") & (pl.col("criminality") == "total")
                                              & (pl.col("as_of") == dt.date(2026, 1, 7))).row(0, named=True)
    assert snap["value"] == 68990 and snap["value_min"] == snap["value_max"] == 68990  # not the stale 19,068
    assert (snap["source_sheet"], snap["cell"]) == ("Detention FY26", "F20")


# ---------------------------------------------------------------- synthetic postings


def _synthetic(tmp_path: Path) -> list[BuildSource]:
    def src(path: Path, ice: str, archived: str) -> BuildSource:
        opts = {"fiscal_year": 2026, "ice_file_name": ice, "archived_on": archived}
        return BuildSource("syn", f"{archived}_{ice}", path, "detention_stats", None, opts)

    a = posting(tmp_path / "a.xlsx", dt.date(2026, 1, 3))
    b = posting(tmp_path / "b.xlsx", dt.date(2026, 1, 17))  # same tables, newer stated date
    c = posting(tmp_path / "c.xlsx", dt.date(2025, 12, 20),  # older date, seen later
                detained={**DETAINED, "Total": (290.0, 60.0)})
    revised = {k: list(v) for k, v in BOOKINS.items()}
    revised["Total"][1] = 1150.0  # November revised
    d = posting(tmp_path / "d.xlsx", dt.date(2026, 1, 10), bookins=revised, detained={**DETAINED, "Total": (310.0, 60.0)})
    stale = {"Detention EOFY2020": {(k, j): (v.replace("FY2026", "FY2020") if isinstance(v, str) else v)
                                    for (k, j), v in detention_cells(DETAINED, BOOKINS).items()}}
    e = posting(tmp_path / "e.xlsx", dt.date(2026, 2, 7), detained={**DETAINED, "Total": (320.0, 60.0)}, extra=stale,
                bookins=revised)
    f = tmp_path / "f.xlsx"
    shutil.copy(a, f)
    return [src(a, "FY26_detentionStats_01052026.xlsx", "2026-01-06"), src(b, "FY26_detentionStats_01192026.xlsx", "2026-01-20"),
            src(c, "FY26_detentionStats_12222025.xlsx", "2026-02-01"), src(d, "FY26_detentionStats_01052026.xlsx", "2026-01-12"),
            src(e, "FY26_detentionStats_02092026.xlsx", "2026-02-10"), src(f, "FY26_detentionStats_01052026.xlsx", "2026-02-11")]


def test_each_error_kind_on_synthetic_postings(tmp_path: Path) -> None:
    out = read_all(_synthetic(tmp_path))
    ex = out["detention_exclusions"]
    assert set(_reasons(ex, "same_bytes_reposted")["source_file"]) == {"2026-02-11_FY26_detentionStats_01052026.xlsx"}
    assert set(_reasons(ex, "repost_other_bytes")["source_file"]) == {
        "2026-01-06_FY26_detentionStats_01052026.xlsx", "2026-01-12_FY26_detentionStats_01052026.xlsx",
        "2026-02-11_FY26_detentionStats_01052026.xlsx"}
    # the older date seen later; the byte copy of an old posting seen after newer ones states an older date too
    assert set(_reasons(ex, "stated_date_older")["source_file"]) == {
        "2026-02-01_FY26_detentionStats_12222025.xlsx", "2026-02-11_FY26_detentionStats_01052026.xlsx"}
    unchanged = _reasons(ex, "unchanged_table")
    assert ("2026-01-20_FY26_detentionStats_01192026.xlsx", "currently_detained_by_criminality_agency") in set(
        zip(unchanged["source_file"], unchanged["table_key"], strict=True))
    stale = _reasons(ex, "stale_sheet").row(0, named=True)
    assert (stale["source_file"], stale["source_sheet"]) == ("2026-02-10_FY26_detentionStats_02092026.xlsx", "Detention EOFY2020")
    revised = _reasons(ex, "value_revised").filter(pl.col("evidence").str.contains("Nov 2025 Total"))
    assert revised.height == 1 and "1100 in" in revised["evidence"][0] and "-> 1150" in revised["evidence"][0]


def test_panels_take_the_last_report_and_show_the_range(tmp_path: Path) -> None:
    out = read_all(_synthetic(tmp_path))
    m = out["detention_monthly"].filter((pl.col("statistic") == "bookins") & (pl.col("agency") == "total"))
    nov = m.filter(pl.col("month") == dt.date(2025, 11, 1)).row(0, named=True)
    assert (nov["value"], nov["value_min"], nov["value_max"], nov["complete"]) == (1150, 1100, 1150, True)
    # December: the posting stating 12/20 reports a partial month (not in the range or the count); the book-ins
    # tables of 01/03 and 01/17 repeat its table unchanged, that of 02/07 repeats the 01/10 one: excluded as copies
    dec = m.filter(pl.col("month") == dt.date(2025, 12, 1)).row(0, named=True)
    assert (dec["complete"], dec["value"], dec["n_postings"]) == (True, 0.0, 1)
    assert dec["source_file"] == "2026-01-12_FY26_detentionStats_01052026.xlsx"
    snap = out["detention_snapshots"].filter((pl.col("agency") == "total") & (pl.col("criminality") == "total"))
    by_date = dict(zip(snap["as_of"], snap["value"], strict=True))
    assert by_date[dt.date(2026, 1, 10)] == 370 and by_date[dt.date(2026, 2, 7)] == 380
    assert by_date[dt.date(2025, 12, 20)] == 350
    assert dt.date(2026, 1, 17) not in by_date  # the copied table's date is not a snapshot


def test_build_writes_the_detention_tables_atomically(tmp_path: Path) -> None:
    sources = _synthetic(tmp_path)
    broken = tmp_path / "FY26_detentionStats_03012026.xlsx"
    broken.write_text("<html><body>Access Denied</body></html>")
    sources.append(BuildSource("syn", "2026-03-02_FY26_detentionStats_03012026.xlsx", broken, "detention_stats", None,
                               {"fiscal_year": 2026, "archived_on": "2026-03-02"}))
    target = tmp_path / "w.duckdb"
    build([], target, extra_tables=detention_stage(sources, facilities=lambda con: facility_tables(con, dir_ref(SHARED))))
    con = duckdb.connect(str(target), read_only=True)
    try:
        names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        assert set(aggregate_tables()) <= names
        for name, table in aggregate_tables().items():
            cols = [r[0] for r in con.execute(f'DESCRIBE "{name}"').fetchall()]
            assert cols == table.names(), name
        (why,) = con.execute("SELECT evidence FROM detention_exclusions WHERE reason = 'unreadable_file'").fetchone()
        assert "not a readable xlsx workbook" in why and "FY26_detentionStats_03012026" in why
        (status,) = con.execute("SELECT status FROM detention_postings WHERE source_file LIKE '2026-03-02%'").fetchone()
        assert status == "unreadable"
    finally:
        con.close()


def test_no_aggregate_source_gives_empty_tables() -> None:
    out = read_all([])
    placed = ("detention_facility_list", "detention_facility_places", "detention_authorised_facilities")  # places stage
    assert set(out) == {n for n in aggregate_tables() if n not in placed}
    assert all(df.height == 0 for df in out.values())
    assert all(out[n].columns == aggregate_tables()[n].names() for n in out)
