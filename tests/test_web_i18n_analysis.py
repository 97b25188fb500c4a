"""Spanish pages show the analyses' display text in Spanish: the analyses hand out messages (icemonitor.messages)
and the pages render them from the gettext catalog; English pages and the JSON API show the English.

The pages are rendered against the warehouse `icemonitor build` makes from ../shared/data (conftest); the messages
they should show come from the same analyses run directly on that warehouse.
"""

from __future__ import annotations

import html
import json
import re

import pytest
from fastapi.testclient import TestClient

from icemonitor.messages import Message
from icemonitor.web import i18n
from icemonitor.web.app import create_app

SHARED = __import__("conftest").SHARED_DATA


def ref(p):
    return SHARED / p


def test_markup_escapes_source_text():
    from icemonitor.messages import msg

    evil = "<script>alert(1)</script>"
    assert str(i18n.analysis_markup("es", evil)) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert str(i18n.analysis_markup("en", evil)) == "&lt;script&gt;alert(1)&lt;/script&gt;"
    op = str(i18n.analysis_markup("es", msg("known event: {name}", name=evil)))
    assert op == "evento conocido: &lt;script&gt;alert(1)&lt;/script&gt;"
    assert str(i18n.analysis_markup("es", msg("count of {table} rows where {sql}", table="arrests",
                                              sql='aor = "<b>"'))) == \
        "conteo de filas de arrests donde aor = &#34;&lt;b&gt;&#34;"
    assert i18n.analysis_text("es", None) == "" and i18n.analysis_text("es", 5) == "5"


# ---------------------------------------------------------------- pages against the built warehouse

@pytest.fixture(scope="module")
def client(request):
    if not (SHARED / "ice").is_dir():
        pytest.skip("../shared/data not present")
    try:
        path = request.getfixturevalue("warehouse_path")
    except Exception as exc:
        pytest.skip(f"the product warehouse could not be built here: {exc}")
    return TestClient(create_app(path, ref=lambda p: SHARED / p))


def _english_gone_spanish_shown(page: str, english: list[Message]) -> None:
    """Each analysis message's English is absent from the Spanish page's text and its full Spanish is present.
    (Chart data in <script type="application/json"> keeps the analysis rows as they are; only tooltips show.)"""
    text = html.unescape(re.sub(r"<script\b.*?</script>", "", page, flags=re.DOTALL))
    assert english
    for en in english:
        assert isinstance(en, Message), en
        es = en.render("es")
        assert es != en, f"no Spanish for {en!r}"
        assert es in text, es
        if len(en) > 25:  # short ones (e.g. 'sanctuary') also occur inside other words
            assert en not in text, en


@pytest.fixture(scope="module")
def con(warehouse_con):
    return warehouse_con


def _sweeps(con, **params):
    from icemonitor.analysis.sweeps import sweeps
    from icemonitor.analysis.validation import explain

    res = sweeps(con, date_from=params["from"], date_to=params["to"], measure="at_large", limit=int(params["limit"]),
                 ref=ref)
    for f in res.figures:
        f["known_as"] = explain(f)
    return res


def test_sweeps_page_in_spanish(client, con):
    from icemonitor.analysis.sweeps import SWEEP_DEFINITIONS

    params = {"from": "2016-10-01", "to": "2017-09-30", "limit": "10"}
    api = client.get("/api/v1/sweeps", params=params).json()
    assert api["definitions"]["sweep"] == SWEEP_DEFINITIONS["sweep"]  # the JSON API stays English
    res = _sweeps(con, **params)
    assert api["caveats"] == res.caveats and [f["known_as"] for f in api["figures"]] == \
        [f["known_as"] for f in res.figures]
    es = client.get("/sweeps", params={**params, "lang": "es"})
    assert es.status_code == 200 and '<html lang="es">' in es.text
    _english_gone_spanish_shown(es.text, list(res.definitions.values()) + res.caveats)
    assert "Una racha de 2 a 10 días consecutivos" in html.unescape(es.text)
    en = html.unescape(client.get("/sweeps", params={**params, "lang": "en"}).text)
    assert SWEEP_DEFINITIONS["sweep"] in en and api["caveats"][0] in en and "Una racha" not in en
    # what explains each sweep (announced operation, known event, holiday, data artefact)
    known = [f["known_as"] for f in res.figures if f.get("known_as")]
    assert any(k.startswith("announced operation: ") for k in known)
    _english_gone_spanish_shown(es.text, known)


def test_sweep_detail_page_in_spanish(client, con):
    params = {"from": "2016-10-01", "to": "2017-09-30", "limit": "10", "lang": "es"}
    listing = client.get("/sweeps", params=params).text
    link = html.unescape(re.search(r'href="(/sweep/[^"]+)"', listing).group(1))
    page = client.get(link + "&lang=es")
    assert page.status_code == 200
    res = _sweeps(con, **params)
    _english_gone_spanish_shown(page.text, list(res.definitions.values()) + res.caveats)
    for alias in re.findall(r"<li>(.*?)</li>", page.text):
        assert "(score " not in alias


def _targeting_messages(res) -> list[Message]:
    english = list(res.definitions.values()) + res.caveats + res.extra["plain_words"]
    english += [m["note"] for m in res.extra["models"] + res.extra["did"] if m.get("note")]
    return english + [m["method"] for m in res.extra["models"]]


