"""Read-only access to the warehouse for the web tier, with a result cache keyed on the file's mtime."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb

CACHE_SIZE = 1024


# DuckDB's buffer pool defaults to 80 % of RAM; the web tier caps it (ICEMONITOR_WEB_MEMORY, e.g. "1GB").
MEMORY_LIMIT = os.environ.get("ICEMONITOR_WEB_MEMORY", "512MB")
CACHE_ENV = "ICEMONITOR_CACHE"
# One DuckDB thread per query: the web tier's queries are small (tens of ms) and many run at once in its workers,
# so a second thread per query only adds CPU (20 clients on 2 cores: 8x mean CPU per request 22.8 -> 20.1 ms).
QUERY_THREADS = 1


def caching() -> bool:
    """False when ICEMONITOR_CACHE is off (or 0, false, no): every request then runs its queries and analyses
    afresh (no whole-response, analysis or query-result cache), as benchmarks of uncached latency need. The
    warehouse's table and column lists stay cached: they describe the file, not an answer."""
    return os.environ.get(CACHE_ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    """Open the warehouse read-only, through icemonitor.warehouse.connect when that exists."""
    from icemonitor.warehouse import connect

    con = connect(path, read_only=True)
    con.execute("SET memory_limit = ?", [MEMORY_LIMIT])
    con.execute("SET threads = ?", [QUERY_THREADS])
    return con


def _plain(value: Any) -> Any:
    """Make a DuckDB value JSON-friendly (dates as ISO strings)."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return value


class Warehouse:
    """The DuckDB warehouse file, opened read-only; query results cached until the file changes.

    The warehouse is rebuilt beside the old one and swapped in whole, so a changed mtime means a new
    warehouse: the connection is reopened and the cache cleared.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._file = str(self.path)
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._mtime: float | None = None
        self._cache: OrderedDict[tuple, list[dict[str, Any]]] = OrderedDict()
        self._name_sets: dict[tuple, frozenset[str]] = {}  # (mtime, sql, params) -> tables() / columns()
        self._local = threading.local()

    # -- connection --------------------------------------------------------------------------------
    def exists(self) -> bool:
        return self.path.is_file()

    @property
    def mtime(self) -> float | None:
        try:
            return os.stat(self._file).st_mtime  # asked by every request: no pathlib on the way
        except FileNotFoundError:
            return None

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor for this thread on a connection that matches the current file."""
        mtime = self.mtime
        if mtime is None:
            raise FileNotFoundError(f"warehouse not found: {self.path}")
        with self._lock:
            if self._con is None or mtime != self._mtime:
                if self._con is not None:
                    self._con.close()
                self._con = _open(self.path)
                self._mtime = mtime
                self._cache.clear()
            con, generation = self._con, self._mtime
        local = self._local
        if getattr(local, "generation", None) != generation or getattr(local, "con", None) is None:
            local.con = con.cursor()
            local.generation = generation
        return local.con

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor on the current warehouse (for the analysis functions, which take a connection)."""
        return self._cursor()

    # -- queries -----------------------------------------------------------------------------------
    def query(self, sql: str, params: list | tuple = (), cache: bool | None = None) -> list[dict[str, Any]]:
        """Rows as dicts. Cached by (warehouse mtime, sql, params) unless caching is off (`cache`, default
        caching()). SQL must use ? parameters."""
        cur = self._cursor()
        if not (caching() if cache is None else cache):
            return self._rows(cur, sql, params)
        key = (self._mtime, sql, tuple(params))
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
        rows = self._rows(cur, sql, params)
        with self._lock:
            self._cache[key] = rows
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return rows

    @staticmethod
    def _rows(cur: duckdb.DuckDBPyConnection, sql: str, params: list | tuple) -> list[dict[str, Any]]:
        result = cur.execute(sql, list(params))
        names = [d[0] for d in result.description]
        return [{n: _plain(v) for n, v in zip(names, row)} for row in result.fetchall()]

    def batches(self, sql: str, params: list | tuple = (), batch_size: int = 65536):
        """Uncached Arrow record batches on a cursor of their own (safe to consume across requests)."""
        self._cursor()  # (re)opens the connection if the file changed
        with self._lock:
            cur = self._con.cursor()
        # A relation streams; execute() would materialise the whole result first.
        return cur.sql(sql, params=list(params)).to_arrow_reader(batch_size)

    def tables(self) -> set[str]:
        return set(self._names("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'", ()))

    def columns(self, table: str) -> set[str]:
        return set(self._names(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' AND table_name = ?",
            (table,)))

    def _names(self, sql: str, params: tuple) -> frozenset[str]:
        """The first column of a metadata query as a set, made once per warehouse version (a request asks for
        tables and columns some fifteen times; callers get their own copy)."""
        self._cursor()  # the connection (and _mtime) of the current file
        key = (self._mtime, sql, params)
        found = self._name_sets.get(key)
        if found is None:
            found = frozenset(next(iter(r.values())) for r in self.query(sql, list(params), cache=True))
            if len(self._name_sets) > CACHE_SIZE:
                self._name_sets.clear()
            self._name_sets[key] = found
        return found

    def ordered_columns(self, table: str) -> list[str]:
        """The table's columns in their order in the table."""
        rows = self.query("SELECT column_name FROM information_schema.columns WHERE table_schema = 'main' "
                          "AND table_name = ? ORDER BY ordinal_position", [table], cache=True)
        return [r["column_name"] for r in rows]

    def has(self, table: str, *columns: str) -> bool:
        """True when the table exists and has every named column."""
        return table in self.tables() and set(columns) <= self.columns(table)
