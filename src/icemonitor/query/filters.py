"""The dashboard's and the API's filter parameters (table, period, AOR, method class, criminality, release) and
group-by keys, checked against the warehouse and turned into a query.Selection. Every identifier that reaches
SQL comes from an allow-list here; a bad parameter raises ParamError naming it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from icemonitor.messages import msg
from icemonitor.query.selection import Selection

EVENT_TABLES = ("arrests", "encounters", "removals", "bookins", "detainers", "i213")
METHOD_CLASSES = ("custodial", "at_large", "other")
CRIMINALITY = ("convicted", "pending_charges", "no_record", "unknown")

# Group-by keys written as text from a date: key -> (the date value grouped on, its strftime format).
DATE_KEYS: dict[str, tuple[str, str]] = {
    "day": ("event_date", "%Y-%m-%d"),
    "week": ("date_trunc('week', event_date)", "%Y-%m-%d"),
    "month": ("date_trunc('month', event_date)", "%Y-%m"),
}
# Allowed group-by keys: key -> (SQL expression, column it needs). Never interpolate anything else.
GROUP_BY: dict[str, tuple[str, str]] = {
    **{k: (f"strftime({value}, '{fmt}')", "event_date") for k, (value, fmt) in DATE_KEYS.items()},
    "year": ("CAST(year(event_date) AS INTEGER)", "event_date"),
    "fy": ("CAST(fy AS INTEGER)", "fy"),
    "aor": ("aor", "aor"),
    "state": ("res_state", "state"),  # placed state, as everywhere (query.selection); needs the placed source
    "recorded_state": ("state", "state"),  # the state the release itself records
    "method_class": ("method_class", "method_class"),
    "method_raw": ("method_raw", "method_raw"),
    "criminality": ("criminality", "criminality"),
    "criminality_field": ("criminality_field", "criminality_field"),
    "release_id": ("release_id", "release_id"),
    "release": ("release_id", "release_id"),  # the CLI summary's name for it
    "gender": ("gender", "gender"),
    "citizenship": ("citizenship", "citizenship"),
}
MAX_GROUP_KEYS = 3

Columns = Callable[[str], set[str]]  # table -> its columns (empty when the warehouse has no such table)


class ParamError(ValueError):
    """A request parameter the warehouse cannot answer; names the parameter."""

    def __init__(self, param: str, message: str, value: object = None) -> None:
        self.param, self.message, self.value = param, message, value
        super().__init__(f"{param}: {message}")


@dataclass(frozen=True)
class Filters:
    """The filters every view shares (the CLI summary's parameters)."""

    table: str = "arrests"
    date_from: date | None = None
    date_to: date | None = None
    aor: str | None = None
    method_class: str | None = None
    criminality: str | None = None
    release: str | None = None

    def as_params(self) -> dict[str, str]:
        out = {"table": self.table}
        if self.date_from:
            out["from"] = self.date_from.isoformat()
        if self.date_to:
            out["to"] = self.date_to.isoformat()
        for key in ("aor", "method_class", "criminality", "release"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out

    def column_filters(self) -> dict[str, str]:
        """The filters on columns (the AOR as a column: an AOR code is its own place)."""
        filters = {"aor": self.aor, "method_class": self.method_class, "criminality": self.criminality,
                   "release": self.release}
        return {k: v for k, v in filters.items() if v}

    def selection(self, counted_only: bool = True) -> Selection:
        """These filters as a query.Selection (the one selection every interface uses)."""
        return Selection.of(self.table, self.date_from, self.date_to, None, self.column_filters(),
                            counted_only=counted_only)


def check_order(date_from: date | None, date_to: date | None) -> None:
    """A period ends on or after its start, else ParamError on `to` (every API and page handler asks this; the
    message is rendered in the request's language)."""
    if date_from is not None and date_to is not None and date_to < date_from:
        raise ParamError("to", msg("must not be before 'from'"), date_to.isoformat())


def grouped_sql(by: list[str], count_sql: str, source: str, where: str) -> str:
    """SELECT the `by` keys (GROUP_BY), `count_sql` summed AS n and AS rel the list of releases behind each group's
    count, from `source` where `where`, ordered by the keys (NULLs last); with no keys, one row (n 0 where no rows
    match). Counted per group and release first, then summed per group: one scan gives the figures and their
    releases, cheaper than list(DISTINCT release_id) over the rows. A date key is grouped on the date and written as
    text once per group, not once per row (the same text: strftime of the same date)."""
    inner = "".join(f"{DATE_KEYS[k][0] if k in DATE_KEYS else GROUP_BY[k][0]} AS {k}, " for k in by)
    outer = "".join(f"strftime({k}, '{DATE_KEYS[k][1]}') AS {k}, " if k in DATE_KEYS else f"{k}, " for k in by)
    counts = (f"SELECT {outer}coalesce(sum(n), 0)::BIGINT AS n, list(release_id) AS rel FROM (SELECT {inner}release_id, "
              f"{count_sql} AS n FROM {source} WHERE {where} GROUP BY ALL)")
    if not by:
        return counts
    order = ", ".join(str(i + 1) for i in range(len(by)))
    return f"{counts} GROUP BY ALL ORDER BY {order} NULLS LAST"


def parse_by(by: str | None) -> list[str]:
    """Comma-separated group-by keys, each from GROUP_BY."""
    keys = [k.strip() for k in (by or "").split(",") if k.strip()]
    if len(keys) > MAX_GROUP_KEYS:
        raise ParamError("by", msg("at most {n} keys", n=MAX_GROUP_KEYS), by)
    for k in keys:
        if k not in GROUP_BY:
            raise ParamError("by", msg("unknown key {key!r}; allowed: {choices}", key=k, choices=", ".join(GROUP_BY)),
                             by)
    if len(set(keys)) != len(keys):
        raise ParamError("by", msg("repeated key"), by)
    return keys


def check_table(columns: Columns, table: str) -> None:
    if table not in EVENT_TABLES:
        raise ParamError("table", msg("unknown table; allowed: {choices}", choices=", ".join(EVENT_TABLES)), table)
    if not columns(table):
        raise ParamError("table", msg("not available in this warehouse"), table)


def check_filters(columns: Columns, f: Filters) -> None:
    """Every filter answerable by the warehouse's table, else ParamError naming the first that is not."""
    check_table(columns, f.table)
    cols = columns(f.table)
    check_order(f.date_from, f.date_to)
    if f.aor and "aor" not in cols:
        raise ParamError("aor", msg("table {table} has no AOR", table=f.table), f.aor)
    for column, value, allowed, missing in (
        ("method_class", f.method_class, METHOD_CLASSES,
         msg("table {table} records no apprehension method", table=f.table)),
        ("criminality", f.criminality, CRIMINALITY, msg("table {table} records no criminality", table=f.table)),
    ):
        if not value:
            continue
        if value not in allowed:
            raise ParamError(column, msg("allowed: {choices}", choices=", ".join(allowed)), value)
        if column not in cols:
            raise ParamError(column, missing, value)


def check_by(columns: Columns, table: str, by: list[str]) -> None:
    """Every group-by key has its column in the table."""
    cols = columns(table)
    for k in by:
        if GROUP_BY[k][1] not in cols:
            raise ParamError("by", msg("table {table} has no column for {key!r}", table=table, key=k), k)
