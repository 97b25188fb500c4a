"""The `policies` table: dated policy events per jurisdiction (state laws, 287(g) agreements, 2025 federal lists).

One row per event and jurisdiction. `jurisdiction` is a state code ('CA'), a county FIPS ('06037') or, for a listed
city, 'city:<name>, <ST>' with the city's county in `county_fips` (a listed city marks "contains a listed city",
not the whole county). `start`/`end` are inclusive dates; `end` null = no known end. `end_known` False means the
event may have ended before `end_by` (the last date the source could see it) and after that nothing is known.
"""

from __future__ import annotations

import csv
import datetime as dt
import difflib
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

import polars as pl

from icemonitor.errors import InputError
from icemonitor.places.counties import load_counties
from icemonitor.places.ref import Ref

STATE_LAWS_FILE = "sanctuary/state_immigration_cooperation_laws.csv"
DHS_FILE = "sanctuary/dhs_sanctuary_jurisdictions_2025-05-29.csv"
DOJ_FILE = "sanctuary/doj_sanctuary_jurisdictions_2025-08-05.csv"
G287_CURRENT_FILE = "287g/ice_287g_agreements_2026-05-18_with_county_fips.csv"
G287_MONITOR_FILE = "287g/relevantresearch_287g_monitor_total_2026-05-18.csv"
G287_WAPO_FILE = "287g/wapo_287g_curated_2019.csv"
G287_SNAPSHOT = dt.date(2026, 5, 18)

KINDS = (
    "state_law_restricts",
    "state_law_mandates",
    "local_detainer_limit",
    "287g_jail_enforcement",
    "287g_task_force",
    "287g_warrant_service_officer",
    "287g_unknown_model",
    "federal_list_doj_2025",
    "federal_list_dhs_2025",
)
MODEL_KIND = {"JEM": "287g_jail_enforcement", "TFM": "287g_task_force", "WSO": "287g_warrant_service_officer",
              "Jail Enforcement Model": "287g_jail_enforcement", "Task Force Model": "287g_task_force",
              "Warrant Service Officer": "287g_warrant_service_officer"}

SCHEMA = {
    "policy_id": pl.Utf8, "jurisdiction": pl.Utf8, "jurisdiction_level": pl.Utf8, "state": pl.Utf8,
    "county_fips": pl.Utf8, "place_name": pl.Utf8, "kind": pl.Utf8, "start": pl.Date, "end": pl.Date,
    "end_known": pl.Boolean, "end_by": pl.Date, "date_precision": pl.Utf8, "scope": pl.Utf8, "citation": pl.Utf8,
    "source": pl.Utf8, "source_row": pl.Int64, "evidence": pl.Utf8, "confidence": pl.Utf8, "verified": pl.Boolean,
    "note": pl.Utf8,
}


def _data_path(name: str) -> Path:
    return Path(str(resources.files("icemonitor.places") / "data" / name))


def parse_policy_date(text: str, *, file: str, row: int, field: str, bound: str = "end_of_period") -> tuple[dt.date | None, str]:
    """Parse 'YYYY-MM-DD', 'YYYY-MM', 'YYYY' or 'm/d/yy'. A partial date becomes the last day of its period
    (bound='end_of_period', conservative for "in force by") or the first ('start_of_period')."""
    s = (text or "").strip()
    if not s:
        return None, ""
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return dt.date.fromisoformat(s), "day"
        if re.fullmatch(r"\d{4}-\d{2}", s):
            y, m = int(s[:4]), int(s[5:])
            if bound == "start_of_period":
                return dt.date(y, m, 1), "month"
            nxt = dt.date(y + (m == 12), m % 12 + 1, 1)
            return nxt - dt.timedelta(days=1), "month"
        if re.fullmatch(r"\d{4}", s):
            y = int(s)
            return (dt.date(y, 1, 1) if bound == "start_of_period" else dt.date(y, 12, 31)), "year"
        if re.fullmatch(r"\d{1,2}/\d{1,2}/\d{2,4}", s):
            m, d, y = (int(x) for x in s.split("/"))
            return dt.date(y + 2000 if y < 100 else y, m, d), "day"
    except ValueError:
        pass
    raise InputError("not a date (YYYY-MM-DD, YYYY-MM, YYYY or m/d/yy)", file=file, row=row, field=field, value=text)


