"""Vega-Lite specifications for the dashboard (drawn in the browser by the vendored vega-embed)."""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from typing import Any, Callable

from icemonitor.query.coverage import gap_runs

Spec = dict[str, Any]
T = Callable[..., str]
SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"  # identifier only; never fetched
CLASS_ORDER = ["custodial", "at_large", "other", "unclassified"]
# Fixed colours per category so a class keeps its colour across charts (shape/dash/labels carry it too).
COLOURS = {
    "class": {"custodial": "#2f5d8a", "at_large": "#e07b00", "other": "#b8415a", "unclassified": "#8c8c8c"},
    "crim": {"convicted": "#2f5d8a", "pending_charges": "#7a5aa6", "no_record": "#e07b00", "unknown": "#8c8c8c"},
}


def _scale(t: T, prefix: str, present: list[str]) -> dict:
    keys = [k for k in COLOURS[prefix] if k in present]
    return {"domain": [t(f"{prefix}.{k}") for k in keys], "range": [COLOURS[prefix][k] for k in keys]}


def _base(title: str, desc: str) -> Spec:
    return {"$schema": SCHEMA, "description": desc, "title": {"text": title, "anchor": "start", "fontSize": 13},
            "width": "container", "config": {"font": "system-ui, sans-serif", "view": {"stroke": None}}}


def _labelled(rows: list[dict], field: str, t: T, prefix: str) -> list[dict]:
    labels: dict = {}  # the few distinct classes, each translated once (a series has a row per month and class)
    out = []
    for r in rows:
        value = r[field]
        label = labels.get(value)
        if label is None:
            label = labels[value] = t(f"{prefix}.{value or 'unclassified'}")
        out.append({**r, "label": label})
    return out


