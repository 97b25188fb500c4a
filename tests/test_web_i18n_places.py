"""Places on the pages in the page's language: Spanish headings name places in Spanish, the sweeps page asks which
place an ambiguous name means, and a region (a named group of counties) has a page of its own."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from icemonitor.web.app import create_app

SHARED = __import__("conftest").SHARED_DATA


@pytest.fixture(scope="module")
def client(request):
    if not (SHARED / "ice").is_dir():
        pytest.skip("../shared/data not present")
    return TestClient(create_app(request.getfixturevalue("warehouse_path"), ref=lambda p: SHARED / p))


def _text(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.unescape(re.sub(r"<script\b.*?</script>", "", page,
                                                                             flags=re.DOTALL))))


def _h1(page: str) -> str:
    return _text(re.search(r"<h1>(.*?)</h1>", page, flags=re.DOTALL).group(1)).strip()


def test_spanish_headings_name_places_in_spanish(client):
    es = client.get("/place/06037", params={"lang": "es"})
    assert es.status_code == 200
    assert _h1(es.text) == "condado de Los Ángeles, CA (condado 06037)"
    peers = _text(re.search(r'id="fig-peers".*?</figure>', es.text, flags=re.DOTALL).group(0))
    assert "condado de Los Ángeles (06037)" in peers and "Los Angeles County" not in peers
    assert "Los Angeles County" not in _text(re.search(r'<p class="answer" id="answer">.*?</p>', es.text).group(0))
    assert _h1(client.get("/place/06037", params={"lang": "en"}).text) == "Los Angeles County, CA (county 06037)"
    assert _h1(client.get("/place/LOS", params={"lang": "es"}).text) == "Área de responsabilidad de Los Ángeles (LOS)"
    assert _h1(client.get("/place/LA", params={"lang": "es"}).text) == "Luisiana (estado)"  # the code LA


def test_sweeps_page_asks_which_place_an_ambiguous_name_means(client):
    r = client.get("/sweeps", params={"place": "LA", "from": "2016-10-01", "to": "2017-09-30", "lang": "es"})
    assert r.status_code == 200
    text = _text(r.text)
    assert "«LA» puede referirse a más de un lugar" in text and "can mean several places" not in text
    links = [html.unescape(u) for u in re.findall(r'<ul class="choices" id="place-choices">(.*?)</ul>', r.text,
                                                   flags=re.DOTALL)[0].split('href="')[1:]]
    urls = [u.split('"')[0] for u in links]
    assert len(urls) == 3
    for u in urls:  # each choice re-runs the sweeps with the other filters kept
        assert u.startswith("/sweeps?") and "from=2016-10-01" in u and "lang=es" in u
    assert any(u.endswith("place=LOS") for u in urls)
    assert "Luisiana (estado)" in text and "condado de Los Ángeles, CA" in text
    chosen = client.get(next(u for u in urls if u.endswith("place=LOS")))
    assert chosen.status_code == 200 and 'id="place-choices"' not in chosen.text
    en = _text(client.get("/sweeps", params={"place": "LA", "lang": "en"}).text)
    assert "Louisiana (state)" in en and "Los Angeles County, CA" in en


def test_a_region_has_its_own_page(client):
    es = client.get("/place/Southern California", params={"lang": "es"})
    assert es.status_code == 200
    assert _h1(es.text) == "El sur de California (región)"
    members = re.search(r'<p id="region-members">(.*?)</p>', es.text, flags=re.DOTALL).group(1)
    assert "Una región de 9 condados" in _text(members)
    assert 'href="/place/LOS?lang=es"' in members and 'href="/place/06073?lang=es"' in members
    assert "condado de San Diego, CA" in _text(members)
    assert 'id="answer"' in es.text and "el sur de California" in _text(es.text)
    en = client.get("/place/Southern California", params={"lang": "en"})
    assert _h1(en.text) == "Southern California (region)"
    # the search and its suggestions lead to the region's page
    found = client.get("/place", params={"q": "SoCal"}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"].startswith("/place/Southern%20California")