def _read_rows(path: Path) -> list[dict[str, str]]:
    with Path(path).open(newline="", encoding="utf-8-sig") as fh:
        return [{(k or "").strip(): (v or "").strip() for k, v in rec.items()} for rec in csv.DictReader(fh)]


def _event(**kw) -> dict:
    row = {k: None for k in SCHEMA}
    row.update(kw)
    return row


def _state_maps(ref: Ref) -> tuple[dict[str, str], dict[str, str]]:
    c = load_counties(ref)
    name_to_code = {n.lower(): s for n, s in c.select("state_name", "state").unique().iter_rows() if n and s}
    fips_to_code = {f: s for f, s in c.select("state_fips", "state").unique().iter_rows() if s}
    return name_to_code, fips_to_code


def _verification() -> dict[tuple[str, str], dict[str, str]]:
    path = _data_path("state_law_verification.csv")
    return {(r["state"], r["citation_contains"]): r for r in _read_rows(path)}


def state_law_events(ref: Ref) -> list[dict]:
    """State laws restricting or mandating cooperation; verification from the source file or from the project's
    own check (places/data/state_law_verification.csv)."""
    path = ref(STATE_LAWS_FILE)
    _, fips_to_code = _state_maps(ref)
    checks = _verification()
    out = []
    for i, r in enumerate(_read_rows(path), start=2):
        state = fips_to_code.get(r["state_fips"].zfill(2))
        if state is None:
            raise InputError("unknown state FIPS", file=STATE_LAWS_FILE, row=i, field="state_fips", value=r["state_fips"])
        kind = {"restricts_cooperation": "state_law_restricts", "mandates_cooperation": "state_law_mandates"}.get(r["direction"])
        if kind is None:
            raise InputError("unknown direction", file=STATE_LAWS_FILE, row=i, field="direction", value=r["direction"])
        start, precision = parse_policy_date(r["effective_date"] or r["signed_or_decided"], file=STATE_LAWS_FILE, row=i,
                                             field="effective_date")
        check = next((c for (st, key), c in checks.items() if st == state and key in r["citation"]), None)
        verified = r["verification"] == "verified_against_source"
        evidence, citation, scope = r["evidence_url"], r["citation"], "unclassified"
        note = "; ".join(x for x in (r["detainer_rule_summary"], r["notes"]) if x)
        if check is not None:
            scope = check["scope"] or scope
            if check["verified"] == "yes":
                verified = True
                start, precision = parse_policy_date(check["start_used"], file="places/data/state_law_verification.csv",
                                                     row=i, field="start_used")
                evidence = check["evidence_url"]
                note = f"{note}; project check: {check['evidence_note']}"
            elif check["verified"] == "as_source":
                note = f"{note}; {check['evidence_note']}"
            citation = check["citation_corrected"] or citation
        out.append(_event(
            jurisdiction=state, jurisdiction_level="state", state=state, kind=kind, start=start, end=None,
            end_known=True, date_precision=precision, scope=scope, citation=citation, source=STATE_LAWS_FILE,
            source_row=i, evidence=evidence, confidence="high" if verified else "low", verified=verified, note=note,
            place_name=r["state"],
        ))
    return out


