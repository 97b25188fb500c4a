"""One question, one number (issue #11): the figures of 20 questions (places of every kind x periods x measures),
recorded once on the warehouse built from ../shared/data, and the same figures from the CLI's JSON, the API, the
place pages and the report. `None` means no records (never 0)."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from typer.testing import CliRunner

SHARED = __import__("conftest").SHARED_DATA


def ref(p: str):
    return SHARED / p


# (place, from, to, measure) -> counted arrests, as recorded (placement 'event'); the pandas cross-checks of some
# of them are in test_analysis_summary.py, test_coverage.py and test_analysis_claims.py
QUESTIONS = {
    ("LOS", "2017-09-24", "2017-09-27", None): 260,
    ("LOS", "2017-09-24", "2017-09-27", "at_large"): 141,
    ("CHI", "2017-09-24", "2017-09-27", "at_large"): 67,
    ("SEA", "2016-10-01", "2017-09-30", None): 3376,
    ("US", "2017-09-01", "2017-09-30", None): 13045,
    ("US", "2018-10-01", "2019-09-30", None): 131904,  # partial: the records stop on 1 Sep 2019
    ("US", "2026-01-01", "2026-01-31", None): None,  # past the records
    ("LOS", "2025-06-01", "2025-06-26", None): 705,  # partial: 1-10 June only
    ("06037", "2017-09-24", "2017-09-27", None): 95,
    ("06037", "2017-09-24", "2017-09-27", "at_large"): 61,
    ("Los Angeles County, CA", "2025-06-01", "2025-06-10", None): 227,
    ("06037", "2026-11-01", "2026-11-30", None): None,  # past the records
    ("17031", "2017-09-24", "2017-09-27", None): 0,  # Cook County: all 34 are office placements
    ("48201", "2016-10-01", "2017-09-30", None): 5488,  # Harris County, with office placements apart
    ("CA", "2017-09-24", "2017-09-27", None): 389,
    ("TX", "2017-10-01", "2018-09-30", None): 36096,
    ("WA", "2018-01-01", "2018-01-31", "at_large"): 28,
    ("NY", "2018-06-01", "2018-06-30", "custodial"): 199,
    ("Southern California", "2017-09-24", "2017-09-27", "at_large"): 160,
    ("NC", "2025-06-01", "2025-06-30", None): 429,  # the one-state release covers its state
}
# (place, from, to) -> the lower bound where only releases of some people have records (status `subset`, no total):
# the Washington join holds only people later detained in Washington; a pandas count is in test_coverage.py
LOWER_BOUNDS = {
    ("SEA", "2024-01-01", "2024-12-31"): 33,
    ("SEA", "2024-06-01", "2024-06-30"): 4,
}
PAGE_CODES = {"Los Angeles County, CA": "06037"}  # place pages are addressed by code
SEPT_2017_LOS_SWEEP = ("2017-09-24", "2017-09-26", 111, 30.1)  # start, end, observed, expected (at-large)


@pytest.fixture(scope="module")
def cli(warehouse_path):
    from icemonitor.cli import app

    def run(*args: str) -> dict:
        out = CliRunner(env={"ICEMONITOR_HOME": str(warehouse_path.parent)}).invoke(app, [*args, "--json"])
        assert out.exit_code == 0, out.output
        return json.loads(out.stdout)

    return run


@pytest.mark.parametrize("question", list(QUESTIONS), ids=lambda q: "-".join(str(x) for x in q if x))
def test_cli_gives_the_recorded_figure(cli, question):
    place, d0, d1, measure = question
    args = ["summary", "--place", place, "--from", d0, "--to", d1]
    if measure:
        args += ["--method-class", measure]
    body = cli(*args)
    assert body["extra"]["total_events"] == QUESTIONS[question]
    assert (body["coverage"]["status"] == "none") == (QUESTIONS[question] is None)


@pytest.mark.parametrize("question", list(QUESTIONS), ids=lambda q: "-".join(str(x) for x in q if x))
def test_api_summary_gives_the_same_figure(warehouse_client, question):
    place, d0, d1, measure = question
    common = {"from": d0, "to": d1, **({"method_class": measure} if measure else {})}
    body = warehouse_client.get("/api/v1/summary", params={**common, "place": place}).json()
    assert body["total"] == QUESTIONS[question]
    assert (body["coverage"]["status"] == "none") == (QUESTIONS[question] is None)
    if place in ("US", "LOS", "CHI", "SEA"):  # the dashboard's own query for an AOR or the nation
        params = {**common, **({"aor": place} if place != "US" else {})}
        assert warehouse_client.get("/api/v1/summary", params=params).json()["total"] == QUESTIONS[question]


@pytest.mark.parametrize("question", list(LOWER_BOUNDS), ids=lambda q: "-".join(q))
def test_a_subset_gives_no_total_and_the_same_lower_bound_everywhere(cli, warehouse_client, warehouse_con, question):
    """CLI JSON, API (place and AOR forms), place page (EN/ES) and report (EN/ES): no total, the same lower bound."""
    from icemonitor.present.facts import build_facts
    from icemonitor.present.report import render

    place, d0, d1 = question
    n = LOWER_BOUNDS[question]
    body = cli("summary", "--place", place, "--from", d0, "--to", d1)
    assert body["extra"]["total_events"] is None and body["figures"] == []
    assert body["coverage"]["status"] == "subset" and body["coverage"]["lower_bound"] == n
    assert f"not countable; {n} is a lower bound (only people later detained in Washington)" in \
        body["coverage"]["reason"]
    for params in ({"place": place}, {"aor": place}):
        api = warehouse_client.get("/api/v1/summary", params={"from": d0, "to": d1, **params}).json()
        assert api["total"] is None and api["coverage"]["lower_bound"] == n, params
    en = warehouse_client.get(f"/place/{place}", params={"from": d0, "to": d1, "lang": "en"}).text
    assert f"so {n} arrests is a lower bound, not a count" in en and "only people later detained in Washington" in en
    assert "No records for these dates" not in en
    es = warehouse_client.get(f"/place/{place}", params={"from": d0, "to": d1, "lang": "es"}).text
    assert f"así que {n} arrestos es un mínimo" in es and "solo personas detenidas después en Washington" in es
    rf = build_facts(warehouse_con, place, d0, d1, ref) if (dt.date.fromisoformat(d1) -
                                                          dt.date.fromisoformat(d0)).days <= 92 else None
    if rf is not None:
        assert "total" not in rf.facts and rf.facts["lower_bound"].value == n
        assert "only people later detained in Washington), so " in render(rf, "en", "md", with_charts=False).text
        assert "solo personas detenidas después en Washington), así que " in render(rf, "es", "md",
                                                                                   with_charts=False).text


def _trend_rows(html: str) -> list[tuple[str, str, int]]:
    block = html.split('id="fig-trend"', 1)[1].split("</figure>", 1)[0]
    rows = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td>([\d,]+)</td></tr>", block)
    return [(m, c, int(n.replace(",", ""))) for m, c, n in rows]


@pytest.mark.parametrize("question", [q for q in QUESTIONS if q[0] not in ("US", "Southern California")],
                         ids=lambda q: "-".join(str(x) for x in q if x))
def test_place_page_gives_the_same_figure(warehouse_client, question):
    place, d0, d1, measure = question
    html = warehouse_client.get(f"/place/{PAGE_CODES.get(place, place)}",
                                params={"from": d0, "to": d1, "lang": "en"}).text
    expected = QUESTIONS[question]
    if expected is None:
        assert "No records for these dates" in html
        return
    label = {"at_large": "At large", "custodial": "Custodial"}.get(measure)
    rows = [r for r in _trend_rows(html) if label is None or r[1] == label]
    assert sum(n for _, _, n in rows) == expected


@pytest.mark.parametrize("question", [q for q in QUESTIONS if q[0] != "US" and
                                      (dt.date.fromisoformat(q[2]) - dt.date.fromisoformat(q[1])).days <= 92],
                         ids=lambda q: "-".join(str(x) for x in q if x))
def test_report_gives_the_same_figure(warehouse_con, question):
    from icemonitor.present.facts import build_facts

    place, d0, d1, measure = question
    rf = build_facts(warehouse_con, place, d0, d1, ref)
    expected = QUESTIONS[question]
    if expected is None:
        assert rf.coverage["status"] == "none" and "total" not in rf.facts
        return
    assert rf.facts[measure or "total"].value == expected


def test_september_2017_los_sweep_is_one_size_everywhere(cli, warehouse_client, warehouse_con):
    """Observed and expected of the 24-26 Sep 2017 LOS sweep in the CLI, the API, the LOS page and a report,
    whatever period each asks for."""
    start, end, observed, expected = SEPT_2017_LOS_SWEEP

    def pick(figures):
        return [(f["observed"], f["expected"]) for f in figures
                if str(f["start"]) == start and str(f["end"]) == end and f["place"] == "LOS"]

    assert pick(cli("sweeps", "--place", "LOS")["figures"]) == [(observed, expected)]
    assert pick(cli("sweeps", "--place", "LOS", "--from", "2017-09-01", "--to", "2017-09-30")["figures"]) == [
        (observed, expected)]
    api = warehouse_client.get("/api/v1/sweeps",
                               params={"place": "LOS", "from": "2017-09-20", "to": "2017-09-30"}).json()
    assert pick(api["figures"]) == [(observed, expected)]
    html = warehouse_client.get("/place/LOS", params={"lang": "en"}).text
    m = re.search(rf'href="/sweep/LOS/{start}/{end}[^"]*">[^<]*</a></td>\s*<td>([\d,]+)</td><td>([\d,.]+)</td>', html)
    assert m and (int(m.group(1).replace(",", "")), float(m.group(2).replace(",", ""))) == (observed, expected)
    from icemonitor.present.facts import build_facts

    rf = build_facts(warehouse_con, "LOS", "2017-09-01", "2017-09-30", ref)
    rows = [(rf.facts[f"{s.key}_observed"].value, rf.facts[f"{s.key}_expected"].value) for s in rf.sweeps
            if str(rf.facts[f"{s.key}_start"].value) == start]
    assert rows == [(observed, expected)]


COUNTY_QUESTIONS = [q for q in QUESTIONS if q[0] in ("06037", "48201") and q[3] is None and QUESTIONS[q] is not None]


@pytest.mark.parametrize("question", COUNTY_QUESTIONS, ids=lambda q: "-".join(str(x) for x in q if x))
def test_dashboard_figures_come_from_the_same_selection(warehouse_con, warehouse_client, question):
    """The overview map's county rate numerator, the county page's 'resolved' note and the intake context's sweep
    search select arrests through query.Selection: the same count as the CLI for the county and period."""
    from icemonitor.analysis.overview import county_rates
    from icemonitor.query.filters import Filters

    place, d0, d1, _ = question
    expected = QUESTIONS[question]
    rates = county_rates(warehouse_con, Filters("arrests", dt.date.fromisoformat(d0), dt.date.fromisoformat(d1)))
    assert {r["county_fips"]: r["n"] for r in rates.figures}[place] == expected
    html = warehouse_client.get(f"/place/{place}", params={"from": d0, "to": d1, "lang": "en"}).text
    note = html.split('id="resolution-note">', 1)[1].split("</p>", 1)[0]
    assert f"count the {expected:,} counted arrests resolved to it" in note


@pytest.mark.parametrize("question", [q for q in QUESTIONS if QUESTIONS[q] is not None and q[3] in (None, "at_large")
                                      and q[0] in ("US", "LOS", "06037", "CA", "Southern California")],
                         ids=lambda q: "-".join(str(x) for x in q if x))
def test_a_watch_counts_what_summary_counts(warehouse_con, question):
    """A watch on the nation ('United States'), an AOR, a county, a state or a group selects the same arrests as
    `summary --place` (watch.places.WatchPlace.select: query.Selection)."""
    from icemonitor.watch.places import parse

    place, d0, d1, measure = question
    watched = parse("United States" if place == "US" else place, warehouse_con, ref)
    q = watched.select(warehouse_con, dt.date.fromisoformat(d0), dt.date.fromisoformat(d1), measure or "all")
    assert q.count(warehouse_con) == QUESTIONS[question]


def test_county_page_names_the_aor_a_sweep_was_measured_in(warehouse_client):
    """The Los Angeles County page lists the September 2017 sweep measured in the LOS AOR: the row names that
    AOR and says it contains the county (EN/ES), never a bare 'LOS'."""
    for lang, words in (("en", "Los Angeles field office (LOS), the AOR containing Los Angeles County, CA"),
                        ("es", "(LOS), la AOR que contiene el condado de Los Ángeles, CA")):
        html = warehouse_client.get("/place/06037", params={"from": "2017-09-01", "to": "2017-09-30",
                                                            "lang": lang}).text
        block = html.split('id="sweeps"', 1)[1].split("</table>", 1)[0]
        assert words in block and "<td>LOS</td>" not in block, lang
