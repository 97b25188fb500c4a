"""The warehouse queries behind the dashboard and the API. SQL is parameterised; identifiers come from allow-lists."""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Any

from icemonitor.messages import msg
from icemonitor.query.selection import Selection, event_source
from icemonitor.web.db import Warehouse

EVENT_TABLES = ("arrests", "encounters", "removals", "bookins", "detainers", "i213")
METHOD_CLASSES = ("custodial", "at_large", "other")
CRIMINALITY = ("convicted", "pending_charges", "no_record", "unknown")

# Allowed group-by keys: key -> (SQL expression, column it needs). Never interpolate anything else.
GROUP_BY: dict[str, tuple[str, str]] = {
    "day": ("strftime(event_date, '%Y-%m-%d')", "event_date"),
    "week": ("strftime(date_trunc('week', event_date), '%Y-%m-%d')", "event_date"),
    "month": ("strftime(date_trunc('month', event_date), '%Y-%m')", "event_date"),
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
        if self.aor:
            out["aor"] = self.aor
        if self.method_class:
            out["method_class"] = self.method_class
        if self.criminality:
            out["criminality"] = self.criminality
        if self.release:
            out["release"] = self.release
        return out


@dataclass
class Where:
    sql: str
    params: list[Any] = field(default_factory=list)


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


def check_table(wh: Warehouse, table: str) -> None:
    if table not in EVENT_TABLES:
        raise ParamError("table", msg("unknown table; allowed: {choices}", choices=", ".join(EVENT_TABLES)), table)
    if table not in wh.tables():
        raise ParamError("table", msg("not available in this warehouse"), table)


def where(wh: Warehouse, f: Filters, counted_only: bool = True) -> Where:
    """WHERE clause for the filters, from the one selection every interface uses (query.Selection): counted rows
    only (overlapping releases are not added twice). Parameters are checked here first, so a bad one is named.

    counted_only=False is for figures that stay within one release (grouped by release_id).
    """
    check_table(wh, f.table)
    cols = wh.columns(f.table)
    if f.date_from and f.date_to and f.date_from > f.date_to:
        raise ParamError("to", msg("must not be before 'from'"), f.date_to.isoformat())
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
    q = selection(f, counted_only).compile(wh.cursor(), columns=wh.columns)
    return Where(q.where.sql(), list(q.where.params))


def selection(f: Filters, counted_only: bool = True) -> Selection:
    """The dashboard's filters as a query.Selection (the AOR as a column filter: an AOR code is its own place)."""
    filters = {"aor": f.aor, "method_class": f.method_class, "criminality": f.criminality, "release": f.release}
    return Selection.of(f.table, f.date_from, f.date_to, None, {k: v for k, v in filters.items() if v},
                        counted_only=counted_only)


def summary(wh: Warehouse, f: Filters, by: list[str]) -> dict[str, Any]:
    """Counted events grouped by `by` (allow-listed keys), with the releases they came from."""
    w = where(wh, f)
    cols = wh.columns(f.table)
    for k in by:
        if GROUP_BY[k][1] not in cols:
            raise ParamError("by", msg("table {table} has no column for {key!r}", table=f.table, key=k), k)
    select = ", ".join(f"{GROUP_BY[k][0]} AS {k}" for k in by)
    if by:
        order = ", ".join(f"{i + 1}" for i in range(len(by)))
        src = f.table
        if "state" in by:  # the placed state: the table joined to the landmark resolution (placement 'event')
            src = event_source(wh.cursor(), f.table, columns=wh.columns)
        sql = (f"SELECT {select}, count(*) AS n FROM {src} WHERE {w.sql} "
               f"GROUP BY ALL ORDER BY {order} NULLS LAST")
    else:
        sql = f"SELECT count(*) AS n FROM {f.table} WHERE {w.sql}"
    rows = wh.query(sql, w.params)
    return {"rows": rows, "total": sum(r["n"] for r in rows), "releases": releases_used(wh, f, w)}


def releases_used(wh: Warehouse, f: Filters, w: Where | None = None) -> list[str]:
    w = w or where(wh, f)
    rows = wh.query(f"SELECT DISTINCT release_id FROM {f.table} WHERE {w.sql} ORDER BY 1", w.params)
    return [r["release_id"] for r in rows if r["release_id"] is not None]


def release_spans(wh: Warehouse, f: Filters) -> list[dict[str, Any]]:
    """For the counted rows under the filters: each release's first and last date and the AORs it covers."""
    w = where(wh, f)
    aor = "list(DISTINCT aor ORDER BY aor) FILTER (WHERE aor IS NOT NULL)" if "aor" in wh.columns(f.table) else "[]"
    return wh.query(
        f"SELECT release_id, min(event_date) AS first, max(event_date) AS last, count(*) AS n, {aor} AS aors "
        f"FROM {f.table} WHERE {w.sql} GROUP BY release_id ORDER BY first, release_id", w.params)


def partial_coverage(wh: Warehouse, f: Filters) -> list[dict[str, Any]]:
    """Runs of months whose counted rows come from fewer than half as many AORs as the best-covered month (e.g.
    only the Seattle production before FY2016): [{"from": "YYYY-MM", "to": "YYYY-MM", "aors": [...]}]. Empty for
    one AOR, where the question does not arise."""
    if f.aor or not wh.has(f.table, "aor", "event_date"):
        return []
    w = where(wh, f)
    rows = wh.query(
        f"SELECT {GROUP_BY['month'][0]} AS month, list(DISTINCT aor ORDER BY aor) FILTER (WHERE aor IS NOT NULL) "
        f"AS aors FROM {f.table} WHERE {w.sql} AND event_date IS NOT NULL GROUP BY 1 ORDER BY 1", w.params)
    most = max((len(r["aors"] or []) for r in rows), default=0)
    runs: list[dict[str, Any]] = []
    previous = None
    for r in rows:
        month, found = r["month"], list(r["aors"] or [])
        if 2 * len(found) < most:
            follows = previous is not None and month == _next_month(previous)
            if runs and follows and runs[-1]["aors"] == found and runs[-1]["to"] == previous:
                runs[-1]["to"] = month
            else:
                runs.append({"from": month, "to": month, "aors": found})
        previous = month
    return runs


def _next_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:7])
    return f"{y + 1}-01" if m == 12 else f"{y}-{m + 1:02d}"


