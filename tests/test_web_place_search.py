"""The place search on every page: words as people say them, suggestions, 'which one?' and how words were read."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from fastapi.testclient import TestClient

SHARED = __import__("conftest").SHARED_DATA


@pytest.fixture(scope="module")
def client(warehouse_path):
    from icemonitor.web.app import create_app

    return TestClient(create_app(warehouse_path, ref=lambda p: SHARED / p))


def choices(html: str) -> list[tuple[str, str]]:
    block = re.search(r'<ul class="choices" id="place-choices">(.*?)</ul>', html, re.S)
    found = re.findall(r'<a href="([^"]+)">([^<]+)</a>', block.group(1)) if block else []
    return [(url.replace("&amp;", "&"), html_lib.unescape(label)) for url, label in found]


def test_la_asks_which_one_in_both_languages(client):
    en = client.get("/place", params={"q": "LA", "lang": "en"})
    assert en.status_code == 200 and "“LA” can mean more than one place" in en.text
    assert [label for _, label in choices(en.text)] == [
        "Louisiana (state)", "Los Angeles County, CA", "ICE's Los Angeles field office (LOS)"]
    es = client.get("/place", params={"q": "LA", "lang": "es"})
    assert [label for _, label in choices(es.text)] == [
        "Luisiana (estado)", "condado de Los Ángeles, CA", "oficina de ICE de Los Ángeles (LOS)"]
    url = choices(es.text)[1][0]
    r = client.get(url, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/place/06037?lang=es"


def test_a_city_opens_its_county_saying_so(client):
    r = client.get("/place", params={"q": "Pomona, CA", "lang": "en"}, follow_redirects=False)
    assert r.headers["location"] == "/place/06037?asked=Pomona%2C+CA&lang=en"
    page = client.get(r.headers["location"]).text
    assert "Pomona, CA is a city in Los Angeles County, CA" in page
    es = client.get("/place", params={"q": "condado de Los Ángeles", "lang": "es"}).text
    assert "se leyó como: condado de Los Ángeles, CA" in es and 'href="/place/LOS?lang=es"' in es


def test_unknown_words_404_with_look_alikes_and_words_in_the_path_are_searched(client):
    r = client.get("/place", params={"q": "Fresnoo", "lang": "en"})
    assert r.status_code == 404 and "No place called “Fresnoo” is known" in r.text
    assert "Fresno County, CA" in r.text
    r = client.get("/place/Los Angeles County", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/place?q=Los+Angeles+County")
    assert client.get("/place/LA").status_code == 200  # a code in the path is literal: Louisiana's page


def test_search_box_with_suggestions_on_every_page(client):
    for path in ("/", "/sweeps", "/data", "/check", "/api/docs"):
        html = client.get(path, params={"lang": "es"}).text
        assert 'id="site-place-q"' in html and 'hx-get="/place-suggest"' in html and "Buscar un lugar" in html
    options = client.get("/place-suggest", params={"q": "san ber"}).text
    assert '<option value="San Bernardino County, CA">' in options


def test_an_empty_search_explains_how_to_name_a_place(client):
    r = client.get("/place", params={"q": "", "lang": "en"})
    assert r.status_code == 200 and "Type a place as you would say it" in r.text and "place-ambiguous" not in r.text
