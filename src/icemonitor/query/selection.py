"""A Selection: which events a figure counts (table, period, place, filters, measure, counted or one release's rows,
placement policy), compiled once into a FROM clause, a WHERE clause and its parameters.

Columns every compiled source offers besides the table's own:
- `res_state`: the state the event is placed in: the state the release records, else the state of the landmark's
  resolution (a state-level resolution or an event placement; office placements too under placement `any`).
  This is what "state" means in every interface; the recorded state stays available as `state`.
- `res_county_fips`: the county the release records (state and county mapped to a FIPS code by the places stage),
  else the county of the landmark's event placement (office placements too under placement `any`).
- `res_county_by`: how the county was found: 'recorded_county', 'landmark', or NULL.
- `office_county_fips`: the county of the arresting office where the landmark only names the office
  (kind office_proxy), whatever the policy, so office placements can be counted apart.
- `res_level`, `res_kind`: the landmark resolution's level and kind (NULL where the landmark is not resolved).
- `res_by`: how the row was placed: 'recorded_state' (the release records a state, which wins over the landmark), 'landmark', or NULL.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

import duckdb

from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.query import vocabulary
from icemonitor.query.sql import Where, in_list
from icemonitor.schema import derived_tables
from icemonitor.warehouse.aggregates import AOR_DAYS, COUNTY_COLUMNS, EVENT_DAYS, MONTHS_OF, STATE_DAYS
from icemonitor.warehouse.placement import RECORDED_COUNTY_TABLE, RESOLUTION_TABLE, placed_source  # noqa: F401

ROWS = ("counted", "all")


_FILES: "weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, tuple[str | None, bool]]" = weakref.WeakKeyDictionary()


def database_file(con: duckdb.DuckDBPyConnection) -> tuple[str | None, bool]:
    """(path, read-only) of the connection's database, asked once per connection (it never changes for one), so a
    per_warehouse reader costs a stat, not a query."""
    try:
        return _FILES[con]
    except (KeyError, TypeError):
        pass
    row = con.execute("SELECT path, readonly FROM duckdb_databases() WHERE database_name = current_database()"
                      ).fetchone()
    found = (row[0], bool(row[1])) if row else (None, False)
    try:
        _FILES[con] = found
    except TypeError:  # an object that takes no weak reference: asked every time
        pass
    return found


def per_warehouse(fn=None, *, frozen: bool = False):
    """Cache a reader of what a warehouse file holds (its tables, columns, small reference tables) per file and
    version (path, mtime, size), for read-only connections: the file does not change until a build swaps in a new
    one. This is metadata, not answers: it stays cached when the web tier's caches of answers are off
    (ICEMONITOR_CACHE=off). A writable or in-memory connection is asked every time. Callers get a copy, or with
    `frozen` (a reader returning only read-only containers: tuples, frozensets, MappingProxyType) the value itself."""
    if fn is None:
        return lambda f: per_warehouse(f, frozen=frozen)
    cache: dict[tuple, Any] = {}

    def wrapper(con: duckdb.DuckDBPyConnection, *args: Any) -> Any:
        row = database_file(con)
        try:
            st = os.stat(row[0]) if row and row[0] and row[1] else None
        except OSError:
            st = None
        if st is None:
            return fn(con, *args)
        key = (row[0], st.st_mtime_ns, st.st_size, *args)
        if key not in cache:
            if len(cache) > 256:
                cache.clear()
            cache[key] = fn(con, *args)
        value = cache[key]
        if frozen or isinstance(value, (bool, str, frozenset)):
            return value
        return set(value) if isinstance(value, set) else copy.deepcopy(value)  # a set's members are immutable

    wrapper.__doc__ = fn.__doc__
    wrapper.__wrapped__ = fn
    return wrapper


@per_warehouse
def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]).fetchone()[0]
    )


@per_warehouse
def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()
    return {r[0] for r in rows}


def parse_date(value: str | dt.date | None, name: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InputError(msg("Dates must be YYYY-MM-DD"), field=name, value=value) from None


def check_placement(placement: str) -> str:
    if placement not in vocabulary.placements():
        raise InputError(msg("Unknown placement; choose one of {choices}", choices=", ".join(vocabulary.placements())),
                         field="placement", value=placement)
    return placement


Columns = Callable[[str], set[str]]  # table -> its columns (empty when there is no such table)


def event_source(con: duckdb.DuckDBPyConnection, table: str, placement: str = "event",
                 columns: Columns | None = None) -> str:
    """FROM clause for a table with res_state, res_county_fips and office_county_fips (module docstring; the SQL is
    warehouse/placement.py's, which the build's event_days table is derived from too).
    `columns`: a cached reader of the warehouse's columns (the web tier's), else information_schema is asked."""
    check_placement(placement)
    return placed_source(table, placement, columns or (lambda t: table_columns(con, t)))


def reference_for(con: duckdb.DuckDBPyConnection) -> Any:
    """The reference files of the data folder this warehouse was built in (its raw archive)."""
    from icemonitor.catalog.fetch import reference_resolver

    files = [r[2] for r in con.execute("PRAGMA database_list").fetchall() if r[2]]
    if not files:
        raise InputError(msg("place filters need a warehouse file inside its data folder"), field="place")
    return reference_resolver(home=Path(files[0]).parent)


def parse_place(con: duckdb.DuckDBPyConnection, place: str | None, ref: Any = None) -> Any:
    """The places stage's Place for what the user typed (a Place already read is kept as it is); None for the nation
    (vocabulary.is_nation)."""
    if place is not None and not isinstance(place, str):
        return place
    if vocabulary.is_nation(place):
        return None
    from icemonitor.places.place_filter import Place
    from icemonitor.places.place_names import parse_place as parse

    code = str(place).strip().upper()
    if code in vocabulary.aor_codes():  # an AOR code needs no reference files
        name = vocabulary.aor_names().get(code, code)
        return Place(level="aor", code=code, label=f"{name} AOR ({code})", county_fips=(), aors=(code,), states=(),
                     filter_aors=(code,), source="codes/data/aor_names.csv")
    return parse(place, ref or reference_for(con))


@dataclass(frozen=True)
class Selection:
    """What a figure counts. `rows`: counted rows (the release with precedence) or, with `release`, that release's
    own rows; `counted_only=False`: every release's rows, for figures that stay within one release (grouped by
    release_id). `filters`: column -> accepted values (any column of the table; `release` means release_id)."""

    table: str = "arrests"
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    place: str | None = None
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    measure: str = "all"
    release: str | None = None
    placement: str = "event"
    counted_only: bool = True

    @classmethod
    def of(cls, table: str = "arrests", date_from: Any = None, date_to: Any = None, place: str | None = None,
           filters: dict[str, Any] | None = None, measure: str = "all", release: str | None = None,
           placement: str = "event", counted_only: bool = True) -> "Selection":
        """Build from loose input (ISO dates, comma lists); InputError names the bad field."""
        if table not in vocabulary.table_names():
            raise InputError(msg("Unknown table; choose one of {choices}", choices=", ".join(vocabulary.table_names())),
                             field="table", value=table)
        if measure not in vocabulary.measures():
            raise InputError(msg("Unknown measure; choose one of {choices}", choices=", ".join(vocabulary.measures())),
                             field="measure", value=measure)
        check_placement(placement)
        d0, d1 = parse_date(date_from, "from"), parse_date(date_to, "to")
        if d0 and d1 and d1 < d0:
            raise InputError(msg("the period ends ({d1}) before it starts ({d0})", d1=d1, d0=d0),
                             field="from", value=f"{d0}..{d1}",
                             hint=msg("swap --from and --to: --from is the first day, --to the last"))
        flat = []
        for key, values in (filters or {}).items():
            vals = split_list(values)
            if vals:
                flat.append((key, tuple(str(v) for v in vals)))
        return cls(table, d0, d1, place, tuple(sorted(flat)), measure, release, placement, counted_only)

    def compile(self, con: duckdb.DuckDBPyConnection, ref: Any = None, columns: Columns | None = None) -> "Compiled":
        """The FROM clause, the WHERE (with and without the place) and the place, for this warehouse. `columns`:
        a cached reader of the warehouse's columns (event_source)."""
        columns = columns or (lambda t: table_columns(con, t))
        cols = columns(self.table)
        if not cols:
            raise InputError(msg("The warehouse has no such table (no release loaded for it)"), field="table",
                             value=self.table)
        base = (Where().add("release_id = ?", self.release) if self.release is not None
                else Where().add("counted") if self.counted_only else Where())
        if self.date_from:
            base.add("event_date >= ?", self.date_from)
        if self.date_to:
            base.add("event_date <= ?", self.date_to)
        fields: list[str] = []
        for key, vals in self.filters:
            col = "release_id" if key == "release" else key
            if col not in cols:
                raise InputError(msg("Table {table} has no column {column}", table=self.table, column=col), field=key,
                                 value=list(vals))
            base.add(*_in(col, vals))
            if col != "release_id":
                fields.append(col)
        m = vocabulary.measures()[self.measure]
        if m["sql"] != "TRUE":
            base.add(m["sql"])
            fields.append(m["field"])
        place = parse_place(con, self.place, ref)
        where = base.copy()
        if place is not None:
            from icemonitor.places.place_names import place_label  # polars: only for a place, not for the nation

            sql, params = place.sql_filter(aor_col="aor", state_col="res_state", county_col="res_county_fips")
            where.add(sql, *params)
        return Compiled(self, event_source(con, self.table, self.placement, columns), where, base, place,
                        place_label(place) if place is not None else vocabulary.nation_label(),
                        tuple(dict.fromkeys(fields)))


