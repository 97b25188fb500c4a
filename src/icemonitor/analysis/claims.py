"""Claim check: compare published figures (counts or shares for a place, period and filters) with what the
records give under a stated definition, with a verdict and the query behind each value.

A claims file is YAML (see examples/claims/): a `source` and a list of `claims`, each with
id, text, metric (count | share), table, period {from, to}, place, filters, [share_of], comparison, value,
[tolerance], [note]. Verdicts: consistent (within the stated tolerance), inconsistent, or not checkable (with the
reason: e.g. operation names redacted, criminal history not recorded, county not resolvable).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import duckdb
import yaml
from pydantic import BaseModel, Field, ValidationError

from icemonitor.analysis.common import (
    AOR_CODES,
    TABLES,
    Where,
    event_source,
    has_table,
    resolution_available,
    table_columns,
    unresolved_in_place,
)
from icemonitor.analysis.result import AnalysisResult
from icemonitor.analysis.stats import wilson_interval
from icemonitor.errors import InputError
from icemonitor.messages import msg
from icemonitor.places.place_names import parse_place, place_label
from icemonitor.query import vocabulary
from icemonitor.query.coverage import Coverage, coverage_of

COMPARISONS = {
    "at_least": msg("the records give at least the claimed value, less the tolerance"),
    "at_most": msg("the records give at most the claimed value, plus the tolerance"),
    "more_than": msg("the records give more than the claimed value, less the tolerance"),
    "less_than": msg("the records give less than the claimed value, plus the tolerance"),
    "about": msg("the records give the claimed value within the tolerance either way"),
}
LEVEL_WORDS = {"county": msg("county"), "state": msg("state")}
LIST_FILTERS = {"method_class": "method_class", "criminality": "criminality", "aor": "aor", "citizenship": "citizenship",
                "gender": "gender", "disposition": "disposition", "method_raw": "method_raw"}


class Period(BaseModel):
    from_: dt.date = Field(alias="from")
    to: dt.date


class Claim(BaseModel):
    id: str
    text: str = ""
    metric: Literal["count", "share"]
    table: str = "arrests"
    period: Period
    place: str = "US"
    filters: dict[str, Any] = Field(default_factory=dict)
    share_of: dict[str, Any] = Field(default_factory=dict, description="numerator filters of a share metric")
    comparison: Literal["at_least", "at_most", "more_than", "less_than", "about"]
    value: float
    tolerance: float | None = None
    tolerance_kind: Literal["relative", "absolute"] | None = None
    note: str = ""


class _NoAliasLoader(yaml.SafeLoader):
    """yaml.SafeLoader without aliases: a claims file has no use for them, and nested aliases expand a few hundred
    bytes into gigabytes (a "billion laughs" document)."""

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a claims file",
                                              event.start_mark)
        return super().compose_node(parent, index)


def parse_claims(text: str, file: str, max_claims: int | None = None) -> tuple[str, list[Claim]]:
    """Validate a claims document (YAML or JSON text); InputError naming the file, the claim (row) and the field.
    Aliases are refused; with `max_claims`, so is a file of more claims than that."""
    try:
        doc = yaml.load(text, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, ValueError, RecursionError) as exc:  # ValueError: e.g. an integer of 5,000 digits
        raise InputError(f"cannot read claims file: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
                         file=file, field="claims") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("claims"), list):
        raise InputError("a claims file needs a list `claims`", file=file, field="claims")
    if max_claims is not None and len(doc["claims"]) > max_claims:
        raise InputError(f"at most {max_claims} claims per check (this file has {len(doc['claims'])})", file=file,
                         field="claims")
    out = []
    for i, raw in enumerate(doc["claims"], start=1):
        try:
            out.append(Claim.model_validate(raw))
        except ValidationError as exc:
            err = exc.errors()[0]
            raise InputError(err["msg"], file=file, row=i, field=".".join(str(x) for x in err["loc"]),
                             value=err.get("input")) from None
    return str(doc.get("source", "")), out


def load_claims(path: Path | str, max_claims: int | None = None) -> tuple[str, list[Claim]]:
    """Read and validate a claims file (parse_claims)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read claims file: {exc}", file=str(path)) from exc
    return parse_claims(text, str(path), max_claims)


class _NotCheckable(Exception):
    pass