def federal_list_events(ref: Ref) -> list[dict]:
    """The 2025 DHS (2025-05-29) and DOJ (2025-08-05) sanctuary lists: federal designations, not measured policy."""
    name_to_code, _ = _state_maps(ref)
    out = []
    for file, kind in ((DHS_FILE, "federal_list_dhs_2025"), (DOJ_FILE, "federal_list_doj_2025")):
        for i, r in enumerate(_read_rows(ref(file)), start=2):
            state = name_to_code.get(r["state"].lower())
            if state is None:
                raise InputError("unknown state name", file=file, row=i, field="state", value=r["state"])
            start, _ = parse_policy_date(r["list_date"], file=file, row=i, field="list_date")
            # DHS put Lawrence (a city) under County and Douglas County under Cities: the source codes the swap
            level = {"dhs_level_swap_city": "city", "dhs_level_swap_county": "county"}.get(r["match_method"], r["listed_level"])
            common = dict(kind=kind, start=start, end=None, end_known=True, date_precision="day", scope="designation",
                          citation=r["jurisdiction_as_listed"], source=file, source_row=i, confidence="high",
                          verified=True, state=state, note=f"match_method={r['match_method']}",
                          evidence="DHS list published 2025-05-29, withdrawn from dhs.gov in early June 2025"
                          if kind.endswith("dhs_2025") else "DOJ list published 2025-08-05")
            if level == "state" or r["match_method"] in ("state", "dc"):
                out.append(_event(jurisdiction=state, jurisdiction_level="state", place_name=r["state"], **common))
            elif level == "county":
                fips = r["county_fips5"] or r["city_primary_county_fips5"]
                for f in filter(None, fips.split(";")):
                    out.append(_event(jurisdiction=f, jurisdiction_level="county", county_fips=f,
                                      place_name=r["jurisdiction_as_listed"], **common))
            elif level == "city":
                fips = r["city_primary_county_fips5"] or r["county_fips5"]
                if not fips:
                    raise InputError("listed city without a county", file=file, row=i, field="city_primary_county_fips5")
                for f in filter(None, fips.split(";")):
                    out.append(_event(jurisdiction=f"city:{r['jurisdiction_as_listed']}, {state}", jurisdiction_level="city",
                                      county_fips=f, place_name=r["jurisdiction_as_listed"], **common))
            else:
                raise InputError("unknown listed_level", file=file, row=i, field="listed_level", value=level)
    return out


def _corrections() -> dict[tuple[str, str, str], tuple[str, str, str]]:
    rows = _read_rows(_data_path("policy_corrections.csv"))
    return {(r["source_file"], r["match_field"], r["match_value"]): (r["field"], r["old_value"], r["new_value"]) for r in rows}


