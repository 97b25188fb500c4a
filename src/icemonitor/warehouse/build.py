"""Build the warehouse: read every source file, encode its codes, flag duplicates and precedence, and write
a DuckDB file beside the old one, swapped in only when complete."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from icemonitor.codes.encoder import encode
from icemonitor.errors import ChecksumError, InputError
from icemonitor.readers import SourceFile, read
from icemonitor.readers._canon import RECORD_HASH
from icemonitor.schema import Table, tables
from icemonitor.warehouse import precedence, stays
from icemonitor.warehouse.coverage import write_coverage

log = logging.getLogger(__name__)

# Rows of one table gathered before they are written: large inserts are cheaper, and memory stays bounded.
FLUSH_ROWS = 700_000

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


Progress = Callable[[str, int, int], None]


def fiscal_year(col: str = "event_date") -> pl.Expr:
    d = pl.col(col)
    return (d.dt.year() + (d.dt.month() >= 10).cast(pl.Int32)).cast(pl.Int16).alias("fy")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def flag_duplicates(df: pl.DataFrame, table: Table) -> pl.DataFrame:
    """duplicate_group = source_row of the first row of the file identical in every source field;
    duplicate_count = how many rows of the file share it.

    Readers give a hash of each whole source record (RECORD_HASH): fields the warehouse does not keep count
    too. Without it, the canonical columns are compared."""
    if RECORD_HASH in df.columns:
        content = [RECORD_HASH]
    else:
        content = [c for c in table.names("reader") if c not in NOT_CONTENT and c in df.columns]
    return df.with_columns(
        pl.col("source_row").min().over(content).cast(pl.Int64).alias("duplicate_group"),
        pl.len().over(content).cast(pl.Int32).alias("duplicate_count"),
    )


def _finish(frames: list[pl.DataFrame], table: Table, loaded: set[str], rules) -> pl.DataFrame:
    """Concatenate one table's frames, add fy and the counted flag, in schema order."""
    df = pl.concat(frames, how="diagonal_relaxed")
    counted = pl.lit(None, dtype=pl.Boolean)
    for rid in df.select(pl.col("release_id").unique(maintain_order=True)).to_series().to_list():
        flag = precedence.counted(table.name, rid, loaded, rules)
        counted = pl.when(pl.col("release_id") == rid).then(flag).otherwise(counted)
    return df.select(
        [
            (fiscal_year() if c.name == "fy" else counted if c.name == "counted" else pl.col(c.name)).cast(c.polars_type)
            for c in table.columns
        ]
    )


@cache
def code_version() -> str:
    """A digest of everything that shapes a parsed file: readers, code maps and the schema."""
    root = resources.files("icemonitor")
    h = hashlib.sha256()
    for sub in ("readers", "codes", "schema.py", "warehouse/schema.yaml", "warehouse/build.py"):
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


def _cached(folder: Path | None) -> tuple[dict[str, pl.DataFrame], list[dict[str, Any]]] | None:
    if folder is None or not (folder / "files.json").exists():
        return None
    files = json.loads((folder / "files.json").read_text())
    frames = {f["table_name"]: pl.read_ipc(folder / f"{f['table_name']}.arrow") for f in files}
    return frames, files


def _store(folder: Path, frames: dict[str, pl.DataFrame], files: list[dict[str, Any]]) -> None:
    tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}-{threading.get_ident()}")
    tmp.mkdir(parents=True, exist_ok=True)
    for tname, frame in frames.items():
        frame.write_ipc(tmp / f"{tname}.arrow", compression="uncompressed")
    (tmp / "files.json").write_text(json.dumps(files))
    try:
        tmp.rename(folder)
    except OSError:  # another build stored it first
        shutil.rmtree(tmp, ignore_errors=True)


def _read_one(
    src: BuildSource, cache_dir: Path | None = None
) -> tuple[dict[str, pl.DataFrame], list[dict[str, Any]]]:
    """Check, read and encode one source file (or take the parse cached for its checksum and code version)."""
    schema = tables()
    digest = _sha256(src.path)
    if src.sha256 and digest != src.sha256:
        from icemonitor.catalog.fetch import corrupt_copy_text

        raise ChecksumError(corrupt_copy_text(src.path, src.release_id,
                                              f"sha256 {digest}, the catalog says {src.sha256}"), file=src.name)
    folder = cache_dir / _cache_key(src, digest) if cache_dir else None
    hit = _cached(folder)
    if hit is not None:
        log.info("%s: parse taken from the cache", src.name)
        return hit
    out = read(SourceFile(src.path, src.name, src.release_id, src.reader, src.options))
    if not out:
        raise InputError("the reader found no records", file=src.name)
    frames, files = {}, []
    for tname, frame in out.items():
        if tname not in schema:
            raise InputError(f"reader {src.reader!r} produced unknown table {tname!r}", file=src.name)
        encoded = flag_duplicates(
            encode(frame, schema[tname]).with_columns(pl.lit(src.release_id).alias("release_id")),
            schema[tname],
        )
        frames[tname] = encoded
        files.append(
            {
                "release_id": src.release_id, "file_name": src.name, "sha256": digest,
                "bytes": src.path.stat().st_size, "reader": src.reader, "table_name": tname,
                "rows_read": frame.height, "rows_loaded": encoded.height,
                "rows_rejected": frame.height - encoded.height, "rejected_by_reason": json.dumps({}),
                "duplicate_rows": encoded.filter(pl.col("duplicate_count") > 1).height,
            }
        )
        log.info("%s: %d rows read, %d encoded into %s", src.name, frame.height, encoded.height, tname)
    if folder is not None:
        _store(folder, frames, files)
    return frames, files