def test_targeting_page_in_spanish(client, con):
    from icemonitor.analysis.targeting import DEFINITIONS, PLAIN_WORDS, targeting

    api = client.get("/api/v1/targeting").json()
    assert api["extra"]["plain_words"] == PLAIN_WORDS and api["definitions"]["arrests"] == DEFINITIONS["arrests"]
    page = client.get("/targeting", params={"lang": "es"})
    assert page.status_code == 200
    res = targeting(con)
    assert res.caveats == api["caveats"]
    _english_gone_spanish_shown(page.text, _targeting_messages(res))
    text = html.unescape(page.text)
    assert "Los arrestos son resultados, no intenciones" in text
    assert "Ese día estaba vigente en el estado del lugar una ley estatal" in text  # state-law, the default
    # figures inside the caveats survive translation unchanged
    left_out = next(c for c in res.caveats if c.startswith("Arrests without a place"))
    numbers = re.findall(r"\d[\d,]*", left_out)
    es_left_out = left_out.render("es")
    assert es_left_out in text and re.findall(r"\d[\d,]*", es_left_out) == numbers
    # group names in the rates table
    groups = [g["group"] for g in api["figures"]]
    assert "sanctuary" in groups and "<td>santuario</td>" in page.text and "<td>sanctuary</td>" not in page.text
    en_text = html.unescape(client.get("/targeting", params={"lang": "en"}).text)
    assert PLAIN_WORDS[0] in en_text
    if any(d["event"] == "all changes (pooled)" for d in api["extra"]["did"]):  # DiD labels
        shown = re.sub(r"<script\b.*?</script>", "", text, flags=re.DOTALL)  # chart data keeps the analysis rows
        assert re.search(r"todos los cambios \(agrupados\)\s+· Todos los arrestos", shown)
        assert "all changes (pooled)" not in shown and re.search(r"all changes \(pooled\)\s+· arrests", en_text)


def test_targeting_other_definition_in_spanish(client, con):
    from icemonitor.analysis.targeting import targeting

    page = client.get("/targeting", params={"definition": "no-287g", "period": "fy", "lang": "es"})
    assert page.status_code == 200
    _english_gone_spanish_shown(page.text, _targeting_messages(targeting(con, definition="no-287g", period="fy")))


CLAIMS = {"source": "test", "claims": [
    {"id": "la-fy2017", "text": "More than 8,000 ICE arrests in the Los Angeles AOR in FY2017", "metric": "count",
     "table": "arrests", "period": {"from": "2016-10-01", "to": "2017-09-30"}, "place": "LOS",
     "comparison": "more_than", "value": 8000},
    {"id": "la-county", "metric": "count", "table": "arrests", "period": {"from": "2016-10-01", "to": "2017-09-30"},
     "place": "06037", "comparison": "about", "value": 3000},
    {"id": "sea-convicted", "metric": "share", "table": "arrests", "period": {"from": "2016-10-01", "to": "2017-09-30"},
     "place": "SEA", "share_of": {"criminality": ["convicted"]}, "comparison": "at_least", "value": 0.99},
    {"id": "<script>alert(1)</script>", "text": "<script>alert(2)</script>", "metric": "count", "table": "arrests",
     "period": {"from": "2016-10-01", "to": "2017-09-30"}, "place": "US", "filters": {"operation": "Cross"},
     "comparison": "at_least", "value": 5},
]}


def test_check_page_in_spanish_and_escaped(client, con):
    from icemonitor.analysis.claims import COMPARISONS, check_parsed, parse_claims

    api = client.post("/api/v1/check", json=CLAIMS)
    assert api.status_code == 200, api.text
    reasons = [f["reason"] for f in api.json()["figures"]]
    assert reasons[0].startswith("holds: " + COMPARISONS["more_than"])  # the API stays English
    page = client.post("/check", params={"lang": "es"}, data={"claims": json.dumps(CLAIMS)})
    assert page.status_code == 200
    source, claims = parse_claims(json.dumps(CLAIMS), "claims.json")
    res = check_parsed(con, source, claims, ref, {})
    assert [f["reason"] for f in res.figures] == reasons
    english = [f["reason"] for f in res.figures] + list(res.definitions.values()) + res.caveats
    english += [f["definition"] for f in res.figures if f["definition"]]
    _english_gone_spanish_shown(page.text, english)
    text = html.unescape(page.text)
    assert "se cumple: los registros dan más que el valor afirmado" in text
    assert "Estados Unidos (todas las AOR)" in text and "United States (all AORs)" not in text
    assert "condado de Los Ángeles, CA" in text
    for en in COMPARISONS.values():
        assert en not in text
    # source text stays escaped
    assert "<script>alert(" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "&lt;script&gt;alert(2)&lt;/script&gt;" in page.text
    en_page = client.post("/check", params={"lang": "en"}, data={"claims": json.dumps(CLAIMS)})
    assert reasons[0] in html.unescape(en_page.text) and "<script>alert(" not in en_page.text


def test_place_and_overview_sweep_text_in_spanish(client):
    from icemonitor.analysis.sweeps import SWEEP_DEFINITIONS

    place = client.get("/place/LOS", params={"lang": "es"})
    assert place.status_code == 200
    text = html.unescape(place.text)
    if "Una racha de 2 a 10" in text or SWEEP_DEFINITIONS["sweep"] in text:  # the place has sweeps
        assert SWEEP_DEFINITIONS["sweep"] not in text and SWEEP_DEFINITIONS["sweep"].render("es") in text
    overview = html.unescape(client.get("/", params={"lang": "es"}).text)
    assert SWEEP_DEFINITIONS["sweep"] not in overview