PLACED_COLUMNS = frozenset({"res_state", "res_county_fips", "office_county_fips", "res_level", "res_kind", "res_by",
                            "res_county_by"})  # what event_source adds to a table's own columns
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@cache
def rollup_columns() -> frozenset[str]:
    """The columns of event_days a question may use (schema.yaml's derived_tables; not its table_name and n)."""
    return frozenset(c.name for c in derived_tables()[EVENT_DAYS].columns) - {"table_name", "n"}


def rollup_source(con: duckdb.DuckDBPyConnection, table: str, *sql: str, placement: str = "event",
                  columns: Columns | None = None, months: Period | None = None) -> tuple[str, str] | None:
    """(FROM clause, count expression) of `table`'s rows on the build's event_days when every column that `sql`
    (the question's WHERE, SELECT and GROUP BY) names is one of event_days' and the placement is `event`; None
    otherwise (then count(*) over event_source). `months`: the question's period, where it reads event_date only by
    month (month_source). See Compiled.rolled_up."""
    return rollup_router(con, table, placement, columns)(*sql, months=months)


Period = tuple[dt.date | None, dt.date | None]  # a question's first and last day (None: no bound)
# how a question may read event_date and still be answered per month: its month, its year, the period's bounds
BY_MONTH = ("date_trunc('month', event_date)", "strftime(event_date, '%Y-%m')", "year(event_date)",
            "event_date >= ?", "event_date <= ?")


