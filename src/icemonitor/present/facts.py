"""Report facts: every figure a report prints, with its definition, releases and the query behind it.

`build_facts(con, place, date_from, date_to, ref)` runs the analyses (icemonitor.analysis; no SQL of its own,
tests/test_present_sql.py) and returns a `ReportFacts`. Renderers (report.py) only format these values, so a test
can check every number in a rendered report against the fact it cites.
"""

from __future__ import annotations

import csv
import datetime as dt
from importlib import resources
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, Field, SkipValidation

from icemonitor.analysis.baseline import same_weekdays
from icemonitor.analysis.common import parse_date
from icemonitor.analysis.landmark_counties import landmark_counties
from icemonitor.analysis.priorities import priorities
from icemonitor.analysis.summary import summary
from icemonitor.analysis.sweeps import sweeps
from icemonitor.errors import InputError
from icemonitor.messages import DateSpan, msg, semicolons

TABLE = "arrests"
BASELINE_WEEKS = (-4, -3, -2, -1, 1, 2, 3, 4)
POLICY_DEFINITIONS = ("state-law", "state-law-any", "no-287g")
TOP_COUNTIES = 8
TOP_SWEEPS = 5
MAX_POLICY_EVENTS = 4
NATIONAL_FILE = "national_releases.csv"


class Fact(BaseModel):
    """One printed figure."""

    key: str
    kind: Literal["count", "percent", "number", "date"]
    value: Any
    decimals: int = 0
    definition: SkipValidation[str] = Field(description="What the figure counts (display text: a message, rendered in "
                                                        "the report's language)")
    note: str = Field(description="Message-catalog key of the footnote text")
    releases: list[str] = Field(default_factory=list)
    query: str = Field(description="The analysis call that produced the figure, with its parameters")
    note_args: dict[str, SkipValidation[str]] = Field(default_factory=dict,
                                                      description="Values for the footnote's placeholders (messages "
                                                                  "are rendered in the report's language)")


class CountyRow(BaseModel):
    fips: str
    name: str
    key: str  # fact key of its arrest count


class SweepRow(BaseModel):
    level: str
    place: str  # display name (AOR code or county name)
    key: str  # fact key prefix: <key>_start, _end, _observed, _expected
    top_part: str | None = None  # where it concentrated (landmark or AOR), source text
    unresolved: bool = False  # county level: landmarks of this AOR not placed in a county


class PolicyEventRow(BaseModel):
    jurisdiction: str
    kind: str
    role: str
    citation: str | None
    start_key: str | None


class PolicyRow(BaseModel):
    jurisdiction: str  # label of the state or county asked about
    level: str = ""  # its level (state, county, group) and code, to say its name in the report's language
    code: str = ""
    definition: str
    definition_text: SkipValidation[str]
    answer: Literal["yes", "no", "unknown"]
    reason: SkipValidation[str]
    n_events_key: str
    events: list[PolicyEventRow] = Field(default_factory=list)
    is_default: bool = False
    by_county: bool = False  # answered county by county over the place (fact keys <n_events_key prefix>:yes/no/unknown)


class CriminalityRow(BaseModel):
    field: str
    definition: SkipValidation[str]
    proxy: bool
    keys: dict[str, str]  # class -> fact key prefix
    records_pending: bool = True  # the field can say "pending charges" (codes/data/criminality.csv)
    has_unknown: bool = False  # some rows are 'unknown' (field not recorded that year)