def g287_events(ref: Ref) -> tuple[list[dict], dict[str, int]]:
    """287(g) agreements: current ICE sheet (2026-05-18), agreements dropped from ICE's sheet before then (scraper
    roster, end unknown) and the Washington Post sheriff panel 2005–2019 (year level, model unknown).
    Returns the events and counts of rows that could not be placed."""
    out: list[dict] = []
    skipped = {"current_unmatched": 0, "absent_unmatched": 0, "absent_no_date": 0, "wapo_no_fips": 0}
    fixes = _corrections()
    name_to_code, _ = _state_maps(ref)
    county_by_name: dict[tuple[str, str], str] = {}
    # current agreements
    cur_rows = _read_rows(ref(G287_CURRENT_FILE))
    for i, r in enumerate(cur_rows, start=2):
        for (file, field, value), (tfield, old, new) in fixes.items():
            if file == G287_CURRENT_FILE and r.get(field) == value and r.get(tfield) == old:
                r[tfield] = new
        state = name_to_code.get(r["state"].lower())
        if state is None:
            raise InputError("unknown state name", file=G287_CURRENT_FILE, row=i, field="state", value=r["state"])
        kind = MODEL_KIND.get(r["model"])
        if kind is None:
            raise InputError("unknown 287(g) model", file=G287_CURRENT_FILE, row=i, field="model", value=r["model"])
        start, _ = parse_policy_date(r["signed"], file=G287_CURRENT_FILE, row=i, field="signed")
        common = dict(kind=kind, start=start, end=None, end_known=True, end_by=None, date_precision="day",
                      scope=r["agency_type"], citation=r["agency"], source=G287_CURRENT_FILE, source_row=i,
                      evidence="ICE 287(g) participating agencies sheet 2026-05-18 (start = signing of the listed MOA)",
                      confidence="high", verified=True, state=state, place_name=r["agency"],
                      note="active on 2026-05-18; an earlier agreement of the same agency may predate this MOA")
        fips = [f for f in r["county_fips5"].split(";") if f]
        if r["county_raw"] and fips:
            county_by_name[(r["state"].lower(), r["county_raw"].lower())] = r["county_fips5"]
        if fips:
            for f in fips:
                out.append(_event(jurisdiction=f, jurisdiction_level="county", county_fips=f, **common))
        elif r["fips_match"] == "no_county":
            out.append(_event(jurisdiction=state, jurisdiction_level="state", **common))
        else:
            skipped["current_unmatched"] += 1
    # dropped agreements (seen by the scraper since ~2025, absent from ICE's sheet on 2026-05-18)
    counties = load_counties(ref)
    by_name = {(s.lower(), n.lower()): f for f, s, n in counties.select("county_fips", "state_name", "county_name").iter_rows()
               if s and n}
    typos = {t["raw"].lower(): t["state_name"].lower() for t in _read_rows(_data_path("state_name_typos.csv"))}
    names_by_state: dict[str, list[str]] = {}
    for s_name, c_name in by_name:
        names_by_state.setdefault(s_name, []).append(c_name)
    for i, r in enumerate(_read_rows(ref(G287_MONITOR_FILE)), start=2):
        if r["Status"] != "Absent":
            continue
        state_name = typos.get(r["STATE"].lower(), r["STATE"].lower())
        state = name_to_code.get(state_name)
        if not r["SIGNED"]:
            skipped["absent_no_date"] += 1
            continue
        start, _ = parse_policy_date(r["SIGNED"], file=G287_MONITOR_FILE, row=i, field="SIGNED")
        kind = MODEL_KIND.get(r["SUPPORT TYPE"])
        if state is None or kind is None:
            skipped["absent_unmatched"] += 1
            continue
        county = r["COUNTY"].lower()
        fips_text = county_by_name.get((state_name, county)) or by_name.get((state_name, county)) \
            or by_name.get((state_name, f"{county} county"))
        fuzzy = ""
        if not fips_text and county:
            close = difflib.get_close_matches(county, names_by_state.get(state_name, []), n=1, cutoff=0.9)
            if close:
                fips_text, fuzzy = by_name[(state_name, close[0])], f"; county name matched fuzzily ({r['COUNTY']!r} -> {close[0]!r})"
        common = dict(kind=kind, start=start, end=None, end_known=False, end_by=G287_SNAPSHOT, date_precision="day",
                      scope=r["TYPE"], citation=r["LAW ENFORCEMENT AGENCY"], source=G287_MONITOR_FILE, source_row=i,
                      evidence="scraper roster: agreement seen on ICE's sheet, absent from it on 2026-05-18",
                      confidence="medium", verified=True, state=state, place_name=r["LAW ENFORCEMENT AGENCY"],
                      note="dropped from ICE's sheet at an unknown date before 2026-05-18 ('Last Seen' is not a removal date)"
                      + fuzzy)
        if fips_text:
            for f in fips_text.split(";"):
                out.append(_event(jurisdiction=f, jurisdiction_level="county", county_fips=f, **common))
        elif not r["COUNTY"] and r["TYPE"] in ("State Agency", "State"):
            out.append(_event(jurisdiction=state, jurisdiction_level="state", **common))
        else:
            skipped["absent_unmatched"] += 1
    # Washington Post sheriff panel: runs of consecutive years with an agreement
    years = list(range(2005, 2020))
    for i, r in enumerate(_read_rows(ref(G287_WAPO_FILE)), start=2):
        if not r["FIPS"]:
            skipped["wapo_no_fips"] += 1
            continue
        try:
            fips = str(int(float(r["FIPS"]))).zfill(5)
        except ValueError as exc:
            raise InputError("FIPS is not a number", file=G287_WAPO_FILE, row=i, field="FIPS", value=r["FIPS"]) from exc
        match = counties.filter(pl.col("county_fips") == fips)
        state = match["state"][0] if match.height else None
        flags = [r.get(f"y{y}", "").upper() == "X" for y in years]
        run_start = None
        for idx, (y, on) in enumerate(zip(years, flags)):
            if on and run_start is None:
                run_start = y
            last = idx == len(years) - 1
            if run_start is not None and (not on or last):
                end_year = y if on else y - 1
                open_end = on and last
                out.append(_event(
                    jurisdiction=fips, jurisdiction_level="county", county_fips=fips, state=state,
                    kind="287g_unknown_model", start=dt.date(run_start, 1, 1), end=dt.date(end_year, 12, 31),
                    end_known=not open_end, end_by=None, date_precision="year", scope="County", citation=r["County"],
                    source=G287_WAPO_FILE, source_row=i, place_name=r["County"],
                    evidence="Washington Post curated sheriff 287(g) panel (X = agreement in place that year)",
                    confidence="medium", verified=True,
                    note="year-level; first/last day of year assumed" + ("; panel ends 2019, may have continued" if open_end else ""),
                ))
                run_start = None
    return out, skipped