def _month_range(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def gap_bands(days: list[dict]) -> list[dict]:
    """Runs of days whose count is None (no records) as bands [{"from", "to"}], `to` the day after the run."""
    return [{"from": a, "to": b} for a, b in gap_runs(days, "n")]


def month_coverage(d0: dt.date, d1: dt.date, covered_spans: list[dict]) -> dict[str, str]:
    """'YYYY-MM' -> full | partial | none for each month of [d0, d1], from query.coverage's covered_spans (a span
    naming some of the place's AORs covers its days only in part). A month is full when every one of its days
    (within [d0, d1]) is covered for every AOR, none when no record covers any of its days, else partial."""
    spans = [(dt.date.fromisoformat(str(s["from"])), dt.date.fromisoformat(str(s["to"])), not s.get("aors"))
             for s in covered_spans]
    out: dict[str, str] = {}
    for month in _month_range(d0.isoformat()[:7], d1.isoformat()[:7]):
        a = max(d0, dt.date.fromisoformat(month + "-01"))
        b = min(d1, dt.date.fromisoformat(_month_end(month)))
        days = (b - a).days + 1
        full = some = 0
        for s0, s1, whole in spans:
            n = (min(b, s1) - max(a, s0)).days + 1
            if n > 0:
                some += n
                full += n if whole else 0
        out[month] = "full" if full >= days else "partial" if some else "none"
    return out


def fill_months(rows: list[dict], key: str, months: dict[str, str] | None = None) -> list[dict]:
    """Complete a month x class series: 0 for a class absent in a month that has data, None (a gap that breaks
    the line) for a month with no data at all, e.g. between two releases years apart. With `months`
    (month_coverage), the months are those, None where no records cover the month (never 0), 0 for a covered month
    without events, and each row says whether its month is only partly covered."""
    if not rows:
        return []
    covered = {r["month"] for r in rows}
    classes = sorted({r[key] for r in rows}, key=lambda c: (c is None, c or ""))
    have = {(r["month"], r[key]): r["n"] for r in rows}
    out = []
    if months is not None:
        for month, status in months.items():
            for c in classes:
                n = None if status == "none" else have.get((month, c), 0)
                out.append({"month": month, key: c, "n": n, "partial": status == "partial"})
        return out
    for month in _month_range(min(covered), max(covered)):
        for c in classes:
            n = have.get((month, c), 0 if month in covered else None)
            out.append({"month": month, key: c, "n": n})
    return out


def month_bands(months: dict[str, str], status: str) -> list[dict]:
    """Runs of months with `status` (month_coverage) as bands [{"from": first day, "to": last day}]."""
    out: list[dict] = []
    for month, s in months.items():
        if s != status:
            continue
        if out and out[-1]["next"] == month:
            out[-1].update(to=_month_end(month), next=_next_month(month))
        else:
            out.append({"from": month + "-01", "to": _month_end(month), "next": _next_month(month)})
    return [{"from": b["from"], "to": b["to"]} for b in out]


def trend(rows: list[dict], t: T, title: str, partial: list[dict] | None = None,
          months: dict[str, str] | None = None) -> Spec:
    """Monthly counted events by method class: line per class, told apart by colour AND dash AND point shape.

    Months without any data are gaps in the lines, not zeros. `partial` (analysis.overview.partial_months) shades the
    runs of months that only a few AORs' records cover, labelled with those AORs, so a national line that is one
    office's production there is not read as a national count. `months` (month_coverage of the place): months no
    record covers are gaps under a grey 'no records' band, partly covered months a lighter band and a note in
    the tooltip, so a few days are not read as a whole month."""
    data = _labelled(fill_months(rows, "method_class", months), "method_class", t, "class")
    if months is not None:
        for r in data:
            r["coverage"] = t("chart.partial_month") if r.pop("partial") else ""
    present = [r["method_class"] or "unclassified" for r in rows]
    enc_class = {"field": "label", "type": "nominal", "title": t("chart.method_class"),
                 "scale": _scale(t, "class", present)}
    dash = {"field": "label", "type": "nominal", "title": t("chart.method_class"),
            "scale": {"domain": enc_class["scale"]["domain"]}}
    spec = _base(title, t("chart.trend_desc"))
    spec.update({
        "height": 260,
        "data": {"values": data},
        "mark": {"type": "line", "point": True, "strokeWidth": 2, "invalid": "break-paths-filter-domains"},
        "encoding": {
            "x": {"field": "month", "type": "temporal", "timeUnit": "utcyearmonth", "title": t("chart.month")},
            "y": {"field": "n", "type": "quantitative", "title": t("chart.events")},
            "color": enc_class,
            "strokeDash": dash,
            "shape": dash,
            "tooltip": [{"field": "month", "type": "temporal", "timeUnit": "utcyearmonth", "title": t("chart.month")},
                        {"field": "label", "title": t("chart.method_class")},
                        {"field": "n", "type": "quantitative", "title": t("chart.events"), "format": ","}],
        },
    })
    if partial:
        bands = [{"from": p["from"] + "-01", "to": _month_end(p["to"]),
                  "label": t("chart.partial_coverage", aors=", ".join(p["aors"]) or "–")} for p in partial]
        band = {"data": {"values": bands}, "mark": {"type": "rect", "opacity": 0.12, "color": "#6b6b6b"},
                "encoding": {"x": {"field": "from", "type": "temporal"}, "x2": {"field": "to"},
                             "tooltip": [{"field": "label", "title": t("chart.coverage")}]}}
        wide = [b for b, p in zip(bands, partial, strict=True) if _months_between(p["from"], p["to"]) >= 6]
        label = {"data": {"values": wide}, "mark": {"type": "text", "align": "left", "baseline": "top", "dx": 3,
                                                     "dy": 3, "fontSize": 10, "y": 0, "color": "#444"},
                 "encoding": {"x": {"field": "from", "type": "temporal"}, "text": {"field": "label"}}}
        line = {k: spec.pop(k) for k in ("data", "mark", "encoding")}
        spec["layer"] = [band, label, line] if wide else [band, line]  # narrow bands: tooltip only
        spec["description"] = t("chart.trend_desc") + " " + t("chart.partial_desc")
    if months is not None:
        _coverage_layers(spec, months, t)
    return spec


def _coverage_layers(spec: Spec, months: dict[str, str], t: T) -> None:
    """Months without records as a grey band (chart.no_records, as on the sweep's daily chart), partly covered
    months as a lighter band and a note in the tooltip: layers under the trend's line."""
    enc = spec["encoding"] if "encoding" in spec else spec["layer"][-1]["encoding"]
    enc["tooltip"].append({"field": "coverage", "title": t("chart.coverage")})
    bands = []
    for status, colour, opacity, key in (("none", "#bbbbbb", 0.35, "chart.no_records"),
                                         ("partial", "#dddddd", 0.3, "chart.partial_month")):
        values = [{**b, "label": t(key)} for b in month_bands(months, status)]
        if values:
            bands.append({"data": {"values": values}, "mark": {"type": "rect", "color": colour, "opacity": opacity},
                          "encoding": {"x": {"field": "from", "type": "temporal"}, "x2": {"field": "to"},
                                       "tooltip": [{"field": "label", "title": t("chart.coverage")}]}})
    if not bands:
        return
    if "layer" not in spec:
        spec["layer"] = [{k: spec.pop(k) for k in ("data", "mark", "encoding")}]
    spec["layer"] = bands + spec["layer"]
    spec["description"] = spec["description"] + " " + t("chart.no_records")


def ranked_bars(rows: list[dict], t: T, title: str, field: str, field_title: str) -> Spec:
    """Horizontal bars ranked by count, each labelled with its value (not colour-coded)."""
    spec = _base(title, t("chart.bars_desc"))
    enc_y = {"field": field, "type": "nominal", "sort": "-x", "title": field_title}
    spec.update({
        "height": {"step": 16},
        "data": {"values": rows},
        "layer": [
            {"mark": {"type": "bar", "color": "#4c6a92"},
             "encoding": {"y": enc_y, "x": {"field": "n", "type": "quantitative", "title": t("chart.events")},
                          "tooltip": [{"field": field, "title": field_title},
                                      {"field": "n", "type": "quantitative", "format": ",", "title": t("chart.events")}]}},
            {"mark": {"type": "text", "align": "left", "dx": 3, "fontSize": 10},
             "encoding": {"y": enc_y, "x": {"field": "n", "type": "quantitative"},
                          "text": {"field": "n", "type": "quantitative", "format": ","}}},
        ],
    })
    return spec


def grouped_bars(rows: list[dict], t: T, title: str, x: str, x_title: str, group: str, prefix: str) -> Spec:
    """Bars per `x`, one per `group` value side by side, labelled on hover and in the table below."""
    data = _labelled(rows, group, t, prefix)
    spec = _base(title, t("chart.bars_desc"))
    spec.update({
        "height": 220,
        "data": {"values": data},
        "mark": {"type": "bar", "stroke": "#222", "strokeWidth": 0.5},
        "encoding": {
            "x": {"field": x, "type": "ordinal", "title": x_title, "axis": {"labelAngle": 0}},
            "xOffset": {"field": "label", "sort": _scale(t, prefix, [r[group] or ("unclassified" if prefix == "class" else "unknown") for r in rows])["domain"]},
            "y": {"field": "n", "type": "quantitative", "title": t("chart.events")},
            "color": {"field": "label", "type": "nominal", "title": t(f"chart.{group}"),
                      "scale": _scale(t, prefix, [r[group] or ("unclassified" if prefix == "class" else "unknown")
                                                  for r in rows])},
            "tooltip": [{"field": x, "title": x_title}, {"field": "label", "title": t(f"chart.{group}")},
                        {"field": "n", "type": "quantitative", "format": ",", "title": t("chart.events")}],
        },
    })
    return spec


def choropleth(rows: list[dict], t: T, title: str, topo_url: str, value: str, value_title: str,
               extra: list[tuple[str, str]], legend_format: str = ",.0f", bands: list[str] | None = None) -> Spec:
    """Counties from the TopoJSON (pre-projected Albers, so an identity projection), shaded by `value`.

    Counties without a value are drawn in light grey; the tooltip gives the number itself. With `bands` (labels
    of classes, in order, each row carrying its label in "band"), colour follows the class instead of the value.
    """
    fields = [value] + [f for f, _ in extra] + (["band"] if bands else [])
    if bands:
        color = {"field": "band", "type": "ordinal", "title": value_title,
                 "scale": {"domain": bands, "scheme": {"name": "blues", "count": len(bands) + 1}},
                 "legend": {"symbolType": "square", "titleLimit": 320}}
    else:
        color = {"field": value, "type": "quantitative", "title": value_title,
                 "scale": {"scheme": "blues", "type": "quantize", "nice": True},
                 "legend": {"format": legend_format, "titleLimit": 320}}
    spec = _base(title, t("chart.map_desc"))
    spec.update({
        "width": "container",
        "height": 420,
        "data": {"url": topo_url, "format": {"type": "topojson", "feature": "counties"}},
        "projection": {"type": "identity", "reflectY": False},
        "layer": [
            {"mark": {"type": "geoshape", "fill": "#e8e8e8", "stroke": "#ffffff", "strokeWidth": 0.2}},
            {"transform": [{"lookup": "id", "from": {"data": {"values": rows}, "key": "county_fips", "fields": fields}},
                           {"filter": f"isValid(datum['{value}'])"}],
             "mark": {"type": "geoshape", "stroke": "#ffffff", "strokeWidth": 0.2},
             "encoding": {
                 "color": color,
                 "tooltip": [{"field": "properties.name", "title": t("chart.county")},
                             {"field": "id", "title": "FIPS"},
                             {"field": value, "type": "quantitative", "title": value_title, "format": ","}]
                 + [{"field": f, "title": ft} for f, ft in extra],
             }},
        ],
    })
    return spec


def quantile_bands(rows: list[dict], field: str, k: int = 5, fmt: str = "{:,.1f}") -> list[str]:
    """Give each row a "band" label (k classes with about equal numbers of rows); returns the labels in order."""
    values = sorted(r[field] for r in rows if r[field] is not None)
    if not values:
        return []
    cuts = sorted({values[min(len(values) - 1, (i * len(values)) // k)] for i in range(1, k)})
    edges = [values[0], *cuts, values[-1]]
    labels = []
    for i in range(len(edges) - 1):
        label = f"{fmt.format(edges[i])} – {fmt.format(edges[i + 1])}"
        labels.append(label)
    for r in rows:  # a label per class: len(cuts) + 1 of them
        v = r[field]
        if v is not None:
            r["band"] = labels[bisect_right(cuts, v)]  # the cuts at or below v (cuts are sorted)
    return labels


POLICY_GROUPS = {"state_law": "#6b6b6b", "287g": "#8a5a2f", "federal_list": "#4b7f52"}


def policy_group(kind: str) -> str:
    """state_law / 287g / federal_list from a policies.kind value."""
    if kind.startswith("287g"):
        return "287g"
    if kind.startswith("federal_list"):
        return "federal_list"
    return "state_law"


def trend_with_policies(rows: list[dict], policies: list[dict], t: T, title: str,
                        coverage: dict[str, str] | None = None) -> Spec:
    """The monthly trend with the place's policy timeline on the same time axis (layered rect and rule marks).

    Each policy in force during the trend's months is a shaded band from its start (or the first month) to its
    end (or the last month); each start inside the months is a dashed rule with a short text label, so the kind
    reads without colour. Policies wholly outside the months are left to the table under the chart. `coverage`:
    month_coverage of the place and period (trend's `months`)."""
    line = trend(rows, t, title, months=coverage)
    months = sorted(coverage) if coverage else sorted({r["month"] for r in rows})
    if not months:
        return line
    x0, x1 = months[0] + "-01", _month_end(months[-1])
    marks = []
    for p in policies:
        start = str(p["start"]) if p.get("start") else None
        end = str(p["end"]) if p.get("end") else None
        if start is None or start > x1 or (end is not None and end < x0):
            continue
        group = policy_group(p["kind"])
        marks.append({"from": max(start, x0), "to": min(end, x1) if end else x1, "start": start,
                      "end": end or t("place.policy_open"), "starts_inside": start >= x0,
                      "label": t(f"policy.{group}"), "kind": p["kind"], "jurisdiction": p.get("jurisdiction") or "",
                      "citation": p.get("citation") or "", "group": group})
    if not marks:
        return line
    tip = [{"field": "label", "title": t("place.policy_kind")}, {"field": "kind", "title": t("place.policy_code")},
           {"field": "jurisdiction", "title": t("place.policy_jurisdiction")},
           {"field": "start", "title": t("place.policy_start")}, {"field": "end", "title": t("place.policy_end")},
           {"field": "citation", "title": t("place.policy_citation")}]
    states = [m for m in marks if m["group"] == "state_law"]
    starts = [m for m in marks if m["starts_inside"]][:25]
    layers: list[Spec] = []
    if states:
        layers.append({"data": {"values": states}, "mark": {"type": "rect", "opacity": 0.12, "color": "#6b6b6b"},
                       "encoding": {"x": {"field": "from", "type": "temporal"}, "x2": {"field": "to"},
                                    "tooltip": tip}})
    if starts:
        for group, colour in POLICY_GROUPS.items():  # one layer per group: fixed colours, no shared colour scale
            values = [m for m in starts if m["group"] == group]
            if values:
                layers.append({"data": {"values": values},
                               "mark": {"type": "rule", "strokeDash": [4, 3], "strokeWidth": 1.5, "color": colour},
                               "encoding": {"x": {"field": "start", "type": "temporal"}, "tooltip": tip}})
        layers.append({"data": {"values": starts},
                       "mark": {"type": "text", "angle": 270, "align": "right", "baseline": "bottom", "dx": -4,
                                "dy": -2, "fontSize": 10, "y": 0},
                       "encoding": {"x": {"field": "start", "type": "temporal"}, "text": {"field": "label"},
                                    "tooltip": tip}})
    trend_layers = line.pop("layer") if "layer" in line else [{k: line.pop(k) for k in ("data", "mark", "encoding")}]
    line["layer"] = layers + trend_layers
    line["description"] = t("chart.trend_policy_desc") + (" " + t("chart.no_records") if coverage else "")
    return line


def _months_between(first: str, last: str) -> int:
    """Months from 'YYYY-MM' to 'YYYY-MM', both included."""
    return (int(last[:4]) - int(first[:4])) * 12 + int(last[5:7]) - int(first[5:7]) + 1


def _next_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:7])
    return f"{y + 1:04d}-01" if m == 12 else f"{y:04d}-{m + 1:02d}"


def _month_end(month: str) -> str:
    return (dt.date.fromisoformat(_next_month(month) + "-01") - dt.timedelta(days=1)).isoformat()


def peer_bars(rows: list[dict], t: T, title: str, current_label: str) -> Spec:
    """Rate per 10,000 non-citizens for peer places, ranked; the place itself is marked by a darker bar, a
    bold label and an arrow in its name (not by colour alone)."""
    data = [{**r, "name": (("▶ " + r["label"]) if r["current"] else r["label"]),
             "which": current_label if r["current"] else t("place.peer_other")} for r in rows]
    spec = _base(title, t("chart.peer_desc"))
    enc_y = {"field": "name", "type": "nominal", "sort": "-x", "title": None}
    spec.update({
        "height": {"step": 16},
        "data": {"values": data},
        "layer": [
            {"mark": {"type": "bar"},
             "encoding": {"y": enc_y, "x": {"field": "rate", "type": "quantitative", "title": t("chart.rate")},
                          "color": {"field": "which", "type": "nominal", "title": None,
                                    "scale": {"domain": [current_label, t("place.peer_other")],
                                              "range": ["#b34700", "#9db4cf"]}},
                          "tooltip": [{"field": "label", "title": t("place.peer")},
                                      {"field": "n", "type": "quantitative", "format": ",", "title": t("chart.events")},
                                      {"field": "noncitizen_pop", "type": "quantitative", "format": ",.0f",
                                       "title": t("chart.noncitizens")},
                                      {"field": "rate", "type": "quantitative", "format": ",.2f",
                                       "title": t("chart.rate")}]}},
            {"mark": {"type": "text", "align": "left", "dx": 3, "fontSize": 10},
             "encoding": {"y": enc_y, "x": {"field": "rate", "type": "quantitative"},
                          "text": {"field": "rate", "type": "quantitative", "format": ",.1f"}}},
        ],
    })
    return spec