class ReportFacts(BaseModel):
    """Everything a report says, as figures with provenance plus the few texts (names, citations) around them."""

    place_code: str
    place_label: str
    place_level: str
    date_from: dt.date
    date_to: dt.date
    table: str = TABLE
    facts: dict[str, Fact] = Field(default_factory=dict)
    counties: list[CountyRow] = Field(default_factory=list)
    sweeps: list[SweepRow] = Field(default_factory=list)
    policies: list[PolicyRow] = Field(default_factory=list)
    criminality: list[CriminalityRow] = Field(default_factory=list)
    criminality_recorded: Literal["all", "some", "none"] = "none"
    has_national: bool = False
    has_region: bool = False
    has_baseline: bool = False
    sweeps_failed: bool = False
    chart_days: list[dict[str, Any]] = Field(default_factory=list, description="day, method_class, events (chart data)")
    releases: list[str] = Field(default_factory=list)
    caveats: list[str] = Field(default_factory=list, description="Message-catalog keys of what the records cannot say")
    coverage: dict[str, Any] = Field(default_factory=dict, description="query.coverage of the place and period")

    def add(self, key: str, kind: str, value: Any, definition: str, note: str, releases: list[str], query: str,
            decimals: int = 0, note_args: dict[str, str] | None = None) -> Fact:
        fact = Fact(key=key, kind=kind, value=value, decimals=decimals, definition=definition, note=note,
                    releases=sorted(set(releases)), query=query, note_args=note_args or {})
        self.facts[key] = fact
        return fact


def national_releases() -> list[dict[str, str]]:
    """Releases that are a national census of a table for a date range (present/data/national_releases.csv)."""
    text = resources.files("icemonitor.present").joinpath("data", NATIONAL_FILE).read_text(encoding="utf-8")
    return list(csv.DictReader(line for line in text.splitlines() if not line.startswith("#")))


def national_coverage(table: str, d0: dt.date, d1: dt.date) -> dict[str, str] | None:
    for row in national_releases():
        if row["table"] == table and dt.date.fromisoformat(row["date_from"]) <= d0 and \
                d1 <= dt.date.fromisoformat(row["date_to"]):
            return row
    return None


def _call(name: str, **kw: Any) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in kw.items() if v is not None)
    return f"{name}({args})"


def build_facts(con: duckdb.DuckDBPyConnection, place: str, date_from: str | dt.date, date_to: str | dt.date,
                ref: Any) -> ReportFacts:
    """Compute every figure of a report on `place` for [date_from, date_to] (arrests, counted rows only)."""
    from icemonitor.places.place_names import parse_place

    d0, d1 = parse_date(date_from, "from"), parse_date(date_to, "to")
    if d0 is None or d1 is None or d1 < d0:
        raise InputError(msg("give --from and --to with from <= to"), field="from", value=f"{d0}..{d1}")
    if (d1 - d0).days > 92:
        raise InputError(msg("a report covers at most 93 days (the baseline compares the same weekdays)"), field="to",
                         value=str(d1))
    parsed = parse_place(place, ref)
    rf = ReportFacts(place_code=parsed.code, place_label=parsed.label, place_level=parsed.level, date_from=d0,
                     date_to=d1)
    rf.add("period_from", "date", d0, msg("First day of the period asked for (event_date, inclusive)"), "note_period",
           [], f"--from {d0.isoformat()}")
    rf.add("period_to", "date", d1, msg("Last day of the period asked for (event_date, inclusive)"), "note_period", [],
           f"--to {d1.isoformat()}")
    _totals(con, rf, place, d0, d1, ref)
    if rf.coverage.get("status") in ("none", "subset"):  # no records or a subset's: no count, comparison or sweep
        _policies(rf, parsed, d0, ref)
        rf.caveats += ["cav_why", "cav_people", "cav_status", "cav_landmark"]
        return rf
    if rf.facts["total"].value == 0:
        rf.caveats.append("cav_no_rows")
    _baseline(con, rf, place, d0, d1, ref)
    _shares(con, rf, parsed, d0, d1, ref)
    _counties(con, rf, place, d0, d1, ref)
    _criminality(con, rf, place, d0, d1, ref)
    _sweeps(con, rf, place, d0, d1, ref, whole_aors=set(parsed.filter_aors) if parsed.level != "aor" else None,
            place_label=parsed.label)
    _policies(rf, parsed, d0, ref)
    rf.releases = sorted({r for f in rf.facts.values() for r in f.releases})
    rf.caveats += ["cav_why", "cav_people", "cav_status", "cav_landmark", "cav_sweep"]
    return rf