def read_policy_csv(path: Path | str) -> list[dict]:
    """Read a hand-kept policy file (columns: jurisdiction, kind, start, end, source, confidence, verified[, note,
    county_fips, state]) and validate it: unknown kind, bad date, end before start → InputError naming file/row."""
    path = Path(path)
    out = []
    for i, r in enumerate(_read_rows(path), start=2):
        for field in ("jurisdiction", "kind", "start", "source"):
            if not r.get(field):
                raise InputError("required field is empty", file=str(path), row=i, field=field)
        if r["kind"] not in KINDS:
            raise InputError(f"unknown policy kind (known: {', '.join(KINDS)})", file=str(path), row=i, field="kind",
                             value=r["kind"])
        start, precision = parse_policy_date(r["start"], file=str(path), row=i, field="start", bound="start_of_period")
        end, _ = parse_policy_date(r.get("end", ""), file=str(path), row=i, field="end")
        if end is not None and end < start:
            raise InputError("policy ends before it starts", file=str(path), row=i, field="end", value=r["end"])
        j = r["jurisdiction"]
        level = "state" if re.fullmatch(r"[A-Z]{2}", j) else "county" if re.fullmatch(r"\d{5}", j) else "city"
        out.append(_event(
            jurisdiction=j, jurisdiction_level=level, state=r.get("state") or (j if level == "state" else None),
            county_fips=r.get("county_fips") or (j if level == "county" else None), kind=r["kind"], start=start, end=end,
            end_known=True, date_precision=precision, scope=r.get("scope") or "general", citation=r.get("citation"),
            source=r["source"], source_row=i, evidence=r.get("evidence") or r["source"],
            confidence=r.get("confidence") or "low", verified=r.get("verified", "").lower() in ("yes", "true", "1"),
            note=r.get("note"), place_name=r.get("place_name") or j,
        ))
    return out


def load_policies(ref: Ref, extra_files: tuple[str, ...] = ()) -> pl.DataFrame:
    """The full `policies` table (see module doc); `extra_files` are hand-kept policy CSVs (read_policy_csv)."""
    return _load_cached(ref, tuple(extra_files)).clone()


@lru_cache(maxsize=4)
def _load_cached(ref: Ref, extra_files: tuple[str, ...]) -> pl.DataFrame:
    events = state_law_events(ref) + federal_list_events(ref)
    g, _ = g287_events(ref)
    events += g
    for f in extra_files:
        events += read_policy_csv(f)
    for e in events:
        if e["end"] is not None and e["start"] is not None and e["end"] < e["start"]:
            raise InputError("policy ends before it starts", file=e["source"], row=e["source_row"], field="end",
                             value=str(e["end"]))
    df = pl.DataFrame(events, schema=SCHEMA)
    # the state of county and city rows comes from the county list
    counties = load_counties(ref).select("county_fips", pl.col("state").alias("_st"))
    df = df.join(counties, on="county_fips", how="left").with_columns(
        state=pl.when(pl.col("jurisdiction_level") != "state").then(pl.coalesce("_st", "state")).otherwise("state")
    ).drop("_st")
    df = df.with_row_index("n").with_columns(
        policy_id=pl.concat_str([pl.col("kind"), pl.col("jurisdiction"), pl.col("n").cast(pl.Utf8)], separator=":")
    ).drop("n")
    return df.select(list(SCHEMA))
