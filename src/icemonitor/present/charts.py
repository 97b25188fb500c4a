"""Report charts: Vega-Lite specs rendered to SVG with vl-convert (no browser, no network)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from icemonitor.present.facts import ReportFacts
from icemonitor.query.coverage import gap_runs

LOCALES = {"en": "en-US", "es": "es-ES"}
GROUP_COLORS = {"event": "#4c78a8", "office_proxy": "#9ecae9", "state": "#bab0ac", "unresolved": "#e4e4e4"}
COLORS = {"at_large": "#b2182b", "custodial": "#2166ac", "other": "#999999", "(not recorded)": "#dddddd"}


def daily_spec(rf: ReportFacts, labels: dict[str, str]) -> dict[str, Any]:
    """Daily counted arrests by method class, the period and the 4 weeks on each side; the period shaded."""
    values = [{"day": r["day"], "method": labels.get(f"chartmethod_{r['method_class']}", r["method_class"]),
               "events": r["events"]} for r in rf.chart_days if r["events"] is not None]
    order = [labels.get(f"chartmethod_{m}", m) for m in COLORS]
    shade = [{"start": rf.date_from.isoformat(), "end": (rf.date_to + dt.timedelta(days=1)).isoformat()}]
    gaps = no_record_bands(rf.chart_days, labels["chart_no_records"])
    gap_layers = [{"data": {"values": gaps}, "mark": {"type": "rect", "color": "#bbbbbb", "opacity": 0.35},
                   "encoding": {"x": {"field": "start", "type": "temporal"}, "x2": {"field": "end"}}},
                  {"data": {"values": gaps[:1]}, "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 3,
                                                           "dy": 3, "fontSize": 9, "y": 0, "color": "#444"},
                   "encoding": {"x": {"field": "start", "type": "temporal"}, "text": {"field": "label"}}}] if gaps else []
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": 560, "height": 220,
        "title": labels["chart_daily_title"],
        "layer": [
            {"data": {"values": shade}, "mark": {"type": "rect", "color": "#f2e6c9"},
             "encoding": {"x": {"field": "start", "type": "temporal"}, "x2": {"field": "end"}}},
            {"data": {"values": values}, "mark": {"type": "bar"},
             "encoding": {
                 "x": {"field": "day", "type": "temporal", "timeUnit": "yearmonthdate", "title": labels["chart_day"],
                       "axis": {"format": "%d %b", "labelAngle": -45}},
                 "y": {"aggregate": "sum", "field": "events", "type": "quantitative", "title": labels["chart_arrests"]},
                 "color": {"field": "method", "type": "nominal", "title": labels["chart_method"],
                           "scale": {"domain": order, "range": list(COLORS.values())}},
             }},
            *gap_layers,  # days without records: a grey band, no bar (never a zero)
        ],
        "config": {"font": "DejaVu Sans", "legend": {"orient": "bottom"}},
    }


def no_record_bands(days: list[dict[str, Any]], label: str) -> list[dict[str, str]]:
    """Runs of chart days without records (events None) as bands {start, end (the day after), label}."""
    return [{"start": a, "end": b, "label": label} for a, b in gap_runs(days, "events")]


def county_spec(rf: ReportFacts, labels: dict[str, str], lang: str = "en") -> dict[str, Any] | None:
    """Counted arrests per event county, then office proxies, state-only and unresolved landmarks."""
    if not rf.counties and "county_event" not in rf.facts:
        return None
    from icemonitor.places.place_names import spanish_label

    values = [{"name": spanish_label(c.name, "county") if lang == "es" else c.name, "events": rf.facts[c.key].value,
               "group": labels["chart_group_event"]} for c in rf.counties]
    for g in ("office_proxy", "state", "unresolved"):
        key = f"county_{g}"
        if key in rf.facts and rf.facts[key].value:
            values.append({"name": labels[f"chart_group_{g}"], "events": rf.facts[key].value,
                           "group": labels[f"chart_group_{g}"]})
    if not values:
        return None
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "width": 420, "height": {"step": 18},
        "title": labels["chart_county_title"],
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "name", "type": "nominal", "sort": None, "title": None},
            "x": {"field": "events", "type": "quantitative", "title": labels["chart_arrests"]},
            "color": {"field": "group", "type": "nominal", "title": None, "legend": {"orient": "bottom"},
                      "scale": {"domain": [labels[f"chart_group_{g}"] for g in GROUP_COLORS],
                                "range": list(GROUP_COLORS.values())}},
        },
        "config": {"font": "DejaVu Sans"},
    }


def to_svg(spec: dict[str, Any], lang: str) -> str:
    """Render a Vega-Lite spec to SVG text, with the language's number and date conventions."""
    import vl_convert

    loc = LOCALES[lang]
    return vl_convert.vegalite_to_svg(spec, format_locale=loc, time_format_locale=loc)


def charts(rf: ReportFacts, labels: dict[str, str], lang: str) -> list[tuple[str, str]]:
    """(name, svg) for each chart the facts support."""
    out = []
    if rf.chart_days:
        out.append(("daily", to_svg(daily_spec(rf, labels), lang)))
    spec = county_spec(rf, labels, lang)
    if spec:
        out.append(("counties", to_svg(spec, lang)))
    return out