def aors(wh: Warehouse, table: str = "arrests") -> list[str]:
    """AOR codes present in a table."""
    if not wh.has(table, "aor"):
        return []
    rows = wh.query(f"SELECT DISTINCT aor FROM {table} WHERE aor IS NOT NULL ORDER BY 1")
    return [r["aor"] for r in rows]


def event_tables(wh: Warehouse) -> list[str]:
    present = wh.tables()
    return [t for t in EVENT_TABLES if t in present]


def method_codes(wh: Warehouse, f: Filters) -> dict[str, list[str]]:
    """Which raw apprehension methods fall in each method class, as the warehouse maps them."""
    if not wh.has(f.table, "method_class", "method_raw"):
        return {}
    rows = wh.query(
        f"SELECT method_class, method_raw, count(*) AS n FROM {f.table} WHERE method_raw IS NOT NULL "
        "GROUP BY ALL ORDER BY method_class, n DESC, method_raw"  # ties in a fixed order: the same text each time
    )
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["method_class"] or "unclassified", []).append(r["method_raw"])
    return out


def criminality_fields(wh: Warehouse, f: Filters) -> list[dict[str, Any]]:
    """Rows by release, criminality_field, fiscal year and criminality, where the release records criminality.

    Each group stays within one release, so all of that release's rows are used (not only `counted` ones): a
    release that records criminality may overlap a fuller release that has precedence for counts but does not.
    """
    if not wh.has(f.table, "criminality_field", "criminality", "release_id"):
        return []
    w = where(wh, f, counted_only=False)
    return wh.query(
        f"SELECT release_id, criminality_field, CAST(fy AS INTEGER) AS fy, criminality, count(*) AS n "
        f"FROM {f.table} WHERE {w.sql} AND criminality_field IS NOT NULL AND criminality_field <> 'not_recorded' "
        "GROUP BY ALL ORDER BY release_id, criminality_field, fy, criminality",
        w.params,
    )


def coverage(wh: Warehouse) -> list[dict[str, Any]]:
    """Per event table: rows, counted rows, first and last event date, releases."""
    out = []
    for t in event_tables(wh):
        cols = wh.columns(t)
        counted = "count(*) FILTER (WHERE counted)" if "counted" in cols else "count(*)"
        row = wh.query(
            f"SELECT count(*) AS rows, {counted} AS counted_rows, min(event_date) AS min_date, "
            f"max(event_date) AS max_date, list(DISTINCT release_id ORDER BY release_id) AS releases FROM {t}"
        )[0]
        out.append({"table": t, **row})
    return out


# Columns of the warehouse's releases table shown by the API and the pages (whichever exist).
RELEASE_COLUMNS = ("release_id", "file_name", "table_name", "sha256", "rows_read", "rows_loaded", "rows_rejected",
                   "rows_counted", "duplicate_rows", "date_min", "date_max")


def releases(wh: Warehouse) -> list[dict[str, Any]]:
    """The releases table (whichever of the known columns it has)."""
    if "releases" not in wh.tables():
        return []
    cols = [c for c in RELEASE_COLUMNS if c in wh.columns("releases")]
    if not cols:
        return []
    order = ", ".join(c for c in ("release_id", "table_name", "file_name") if c in cols) or "1"
    return wh.query(f"SELECT {', '.join(cols)} FROM releases ORDER BY {order}")


@lru_cache(maxsize=1)
def catalog_releases() -> dict[str, dict[str, str | None]]:
    """Release id -> title and FOIA request number from the release catalog (empty if it cannot be read)."""
    try:
        from icemonitor.catalog.catalog import load_catalog

        return {r.id: {"title": r.title, "foia_request": r.foia_request} for r in load_catalog().releases}
    except Exception:  # the catalog is optional context for the web tier
        return {}