def iter_sources(
    sources: Sequence[BuildSource],
    progress: Progress | None = None,
    workers: int | None = None,
    cache_dir: Path | None = None,
) -> Iterator[tuple[int, dict[str, pl.DataFrame], list[dict[str, Any]]]]:
    """Read and encode every source in parallel threads; yield (source index, frames, provenance records) as
    each one is done, so the caller can write and drop it (memory holds only the files in flight)."""
    workers = workers or min(4, os.cpu_count() or 1)
    queue = list(enumerate(sources))[::-1]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures: dict[Future, int] = {}
        try:
            done = 0
            while queue or futures:
                while queue and len(futures) < workers + 1:  # bounded: finished files wait to be written
                    i, src = queue.pop()
                    futures[pool.submit(_read_one, src, cache_dir)] = i
                fut = next(as_completed(futures))
                i = futures.pop(fut)
                frames, files = fut.result()
                done += 1
                if progress:
                    progress(sources[i].name, done, len(sources))
                yield i, frames, files
        finally:
            for f in futures:
                f.cancel()


RELEASES_DDL = """CREATE TABLE releases (
  release_id VARCHAR, file_name VARCHAR, sha256 VARCHAR, bytes BIGINT, reader VARCHAR,
  table_name VARCHAR, rows_read BIGINT, rows_loaded BIGINT, rows_rejected BIGINT,
  rejected_by_reason VARCHAR, rows_counted BIGINT, duplicate_rows BIGINT,
  date_min DATE, date_max DATE
)"""


def build(
    sources: Sequence[BuildSource],
    target: Path,
    *,
    extra_tables: Callable[[duckdb.DuckDBPyConnection], None] | None = None,
    progress: Progress | None = None,
    cache_dir: Path | None = None,
) -> BuildReport:
    """Build the warehouse at `target` atomically: a temporary file beside it is swapped in when complete.

    With `cache_dir`, each file's parsed and encoded rows are kept there under a key made of the file's
    SHA-256 and a digest of the readers, code maps and schema, so an unchanged file is not parsed again.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.building-{os.getpid()}")
    remove_stale(target, cache_dir)
    try:
        loaded = {s.release_id for s in sources}
        rules = precedence.load_rules()
        schema = tables()
        con = duckdb.connect(str(tmp))
        # Parallel inserts: a table's physical row order carries no meaning (order by release_id,
        # source_file, source_row), and keeping it costs about half the write time.
        con.execute("SET preserve_insertion_order = false")
        rows = dict.fromkeys(schema, 0)
        records: dict[int, list[dict[str, Any]]] = {}
        try:
            for table in schema.values():
                con.execute(table.ddl())
            pending: dict[str, list[pl.DataFrame]] = {t: [] for t in schema}

            def flush(tname: str) -> None:
                if pending[tname]:
                    df = _finish(pending[tname], schema[tname], loaded, rules)
                    pending[tname] = []
                    con.register("_frame", df.to_arrow())
                    con.execute(f'INSERT INTO "{tname}" SELECT * FROM _frame')
                    con.unregister("_frame")
                    rows[tname] += df.height

            for i, frames, recs in iter_sources(sources, progress, cache_dir=cache_dir):
                records[i] = recs
                for tname, frame in frames.items():
                    pending[tname].append(frame)
                    if sum(f.height for f in pending[tname]) >= FLUSH_ROWS:
                        flush(tname)
                del frames
            for tname in schema:
                flush(tname)
            if "detention_stays" in schema:  # derived from the stints just written
                rows["detention_stays"] = stays.write_stays(con)
            for tname, n in rows.items():
                log.info("%s: %d rows written", tname, n)
            files = [rec for i in sorted(records) for rec in records[i]]
            _write_releases(con, files)
            write_coverage(con)
            if extra_tables:
                extra_tables(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
        raise
    return BuildReport(target, rows, files)


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
    for path in target.parent.glob(f".{target.name}.building-*"):
        pid = path.name.rsplit("-", 1)[1].removesuffix(".wal")
        if pid.isdigit() and not _alive(int(pid)):
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
    if rows:  # a build of aggregate releases only has no event files
        con.executemany("INSERT INTO releases VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
