"""The plain answer that opens the place, sweep and sanctuary pages: the same numbers as the analyses behind the
CLI (summary, sweeps, targeting), in English and Spanish, and 'no records' said as such."""

from __future__ import annotations

import html
import re

import duckdb
import pytest
from fastapi.testclient import TestClient

SHARED = __import__("conftest").SHARED_DATA


@pytest.fixture(scope="module")
def client(warehouse_path):
    from icemonitor.web.app import create_app

    return TestClient(create_app(warehouse_path, ref=lambda p: SHARED / p))


@pytest.fixture(scope="module")
def con(warehouse_path):
    c = duckdb.connect(str(warehouse_path), read_only=True)
    yield c
    c.close()


def answer(client: TestClient, url: str) -> str:
    r = client.get(url)
    assert r.status_code == 200, url
    m = re.search(r'<p class="answer" id="answer">(.*?)</p>', r.text, re.S)
    assert m, url
    return html.unescape(m.group(1))


def test_place_answer_has_the_summary_analysis_numbers(client, con):
    from icemonitor.analysis.common import reference_for
    from icemonitor.analysis.summary import summary

    res = summary(con, table="arrests", by=["method_class"], place="06037", ref=reference_for(con))
    total = sum(f["events"] for f in res.figures)
    at_large = next(f["events"] for f in res.figures if f["method_class"] == "at_large")
    en = answer(client, "/place/06037?lang=en")
    assert f"count {total:,} arrests in Los Angeles County, CA" in en and f"{at_large:,} of them" in en
    assert "could not be placed in any county" in en  # the coverage caveat of a county
    es = answer(client, "/place/06037?lang=es")
    assert f"cuentan {total:,} arrestos en el condado de Los Ángeles, CA" in es and "no se pudieron ubicar" in es


def test_no_records_is_not_zero(client):
    assert "no records, not zero arrests" in answer(client, "/place/06037?from=2030-01-01&to=2030-02-01&lang=en")
    assert "no que hubo cero arrestos" in answer(client, "/place/06037?from=2030-01-01&to=2030-02-01&lang=es")


def test_sweep_answer_has_the_sweeps_analysis_numbers(client, con):
    from icemonitor.analysis.common import reference_for
    from icemonitor.analysis.sweeps import sweeps
    from icemonitor.web.sweep_links import sweep_link

    res = sweeps(con, place=None, date_from="2015-10-01", date_to="2019-09-30", measure="at_large", limit=20,
                 ref=reference_for(con))
    top = next(f for f in res.figures if f["level"] == "aor")
    url = sweep_link(top, res.parameters, None)
    en = answer(client, url + "&lang=en")
    assert f"{top['observed']:,} arrests" in en and f"about {top['expected']:,.0f} would be usual" in en
    assert f"{top['ratio']:.1f} times as many" in en
    assert f"{top['observed']:,} arrestos" in answer(client, url + "&lang=es")


def test_sanctuary_answer_has_the_targeting_analysis_numbers(client, con):
    from icemonitor.analysis.targeting import targeting

    res = targeting(con)
    groups = {g["group"]: g for g in res.figures}
    model = next(m for m in res.extra["models"] if m["outcome"] == "arrests")
    en = answer(client, "/targeting?lang=en")
    assert f"{groups['sanctuary']['rate_per_10k']:.1f} people a year per 10,000" in en
    assert f"{groups['not sanctuary']['rate_per_10k']:.1f} in the" in en
    assert f"{model['ratio']:.2f} times" in en and f"{model['low']:.2f} to {model['high']:.2f}" in en
    word = "fewer" if model["high"] < 1 else "more" if model["low"] > 1 else "no clear difference"
    assert word in en
    es = answer(client, "/targeting?lang=es")
    assert "por cada 10,000 residentes no ciudadanos" in es and f"{model['ratio']:.2f} veces" in es
    page = client.get("/targeting?lang=es").text
    assert "Arrestos al año por cada 10,000 residentes no ciudadanos" in page and ">rate_per_10k<" not in page