def _totals(con, rf: ReportFacts, place: str, d0: dt.date, d1: dt.date, ref: Any) -> None:
    res = summary(con, TABLE, by=["method_class"], date_from=d0, date_to=d1, place=place, ref=ref)
    q = _call("summary", table=TABLE, by=["method_class"], date_from=d0.isoformat(), date_to=d1.isoformat(),
              place=place)
    total = res.extra["total_events"]
    rf.coverage = dict(res.coverage or {})
    _coverage_facts(rf, q)
    if rf.coverage.get("lower_bound") is not None:
        rf.add("lower_bound", "count", rf.coverage["lower_bound"], "counted arrests in the place and period, all "
               "from releases holding only some people (coverage subsets): a lower bound, not a total",
               "note_lower_bound", [s["release"] for s in rf.coverage.get("subsets", [])], q)
    if total is None:
        return
    rels = res.releases
    rf.add("total", "count", total, res.definitions["events"], "note_total", rels, q)
    by = {f["method_class"]: f for f in res.figures}
    for cls in ("at_large", "custodial", "other", "(not recorded)"):
        key = "not_recorded" if cls == "(not recorded)" else cls
        n = by[cls]["events"] if cls in by else 0
        rf.add(key, "count", n, msg("counted arrests with method_class = {cls}", cls=cls), "note_method", rels, q)
        if total:
            rf.add(f"{key}_share", "percent", n / total, msg("{key} / total", key=key), "note_method", rels, q,
                   decimals=1)


COVERED_SHOWN = 6  # covered spans named in a partial report


def _coverage_facts(rf: ReportFacts, q: str) -> None:
    """How far the records reach (every report) and, for a partial period, the share and spans covered: as facts,
    so every date and figure of the report is footnoted."""
    day = dt.date.fromisoformat
    for i, x in enumerate(rf.coverage.get("reach", [])):
        where = msg("nationwide") if x["scope"] == "nationwide" else msg("AOR {codes}", codes=", ".join(x["aors"]))
        for end in ("from", "to"):
            what = {"table": TABLE, "release": x["release"], "where": where}
            rf.add(f"reach{i}_{end}", "date", day(str(x[end])),
                   msg("first day with counted {table} records of release {release} ({where}); coverage_spans", **what)
                   if end == "from" else
                   msg("last day with counted {table} records of release {release} ({where}); coverage_spans", **what),
                   "note_reach", [x["release"]], "query.coverage.records_reach(con, 'arrests')")
    if rf.coverage.get("status") == "partial":
        rels = rf.coverage.get("releases", [])
        rf.add("coverage_share", "percent", rf.coverage["share"], msg("share of the place's AOR-days in the period "
                                                                      "that the records cover (coverage_spans)"),
               "note_coverage", rels, q)
        for i, s in enumerate(rf.coverage.get("covered_spans", [])[:COVERED_SHOWN]):
            for end in ("from", "to"):
                rf.add(f"covered{i}_{end}", "date", day(s[end]),
                       msg("covered span {n}: first day", n=i + 1) if end == "from" else
                       msg("covered span {n}: last day", n=i + 1), "note_coverage", rels, q)