def _place_clause(con, claim: Claim, where: Where, ref: Any) -> tuple[str, Any]:
    """Add the place filter to `where`; returns the place's label and, for coverage, the place (None for the
    nation; a bare AOR code stands for itself)."""
    text = claim.place.strip()
    if vocabulary.is_nation(text):
        return vocabulary.nation_label(), None
    if text.upper() in AOR_CODES:
        where.add("aor = ?", text.upper())
        return msg("AOR {code}", code=text.upper()), SimpleNamespace(level="aor", code=text.upper(), aors=(text.upper(),), states=())

    if ref is None:
        raise _NotCheckable(msg("place {place} needs the reference data (counties, groups) to be resolved",
                                place=repr(text)))
    place = parse_place(text, ref)
    if place.level == "aor":
        where.add("aor = ?", place.code)
        return place_label(place), place
    parts, params = [], []
    if place.filter_aors:
        parts.append(f"aor IN ({', '.join('?' * len(place.filter_aors))})")
        params += list(place.filter_aors)
    if place.filter_states or place.filter_counties:
        if not resolution_available(con):
            raise _NotCheckable(msg("county not resolvable: {place} needs landmarks resolved to counties (no "
                                    "landmark_resolution table in this warehouse)", place=place_label(place)))
        if place.filter_states:
            parts.append(f"res_state IN ({', '.join('?' * len(place.filter_states))})")
            params += list(place.filter_states)
        if place.filter_counties:
            parts.append(f"res_county_fips IN ({', '.join('?' * len(place.filter_counties))})")
            params += list(place.filter_counties)
    where.add(" OR ".join(parts) if parts else "FALSE", *params)
    return place_label(place), place


def _filters(claim_filters: dict[str, Any], where: Where, cols: set[str]) -> None:
    for key, val in claim_filters.items():
        if key in LIST_FILTERS:
            vals = val if isinstance(val, list) else [val]
            if LIST_FILTERS[key] not in cols:
                raise _NotCheckable(msg("table has no column {col}", col=LIST_FILTERS[key]))
            where.add(f"{LIST_FILTERS[key]} IN ({', '.join('?' * len(vals))})", *[str(v) for v in vals])
        elif key == "release":
            vals = val if isinstance(val, list) else [val]
            where.add(f"release_id IN ({', '.join('?' * len(vals))})", *vals)
        elif key == "operation_marker":
            cond = "(operation IS NOT NULL OR list_contains(redacted, 'operation'))"
            where.add(cond if val else f"NOT {cond}")
        elif key == "operation":
            where.add("operation ILIKE ?", f"%{val}%")
        else:
            raise InputError("unknown claim filter (known: " + ", ".join([*LIST_FILTERS, "release", "operation_marker",
                                                                           "operation"]) + ")", field=key, value=val)


def _without_place(where: Where, place_parts: int, scope_len: int) -> Where:
    """`where` without the place filter's parts (they end at index scope_len)."""
    first_place = scope_len - place_parts
    parts, params, k = [], [], 0
    for i, part in enumerate(where.parts):
        n = part.count("?")
        if not first_place <= i < scope_len:
            parts.append(part)
            params.extend(where.params[k:k + n])
        k += n
    return Where(parts, params)


def _releases_where(con, source: str, where: Where, cond: str) -> list[str]:
    rows = con.execute(f"SELECT DISTINCT release_id FROM {source} WHERE {where.sql()} AND {cond}", where.params).fetchall()
    return sorted(r[0] for r in rows)


def _verdict(claim: Claim, observed: float) -> tuple[str, float, float, str]:
    kind = claim.tolerance_kind or ("relative" if claim.metric == "count" else "absolute")
    tol = claim.tolerance if claim.tolerance is not None else (0.10 if claim.metric == "count" else 0.05)
    slack = tol * abs(claim.value) if kind == "relative" else tol
    v, c = claim.value, claim.comparison
    ok = {
        "at_least": observed >= v - slack, "more_than": observed > v - slack,
        "at_most": observed <= v + slack, "less_than": observed < v + slack,
        "about": abs(observed - v) <= slack,
    }[c]
    text = msg("{kind} {tol:g} ({slack:g})", kind=msg("relative tolerance") if kind == "relative" else
               msg("absolute tolerance"), tol=tol, slack=slack)
    return ("consistent" if ok else "inconsistent"), observed - v, slack, text


def _claim_coverage(con, claim: Claim, place: Any, label: str) -> Coverage:
    """What the records cover of the claim's table, period, place and the fields its filters use."""
    fields = [LIST_FILTERS[k] for k in claim.filters if k in LIST_FILTERS]
    fields += ["operation"] if {"operation", "operation_marker"} & set(claim.filters) else []
    fields += [LIST_FILTERS[k] for k in claim.share_of if k in LIST_FILTERS and k != "criminality"]
    rel = claim.filters.get("release")
    rels = [rel] if isinstance(rel, str) else rel
    return coverage_of(con, claim.table, claim.period.from_, claim.period.to, place, label, tuple(fields),
                       release=rels[0] if rels and len(rels) == 1 else None,
                       releases_filter=rels if rels and len(rels) > 1 else None)


