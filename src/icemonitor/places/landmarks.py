"""Landmark -> county resolver for ICE arrest/encounter records.

`resolve_landmarks` places each distinct (AOR, landmark) pair at county, state or AOR level and says whether a
county is where the event happened ('event') or only where the arresting office/team sits ('office_proxy').
Rules and hand mappings live in places/data/ (landmark_patterns.csv, landmark_mappings.csv, office_codes.csv,
landmark_settings.csv), each row with its evidence. See docs/landmarks.md.
"""

from __future__ import annotations

import polars as pl

from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.places.landmark_reference import load_reference
from icemonitor.places.landmark_resolve import Resolver
from icemonitor.places.landmark_rules import load_rules
from icemonitor.places.ref import Ref

OUTPUT_SCHEMA = {
    "aor": pl.String,
    "landmark": pl.String,
    "county_fips": pl.String,
    "state": pl.String,
    "level": pl.String,
    "kind": pl.String,
    "rule": pl.String,
    "confidence": pl.Float64,
}
EVENT_TABLES = ("arrests", "encounters", "i213")


def resolver(ref: Ref, vintage: str = "uwchr") -> Resolver:
    """A Resolver over the reference files behind `ref` and the packaged rules."""
    return Resolver(load_reference(ref, vintage), load_rules())


def resolve_landmarks(pairs: pl.DataFrame, ref: Ref, vintage: str = "uwchr") -> pl.DataFrame:
    """One row per distinct (aor, landmark) of `pairs` with county_fips, state, level, kind, rule, confidence.

    The raw landmark is returned unchanged; matching uses a normalised copy.
    """
    for col in ("aor", "landmark"):
        if col not in pairs.columns:
            raise InputError("pairs lack a required column", field=col)
    distinct = pairs.select(pl.col("aor").cast(pl.String), pl.col("landmark").cast(pl.String)).unique(
        maintain_order=True
    )
    res = resolver(ref, vintage)
    rows = []
    for aor, landmark in distinct.iter_rows():
        r = res.resolve(aor, landmark)
        rows.append((aor, landmark, r.county_fips, r.state, r.level, r.kind, r.rule, r.confidence))
    return pl.DataFrame(rows, schema=OUTPUT_SCHEMA, orient="row")


def _tables(con) -> list[str]:
    names = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    return [t for t in EVENT_TABLES if t in names]


def _columns(con, table: str) -> set[str]:
    rows = con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table]).fetchall()
    return {r[0] for r in rows}


def landmark_table(con, ref: Ref, vintage: str = "uwchr") -> pl.DataFrame:
    """Resolution of every distinct (aor, landmark) in arrests, encounters and i213, with `n_arrests`
    = counted arrests (rows of `arrests` with counted = true) carrying that pair."""
    parts = []
    for table in _tables(con):
        cols = _columns(con, table)
        if not {"aor", "landmark"} <= cols:
            continue
        if table == "arrests":
            where = "WHERE counted" if "counted" in cols else ""
            sql = f"SELECT aor, landmark, count(*) AS n FROM arrests {where} GROUP BY ALL"  # noqa: S608 (fixed names)
        else:
            sql = f"SELECT DISTINCT aor, landmark, 0 AS n FROM {table}"  # noqa: S608 (table from EVENT_TABLES)
        rows = con.execute(sql).fetchall()
        parts.append(pl.DataFrame(rows, schema={"aor": pl.String, "landmark": pl.String, "n": pl.Int64}, orient="row"))
    if not parts:
        raise InputError("warehouse has none of the tables arrests, encounters, i213", field="table")
    counts = (
        pl.concat([p.select(pl.col("aor").cast(pl.String), pl.col("landmark").cast(pl.String),
                            pl.col("n").cast(pl.Int64)) for p in parts])
        .group_by("aor", "landmark")
        .agg(pl.col("n").sum().alias("n_arrests"))
    )
    resolved = resolve_landmarks(counts, ref, vintage)
    return resolved.join(counts, on=["aor", "landmark"], how="left", nulls_equal=True).sort(
        ["n_arrests", "aor", "landmark"], descending=[True, False, False], nulls_last=True
    )


CATEGORIES = ("county_event", "county_office_proxy", "state_only", "aor_only", "none")


def category_expr() -> pl.Expr:
    """Coverage category of a resolved row."""
    return (
        pl.when((pl.col("level") == "county") & (pl.col("kind") == "event")).then(pl.lit("county_event"))
        .when(pl.col("level") == "county").then(pl.lit("county_office_proxy"))
        .when(pl.col("level") == "state").then(pl.lit("state_only"))
        .when(pl.col("level") == "aor").then(pl.lit("aor_only"))
        .otherwise(pl.lit("none"))
    )


def coverage_of(table: pl.DataFrame, weight: str = "n_arrests") -> dict:
    """Shares of `weight` per category, overall and per AOR, from a resolved table."""
    t = table.with_columns(category_expr().alias("category"), pl.col(weight).fill_null(0))

    def shares(df: pl.DataFrame) -> dict:
        total = int(df[weight].sum())
        by = dict(df.group_by("category").agg(pl.col(weight).sum()).iter_rows())
        return {"arrests": total, **{c: (by.get(c, 0) / total if total else 0.0) for c in CATEGORIES}}

    per_aor = {}
    for (aor,), df in sorted(t.group_by("aor"), key=lambda kv: (kv[0][0] is None, kv[0][0] or "")):
        per_aor[aor if aor is not None else "(blank)"] = shares(df)
    return {
        "definition": msg("share of counted arrests (arrests.counted) whose (aor, landmark) the landmark resolver "
                          "places at each level; county_event = county where the arrest happened, "
                          "county_office_proxy = county of the arresting office/team only"),
        "overall": shares(t),
        "per_aor": per_aor,
    }


def coverage(con, ref: Ref, vintage: str = "uwchr") -> dict:
    """Per AOR and overall: share of counted arrests resolved to county-event, county-office-proxy,
    state only, AOR only, none."""
    return coverage_of(landmark_table(con, ref, vintage))