def chart_days(figures: list[dict[str, Any]], d0: dt.date, d1: dt.date,
               cover: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The daily chart's rows (day, method_class, events): the summary's figures on the days the records cover,
    and one row with events None (no records, a gap, never 0) for each day of [d0, d1] no covered span reaches
    (query.coverage of the place and days; coverage unknown: every day taken as covered)."""
    rows = [{"day": str(f["day"]), "method_class": f["method_class"], "events": f["events"]} for f in figures]
    if not cover or cover.get("status") == "unknown":
        return rows
    spans = [(str(s["from"]), str(s["to"])) for s in cover.get("covered_spans") or []]
    day = d0
    while day <= d1:
        iso = day.isoformat()
        if not any(a <= iso <= b for a, b in spans):
            rows.append({"day": iso, "method_class": None, "events": None})
        day += dt.timedelta(days=1)
    return sorted(rows, key=lambda r: r["day"])


def _baseline(con, rf: ReportFacts, place: str, d0: dt.date, d1: dt.date, ref: Any) -> None:
    """Same weekdays 1-4 weeks before and after: mean of the shifted windows the place's data fully cover."""
    res = same_weekdays(con, TABLE, place=place, date_from=d0, date_to=d1, ref=ref, weeks=BASELINE_WEEKS)
    q = _call("same_weekdays", table=TABLE, place=place, date_from=d0.isoformat(), date_to=d1.isoformat(),
              weeks=BASELINE_WEEKS)
    day = dt.date.fromisoformat
    rf.chart_days = chart_days(res.extra["days"], day(res.extra["lo"]), day(res.extra["hi"]), res.coverage)
    windows = [(day(f["from"]), day(f["to"])) for f in res.figures]
    if not windows:
        rf.caveats.append("cav_no_baseline")
        return
    rf.has_baseline = True
    rels = res.releases
    na = {"windows": semicolons([DateSpan(a, b) for a, b in windows])}
    defin = msg("Mean of counted arrests over {n} windows of the same weekdays shifted by whole weeks (1-4 weeks "
                "before and after, only where the place's releases cover the window): {windows}", n=len(windows),
                windows=na["windows"])
    rf.add("baseline_windows", "count", len(windows), msg("Number of shifted windows in the baseline"),
           "note_baseline", rels, q, note_args=na)
    mean, mean_al = res.extra["mean"], res.extra["at_large_mean"]
    rf.add("baseline_mean", "number", mean, defin, "note_baseline", rels, q, decimals=1, note_args=na)
    rf.add("baseline_at_large_mean", "number", mean_al, msg("{definition} (at_large only)", definition=defin),
           "note_baseline", rels, q, decimals=1, note_args=na)
    if mean > 0:
        rf.add("baseline_ratio", "number", rf.facts["total"].value / mean, msg("total / baseline_mean"),
               "note_baseline", rels, q, decimals=1, note_args=na)
    if mean_al > 0:
        rf.add("baseline_at_large_ratio", "number", rf.facts["at_large"].value / mean_al,
               msg("at_large / baseline_at_large_mean"), "note_baseline", rels, q, decimals=1, note_args=na)


def _shares(con, rf: ReportFacts, parsed, d0: dt.date, d1: dt.date, ref: Any) -> None:
    total = rf.facts["total"].value
    cover = national_coverage(TABLE, d0, d1)
    if cover is None:
        rf.caveats.append("cav_no_national")
    else:
        res = summary(con, TABLE, by=[], date_from=d0, date_to=d1, ref=ref)
        q = _call("summary", table=TABLE, by=[], date_from=d0.isoformat(), date_to=d1.isoformat())
        nat = res.extra["total_events"]
        if nat:
            rf.has_national = True
            rels = res.releases
            rf.add("national_total", "count", nat, msg("Counted arrests in every AOR in the period; national "
                                                       "coverage: {release} ({evidence})",
                                                       release=cover["release_id"], evidence=cover["evidence"]),
                   "note_national", rels, q, note_args={"release": cover["release_id"]})
            rf.add("national_share", "percent", total / nat, msg("total / national_total"), "note_national", rels, q,
                   decimals=1, note_args={"release": cover["release_id"]})
    # the place's own AORs, when the place is smaller than them
    if parsed.level in ("county", "group", "state") and set(parsed.aors) - set(parsed.filter_aors):
        aors = list(parsed.aors)
        res = summary(con, TABLE, by=[], date_from=d0, date_to=d1, filters={"aor": aors}, ref=ref)
        n = res.extra["total_events"]
        if n:
            rf.has_region = True
            q = _call("summary", table=TABLE, by=[], date_from=d0.isoformat(), date_to=d1.isoformat(),
                      filters={"aor": aors})
            na = {"aors": ", ".join(aors)}
            rf.add("region_total", "count", n, msg("Counted arrests in AOR(s) {aors} in the period",
                                                   aors=", ".join(aors)), "note_region", res.releases, q,
                   note_args=na)
            rf.add("region_share", "percent", total / n, msg("total / region_total"), "note_region", res.releases,
                   q, decimals=1, note_args=na)


def _county_names(ref: Any) -> dict[str, str]:
    from icemonitor.places.counties import load_counties

    return {r[0]: f"{r[1]}, {r[2]}" for r in load_counties(ref).select("county_fips", "county_name", "state").iter_rows()}


def _counties(con, rf: ReportFacts, place: str, d0: dt.date, d1: dt.date, ref: Any) -> None:
    """Arrests by county of the landmark: event counties, office proxies, and what stays unresolved."""
    res = landmark_counties(con, TABLE, place=place, date_from=d0, date_to=d1, ref=ref)
    if not res.extra["available"]:
        rf.caveats.append("cav_no_resolution")
        return
    q = _call("landmark_counties", table=TABLE, place=place, date_from=d0.isoformat(), date_to=d1.isoformat())
    rels, defs = res.releases, res.definitions
    for g, n in (res.extra["groups"] or {}).items():
        rf.add(f"county_{g}", "count", n, defs[g], "note_counties", rels, q)
        if rf.facts["total"].value:
            rf.add(f"county_{g}_share", "percent", n / rf.facts["total"].value, msg("{key} / total", key=f"county_{g}"),
                   "note_counties", rels, q, decimals=1)
    names = _county_names(ref)
    events = [(f["county_fips"], f["events"]) for f in res.figures if f["placed"] == "event" and f["county_fips"]]
    for fips, n in events[:TOP_COUNTIES]:
        key = f"county:{fips}"
        rf.add(key, "count", n, msg("{definition}; county_fips = {fips}", definition=defs["event"], fips=fips),
               "note_counties", rels, q)
        rf.counties.append(CountyRow(fips=fips, name=names.get(fips, fips), key=key))
    rest = sum(n for _fips, n in events[TOP_COUNTIES:])
    if len(events) > TOP_COUNTIES:
        rf.add("county_other_events", "count", rest, msg("event-county arrests in counties beyond the ones listed"),
               "note_counties", rels, q)
        rf.add("county_other_n", "count", len(events) - TOP_COUNTIES, msg("number of further event counties"),
               "note_counties", rels, q)


def field_classes(field: str) -> set[str]:
    """The criminality classes a source field can take (codes/data/criminality.csv)."""
    text = resources.files("icemonitor.codes").joinpath("data", "criminality.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {r["criminality"] for r in rows if r["field"] == field}


def _criminality(con, rf: ReportFacts, place: str, d0: dt.date, d1: dt.date, ref: Any) -> None:
    res = priorities(con, TABLE, place=place, date_from=d0, date_to=d1, period="all", by_method=False, ref=ref)
    q = _call("priorities", table=TABLE, place=place, date_from=d0.isoformat(), date_to=d1.isoformat(),
              period="all", by_method=False)
    rows = [f for f in res.figures if f["method_class"] == "all"]
    recorded = [f for f in rows if f["criminality_field"] != "not_recorded"]
    unrec = sum(f["events"] for f in rows if f["criminality_field"] == "not_recorded")
    rf.criminality_recorded = "none" if not recorded else ("all" if not unrec else "some")
    if unrec:
        rf.add("crim_not_recorded", "count", unrec, msg("counted arrests from releases without a criminal-history "
                                                        "field (criminality_field = 'not_recorded')"),
               "note_crim_none", res.releases, q)
    from icemonitor.analysis.priorities import criminality_definitions

    defs = criminality_definitions()
    for i, f in enumerate(recorded):
        prefix = f"crim{i}"
        field = f["criminality_field"]
        info = defs.get(field, {"proxy": "no", "definition": ""})
        rels = f["releases"]
        na = {"field": field, "definition": info["definition"]}
        rf.add(f"{prefix}_events", "count", f["events"], msg("counted arrests with criminality_field = {field}",
                                                             field=field), "note_crim", rels, q, note_args=na)
        for cls in ("convicted", "pending_charges", "no_record"):
            rf.add(f"{prefix}_{cls}_share", "percent", f[f"{cls}_share"],
                   msg("{share}; field {field}: {definition}", share=res.definitions.get(cls + "_share", cls),
                       field=field, definition=info["definition"]), "note_crim", rels, q, decimals=1, note_args=na)
        unknown = f["events"] - sum(round(f[f"{c}_share"] * f["events"]) for c in ("convicted", "pending_charges",
                                                                                   "no_record"))
        if unknown:
            rf.add(f"{prefix}_unknown", "count", unknown,
                   msg("arrests with criminality = unknown for field {field} (the field was not recorded that year; "
                       "codes/data/criminality_coverage.csv)", field=field), "note_crim", rels, q, note_args=na)
        classes = field_classes(field)
        rf.criminality.append(CriminalityRow(field=field, definition=info["definition"], proxy=info["proxy"] == "yes",
                                             keys={c: prefix for c in ("convicted", "pending_charges", "no_record")},
                                             records_pending=not classes or "pending_charges" in classes,
                                             has_unknown=bool(unknown)))


def _sweeps(con, rf: ReportFacts, place: str, d0: dt.date, d1: dt.date, ref: Any,
            whole_aors: set[str] | None = None, place_label: str = "") -> None:
    """Sweeps of at-large arrests overlapping the period. For a place smaller than an AOR, an AOR-level run holds
    only the place's own rows, so it is reported as the place's sweep (level 'place'), once."""
    try:
        res = sweeps(con, place=place, date_from=d0, date_to=d1, measure="at_large", limit=TOP_SWEEPS, ref=ref)
    except ValueError:  # analysis.sweeps fails when no place can reach the minimum excess (reported upstream)
        rf.sweeps_failed = True
        return
    q = _call("sweeps", place=place, date_from=d0.isoformat(), date_to=d1.isoformat(), measure="at_large",
              limit=TOP_SWEEPS)
    names = _county_names(ref)
    defin = msg("{sweep} Expected: {expected} Measure: {measure}", sweep=res.definitions["sweep"],
                expected=res.definitions["expected"], measure=res.definitions["measure"])
    figures, seen = [], set()
    for f in res.figures:
        f = dict(f)
        if f["level"] == "aor" and whole_aors is not None and f["place"] not in whole_aors:
            f["level"], f["place"] = "place", place_label
        ident = (str(f["start"]), str(f["end"]), f["observed"])
        if f["level"] in ("place", "county") and ident in seen:
            continue
        seen.add(ident)
        figures.append(f)
    for i, f in enumerate(figures):
        key = f"sweep{i}"
        start, end = dt.date.fromisoformat(str(f["start"])), dt.date.fromisoformat(str(f["end"]))
        rf.add(f"{key}_start", "date", start, defin, "note_sweeps", res.releases, q)
        rf.add(f"{key}_end", "date", end, defin, "note_sweeps", res.releases, q)
        rf.add(f"{key}_observed", "count", int(f["observed"]), defin, "note_sweeps", res.releases, q)
        rf.add(f"{key}_expected", "number", float(f["expected"]), defin, "note_sweeps", res.releases, q)
        label = str(f["place"])
        if f["level"] == "county":
            label = names.get(label, label)
        unresolved = label.startswith("unresolved:")
        if unresolved:
            label = label.split(":", 1)[1]
        top = (f.get("concentration") or [None])[0]
        rf.sweeps.append(SweepRow(level=f["level"], place=label, key=key,
                                  top_part=str(top["part"]) if top and f["level"] not in ("county", "place") else None,
                                  unresolved=unresolved))


def _reference_releases(sources: set[str]) -> list[str]:
    """Catalog ids of the reference releases holding these shared/data-layout files (the path itself if none)."""
    from icemonitor.catalog.catalog import load_catalog

    index = load_catalog().by_mirror_path()
    return sorted({index[s][0].id if s in index else s for s in sources if s})


COUNTY_DEFINITIONS = ("no-287g",)  # about local agreements: a state-wide answer would mix in counties outside


def _policies(rf: ReportFacts, parsed, day: dt.date, ref: Any) -> None:
    """Status under the default and two other definitions: state laws per state of the place; local agreements
    (no-287g) county by county when the place is an AOR or a group of counties."""
    from icemonitor.places.sanctuary import default_definition

    default = default_definition()[0]
    names = [default] + [d for d in POLICY_DEFINITIONS if d != default]
    targets = [parsed.code] if parsed.level in ("county", "state") else list(parsed.states)
    for name in names:
        if name in COUNTY_DEFINITIONS and parsed.level in ("aor", "group"):
            _policy_by_county(rf, parsed, day, name, name == default, ref)
            continue
        for target in targets:
            _policy_row(rf, target, day, name, name == default, ref)


def _policy_row(rf: ReportFacts, target: str, day: dt.date, name: str, is_default: bool, ref: Any) -> None:
    from icemonitor.places.sanctuary import status

    st = status(target, day, name, ref)
    key = f"policy:{st.place_code}:{name}"
    q = _call("sanctuary.status", place=target, date=day.isoformat(), definition=name)
    na = {"definition": name, "text": st.definition_text}
    rels = _reference_releases({e.source for e in st.events})
    rf.add(f"{key}:n", "count", len(st.events), msg("policy events that apply on {day} under '{name}': {text}",
                                                    day=day, name=name, text=st.definition_text),
           "note_policy", rels, q, note_args=na)
    row = PolicyRow(jurisdiction=st.place_label, level=st.place_level, code=st.place_code, definition=name,
                    definition_text=st.definition_text, answer=st.answer, reason=st.reason, n_events_key=f"{key}:n",
                    is_default=is_default)
    _policy_events(rf, row, st.events, key, rels, q, na)
    rf.policies.append(row)


def _policy_events(rf: ReportFacts, row: PolicyRow, events: list, key: str, rels: list[str], q: str,
                   na: dict[str, str]) -> None:
    for k, e in enumerate(events[:MAX_POLICY_EVENTS]):
        start_key = None
        if e.start:
            start_key = f"{key}:{k}:start"
            rf.add(start_key, "date", e.start, msg("start of {kind} ({jurisdiction}); {source}", kind=e.kind,
                                                   jurisdiction=e.jurisdiction, source=e.source), "note_policy",
                   rels, q, note_args=na)
        row.events.append(PolicyEventRow(jurisdiction=e.jurisdiction, kind=e.kind, role=e.role, citation=e.citation,
                                         start_key=start_key))


def _policy_by_county(rf: ReportFacts, parsed, day: dt.date, name: str, is_default: bool, ref: Any) -> None:
    from icemonitor.places.place_names import place_label
    from icemonitor.places.sanctuary import status

    results = [status(f, day, name, ref) for f in parsed.county_fips]
    key = f"policy:{parsed.code}:{name}"
    q = _call("sanctuary.status", place="<each county of the place>", date=day.isoformat(), definition=name)
    text = results[0].definition_text if results else ""
    na = {"definition": name, "text": text}
    events = [e for r in results for e in r.events]
    rels = _reference_releases({e.source for e in events})
    for answer in ("yes", "no", "unknown"):
        rf.add(f"{key}:{answer}", "count", sum(r.answer == answer for r in results),
               msg("counties of {place} answering '{answer}' on {day} under '{name}': {text}",
                   place=place_label(parsed), answer=answer, day=day, name=name, text=text), "note_policy", rels, q,
               note_args=na)
    rf.add(f"{key}:n", "count", len(events), msg("policy events that apply on {day} under '{name}' in the place's "
                                                 "counties", day=day, name=name), "note_policy", rels, q,
           note_args=na)
    answers = {r.answer for r in results}
    row = PolicyRow(jurisdiction=parsed.label, level=parsed.level, code=parsed.code, definition=name,
                    definition_text=text, answer=answers.pop() if len(answers) == 1 else "unknown",
                    reason="county by county", n_events_key=f"{key}:n", is_default=is_default, by_county=True)
    _policy_events(rf, row, sorted(events, key=lambda e: (e.role, e.start or dt.date.min)), key, rels, q, na)
    rf.policies.append(row)
