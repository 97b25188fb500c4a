"""Build the warehouse: read every source file, encode its codes, flag duplicates and precedence, and write
a DuckDB file beside the old one, swapped in only when complete."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.compute  # noqa: F401 - pa.compute

from icemonitor.codes.encoder import encode
from icemonitor.errors import ChecksumError, InputError
from icemonitor.readers import SourceFile, read_chunks
from icemonitor.readers._canon import RECORD_HASH
from icemonitor.readers.ddp_sql import query as sql_query
from icemonitor.schema import Table, tables
from icemonitor.warehouse import incremental as incremental_
from icemonitor.warehouse import precedence, read_sql, stays
from icemonitor.warehouse import aggregates
from icemonitor.warehouse.build_stages import Stage, StageLog
from icemonitor.warehouse.coverage import FIELDS_TABLE, SPANS_TABLE, declared_scopes, write_coverage, write_spans
from icemonitor.warehouse.values import insert_values

log = logging.getLogger(__name__)

# Records read, encoded and written to the parse cache at a time: memory holds at most this many rows per file in
# flight, whatever the file's size (readers that cannot chunk give their file whole: small files).
CHUNK_ROWS = 100_000
# DuckDB's memory for assembling the warehouse; beyond it DuckDB spills to a temporary folder beside the target.
MEMORY_LIMIT = "512MB"
# Files parsed at a time, while the main thread inserts the parsed ones (two cores busy). Two parse threads put two
# whole nationwide files in memory at once (the CSV readers cannot chunk): peak RSS of the real-data build 839 MiB
# with two, 612-630 MiB with one, the same CPU time (24-25 s).
PARSE_WORKERS = 1
# Beside them, one more thread parses the small files (up to SMALL_FILE bytes), smallest first, while the large ones
# are parsed largest first: on the real data the inserts waited for parses (the parse thread is the longer one), and
# the 15 files under 1 MiB take 1.1 s of its 9.7 s CPU with little memory.
SMALL_FILE = 1 << 20
# Coverage runs beside the extra stages (places, detention) in a second connection up to this many event rows: on the
# real data (3.0 M rows, load 5) the two took 2.7 s wall together against 1.5 + 2.3 s one after the other, but on
# the generated 8x set (25 M rows, load 6-7.5) 44.8 s against 18.9 + 8.4 s (cause not found: contention between
# coverage's scans and the places stage's Python), so a larger build runs them one after the other, as before.
BESIDE_ROWS = 10_000_000

# The parse cache's Parquet: read whole by DuckDB, never filtered, so no dictionaries and no statistics (half the
# writer's CPU: 0.30 s against 0.65 s per 600,000 stints, the file 10% larger). Its strings come from Polars as
# Arrow string views (written as the same Parquet strings; Polars' large_string copy took 0.08 s CPU per 440,000
# encounters, the view 0.01 s).
CACHE_PARQUET = {"compression": "lz4", "use_dictionary": False, "write_statistics": False}

# Columns that are not part of a record's content when looking for identical rows.
NOT_CONTENT = {"source_file", "source_sheet", "source_row"}


@dataclass(frozen=True)
class BuildSource:
    """One raw file to load, with what the catalog says about it."""

    release_id: str
    name: str
    path: Path
    reader: str
    sha256: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class BuildReport:
    path: Path
    rows: dict[str, int]
    files: list[dict[str, Any]]
    parsed: list[str] = field(default_factory=list)  # files parsed in this build (the others came from the cache)
    incremental: bool = False  # refreshed from a copy of the previous warehouse
    stages: list[dict[str, Any]] = field(default_factory=list)  # build_stages.Stage per stage, in order


Progress = Callable[[str, int, int], None]


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def with_record_hash(df: pl.DataFrame, table: Table) -> pl.DataFrame:
    """Readers give a hash of each whole source record (RECORD_HASH): fields the warehouse does not keep count
    too. Without it, a hash of the canonical columns stands in."""
    if RECORD_HASH in df.columns:
        return df
    content = [c for c in table.names("reader") if c not in NOT_CONTENT and c in df.columns]
    return df.with_columns(pl.struct(content).hash(seed=0).alias(RECORD_HASH))


DUPLICATES_SQL = f"""SELECT {RECORD_HASH}, CAST(min(source_row) AS BIGINT) AS duplicate_group,
  CAST(count(*) AS INTEGER) AS duplicate_count FROM read_parquet(?) GROUP BY ALL HAVING count(*) > 1"""


def _write_duplicates(con: duckdb.DuckDBPyConnection, rows: Path, out: Path) -> int:
    """Groups of identical records of one file (duplicate_group = source_row of the first row of the file identical
    in every source field; duplicate_count = how many rows share it), computed by DuckDB over the cached rows and
    kept beside them; returns the number of rows with a duplicate."""
    import pyarrow.parquet as pq

    groups = con.sql(DUPLICATES_SQL, params=[str(rows)]).to_arrow_table()
    pq.write_table(groups, out)
    return int(pa.compute.sum(groups.column("duplicate_count")).as_py() or 0)


@cache
def code_version() -> str:
    """A digest of everything that shapes a parsed file: readers, code maps and the schema."""
    root = resources.files("icemonitor")
    h = hashlib.sha256()
    for sub in ("readers", "codes", "schema.py", "warehouse/schema.yaml", "warehouse/build.py",
                "warehouse/read_sql.py"):
        base = Path(str(root / sub))
        paths = sorted(p for p in base.rglob("*") if p.is_file() and p.suffix != ".pyc") if base.is_dir() else [base]
        for p in paths:
            h.update(p.relative_to(Path(str(root))).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _cache_key(src: BuildSource, digest: str) -> str:
    options = json.dumps(dict(src.options), sort_keys=True)
    raw = f"{digest}|{src.reader}|{options}|{src.release_id}|{src.name}|{code_version()}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _checked_digest(src: BuildSource) -> str:
    digest = _sha256(src.path)
    if src.sha256 and digest != src.sha256:
        from icemonitor.catalog.fetch import corrupt_copy_text

        raise ChecksumError(corrupt_copy_text(src.path, src.release_id,
                                              f"sha256 {digest}, the catalog says {src.sha256}"), file=src.name)
    return digest


def _parse(src: BuildSource, digest: str, folder: Path, con: duckdb.DuckDBPyConnection,
           stages: StageLog | None = None) -> list[dict[str, Any]]:
    """Read and encode one source file chunk by chunk into `folder`: `<table>.parquet` (the rows) and
    `<table>.dups.parquet` (its groups of identical records), written in a temporary folder renamed when
    complete; a DDP processed Parquet file is checked and encoded by SQL instead, its rows read from the source when
    inserted (warehouse/read_sql.py). Returns the file's provenance records (also kept as files.json)."""
    import pyarrow.parquet as pq

    schema = tables()
    tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.mkdir(parents=True, exist_ok=True)
    writers: dict[str, pq.ParquetWriter] = {}
    counts: dict[str, list[int]] = {}
    source = SourceFile(src.path, src.name, src.release_id, src.reader, src.options)
    try:
        by_sql = read_sql.parse(source, tmp, con, stages)
        if by_sql:  # a DDP processed Parquet file: checked and encoded by SQL, its rows read when inserted
            table_name, n, dup_rows = by_sql
            counts[table_name] = [n, n]
        try:
            for chunk in ([] if by_sql else read_chunks(source, CHUNK_ROWS)):
                for tname, frame in chunk.items():
                    if tname not in schema:
                        raise InputError(f"reader {src.reader!r} produced unknown table {tname!r}", file=src.name)
                    encoded = with_record_hash(
                        encode(frame, schema[tname]).with_columns(pl.lit(src.release_id).alias("release_id")),
                        schema[tname],
                    )
                    arrow = encoded.to_arrow(compat_level=pl.CompatLevel.newest())  # strings as views: no copy
                    if tname not in writers:
                        writers[tname] = pq.ParquetWriter(tmp / f"{tname}.parquet", arrow.schema, **CACHE_PARQUET)
                    elif arrow.schema != writers[tname].schema:
                        arrow = arrow.cast(writers[tname].schema)
                    writers[tname].write_table(arrow, row_group_size=122_880)
                    n = counts.setdefault(tname, [0, 0])
                    n[0] += frame.height
                    n[1] += encoded.height
                    log.info("%s: %d rows read, %d encoded into %s", src.name, frame.height, encoded.height, tname)
        finally:
            for w in writers.values():
                w.close()
        if not counts:
            raise InputError("the reader found no records", file=src.name)
        files = []
        for tname, (read_n, loaded_n) in counts.items():
            if not by_sql:
                with (stages or StageLog()).stage(f"duplicates {src.name} ({tname})", loaded_n) as s:
                    s.rows_out = dup_rows = _write_duplicates(con, tmp / f"{tname}.parquet",
                                                              tmp / f"{tname}.dups.parquet")
            files.append({
                "release_id": src.release_id, "file_name": src.name, "sha256": digest,
                "bytes": src.path.stat().st_size, "reader": src.reader, "table_name": tname,
                "rows_read": read_n, "rows_loaded": loaded_n, "rows_rejected": read_n - loaded_n,
                "rejected_by_reason": json.dumps({}), "duplicate_rows": dup_rows,
            })
        (tmp / "files.json").write_text(json.dumps(files))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    try:
        tmp.rename(folder)
    except OSError:  # another build stored it first
        shutil.rmtree(tmp, ignore_errors=True)
    return files


