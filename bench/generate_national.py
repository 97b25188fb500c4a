"""Generate national-scale DDP-era records for build benchmarks and tests: deterministic from a seed, never committed.

Two carriers, as the ddp_ice reader reads them (readers/data/ddp_columns.csv):
- DDP's processed layout: one Parquet file per table, snake_case columns (`ddp` layout);
- ICE's raw layout (`ice-2025-07`): a workbook per table, title lines then the header on row 7, records split over
  several sheets (xlsx writing is slow: use it for a slice).

Tables: arrests, detainers, encounters, detention stints (removals have no reader yet). Sizes follow the national
record's proportions (issue 14: 2.3 M arrests, 0.6 M detainers, 9.3 M detention segments, 2.6 M encounters); scale 1
is about 3 M rows, scale 8 about 25 M.

Value distributions are computed at generation time from the real files in shared/data (nothing of them is written
but sampled values):
- dates: the daily counts of ICE's nationwide FY2016-19 arrests and encounters, moved 7 x 364 days later (weekdays
  kept) and folded into 2022-10-01 .. 2026-03-06 (179 whole weeks); hour of day from the North Carolina DDP file;
- AOR and landmark jointly, citizenship, gender, disposition: the nationwide files;
- state given AOR: the counties of each AOR (aor/county_aor_crosswalk.csv);
- method and criminality: the North Carolina DDP file (ICE's DDP-era vocabulary);
- detention facilities: DDP's facility daily population (weighted by people-days); stint lengths: a log-normal
  with the median of the Minnesota extract's stint lengths.

    python bench/generate_national.py OUT_DIR --scale 1 [--seed 14] [--xlsx-rows 20000]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
ICE = SHARED / "ice"
MAP = REPO / "src" / "icemonitor" / "readers" / "data" / "ddp_columns.csv"

TABLES = ("arrests", "detainers", "encounters", "detention_stints")
# rows per table at scale 1: the national record's proportions (issue 14), 3.1 M rows in all
SCALE_1 = {"arrests": 480_000, "detainers": 125_000, "encounters": 540_000, "detention_stints": 1_950_000}
PROCESSED_NAME = {"arrests": "arrests-latest.parquet", "detainers": "detainers-latest.parquet",
                  "encounters": "encounters-latest.parquet", "detention_stints": "detention-stints-latest.parquet"}
RAW_LAYOUT = "ice-2025-07"
PERIOD_START = dt.date(2022, 10, 1)
PERIOD_DAYS = 179 * 7  # whole weeks: weekdays are kept when dates are folded into the period
SHIFT_DAYS = 7 * 364
REDACTED = "(b)(6), (b)(7)(C)"
TITLE = [["U.S. Immigration and Customs Enforcement"], ["ERO-LESA Statistical Tracking Unit"], [],
         ["FOIA 2025-ICLI-00019"], [], []]  # header on row 7
SHEET_ROWS = 500_000  # records per sheet in a workbook (ICE splits at ~1 M)


@dataclass(frozen=True)
class Dist:
    """Values and their probabilities."""

    values: list
    p: np.ndarray

    @classmethod
    def of(cls, counts: Mapping) -> Dist:
        items = [(k, v) for k, v in counts.items() if v > 0]
        n = np.array([v for _, v in items], dtype=float)
        return cls([k for k, _ in items], n / n.sum())

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        return rng.choice(len(self.values), size=n, p=self.p)

    def series(self, rng: np.random.Generator, n: int, name: str, dtype=pl.String) -> pl.Series:
        return pl.Series(name, self.values, dtype=dtype).gather(self.sample(rng, n))


def _lesa(path: Path) -> pl.DataFrame:
    """One nationwide pipe file (5 title lines), every field as text."""
    return pl.read_csv(path, separator="|", skip_rows=5, infer_schema=False, quote_char='"')


def _counts(df: pl.DataFrame, *cols: str) -> dict:
    rows = df.group_by(list(cols)).len().iter_rows()
    return {(r[0] if len(cols) == 1 else tuple(r[:-1])): r[-1] for r in rows}


@cache
def frequencies() -> dict[str, Dist]:
    """Every distribution the generator samples from, computed from the real files."""
    enforce = ICE / "uwchr-ice-enforce-fy16-19"
    arrests = pl.concat([_lesa(p) for p in sorted(enforce.glob("EROArrests_FY*.csv.gz"))])
    encounters = pl.concat([_lesa(p) for p in sorted(enforce.glob("EROEncounters_FY*.csv.gz"))])
    nc = pl.read_csv(ICE / "nc-ddp-arrests-2023-25" / "nc_ice_arrests_raw_columns.csv", infer_schema=False)
    known_aor = {r["raw"] for r in _csv(REPO / "src/icemonitor/codes/data/aor_names.csv")}
    arrests = arrests.filter(pl.col("Area of Responsibility").is_in(known_aor))
    encounters = encounters.filter(pl.col("Event Area of Responsibility").is_in(known_aor))

    def days(df: pl.DataFrame, col: str) -> Dist:
        d = df.select(pl.col(col).str.strptime(pl.Date, "%m/%d/%Y", strict=False).alias("d")).drop_nulls()
        moved = d.select(((pl.col("d") - pl.lit(PERIOD_START)).dt.total_days() + SHIFT_DAYS) % PERIOD_DAYS)
        return Dist.of(_counts(moved.rename({moved.columns[0]: "o"}), "o"))

    hours = nc.select(pl.col("Apprehension Date").str.slice(11, 2).cast(pl.Int32).alias("h"))
    aor_state: dict[tuple, int] = {}
    code_name = {r["aor"]: r["raw"] for r in _csv(REPO / "src/icemonitor/codes/data/aor_names.csv")}
    for r in _csv(SHARED / "aor" / "county_aor_crosswalk.csv"):
        if r["uwchr_aor_code"] in code_name:
            key = (code_name[r["uwchr_aor_code"]], r["state_name"].upper())
            aor_state[key] = aor_state.get(key, 0) + 1
    fac = pl.read_parquet(ICE / "ddp-facility-daily-population" / "facilities-daily-population-latest.parquet")
    fac = fac.group_by("detention_facility_code", "detention_facility").agg(pl.col("n_detained").sum())
    return {
        "arrest_day": days(arrests, "Apprehension Date"),
        "encounter_day": days(encounters, "Event Date"),
        "hour": Dist.of(_counts(hours.drop_nulls(), "h")),
        "aor_landmark": Dist.of(_counts(arrests, "Area of Responsibility", "Apprehension Landmark")),
        "encounter_aor_landmark": Dist.of(_counts(encounters, "Event Area of Responsibility", "Landmark")),
        "aor_state": Dist.of(aor_state),
        "citizenship": Dist.of(_counts(arrests.drop_nulls("Citizenship"), "Citizenship")),
        "gender": Dist.of(_counts(arrests.drop_nulls("Gender"), "Gender")),
        "disposition": Dist.of(_counts(encounters.drop_nulls("Processing Disposition"), "Processing Disposition")),
        "method": Dist.of(_counts(nc.drop_nulls("Apprehension Method"), "Apprehension Method")),
        "criminality": Dist.of(_counts(nc.drop_nulls("Apprehension Criminality"), "Apprehension Criminality")),
        "facility": Dist.of({(r[0], r[1]): r[2] for r in fac.iter_rows()}),
        "jail": Dist.of({k: v for k, v in _counts(arrests.drop_nulls("Apprehension Landmark"),
                                                 "Apprehension Landmark").items() if "JAIL" in k}),
    }


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(line for line in fh if not line.startswith("#")))


@cache
def layouts() -> dict[str, dict[str, str]]:
    """table -> {raw column (ICE's July 2025 workbook): canonical column or '-'}, in map order."""
    out: dict[str, dict[str, str]] = {}
    for r in _csv(MAP):
        if RAW_LAYOUT in r["layouts"].split():
            out.setdefault(r["table"], {})[r["source"]] = r["canonical"]
    return out


@cache
def processed_names() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in _csv(MAP):
        if r["layouts"] == "ddp":
            out.setdefault(r["table"], set()).add(r["source"])
    return out


def snake(name: str) -> str:
    """janitor's snake_case of a column title, with DDP's renames of this layout."""
    renames = {"Most Serious Conviction (MSC) Charge": "most_serious_conviction_charge",
               "Most Serious Conviction (MSC) Charge Code": "most_serious_conviction_code",
               "MSC Charge": "msc_charge", "Time of Apprehension Case Category": "arrest_time_case_category",
               "Time of Apprehension Current Program": "arrest_time_current_program",
               "Order to Show Cause Served Date": "order_to_show_cause_served_date"}
    if name in renames:
        return renames[name]
    out = "".join(c.lower() if c.isalnum() else "_" for c in name)
    while "__" in out:
        out = out.replace("__", "_")
    return out.strip("_")


def _person_ids(rng: np.random.Generator, n: int) -> pl.Series:
    """n person identifiers, 40 hex characters each (a pool of distinct people drawn with repeats)."""
    pool = max(1, int(n * 0.85))
    raw = rng.integers(0, 256, size=(pool, 20), dtype=np.uint8).tobytes().hex().encode()
    ids = pl.Series("id", np.frombuffer(raw, dtype="S40")).cast(pl.String)
    return ids.gather(rng.integers(0, pool, size=n))


def _datetimes(rng: np.random.Generator, n: int, day: Dist) -> pl.Series:
    offset = np.asarray(day.values)[day.sample(rng, n)].astype("int64")
    hour = np.asarray(frequencies()["hour"].values)[frequencies()["hour"].sample(rng, n)].astype("int64")
    seconds = offset * 86400 + hour * 3600 + rng.integers(0, 60, size=n) * 60
    start = np.datetime64(PERIOD_START, "us")
    return pl.Series("t", start + seconds.astype("timedelta64[s]").astype("timedelta64[us]"))


def _filler(rng: np.random.Generator, n: int, column: str) -> pl.Series:
    """A column the warehouse does not keep: redacted identifiers, years, yes/no and small vocabularies."""
    if column in ("Birth Date", "Alien File Number", "EID Case ID", "EID Subject ID", "EID DTA ID"):
        return pl.repeat(REDACTED, n, eager=True, dtype=pl.String)
    if "Year" in column and "Yes" not in column:
        return pl.Series(rng.integers(1950, 2008, size=n)).cast(pl.String)
    if column.endswith("Yes No"):
        return Dist(["YES", "NO", None], np.array([0.2, 0.7, 0.1])).series(rng, n, column)
    if "Date" in column:
        base = np.datetime64(PERIOD_START, "D") + rng.integers(-3000, PERIOD_DAYS, size=n).astype("timedelta64[D]")
        s = pl.Series(column, base).cast(pl.Date)
        return pl.select(pl.when(pl.lit(rng.random(n) < 0.4)).then(s).otherwise(None)).to_series().cast(pl.String)
    return pl.Series(column, [f"{column} {i}" for i in range(8)] + [None]).gather(rng.integers(0, 9, size=n))


def _pairs(rng: np.random.Generator, n: int, dist: Dist) -> tuple[pl.Series, pl.Series]:
    idx = dist.sample(rng, n)
    first = pl.Series([v[0] for v in dist.values], dtype=pl.String).gather(idx)
    second = pl.Series([v[1] for v in dist.values], dtype=pl.String).gather(idx)
    return first, second


def _state_of(rng: np.random.Generator, aor: pl.Series) -> pl.Series:
    """A state name for each AOR name, drawn from that AOR's counties."""
    by_aor: dict[str, tuple[list[str], list[float]]] = {}
    f = frequencies()["aor_state"]
    for (a, s), p in zip(f.values, f.p):
        by_aor.setdefault(a, ([], []))[0].append(s)
        by_aor[a][1].append(p)
    names = aor.to_numpy()
    out = np.full(len(names), None, dtype=object)
    for a, (states, p) in by_aor.items():
        where = np.flatnonzero(names == a)
        if len(where):
            out[where] = np.asarray(states, dtype=object)[rng.choice(len(states), size=len(where), p=np.asarray(p) / sum(p))]
    return pl.Series("state", out, dtype=pl.String)


def _table(table: str, n: int, rng: np.random.Generator) -> pl.DataFrame:
    """n records of one table in ICE's raw column names (July 2025 workbooks), typed as DDP's processed files."""
    f = frequencies()
    cols = layouts()[table]
    values: dict[str, pl.Series] = {}
    day = f["encounter_day"] if table == "encounters" else f["arrest_day"]
    pair = f["encounter_aor_landmark"] if table == "encounters" else f["aor_landmark"]
    aor, landmark = _pairs(rng, n, pair)
    crim = f["criminality"].series(rng, n, "c")
    people = _person_ids(rng, n)
    by_canonical = {
        "aor_raw": aor, "landmark": landmark, "criminality_raw": crim, "person_id": people,
        "citizenship": f["citizenship"].series(rng, n, "c"), "gender": f["gender"].series(rng, n, "g"),
        "method_raw": f["method"].series(rng, n, "m"), "disposition": f["disposition"].series(rng, n, "d"),
    }
    if table in ("arrests", "detainers"):
        by_canonical["state"] = _state_of(rng, aor)
    if table == "detainers":
        by_canonical["detention_facility"] = f["jail"].series(rng, n, "j")
        by_canonical["facility_city"] = by_canonical["detention_facility"].str.split(" ").list.first()
        by_canonical["lift_reason"] = Dist(["Detainer Declined by LEA", "Booked into Detention",
                                           "No longer in State, Local, or Federal Custody", None],
                                          np.array([0.15, 0.35, 0.1, 0.4])).series(rng, n, "l")
        by_canonical["most_serious_conviction"] = _filler(rng, n, "MSC Charge")
        by_canonical["event_date"] = _datetimes(rng, n, day).dt.date()
    elif table == "detention_stints":
        by_canonical.update(_stints(rng, n))
    else:
        by_canonical["event_date"] = _datetimes(rng, n, day)
    for col, canonical in cols.items():
        key = canonical.split("|")[0]
        if key in by_canonical:
            values[col] = by_canonical[key].alias(col)
        elif key == "county_raw":
            values[col] = pl.Series(col, [None] * n, dtype=pl.String)  # blank in every row of this release
        else:
            values[col] = _filler(rng, n, col).alias(col)
    return pl.DataFrame(values)


def _stints(rng: np.random.Generator, n: int) -> dict[str, pl.Series]:
    """Stays of 1-4 stints (transfers), n stints in all: book-ins, book-outs, facilities, release reasons."""
    f = frequencies()
    per_stay = rng.choice([1, 2, 3, 4], size=n, p=[0.55, 0.25, 0.12, 0.08])
    ends = np.cumsum(per_stay)
    per_stay = per_stay[: int(np.searchsorted(ends, n)) + 1]
    per_stay[-1] -= int(per_stay.sum() - n)
    stays = len(per_stay)
    stay_in = _datetimes(rng, stays, f["arrest_day"]).to_numpy()
    stay_of = np.repeat(np.arange(stays), per_stay)
    nth = np.arange(n) - np.repeat(np.cumsum(per_stay) - per_stay, per_stay)
    length = np.exp(rng.normal(np.log(4.0), 1.3, size=n)) * 86400  # seconds; median 4 days
    # each stint starts where the previous one of the stay ended
    start = np.empty(n, dtype="datetime64[us]")
    cum = np.cumsum(length)
    first_cum = np.repeat(cum[np.cumsum(per_stay) - per_stay] - length[np.cumsum(per_stay) - per_stay], per_stay)
    start[:] = stay_in[stay_of] + ((cum - length) - first_cum).astype("timedelta64[s]").astype("timedelta64[us]")
    end = start + length.astype("timedelta64[s]").astype("timedelta64[us]")
    last = np.r_[nth[1:] == 0, True]
    still_held = end > np.datetime64("2026-03-10")
    stay_out = np.repeat(end[last], per_stay)
    fac_idx = f["facility"].sample(rng, n)
    codes = pl.Series([v[0] for v in f["facility"].values], dtype=pl.String).gather(fac_idx)
    names = pl.Series([v[1] for v in f["facility"].values], dtype=pl.String).gather(fac_idx)
    reason = Dist(["Removed", "Bonded Out", "Released (Order of Recognizance)", "Paroled", "Transferred"],
                  np.array([0.45, 0.2, 0.15, 0.1, 0.1])).series(rng, n, "r")
    people = _person_ids(rng, stays).gather(stay_of)
    book_out = pl.Series("o", end).cast(pl.Datetime("us"))
    held = pl.Series(still_held)
    stay_held = pl.Series(np.repeat(still_held[last], per_stay))
    return {
        "event_date": pl.Series("b", start).cast(pl.Datetime("us")),
        "stay_book_in_at": pl.Series("s", stay_in[stay_of]).cast(pl.Datetime("us")),
        "book_out_at": pl.select(pl.when(held).then(None).otherwise(book_out)).to_series(),
        "stay_book_out_at": pl.select(pl.when(stay_held).then(None).otherwise(
            pl.Series(stay_out).cast(pl.Datetime("us")))).to_series(),
        "release_reason": pl.select(pl.when(held).then(None).when(pl.Series(last)).then(reason)
                                    .otherwise(pl.lit("Transferred"))).to_series(),
        "stay_release_reason": pl.select(pl.when(stay_held).then(None).otherwise(
            reason.gather(np.repeat(np.flatnonzero(last), per_stay)))).to_series(),
        "facility_code": codes, "detention_facility": names, "person_id": people,
        "most_serious_conviction": _filler(rng, n, "MSC Charge"),
    }


def processed(frame: pl.DataFrame, table: str) -> pl.DataFrame:
    """The same records in DDP's processed layout: snake_case names the map knows, plus DDP's duplicate flag."""
    known = processed_names()[table]
    renamed = {c: snake(c) for c in frame.columns if snake(c) in known}
    out = frame.select([pl.col(c).alias(s) for c, s in renamed.items()])
    flag = "likely_duplicate" if table == "detention_stints" else "duplicate_likely"
    return out.with_columns(pl.lit(False).alias(flag))


def table_rows(scale: float) -> dict[str, int]:
    return {t: max(1, int(n * scale)) for t, n in SCALE_1.items()}


def generate(out: Path, scale: float = 1.0, seed: int = 14, *, rows: Mapping[str, int] | None = None,
             chunk_rows: int = 250_000, xlsx_rows: int = 0) -> dict[str, dict]:
    """Write one processed Parquet file per table (and, with `xlsx_rows`, a raw-layout workbook per table of that
    many rows) into `out`; returns {table: {"parquet": path, "rows": n, "xlsx": path or None}}.

    Written in row groups of `chunk_rows` generated one after another: memory stays bounded at any scale."""
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    rows = dict(rows or table_rows(scale))
    manifest: dict[str, dict] = {}
    for k, table in enumerate(TABLES):
        n = rows.get(table, 0)
        if not n:
            continue
        rng = np.random.default_rng([seed, k])
        path = out / PROCESSED_NAME[table]
        writer = None
        try:
            for start in range(0, n, chunk_rows):
                part = processed(_table(table, min(chunk_rows, n - start), rng), table).to_arrow()
                writer = writer or pq.ParquetWriter(path, part.schema, compression="zstd")
                writer.write_table(part, row_group_size=chunk_rows)
        finally:
            if writer:
                writer.close()
        manifest[table] = {"parquet": str(path), "rows": n, "xlsx": None}
        if xlsx_rows:
            book = out / f"{table}-raw.xlsx"
            write_workbook(book, _table(table, xlsx_rows, np.random.default_rng([seed, k, 7])))
            manifest[table].update(xlsx=str(book), xlsx_rows=xlsx_rows)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def build_sources(manifest: Mapping[str, dict], release_id: str = "ddp-ice-processed-latest", *, xlsx: bool = False,
                  release_xlsx: str = "ddp-ice-2025-07") -> list:
    """Warehouse build sources for generated files (the processed files as `release_id`; with `xlsx`, the workbooks
    as `release_xlsx`): what the catalog would give for these releases."""
    from icemonitor.warehouse.build import BuildSource

    out = [BuildSource(release_id, Path(m["parquet"]).name, Path(m["parquet"]), "ddp_ice", None, {"table": t})
           for t, m in manifest.items()]
    if xlsx:
        out += [BuildSource(release_xlsx, Path(m["xlsx"]).name, Path(m["xlsx"]), "ddp_ice", None, {"table": t})
                for t, m in manifest.items() if m.get("xlsx")]
    return out


def write_workbook(path: Path, frame: pl.DataFrame, sheet_rows: int = SHEET_ROWS) -> Path:
    """ICE's raw layout: title lines, the header on row 7, records split over sheets of `sheet_rows`."""
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    when = book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    day = book.add_format({"num_format": "yyyy-mm-dd"})
    for s, start in enumerate(range(0, max(frame.height, 1), sheet_rows), start=1):
        sheet = book.add_worksheet(f"Sheet{s}")
        for r, line in enumerate(TITLE):
            for c, v in enumerate(line):
                sheet.write_string(r, c, v)
        sheet.write_row(len(TITLE), 0, frame.columns)
        part = frame.slice(start, sheet_rows)
        for r, record in enumerate(part.iter_rows(), start=len(TITLE) + 1):
            for c, v in enumerate(record):
                if v is None:
                    continue
                if isinstance(v, dt.datetime):
                    sheet.write_datetime(r, c, v, when)
                elif isinstance(v, dt.date):
                    sheet.write_datetime(r, c, dt.datetime.combine(v, dt.time()), day)
                else:
                    sheet.write_string(r, c, str(v))
    book.close()
    return path


def independent_counts(path: Path, table: str) -> dict:
    """Counts of a generated Parquet file computed with pyarrow alone (no icemonitor code): rows, and rows per
    (AOR name as written, event year) - what a test compares the warehouse with."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    aor_col = {"arrests": "apprehension_aor", "detainers": "facility_aor", "encounters": "responsible_aor",
               "detention_stints": None}[table]
    date_col = {"arrests": "apprehension_date", "detainers": "detainer_prepare_date", "encounters": "event_date",
                "detention_stints": "book_in_date_time"}[table]
    years = pc.year(t.column(date_col))
    counts: dict[tuple, int] = {}
    aors = t.column(aor_col).to_pylist() if aor_col else [None] * t.num_rows
    for a, y in zip(aors, years.to_pylist()):
        counts[(a, y)] = counts.get((a, y), 0) + 1
    return {"rows": t.num_rows, "by_aor_year": counts}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--xlsx-rows", type=int, default=0, help="also write a raw-layout workbook of this many rows per table")
    args = ap.parse_args(argv)
    manifest = generate(args.out, args.scale, args.seed, xlsx_rows=args.xlsx_rows)
    for table, m in manifest.items():
        print(f"{table}: {m['rows']:,} rows -> {m['parquet']}" + (f" (+ {m['xlsx']})" if m["xlsx"] else ""))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