def _share_verdict(claim: Claim, lo: float, hi: float) -> tuple[str, str]:
    """A share claim against the 95% interval of the observed share: settled only when the whole interval is on
    one side of the claimed value ('about': when the interval meets the claimed value give or take the tolerance)."""
    v = claim.value
    span = {"lo": lo, "hi": hi, "v": v}
    if claim.comparison == "about":
        slack = claim.tolerance if claim.tolerance is not None else 0.05
        ok = lo <= v + slack and hi >= v - slack
        return ("consistent", msg("holds: the 95% interval [{lo:.1%}, {hi:.1%}] against {v:.1%} meets the claimed "
                                  "value give or take {slack:g}", slack=slack, **span)) if ok else \
            ("inconsistent", msg("fails: the 95% interval [{lo:.1%}, {hi:.1%}] against {v:.1%} lies wholly outside "
                                 "the claimed value give or take {slack:g}", slack=slack, **span))
    above = claim.comparison in ("at_least", "more_than")
    if (lo >= v) if above else (hi <= v):
        return "consistent", (msg("holds: the whole 95% interval [{lo:.1%}, {hi:.1%}] against {v:.1%} is above the "
                                  "claimed value", **span) if above else
                              msg("holds: the whole 95% interval [{lo:.1%}, {hi:.1%}] against {v:.1%} is below the "
                                  "claimed value", **span))
    if (hi < v) if above else (lo > v):
        return "inconsistent", (msg("fails: the whole 95% interval [{lo:.1%}, {hi:.1%}] against {v:.1%} is below "
                                    "the claimed value", **span) if above else
                                msg("fails: the whole 95% interval [{lo:.1%}, {hi:.1%}] against {v:.1%} is above "
                                    "the claimed value", **span))
    return "cannot be settled", msg("cannot be settled by these records: the 95% interval [{lo:.1%}, {hi:.1%}] "
                                    "against {v:.1%} contains the claimed value", **span)


def _partial_verdict(claim: Claim, observed: float, verdict: str, reason: str, cov: Coverage) -> tuple[str, str]:
    """Records cover only part of the claim: a count is a lower bound (it can settle 'at least' claims it already
    meets, and 'at most' claims it already exceeds); anything else is not checkable."""
    gap = msg("records cover {share:.0%} of the period and place", share=cov.share)
    if claim.metric == "count":
        if claim.comparison in ("at_least", "more_than") and verdict == "consistent":
            return verdict, msg("{reason}; the records cover only part of the claim ({gap}), so {n:g} is a lower "
                                "bound", reason=reason, gap=gap, n=observed)
        if claim.comparison in ("at_most", "less_than") and verdict == "inconsistent":
            return verdict, msg("{reason}; even the partial records ({gap}) give {n:g}, a lower bound", reason=reason,
                                gap=gap, n=observed)
        return "not checkable", msg("not checkable: {reason}; the records give at least {n:g} (a lower bound)",
                                    reason=cov.reason, n=observed)
    return "not checkable", msg("not checkable: {reason}; the share on the covered part is {share:.1%}",
                                reason=cov.reason, share=observed)


