"""What a watch looks for in the newly covered months, each finding with its definition and releases.

- at-large-rise: counted arrests whose apprehension method is at-large (method_class = 'at_large',
  codes/apprehension_methods.csv) in the place in month M, against the mean of the 12 months before M.
  A finding when the exact 95% Poisson interval of M's count lies wholly above that mean (and M has >= 10).
- no-record-rise: among counted arrests in the place with a known criminality (convicted, pending_charges or
  no_record; 'unknown' left out), the share with no_record in month M against the pooled share of the 12
  months before. A finding when the 95% Wilson interval of M's share lies wholly above the baseline share
  (and M has >= 20 arrests with known criminality). Which source field gives criminality is named per release.
- sweeps: icemonitor.analysis.sweeps over the newly covered dates.
A month is covered when the arrests table has counted rows on >= 20 distinct days of it, nationally, with the
field the watch needs recorded (an apprehension method; a known criminality), and the records cover the watch's
place on >= 20 days of it (query.coverage); months without coverage are neither tested nor used as baseline, so a
release that lacks the field cannot fake a rise and a month without records is never a zero.
Every figure comes from an analysis (analysis.watch_figures, on query.Selection), so a watch's monthly count is
`icemonitor summary`'s for the same place, month and filters; this module only judges and words them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import duckdb
from scipy import stats

from icemonitor.analysis.watch_figures import KNOWN_CRIMINALITY, days_with_records, monthly
from icemonitor.messages import DateSpan, Message, Month, msg
from icemonitor.watch.places import WatchPlace

KINDS = ("sweeps", "at-large-rise", "no-record-rise")
DEFINITION_VERSION = "1"
BASELINE_MONTHS = 12
MIN_COVERED_DAYS = 20
MIN_AT_LARGE = 10
MIN_KNOWN = 20

DEFINITIONS = {
    "at-large-rise": msg(
        "At-large arrests: counted rows of the arrests table with method_class = 'at_large' (raw apprehension "
        "methods mapped in codes/apprehension_methods.csv, e.g. 'Located', 'Non-Custodial Arrest'). A rise: the "
        "month's count has an exact 95% Poisson interval wholly above the mean monthly count of the 12 covered "
        "months before it."
    ),
    "no-record-rise": msg(
        "Share with no criminal record: among counted arrests whose criminality is known (convicted, "
        "pending_charges or no_record), the share coded no_record (codes/criminality.csv; the source field is "
        "named per release). A rise: the month's 95% Wilson interval lies wholly above the pooled share of the "
        "12 covered months before it."
    ),
    "sweeps": msg("A multi-day surge of counted arrests above the place's expected daily count "
                  "(icemonitor.analysis.sweeps)."),
}


@dataclass
class Finding:
    """What a watch found: `title` and `body` are messages (their str is the English text), said in the watch's
    language when the finding is queued (alerts.queue); `data` holds the figures (JSON: ISO dates, English)."""

    watch_id: int
    kind: str
    place: str
    period: str
    title: str | Message
    body: str | Message
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def dedup_key(self) -> str:
        raw = f"{self.watch_id}|{self.kind}|{self.place}|{self.period}|v{DEFINITION_VERSION}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


def month_add(month: str, k: int) -> str:
    y, m = map(int, month.split("-"))
    n = y * 12 + (m - 1) + k
    return f"{n // 12:04d}-{n % 12 + 1:02d}"


def poisson_interval(count: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson mean given one count."""
    a = 1 - confidence
    low = 0.0 if count == 0 else stats.chi2.ppf(a / 2, 2 * count) / 2
    high = stats.chi2.ppf(1 - a / 2, 2 * count + 2) / 2
    return float(low), float(high)


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    z = stats.norm.ppf(1 - (1 - confidence) / 2)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    return centre - half, centre + half


def month_bounds(first: str, last: str) -> tuple[dt.date, dt.date]:
    """First day of month `first`, last day of month `last`."""
    y, m = map(int, month_add(last, 1).split("-"))
    return dt.date.fromisoformat(first + "-01"), dt.date(y, m, 1) - dt.timedelta(days=1)


def _covered_months(con: duckdb.DuckDBPyConnection, first: str, last: str, known: str) -> set[str]:
    """Months with counted arrests on >= MIN_COVERED_DAYS days whose `known` field is recorded (nationally)."""
    return set(days_with_records(con, *month_bounds(first, last), known, MIN_COVERED_DAYS).extra["covered"])