def month_after(d: dt.date) -> dt.date:
    """The first day of the month after `d`'s."""
    return dt.date(d.year + d.month // 12, d.month % 12 + 1, 1)


def whole_months(d0: dt.date | None, d1: dt.date | None) -> Period:
    """(the first day of the period's first whole month, the day after its last whole month) of the period from
    `d0` to `d1` (None: no bound); the first may not come before the second where no month is whole."""
    lo = None if d0 is None else (d0 if d0.day == 1 else month_after(d0))
    hi = None
    if d1 is not None:
        hi = month_after(d1) if (d1 + dt.timedelta(days=1)).day == 1 else d1.replace(day=1)
    return lo, hi


def month_source(table: str, days: str, months: str, d0: dt.date | None, d1: dt.date | None) -> str:
    """FROM clause of `table`'s rows of the day table `days` in the period from `d0` to `d1`, its whole months read
    from `months` (the same counts per month, dated the month's first day) and its partial first and last months'
    days from `days`: under the question's own period condition (event_date >= d0, <= d1) the same rows counted,
    grouped by month, year or fiscal year, as the day table's alone."""
    lo, hi = whole_months(d0, d1)
    if lo is not None and hi is not None and lo >= hi:  # no whole month
        return f"(SELECT * FROM {days} WHERE table_name = '{table}')"
    inner = ([f"event_date >= DATE '{lo.isoformat()}'"] if lo is not None else []) + (
        [f"event_date < DATE '{hi.isoformat()}'"] if hi is not None else [])
    edges = ([f"event_date < DATE '{lo.isoformat()}'"] if lo is not None and d0 < lo else []) + (
        [f"event_date >= DATE '{hi.isoformat()}'"] if hi is not None and d1 >= hi else [])  # partial months
    whole = f"SELECT * FROM {months} WHERE table_name = '{table}'" + "".join(f" AND {c}" for c in inner)
    if not edges:
        return f"({whole})"
    return f"({whole} UNION ALL SELECT * FROM {days} WHERE table_name = '{table}' AND ({' OR '.join(edges)}))"


def _by_month(sql: tuple[str, ...]) -> bool:
    """Whether `sql` reads event_date only as BY_MONTH allows."""
    text = " ".join(sql)
    for allowed in BY_MONTH:
        text = text.replace(allowed, "")
    return "event_date" not in _WORD.findall(text)


def rollup_router(con: duckdb.DuckDBPyConnection, table: str, placement: str = "event",
                  columns: Columns | None = None) -> Callable[..., tuple[str, str] | None]:
    """rollup_source for several questions on one table: the warehouse is asked once whether it has event_days (and
    aor_days, which answers a question naming no placed column from a sixth of the rows, and state_days, which
    answers one naming a placed state column but no county column from a third), and their month tables (a
    question given `months`, its period, that reads event_date only by month reads them: month_source)."""
    own, coarse, states, monthly = None, False, False, frozenset()
    if placement == "event" and table in vocabulary.table_names():
        own = _rollup_ready(con, table) if columns is None else (
            columns(table) | rollup_columns() | PLACED_COLUMNS if columns(EVENT_DAYS) else None)
        has = (lambda t: has_table(con, t)) if columns is None else (lambda t: bool(columns(t)))
        coarse = own is not None and has(AOR_DAYS)
        states = own is not None and has(STATE_DAYS)
        monthly = frozenset(d for d, m in MONTHS_OF.items() if own is not None and has(m))

    def route(*sql: str, months: Period | None = None) -> tuple[str, str] | None:
        named = set(_WORD.findall(" ".join(sql))) & own if own is not None else None
        if named is None or not named <= rollup_columns():
            return None
        if coarse and not named & PLACED_COLUMNS:
            source = AOR_DAYS  # no placed column: summed over them
        elif states and not named & COUNTY_COLUMNS:
            source = STATE_DAYS  # a placed state but no county: summed over the county columns
        else:
            source = EVENT_DAYS
        if months is not None and source in monthly and _by_month(sql):
            return month_source(table, source, MONTHS_OF[source], *months), "coalesce(sum(n), 0)::BIGINT"
        return f"(SELECT * FROM {source} WHERE table_name = '{table}')", "coalesce(sum(n), 0)::BIGINT"

    return route


def unplaced_source(table: str, *sql: str) -> str | None:
    """The bare table when `sql` names none of the columns event_source adds (res_state, res_county_fips, ...): its
    rows are event_source's rows (one per event; the placement joins match at most one row), without the joins."""
    return None if set(_WORD.findall(" ".join(sql))) & PLACED_COLUMNS else table


@per_warehouse
def _rollup_ready(con: duckdb.DuckDBPyConnection, table: str) -> frozenset[str] | None:
    """Every column event_source offers for `table` when the warehouse has event_days; None when it has not."""
    if not has_table.__wrapped__(con, EVENT_DAYS):
        return None
    return frozenset(table_columns.__wrapped__(con, table)) | rollup_columns() | PLACED_COLUMNS


def _in(col: str, vals: tuple[str, ...]) -> tuple[str, ...]:
    sql, params = in_list(col, vals)
    return (sql, *params)


@dataclass
class Compiled:
    """A Selection made SQL: `source` (FROM), `where` (every condition), `base` (every condition but the place)."""

    selection: Selection
    source: str
    where: Where
    base: Where
    place: Any  # places.place_filter.Place, or None for the nation
    label: str
    fields: tuple[str, ...] = field(default=())
    # how `source` counts rows: count(*) on the event rows, the sum of `n` on the build's event_days (rolled_up)
    count_sql: str = "count(*)"

    def count(self, con: duckdb.DuckDBPyConnection) -> int:
        return int(con.execute(f"SELECT {self.count_sql} FROM {self.source} WHERE {self.where.sql()}",
                               self.where.params).fetchone()[0])

    def rolled_up(self, con: duckdb.DuckDBPyConnection, *sql: str, columns: Columns | None = None,
                  months: bool = False) -> "Compiled":
        """The same selection read from the build's event_days table (rows counted per day, release, AOR, placed
        state and county, method class and criminality; warehouse/aggregates.py) when the question needs no other
        column: its WHERE, and `sql` (the caller's SELECT and GROUP BY expressions), name only event_days' columns,
        and the placement is `event`. Count with `count_sql`, never count(*). Otherwise this selection as it is,
        on the event rows. The figures are equal either way (tests/test_event_days.py). `months`: the caller reads
        event_date only by month (query.selection.BY_MONTH) in `sql` and in the SQL it runs, and only this
        selection's period conditions name event_date in its WHERE: the whole months then come from the month
        tables (month_source; tests/test_month_tables.py)."""
        sel = self.selection
        rolled = rollup_source(con, sel.table, self.where.sql(), self.base.sql(), *sql, placement=sel.placement,
                               columns=columns, months=(sel.date_from, sel.date_to) if months else None)
        return self if rolled is None else replace(self, source=rolled[0], count_sql=rolled[1])

    def office_placements(self, con: duckdb.DuckDBPyConnection) -> int | None:
        """Events of the place's AORs placed in the place's counties only by the arresting office's county (not
        counted under placement `event`); None for the nation, an AOR, or placement `any`."""
        p = self.place
        if p is None or p.level == "aor" or self.selection.placement != "event":
            return None
        aors = tuple(a for a in p.aors if a not in p.filter_aors)  # a wholly covered AOR counts by its code
        if not aors:
            return 0
        w = self.base.copy()
        w.add(*_in("aor", aors))
        w.add(*_in("office_county_fips", tuple(p.county_fips)))
        w.add("res_county_fips IS NULL")
        r = self.rolled_up(con, w.sql(), months=True)
        return int(con.execute(f"SELECT {r.count_sql} FROM {r.source} WHERE {w.sql()}", w.params).fetchone()[0])


def split_list(values: Any) -> list[str]:
    """Accept repeated options and comma lists alike."""
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out: list[str] = []
    for v in values:
        out.extend(x.strip() for x in str(v).split(",") if x.strip())
    return out
