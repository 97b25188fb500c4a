"""A period that ends before it starts: one check (query.filters.check_order) for every API and page handler, its
error in the request's language (English and Spanish), and no handler with a copy of its own."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from icemonitor.query.filters import ParamError, check_order

WEB = Path(__file__).resolve().parents[1] / "src" / "icemonitor" / "web"
ENGLISH, SPANISH = "must not be before &#39;from&#39;", "no puede ser anterior a &#39;from&#39;"
REVERSED = "from=2019-01-01&to=2018-01-01"
API = ["/api/v1/sweeps", "/api/v1/priorities", "/api/v1/targeting", "/api/v1/place/LOS"]
PAGES = ["/targeting", "/sweeps"]


def test_check_order():
    check_order(dt.date(2018, 1, 1), dt.date(2018, 1, 1))
    check_order(None, dt.date(2018, 1, 1))
    check_order(dt.date(2018, 1, 2), None)
    with pytest.raises(ParamError) as err:
        check_order(dt.date(2018, 1, 2), dt.date(2018, 1, 1))
    assert err.value.param == "to" and err.value.value == "2018-01-01"
    assert str(err.value.message) == "must not be before 'from'"
    assert err.value.message.render("es") == "no puede ser anterior a 'from'"


def test_no_handler_writes_the_check_itself():
    copies = [f"{p.name}:{i}" for p in sorted(WEB.rglob("*.py"))
              for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
              if re.search(r"must not be before", line)]
    assert not copies, f"use query.filters.check_order: {copies}"


@pytest.mark.parametrize("path", API)
def test_the_api_says_it_in_the_request_language(warehouse_client, path):
    for lang, text in (("en", "must not be before 'from'"), ("es", "no puede ser anterior a 'from'")):
        r = warehouse_client.get(f"{path}?{REVERSED}&lang={lang}")
        assert r.status_code == 422, r.text
        assert r.json()["detail"] == [{"loc": ["query", "to"], "msg": text, "type": "value_error",
                                       "input": "2018-01-01"}]
    r = warehouse_client.get(f"{path}?{REVERSED}", headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert r.json()["detail"][0]["msg"] == "no puede ser anterior a 'from'"


@pytest.mark.parametrize("path", PAGES)
def test_the_pages_say_it_in_the_page_language(warehouse_client, path):
    en = warehouse_client.get(f"{path}?lang=en&{REVERSED}")
    es = warehouse_client.get(f"{path}?lang=es&{REVERSED}")
    assert en.status_code == es.status_code == 422
    assert ENGLISH in en.text and SPANISH not in en.text
    assert SPANISH in es.text and ENGLISH not in es.text