RESOLUTION_CAVEAT = msg(
    "Below AOR level, counts include only arrests whose apprehension landmark the places stage resolved to the "
    "place (and AORs wholly inside it); arrests with unresolved landmarks are left out, so levels are undercounts."
)


def lines(*parts: Message | None) -> Message:
    """The parts (None left out) as one message, a line each, every part said in the reader's language."""
    said = [p for p in parts if p is not None]
    out = said[0]
    for part in said[1:]:
        out = msg("{a}\n{b}", a=out, b=part)
    return out


def _caveat(place: WatchPlace) -> Message | None:
    return None if place.level in ("national", "aor") else RESOLUTION_CAVEAT


def _releases_line(releases: list[str]) -> Message:
    return msg("Releases: {releases}.", releases=", ".join(releases))


def _releases(by_month: dict[str, dict[str, Any]], months: list[str]) -> list[str]:
    """The releases behind the figures of these months."""
    return sorted({r for m in months for r in by_month.get(m, {}).get("releases", [])})


def _by_month(con, place: WatchPlace, first: str, last: str, measure: str = "all",
              filters: dict[str, Any] | None = None, share_of: str | None = None) -> dict[str, dict[str, Any]]:
    """month -> the place's monthly figure (analysis.watch_figures.monthly: n None where no records cover it)."""
    q = place.select(con, *month_bounds(first, last), measure=measure, filters=filters)
    result = monthly(con, q, share_of=share_of, places=place.coverage_places())
    return {f["month"]: f for f in result.figures}


def _place_covered(figure: dict[str, Any] | None) -> bool:
    """The records cover the watch's place on >= MIN_COVERED_DAYS days of the month (query.coverage's share of its
    days): a month with no records has no figure and is never a zero, and a month covered for a few days only is
    neither tested nor used as baseline."""
    if figure is None or figure["n"] is None:
        return False
    if figure["coverage"] in ("full", "unknown"):
        return True
    d0, d1 = month_bounds(figure["month"], figure["month"])
    return (figure["coverage_share"] or 0) * ((d1 - d0).days + 1) >= MIN_COVERED_DAYS


def at_large_rise(con, watch_id: int, place: WatchPlace, months: list[str]) -> list[Finding]:
    if not months:
        return []
    first, last = month_add(min(months), -BASELINE_MONTHS), max(months)
    covered = _covered_months(con, first, last, known="method")
    by_month = _by_month(con, place, first, last, measure="at_large")
    covered = {m for m in covered if _place_covered(by_month.get(m))}  # no records is not zero
    out = []
    for m in months:
        base = [month_add(m, -k) for k in range(1, BASELINE_MONTHS + 1)]
        if m not in covered or not all(b in covered for b in base):
            continue
        c = by_month[m]["n"]
        mean = sum(by_month[b]["n"] for b in base) / BASELINE_MONTHS
        low, high = poisson_interval(c)
        if c < MIN_AT_LARGE or low <= mean:
            continue
        releases = _releases(by_month, [*base, m])
        month = Month(m)
        title = msg("At-large arrests rose in {place} in {month}: {count:,} against a 12-month mean of {mean:,.1f}",
                    place=place.label, month=month, count=c, mean=mean)
        body = lines(
            msg("{title}.", title=title),
            msg("95% Poisson interval for {month}: {low:,.1f} to {high:,.1f} (wholly above the baseline mean).",
                month=month, low=low, high=high),
            msg("Baseline: {first} to {last}.", first=Month(base[-1]), last=Month(base[0])),
            msg("Definition: {definition}", definition=DEFINITIONS["at-large-rise"]),
            _releases_line(releases),
            msg("A rise says how many at-large arrests the records show, not why."),
            _caveat(place),
        )
        out.append(Finding(watch_id, "at-large-rise", place.text, m, title, body, {
            "month": m, "count": c, "baseline_mean": round(mean, 2), "baseline_months": [base[-1], base[0]],
            "interval_95": [round(low, 2), round(high, 2)], "definition": DEFINITIONS["at-large-rise"],
            "releases": releases, "table": "arrests",
        }))
    return out