def check_claim(con: duckdb.DuckDBPyConnection, claim: Claim, ref: Any = None) -> dict[str, Any]:
    """One claim: the value the records give, the difference, the verdict and the query behind it."""
    row: dict[str, Any] = {"id": claim.id, "text": claim.text, "metric": claim.metric, "comparison": claim.comparison,
                           "claimed": claim.value, "observed": None, "difference": None, "verdict": None, "reason": "",
                           "place": claim.place, "from": claim.period.from_, "to": claim.period.to,
                           "definition": "", "sql": "", "parameters": [], "releases": [], "note": claim.note}
    if claim.table == "detained":  # people held on a day: ICE's postings and the facility panel
        from icemonitor.analysis.detention_claims import check_detained

        return check_detained(con, claim, row, _verdict, COMPARISONS)
    if claim.table not in TABLES or not has_table(con, claim.table):
        row.update(verdict="not checkable", reason=msg("no table {table} in this warehouse", table=claim.table))
        return row
    source = event_source(con, claim.table)
    cols = table_columns(con, claim.table)
    where = Where()
    if "release" not in claim.filters:
        where.add("counted")
    where.add("event_date BETWEEN ? AND ?", claim.period.from_, claim.period.to)
    try:
        scope = Where(list(where.parts), list(where.params))
        row["place"], place = _place_clause(con, claim, where, ref)
        place_parts = len(where.parts) - len(scope.parts)
        scope = Where(list(where.parts), list(where.params))
        _filters(claim.filters, where, cols)
        if claim.metric == "share":
            missing = _releases_where(con, source, where, "criminality_field = 'not_recorded'") \
                if "criminality" in claim.share_of else []
            recorded = _releases_where(con, source, where, "criminality_field <> 'not_recorded'") \
                if "criminality" in claim.share_of else ["-"]
            if missing and not recorded:
                raise _NotCheckable(msg("criminal history not recorded in release(s) {releases} (no criminality "
                                        "field); no proxy is used", releases=", ".join(missing)))
            if "criminality" in claim.share_of and missing:
                where.add("criminality_field <> 'not_recorded'")
                row["note"] = _add_note(row["note"], msg("Rows of release(s) {releases} (criminal history not "
                                                         "recorded) are left out of the share.",
                                                         releases=", ".join(missing)))
        if "operation" in claim.filters or "operation" in claim.share_of:
            base = Where(list(scope.parts), list(scope.params))
            _filters({k: v for k, v in claim.filters.items() if k != "operation"}, base, cols)
            names = _releases_where(con, source, base, "operation IS NOT NULL")
            redacted = _releases_where(con, source, base, "list_contains(redacted, 'operation')")
            if redacted and not names:
                raise _NotCheckable(msg("operation names are redacted in release(s) {releases}",
                                        releases=", ".join(redacted)))
        cov = _claim_coverage(con, claim, place, row["place"])
        row["coverage"] = cov.to_dict()
        if not cov.countable:
            raise _NotCheckable(cov.reason)
    except _NotCheckable as exc:
        row.update(verdict="not checkable", reason=exc.args[0])
        return row
    num = Where()
    if claim.metric == "share":
        _filters(claim.share_of, num, cols)
    sql = (f"SELECT count(*) FILTER (WHERE {num.sql()}) AS numerator, count(*) AS total, "
           f"list_sort(list_distinct(list(DISTINCT release_id))) AS releases FROM {source} WHERE {where.sql()}")
    params = num.params + where.params
    k, total, releases = con.execute(sql, params).fetchone()
    releases = list(releases or [])
    lo = hi = None
    if claim.metric == "count":
        observed: float = total
        row["definition"] = msg("count of {table} rows where {sql}", table=claim.table, sql=where.sql())
    else:
        if total == 0:
            row.update(verdict="not checkable", reason=msg("no records match the base definition"), sql=sql)
            return row
        observed = k / total
        lo, hi = wilson_interval(k, total)
        row.update(numerator=k, denominator=total, interval_low=lo, interval_high=hi)
        row["definition"] = msg("share of {table} rows with {num} among rows where {sql}", table=claim.table,
                                num=num.sql(), sql=where.sql())
    verdict, diff, slack, tol_text = _verdict(claim, observed)
    why = {"comparison": COMPARISONS[claim.comparison], "tolerance": tol_text}
    reason = msg("holds: {comparison} ({tolerance})", **why) if verdict == "consistent" else \
        msg("fails: {comparison} ({tolerance})", **why)
    if claim.metric == "share":
        verdict, reason = _share_verdict(claim, lo, hi)
    if cov.status == "partial":
        verdict, reason = _partial_verdict(claim, observed, verdict, reason, cov)
    undecided = unresolved_in_place(con, source, _without_place(where, place_parts, len(scope.parts)), claim.place,
                                    ref) if claim.metric == "count" and place_parts else None
    if undecided is not None:
        # rows of the place's AORs that are not placed at its level could belong to it: the records bound the
        # count between `observed` and observed + those rows
        n_up, level = undecided["events"], undecided["level"]
        row["unresolved_in_aor"] = n_up
        if n_up:
            hi = observed + n_up
            ends = {_verdict(claim, observed)[0], _verdict(claim, hi)[0]}
            overlap = (observed <= claim.value + slack and hi >= claim.value - slack) if claim.comparison == "about" \
                else "consistent" in ends
            if ends == {"consistent"}:
                verdict = "consistent"
            elif not overlap:
                verdict = "inconsistent"
            else:
                verdict = "not checkable"
            if verdict == "not checkable":
                reason = msg("{n} matching arrests in the place's AOR(s) are not resolved to a {level}: the records "
                             "give between {lo:g} and {hi:g}, which does not decide the claim", n=n_up,
                             level=LEVEL_WORDS[level], lo=observed, hi=hi)
            else:
                reason = msg("{head}; the same verdict holds for the whole range {lo:g}..{hi:g} ({n} matching arrests "
                             "in the AOR(s) not resolved to a {level})", head=reason, lo=observed, hi=hi, n=n_up,
                             level=LEVEL_WORDS[level])
    row.update(observed=observed, difference=diff, verdict=verdict, tolerance=slack, reason=reason, sql=sql,
               parameters=[p.isoformat() if isinstance(p, dt.date) else p for p in params], releases=releases)
    if total == 0:
        row["note"] = _add_note(row["note"], msg("No records match: check the period is covered."))
    return row