def _parsed(src: BuildSource, parse_dir: Path, con: duckdb.DuckDBPyConnection,
            stages: StageLog | None = None) -> tuple[Path, list[dict[str, Any]], bool]:
    """Check one source file and give the folder of its parsed rows: taken from the cache (keyed by its checksum and
    the code version) or parsed now. Returns (folder, provenance records, whether it was parsed)."""
    wall, cpu = time.perf_counter(), time.process_time()
    digest = _checked_digest(src)
    folder = parse_dir / _cache_key(src, digest)
    if (folder / "files.json").exists():
        log.info("%s: parse taken from the cache", src.name)
        return folder, json.loads((folder / "files.json").read_text()), False
    cur = con.cursor()
    try:
        files = _parse(src, digest, folder, cur, stages)
    finally:
        cur.close()
    if stages is not None:  # process CPU: the insert of the file before runs at the same time
        stages.add(Stage(f"parse {src.name} (beside inserts)", sum(f["rows_read"] for f in files),
                         sum(f["rows_loaded"] for f in files), time.perf_counter() - wall, time.process_time() - cpu))
    return folder, files, True


def _size(path: Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:  # a missing file: its check names it
        return 0


Parsed = tuple[int, Path, list[dict[str, Any]], bool]  # (source index, folder, provenance records, parsed now)


def iter_source_batches(
    sources: Sequence[BuildSource],
    parse_dir: Path,
    con: duckdb.DuckDBPyConnection,
    progress: Progress | None = None,
    workers: int | None = None,
    stages: StageLog | None = None,
) -> Iterator[list[Parsed]]:
    """Parse every source (or take its cached parse) in `workers` threads (PARSE_WORKERS) and the small files in one
    more (SMALL_FILE); yield the parses done by the time the caller asks (it waits for a large one, or for the last
    small one), the next files already being parsed while the caller inserts them. Memory holds at most a chunk of
    each file in flight (a whole file where its reader cannot chunk)."""
    workers = workers or PARSE_WORKERS
    # largest file first: its insert then runs while the smaller ones are parsed, and the build's tail is the insert
    # of a small file (8x set: the 15.6 M stints parsed last left 36 s CPU of inserting them after every parse)
    queue = sorted(enumerate(sources), key=lambda item: (_size(item[1].path), -item[0]))
    with ThreadPoolExecutor(max_workers=workers + 1) as pool:
        futures: dict[Future, tuple[int, bool]] = {}  # -> (source index, parsed in the small files' thread)

        def submit() -> None:
            while queue and sum(not small for _, small in futures.values()) < workers:
                i, src = queue.pop()
                futures[pool.submit(_parsed, src, parse_dir, con, stages)] = (i, False)
            while queue and not any(small for _, small in futures.values()) and _size(queue[0][1].path) <= SMALL_FILE:
                i, src = queue.pop(0)
                futures[pool.submit(_parsed, src, parse_dir, con, stages)] = (i, True)

        waited = Stage("waiting for parses (inserts idle)")
        try:
            done = 0
            held: list[Parsed] = []
            submit()
            while futures:
                wall, cpu = time.perf_counter(), time.process_time()
                first = next(as_completed(futures))
                waited.wall += time.perf_counter() - wall
                waited.cpu += time.process_time() - cpu
                large = False
                for fut in [first, *(f for f in futures if f.done() and f is not first)]:
                    i, small = futures.pop(fut)
                    large |= not small
                    folder, files, fresh = fut.result()
                    done += 1
                    if progress:
                        progress(sources[i].name, done, len(sources))
                    held.append((i, folder, files, fresh))
                submit()  # parsing goes on while the caller inserts these files
                # the small files are held until a large one is done or none is left: one INSERT per table for them
                # all (insert_parsed_many), while the two parse threads keep both cores busy. Inserting the 21 (file,
                # table) parts of the real data's 15 small files, then CHECKPOINT: 1.3 s CPU against 2.1 s one by
                # one; the large files' 2.8 M rows 5.4 s either way (one INSERT per table or per file)
                if large or not any(small for _, small in futures.values()):
                    yield held
                    held = []
            if held:
                yield held
        finally:
            for f in futures:
                f.cancel()
            if stages is not None:  # the caller's time waiting, summed (its CPU: the parse thread's meanwhile)
                stages.add(waited)


RELEASES_DDL = """CREATE TABLE releases (
  release_id VARCHAR, file_name VARCHAR, sha256 VARCHAR, bytes BIGINT, reader VARCHAR,
  table_name VARCHAR, rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT,
  rejected_by_reason VARCHAR, rows_counted BIGINT, duplicate_rows BIGINT,
  date_min DATE, date_max DATE
)"""

FY_SQL = "CAST(year(p.event_date) + CASE WHEN month(p.event_date) >= 10 THEN 1 ELSE 0 END AS SMALLINT)"


def _select(table: Table, counted_sql: str) -> str:
    """The SELECT list turning cached rows (p) and their duplicate groups (d) into the table's columns."""
    out = []
    for c in table.columns:
        if c.name == "fy":
            out.append(FY_SQL)
        elif c.name == "counted":
            out.append(f"({counted_sql})")
        elif c.name == "duplicate_group":
            out.append("coalesce(d.duplicate_group, p.source_row)")
        elif c.name == "duplicate_count":
            out.append("coalesce(d.duplicate_count, 1)")
        else:
            out.append(f'CAST(p."{c.name}" AS {c.type})')
    return ", ".join(out)


def insert_parsed(con: duckdb.DuckDBPyConnection, table: Table, folder: Path, counted: tuple[str, list],
                  source: Path | None = None) -> int:
    """Append one file's cached rows of `table` to the warehouse, with fy, counted and the duplicate flags (a file
    read by SQL: its rows read from `source`, warehouse/read_sql.py); returns the rows inserted."""
    return insert_parsed_many(con, table, [(folder, counted, source)])


def insert_parsed_many(con: duckdb.DuckDBPyConnection, table: Table,
                       parts: Sequence[tuple[Path, tuple[str, list], Path | None]]) -> int:
    """Append several files' cached rows of `table` (each part: its folder, its `counted` SQL and parameters, its
    source file) in one INSERT, a UNION ALL of each file's rows with its own flags and duplicate groups (a file read
    by SQL: on its own, _insert_read); returns the rows inserted. Many small files cost less in one statement than
    one by one (iter_source_batches); a large file's rows cost the same either way."""
    selects, params, n = [], [], 0
    for folder, (sql, values), source in parts:
        if read_sql.kept(folder):
            if source is None:
                raise ValueError(f"{folder}: rows read by SQL need their source file")
            n += _insert_read(con, table, folder, source, (sql, values))
            continue
        selects.append(f"SELECT {_select(table, sql)} FROM read_parquet(?) p "
                       f"LEFT JOIN read_parquet(?) d USING ({RECORD_HASH})")
        params += [*values, str(folder / f"{table.name}.parquet"), str(folder / f"{table.name}.dups.parquet")]
    if selects:
        n += con.execute(f'INSERT INTO "{table.name}" ' + " UNION ALL ".join(selects), params).fetchone()[0]
    return n


def _insert_read(con: duckdb.DuckDBPyConnection, table: Table, folder: Path, source: Path,
                 counted: tuple[str, list]) -> int:
    """Insert a file read by SQL: its kept SELECT over the source, the duplicate flags joined by source_row."""
    sql, params = counted
    parts = sql.split("?")  # precedence's positional parameters, named as the SELECT's are
    if len(parts) != len(params) + 1:
        raise ValueError(f"counted SQL with {len(parts) - 1} markers for {len(params)} values")
    sql = "".join(part + (f"$counted_{i}" if i < len(params) else "") for i, part in enumerate(parts))
    read, values = read_sql.rows_select(folder, source)
    values |= {f"counted_{i}": v for i, v in enumerate(params)}
    values["dups"] = str(folder / f"{table.name}.dups.parquet")
    return int(sql_query(con, (
        f'INSERT INTO "{table.name}" SELECT {_select(table, sql)} FROM ({read.select}) p '
        "LEFT JOIN read_parquet($dups) d ON d.source_row = p.source_row"), values, source.name)[0][0])


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(path))
    # Parallel inserts: a table's physical row order carries no meaning (order by release_id,
    # source_file, source_row), and keeping it costs about half the write time.
    con.execute("SET preserve_insertion_order = false")
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    # DuckDB draws a progress bar on stdout for queries over 2 s: a build must not write into a command's output
    con.execute("SET enable_progress_bar = false")
    return con