def county_aor_source(wh: Warehouse, f: Filters) -> tuple[str, list[Any], str] | None:
    """SQL giving (county_fips, aor) for the period, its parameters, and which map it is.

    Prefers county_aor_periods (AOR of each county by date; open ends are NULL): the rows valid on the period's
    last day (or the view's last event date); else the counties table's aor column; None without either.
    """
    if wh.has("county_aor_periods", "county_fips", "aor", "valid_from", "valid_to"):
        day = f.date_to or last_event_date(wh, f)
        vintage = "vintage" if "vintage" in wh.columns("county_aor_periods") else "'county_aor_periods'"
        valid = ("coalesce(valid_from, DATE '0001-01-01') <= ? AND coalesce(valid_to, DATE '9999-12-31') >= ?")
        if day is not None:
            names = wh.query(f"SELECT DISTINCT {vintage} AS v FROM county_aor_periods WHERE {valid} ORDER BY 1",
                             [day, day])
            if names:
                label = ", ".join(str(r["v"]) for r in names)
                return f"SELECT county_fips, aor FROM county_aor_periods WHERE {valid}", [day, day], \
                    f"county_aor_periods {label}, valid on {day}"
    if wh.has("counties", "county_fips", "aor"):
        return "SELECT county_fips, aor FROM counties", [], "counties.aor"
    return None


def last_event_date(wh: Warehouse, f: Filters) -> date | None:
    """The last event date among the counted rows under the filters."""
    w = where(wh, f)
    d = wh.query(f"SELECT max(event_date) AS d FROM {f.table} WHERE {w.sql}", w.params)[0]["d"]
    return date.fromisoformat(d) if isinstance(d, str) else d


def aor_map(wh: Warehouse, f: Filters) -> dict[str, Any] | None:
    """Each county with its AOR's counted total for the filters; None without a county-to-AOR table."""
    source = county_aor_source(wh, f)
    if source is None:
        return None
    sql, params, label = source
    w = where(wh, Filters(f.table, f.date_from, f.date_to, None, f.method_class))
    rows = wh.query(
        f"WITH t AS (SELECT aor, count(*) AS n FROM {f.table} WHERE {w.sql} AND aor IS NOT NULL GROUP BY aor), "
        f"c AS ({sql}) "
        "SELECT c.county_fips, c.aor, coalesce(t.n, 0) AS n FROM c LEFT JOIN t USING (aor) "
        "WHERE c.aor IS NOT NULL ORDER BY c.county_fips",
        [*w.params, *params],
    )
    return {"rows": rows, "map": label}


def county_rates(wh: Warehouse, f: Filters) -> dict[str, Any] | None:
    """Counted events per 10,000 non-citizen residents by county, through landmark_resolution.

    None when the warehouse lacks landmark_resolution or population. Only events whose (aor, landmark)
    resolves to a county are counted; `resolved` and `total` say how many that is.
    """
    if not (wh.has("landmark_resolution", "aor", "landmark", "county_fips")
            and wh.has("population", "county_fips", "year", "noncitizen_pop")):
        return None
    if not wh.has(f.table, "landmark", "aor"):
        return None
    w = where(wh, f)
    years = [r["year"] for r in wh.query("SELECT DISTINCT year FROM population WHERE noncitizen_pop > 0 ORDER BY 1")]
    if not years:
        return None
    last = f.date_to or last_event_date(wh, f)
    end = last.year if last else years[-1]
    # events placed in counties as everywhere (query.selection.event_source, placement 'event'): places of the
    # arrest itself, never the county of the arresting office
    event_level = "kind" in wh.columns("landmark_resolution")
    year = max([y for y in years if y <= end], default=years[0])
    rows = wh.query(
        f"WITH a AS (SELECT res_county_fips AS county_fips, count(*) AS n FROM {event_source(wh.cursor(), f.table, columns=wh.columns)} "
        f"WHERE {w.sql} AND res_county_fips IS NOT NULL GROUP BY 1) "
        "SELECT a.county_fips, a.n, p.noncitizen_pop, round(a.n * 10000.0 / p.noncitizen_pop, 2) AS rate "
        "FROM a JOIN (SELECT county_fips, sum(noncitizen_pop) AS noncitizen_pop FROM population WHERE year = ? "
        "GROUP BY county_fips) p USING (county_fips) WHERE p.noncitizen_pop > 0 ORDER BY rate DESC",
        [*w.params, year],
    )
    total = summary(wh, f, [])["total"]
    return {"rows": rows, "year": year, "resolved": sum(r["n"] for r in rows), "total": total,
            "event_level": bool(event_level)}


@lru_cache(maxsize=1)
def aor_names() -> dict[str, str]:
    """AOR code -> field office name (web/data/aor_names.csv)."""
    text = resources.files("icemonitor.web").joinpath("data/aor_names.csv").read_text(encoding="utf-8")
    return {r["aor"]: r["name"] for r in csv.DictReader(text.splitlines())}
