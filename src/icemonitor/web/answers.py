"""The one- or two-sentence plain answer that opens the place, sweep and sanctuary pages, in the page's language,
computed from the very figures the page then shows (the trend rows, the sweep's row, the groups and models of the
targeting analysis), with what the records do not cover said in the same breath."""

from __future__ import annotations

from typing import Any, Callable

from icemonitor.messages import formats

T = Callable[..., str]
N = Callable[..., str]


def _months_between(first: str, last: str) -> int:
    return (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1


def place_answer(t: T, number: N, place: str, rows: list[dict[str, Any]], resolution: dict[str, Any] | None,
                 coverage: dict[str, Any] | None = None, lang: str = "en") -> str:
    """From the place's monthly trend rows (month, method_class, n): how many arrests, how many at large, the
    latest month against the usual month, the months without records, and (county) the arrests not placeable.
    Where only a subset release has records (coverage status `subset`): no total, its count as a lower bound."""
    if coverage and coverage.get("status") == "subset":
        return t("answer.place_subset", place=place, n=number(coverage["lower_bound"]),
                 what="; ".join(s[lang] for s in coverage.get("subsets", [])))
    counted = [r for r in rows if r.get("n") is not None]
    if not counted:
        return t("answer.place_none", place=place)
    by_month: dict[str, int] = {}
    for r in counted:
        by_month[r["month"]] = by_month.get(r["month"], 0) + int(r["n"])
    months = sorted(by_month)
    total = sum(by_month.values())
    at_large = sum(int(r["n"]) for r in counted if r.get("method_class") == "at_large")
    first, last = months[0], months[-1]
    parts = [t("answer.place", place=place, total=number(total), first=formats.month(first, lang),
               last=formats.month(last, lang), at_large=number(at_large), share=number(100.0 * at_large / total, 0)),
             t("answer.place_latest", last=formats.month(last, lang), n_last=number(by_month[last]),
               avg=number(total / len(months), 0))]
    span = _months_between(first, last)
    if len(months) < span:
        parts.append(t("answer.place_gaps", covered=number(len(months)), span=number(span)))
    if resolution and resolution.get("aor_unresolved"):
        parts.append(t("answer.place_unresolved", unresolved=number(resolution["aor_unresolved"]),
                       aors=", ".join(resolution.get("aors") or [])))
    return " ".join(parts)


def sweep_answer(t: T, number: N, place: str, measure: str, row: dict[str, Any], crim: dict[str, int] | None,
                 lang: str = "en") -> str:
    """From the sweep's row: how many arrests in how many days, against how many would be usual for those days,
    and (where the release records it) how many had no recorded conviction."""
    parts = [t("answer.sweep", start=formats.day(row["start"], lang), end=formats.day(row["end"], lang),
               days=row["days"], observed=number(row["observed"]),
               measure=measure, place=place, expected=number(row["expected"], 0), ratio=number(row["ratio"], 1))]
    if crim:
        known = sum(v for k, v in crim.items() if k not in ("unknown", None))
        none = crim.get("no_record", 0)
        if known:
            parts.append(t("answer.sweep_crim", none=number(none), known=number(known)))
    else:
        parts.append(t("answer.sweep_no_crim"))
    return " ".join(parts)


def targeting_answer(t: T, number: N, definition: str, params: dict[str, Any], groups: list[dict[str, Any]],
                     models: list[dict[str, Any]], lang: str = "en") -> str:
    """From the groups table (rates per 10,000 non-citizen residents a year) and the arrests model (rate ratio with
    its 95% interval): the two rates and what the model says, with the interval deciding the wording."""
    by_group = {g.get("group"): g for g in groups}
    sanctuary, other = by_group.get("sanctuary"), by_group.get("not sanctuary")
    if not sanctuary or not other:
        return t("answer.targeting_none", definition=definition)
    parts = [t("answer.targeting_rates", definition=definition, first=formats.day(params.get("from") or "", lang),
               last=formats.day(params.get("to") or "", lang),
               rate_s=number(sanctuary["rate_per_10k"], 1), rate_o=number(other["rate_per_10k"], 1),
               places_s=number(sanctuary["places"]), places_o=number(other["places"]))]
    arrests = next((m for m in models if m.get("outcome") == "arrests"), None)
    if arrests and arrests.get("ratio") is not None and arrests.get("low") is not None:
        low, high = arrests["low"], arrests["high"]
        key = "answer.targeting_fewer" if high < 1 else "answer.targeting_more" if low > 1 else "answer.targeting_same"
        parts.append(t(key, ratio=number(arrests["ratio"], 2), low=number(low, 2), high=number(high, 2)))
    return " ".join(parts)