def no_record_rise(con, watch_id: int, place: WatchPlace, months: list[str]) -> list[Finding]:
    if not months:
        return []
    first, last = month_add(min(months), -BASELINE_MONTHS), max(months)
    covered = _covered_months(con, first, last, known="criminality")
    figures = _by_month(con, place, first, last, filters={"criminality": list(KNOWN_CRIMINALITY)},
                        share_of="no_record")
    covered = {m for m in covered if _place_covered(figures.get(m))}  # no records is not zero
    by_month = {m: (f["no_record"], f["n"]) for m, f in figures.items() if m in covered}
    out = []
    for m in months:
        base = [month_add(m, -k) for k in range(1, BASELINE_MONTHS + 1)]
        if m not in covered or not all(b in covered for b in base):
            continue
        k, n = by_month[m]
        bk = sum(by_month[b][0] for b in base)
        bn = sum(by_month[b][1] for b in base)
        if n < MIN_KNOWN or bn == 0:
            continue
        share, baseline = k / n, bk / bn
        low, high = wilson_interval(k, n)
        if low <= baseline:
            continue
        fields = sorted({x for b in [*base, m] for x in figures[b]["fields"]})
        releases = _releases(figures, [*base, m])
        month = Month(m)
        title = msg("The share of arrests with no criminal record rose in {place} in {month}: {share:.1%} ({k:,} of "
                    "{n:,}) against {baseline:.1%} in the 12 months before", place=place.label, month=month,
                    share=share, k=k, n=n, baseline=baseline)
        body = lines(
            msg("{title}.", title=title),
            msg("95% Wilson interval for {month}: {low:.1%} to {high:.1%} (wholly above the baseline share).",
                month=month, low=low, high=high),
            msg("Baseline: {first} to {last}, {k:,} of {n:,} arrests with known criminality.",
                first=Month(base[-1]), last=Month(base[0]), k=bk, n=bn),
            msg("Definition: {definition} Criminality source field(s): {fields}.",
                definition=DEFINITIONS["no-record-rise"], fields=", ".join(fields)),
            _releases_line(releases),
            _caveat(place),
        )
        out.append(Finding(watch_id, "no-record-rise", place.text, m, title, body, {
            "month": m, "no_record": k, "known": n, "share": round(share, 4), "baseline_share": round(baseline, 4),
            "baseline_no_record": bk, "baseline_known": bn, "baseline_months": [base[-1], base[0]],
            "interval_95": [round(low, 4), round(high, 4)], "criminality_fields": fields,
            "definition": DEFINITIONS["no-record-rise"], "releases": releases, "table": "arrests",
        }))
    return out


def sweep_findings(con, watch_id: int, place: WatchPlace, months: list[str]) -> list[Finding]:
    """Sweeps that end in the newly covered months, from icemonitor.analysis.sweeps."""
    from icemonitor.analysis.sweeps import sweeps

    if not months:
        return []
    d0, d1 = month_bounds(min(months), max(months))
    wanted = set(months)
    out = []
    if place.level not in ("national", "aor"):
        return []  # refused when the watch is added; sweeps for other places go through the analysis CLI
    codes = list(place.params) or [None]
    for code in codes:
        levels = ("national",) if code is None else ("aor",)
        if code is not None and place.ref is None:
            # without the reference files: scan every AOR and keep this one's sweeps
            result = sweeps(con, place=None, date_from=d0, date_to=d1, levels=levels, limit=0)
        else:
            result = sweeps(con, place=code, date_from=d0, date_to=d1, levels=levels, limit=0, ref=place.ref)
        for row in result.figures:
            if str(row["end"])[:7] not in wanted or (code is not None and row["place"] != code):
                continue
            label = place.label if code is None else f"AOR {code}"
            title = msg("Possible sweep in {place}, {days}: {observed:,} arrests against {expected:,} expected",
                        place=label, days=DateSpan(row["start"], row["end"]), observed=row["observed"],
                        expected=row["expected"])
            body = lines(
                msg("{title} (excess {excess:,}, 95% interval {low:,} to {high:,}).", title=title,
                    excess=row["excess"], low=row["excess_low"], high=row["excess_high"]),
                *(msg("{term}: {text}", term=k, text=v) for k, v in result.definitions.items()),
                _releases_line(result.releases),
                *result.caveats,
            )
            out.append(Finding(watch_id, "sweeps", code or place.text, f"{row['start']}..{row['end']}", title,
                               body, {**row, "definitions": result.definitions, "releases": result.releases}))
    return out


EVALUATORS = {"at-large-rise": at_large_rise, "no-record-rise": no_record_rise, "sweeps": sweep_findings}