def build(
    sources: Sequence[BuildSource],
    target: Path,
    *,
    extra_tables: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    answer_tables: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    progress: Progress | None = None,
    cache_dir: Path | None = None,
    incremental: bool = True,
) -> BuildReport:
    """Build the warehouse at `target` atomically: a temporary file beside it is swapped in when complete.

    Each file is parsed once, in chunks, into Parquet files in `cache_dir`, under a key made of the file's SHA-256
    and a digest of the readers, code maps and schema, so an unchanged file is not parsed again (without
    `cache_dir`, into a temporary folder beside the target). DuckDB assembles the tables from those files.
    With `cache_dir` and `incremental`, a warehouse built by the same code is refreshed from a copy of itself
    (warehouse/incremental.py): only the rows of new, changed or removed files and what depends on them change.
    `answer_tables`: the analyses' derived answers (e.g. analysis.sweeps_stored.sweeps_stage), written last, on
    every build and refresh, after the count tables they read.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.building-{os.getpid()}")
    remove_stale(target, cache_dir)
    parse_dir = Path(cache_dir) if cache_dir else target.with_name(f".{target.name}.parse-{os.getpid()}")
    parse_dir.mkdir(parents=True, exist_ok=True)
    # spans read the catalog's declared scopes: a change of them rebuilds whole
    digest = incremental_.build_digest(code_version() + repr(declared_scopes()))
    prev = incremental_.previous(target, digest) if cache_dir and incremental else None
    try:
        loaded = {s.release_id for s in sources}
        rules = precedence.load_rules()
        schema = tables()
        stages = StageLog()
        if prev:
            with stages.stage("copy of the previous warehouse"):
                shutil.copyfile(target, tmp)
        con = _connect(tmp)
        records: dict[int, list[dict[str, Any]]] = {}
        parsed: list[str] = []
        fresh: set[tuple[str, str]] = set()  # (table, release) with rows inserted in this build
        stints_changed: set[str] = set()
        touched: set[tuple[str, str]] = set()  # (table, release) with rows deleted or inserted: coverage_fields again
        try:
            if not prev:
                for table in schema.values():
                    con.execute(table.ddl())
            for batch in iter_source_batches(sources, parse_dir, con, progress, stages=stages):
                # every file parsed by now, one INSERT per table (insert_parsed_many)
                parts: dict[str, list[tuple[Path, tuple[str, list], Path | None]]] = {}
                names: dict[str, list[str]] = {}
                rows_in: dict[str, int] = {}
                for i, folder, recs, was_parsed in batch:
                    records[i] = recs
                    if was_parsed:
                        parsed.append(sources[i].name)
                    key = (sources[i].release_id, sources[i].name)
                    if prev and prev.files.get(key) == recs[0]["sha256"]:
                        continue  # the copy holds its rows
                    if prev and key in prev.files:
                        with stages.stage(f"delete the old rows of {sources[i].name}"):
                            touched |= _deleted(con, prev, key, stints_changed)
                    for rec in recs:
                        t = rec["table_name"]
                        counted = precedence.counted(t, rec["release_id"], loaded, rules)
                        parts.setdefault(t, []).append((folder, counted, sources[i].path))
                        names.setdefault(t, []).append(sources[i].name)
                        rows_in[t] = rows_in.get(t, 0) + rec["rows_loaded"]
                        fresh.add((t, rec["release_id"]))
                        if t == "detention_stints":
                            stints_changed.add(rec["release_id"])
                for t, group in parts.items():
                    with stages.stage(f"insert {', '.join(names[t])} into {t}", rows_in[t]) as s:
                        s.rows_out = insert_parsed_many(con, schema[t], group)
            stays_for = None
            if prev:
                keys = {(s.release_id, s.name) for s in sources}
                for key in set(prev.files) - keys:  # files no longer loaded
                    touched |= _deleted(con, prev, key, stints_changed)
                changed = loaded ^ prev.loaded
                with stages.stage("counted re-derived (precedence)"):
                    updated = incremental_.recount(con, schema, changed, loaded, fresh)
                with stages.stage("event_days' counted again"):
                    days_recounted = incremental_.recount_event_days(con, updated)
                stays_for = stints_changed
                recounted = {r for t, r in updated if t == "detention_stints"} - stints_changed
                with stages.stage("stays' counted again"):
                    stays_changed = stays.recount(con, recounted)
                # recounting changes `counted` only, which coverage_fields does not read
                touched |= fresh | {("detention_stays", r) for r in stints_changed}
                # coverage spans read `counted` too: the recounted (table, release) pairs are derived again as well,
                # and so are their event_days counts unless recount_event_days re-derived them (stays whose flag
                # then became their first stint's again are counted again)
                spans_for = touched | set(updated) | {("detention_stays", r) for r in recounted}
                counts_for = spans_for - (days_recounted - touched - {("detention_stays", r) for r in stays_changed})
                placement = aggregates.placement_snapshot(con)
                with stages.stage("derived tables dropped"):
                    # the count tables are kept (re-derived per changed pair), and the tables an answer stage
                    # keeps while what it reads is unchanged (its `tables`: e.g. the stored sweeps)
                    incremental_.drop_derived(con, set(schema) | {FIELDS_TABLE, SPANS_TABLE}
                                              | aggregates.KEPT_BY_REFRESH | set(getattr(answer_tables, "tables", ())))
            files = [rec for i in sorted(records) for rec in records[i]]
            rows = finish(con, files, extra_tables, stays_for=stays_for, digest=digest,
                          fields_for=touched if prev else None,
                          counts_for=(counts_for, placement) if prev else None, stages=stages,
                          spans_for=spans_for if prev else None,
                          answer_tables=answer_tables)
        finally:
            con.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        raise
    finally:
        if not cache_dir:
            shutil.rmtree(parse_dir, ignore_errors=True)
    return BuildReport(target, rows, files, parsed, incremental=prev is not None, stages=stages.as_dicts())


def _deleted(con: duckdb.DuckDBPyConnection, prev: incremental_.Previous, key: tuple[str, str],
             stints_changed: set[str]) -> set[tuple[str, str]]:
    """Delete the rows one file gave the old warehouse; returns the (table, release) pairs touched (and notes a
    release whose stints changed in `stints_changed`)."""
    gone = incremental_.delete_file(con, prev, key)
    if "detention_stints" in gone:
        stints_changed.add(key[0])
    return {(t, key[0]) for t in gone}


def finish(con: duckdb.DuckDBPyConnection, files: list[dict[str, Any]],
           extra_tables: Callable[[duckdb.DuckDBPyConnection], None] | None, *,
           stays_for: set[str] | None = None, digest: str = "",
           fields_for: set[tuple[str, str]] | None = None,
           counts_for: tuple[set[tuple[str, str]], str] | None = None,
           stages: StageLog | None = None,
           answer_tables: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
           spans_for: set[tuple[str, str]] | None = None) -> dict[str, int]:
    """Everything derived from the event tables, in SQL: stays (of `stays_for` releases only when given), the
    releases table, coverage fields (of the (table, release) pairs in `fields_for` only when given: a refresh keeps
    the others'), then the extra stages (places, detention), event_days and the coverage spans (from event_days).
    With `counts_for` (the (table, release) pairs whose rows or `counted` flags changed, and the placement tables'
    fingerprint before the refresh), coverage spans are derived again for those pairs only, and so are the
    event_days counts while the placement tables are unchanged; `spans_for`, when given, names the pairs whose spans
    are derived again instead (a refresh: with the pairs whose event_days counts its recount updated in place).
    Returns rows per event table."""
    schema = tables()
    stages = stages or StageLog()
    count = lambda t: int(con.execute(f'SELECT count(*) FROM "{t}"').fetchall()[0][0])  # noqa: E731  (all fetched: no result left open for the stages' register)
    if "detention_stays" in schema:  # derived from the stints just written
        read = {f["release_id"] for f in files if f["table_name"] == "detention_stays"}  # their own stays file
        with stages.stage("detention_stays", count("detention_stints")) as s:
            s.rows_out = stays.write_stays(con, stays_for, read=read)
    rows = {t: count(t) for t in schema}
    for tname, n in rows.items():
        log.info("%s: %d rows written", tname, n)
    events = sum(rows.values())
    with stages.stage("releases", events) as s:
        _write_releases(con, files)
        s.rows_out = count("releases")
    def coverage(cur: duckdb.DuckDBPyConnection, name: str) -> None:
        with stages.stage(name, events) as s:
            write_coverage(cur, fields_for)
            s.rows_out = int(cur.execute(f"SELECT count(*) FROM {FIELDS_TABLE}").fetchall()[0][0])

    if extra_tables and events <= BESIDE_ROWS:
        # coverage fields read the event tables only; the extra stages write tables of their own and change no
        # event row (event_days then reads theirs): coverage runs in a second connection beside them, both cores
        # busy (each ran on about one)
        cur = con.cursor()
        try:
            with ThreadPoolExecutor(max_workers=1) as pool:  # waits for coverage even when the places stage fails
                beside = pool.submit(coverage, cur, "coverage (beside the extra stages)")
                with stages.stage("extra stages (places, detention; beside coverage)"):
                    extra_tables(con)
                beside.result()
        finally:
            cur.close()
    else:
        coverage(con, "coverage")
        if extra_tables:
            with stages.stage("extra stages (places, detention)"):
                extra_tables(con)
    only = None
    if counts_for is not None:  # and the pairs whose rows the places stage placed anew (None: every pair)
        again = aggregates.placed_again(con, counts_for[1])
        only = None if again is None else counts_for[0] | again
    with stages.stage("event_days, aor_days, event_methods", events) as s:
        # after the places stage: event_days, state_days, aor_days, event_methods; the sums of event_days also
        # take the pairs whose counts the refresh's recount updated in place (spans_for holds them)
        aggregates.write_derived_tables(con, only, spans_for)
        s.rows_out = sum(count(t) for t in (aggregates.EVENT_DAYS, aggregates.AOR_DAYS, aggregates.EVENT_METHODS))
    with stages.stage("coverage spans (from event_days)", events) as s:
        s.rows_out = write_spans(con, spans_for if spans_for is not None else
                                 counts_for[0] if counts_for is not None else None)
    if answer_tables:  # after the count tables they read (a refresh kept its `tables`: it decides what is redone)
        with stages.stage("answer tables (stored sweeps)", events):
            answer_tables(con)
    con.execute(incremental_.BUILD_INFO_DDL)
    con.execute("INSERT INTO build_info (build_digest) VALUES (?)", [digest])
    with stages.stage("checkpoint"):
        con.execute("CHECKPOINT")
    return rows


def _alive(pid: int) -> bool:
    """Whether a process with this id exists (a reused id counts as alive: its files are left alone)."""
    if pid == os.getpid():
        return False  # our own leftovers from an earlier build in this process
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(target: Path, cache_dir: Path | None = None) -> list[Path]:
    """Delete what killed builds left: `.<warehouse>.building-<pid>` files (and their .wal) beside the target and
    `<key>.tmp-<pid>-<thread>` folders in the parse cache, whose process is gone. Returns what was removed."""
    removed = []
    for path in [*target.parent.glob(f".{target.name}.building-*"), *target.parent.glob(f".{target.name}.parse-*")]:
        pid = path.name.rsplit("-", 1)[1].removesuffix(".wal")
        if pid.isdigit() and not _alive(int(pid)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    if cache_dir is not None and Path(cache_dir).is_dir():
        for path in Path(cache_dir).glob("*.tmp-*-*"):
            pid = path.name.rsplit(".tmp-", 1)[1].split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    for path in removed:
        log.info("removed %s, left by a build that did not finish", path)
    return removed


def _write_releases(con: duckdb.DuckDBPyConnection, files: list[dict[str, Any]]) -> None:
    """One row per file and table, with what was counted and the date range (one query per table)."""
    con.execute(RELEASES_DDL)
    stats: dict[tuple[str, str, str], tuple] = {}
    for t in sorted({f["table_name"] for f in files}):
        for rid, name, counted, dmin, dmax in con.execute(
            f'SELECT release_id, source_file, count(*) FILTER (WHERE counted), min(event_date), '
            f'max(event_date) FROM "{t}" GROUP BY ALL'
        ).fetchall():
            stats[(t, rid, name)] = (counted, dmin, dmax)
    rows = []
    for f in files:
        counted, dmin, dmax = stats.get((f["table_name"], f["release_id"], f["file_name"]), (0, None, None))
        rows.append(
            [
                f["release_id"], f["file_name"], f["sha256"], f["bytes"], f["reader"], f["table_name"],
                f["rows_read"], f["rows_loaded"], f["rows_rejected"], f["rejected_by_reason"],
                counted, f["duplicate_rows"], dmin, dmax,
            ]
        )
    insert_values(con, "releases", rows)  # none in a build of aggregate releases only