def _add_note(note: str, more: Any) -> Any:
    """The claim's own note (as its author wrote it) followed by ours."""
    return msg("{note} {more}", note=note, more=more) if note else more


def check(con: duckdb.DuckDBPyConnection, path: Path | str, ref: Any = None) -> AnalysisResult:
    """Check every claim of a claims file."""
    source, claims = load_claims(path)
    return check_parsed(con, source, claims, ref, {"file": str(path), "source": source})


class CheckTimeout(InputError):
    """The claims took longer to check than the caller allows."""


def check_within(con: duckdb.DuckDBPyConnection, claims: list[Claim], ref: Any, seconds: float) -> list[dict[str, Any]]:
    """check_claim for each claim, stopping (CheckTimeout) once `seconds` have passed: a running query is
    interrupted, so one request cannot hold the server's CPU for longer than that."""
    import threading
    import time

    end = time.monotonic() + seconds
    timer = threading.Timer(seconds, con.interrupt)
    timer.daemon = True
    timer.start()
    rows, i = [], 0
    try:
        for i, claim in enumerate(claims, start=1):
            if time.monotonic() > end:
                raise duckdb.InterruptException("deadline")
            rows.append(check_claim(con, claim, ref))
    except duckdb.InterruptException:
        raise CheckTimeout(f"checking took longer than {seconds:g} s (stopped at claim {i} of {len(claims)}): send "
                           "fewer claims or shorter periods", field="claims") from None
    finally:
        timer.cancel()
    return rows


def check_parsed(con: duckdb.DuckDBPyConnection, source: str, claims: list[Claim], ref: Any,
                 parameters: dict[str, Any], seconds: float | None = None) -> AnalysisResult:
    """Check parsed claims (all of them, or as many as `seconds` allows: CheckTimeout past it)."""
    rows = check_within(con, claims, ref, seconds) if seconds is not None else [check_claim(con, c, ref) for c in claims]
    return AnalysisResult(
        name="check", parameters=parameters,
        columns=["id", "metric", "place", "from", "to", "comparison", "claimed", "observed", "difference", "verdict",
                 "reason"],
        figures=rows,
        definitions={
            "observed": msg("the value the records give under the claim's stated definition (see each row's sql)"),
            "consistent": msg("the claim holds for the records within the stated tolerance (default 10% of a count, "
                              "5 points of a share)"),
            "not checkable": msg("these records cannot test the claim (period, place or field not covered, names "
                                 "redacted, ...); the reason names what is missing"),
            "depends on definition": msg("a detention claim that holds under one definition and fails under another"),
            "cannot be settled": msg("a share claim whose value lies inside the 95% interval of the records' share: "
                                     "the records neither confirm nor contradict it"),
            "share verdicts": msg("rest on the 95% Wilson interval of the observed share, not on a tolerance around "
                                  "the point"),
            "detained": msg("a `table: detained` claim (people ICE held on one day) is checked under the definition "
                            "it names (currently_detained: ICE's posting stating that date; held_during_day / "
                            "held_at_midnight: DDP's facility daily population summed), or under each with a figure "
                            "for the day; tolerance 0 unless the claim gives one"),
            "counted": msg("rows with counted = true (the release with precedence per table, AOR and date) unless "
                           "the claim names a release, whose own rows are then used"),
            **{f"comparison {k}": v for k, v in COMPARISONS.items()},
        },
        releases=sorted({r for row in rows for r in row["releases"]}),
        caveats=[msg("Records count administrative arrests as the releases recorded them; announced figures may "
                     "use other definitions (people vs events, operation days, arrests by other agencies)."),
                 msg("A consistent verdict means the records do not contradict the claim under this definition, "
                     "not that they prove it.")],
    )
