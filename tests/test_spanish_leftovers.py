"""Text a person reads that last session left in English only, now in the language asked for: the API's
place-status explanations (`lang`), the `history` and `watch list` tables and the scheduler's lines (`--lang`)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import web_warehouse as ww
from icemonitor.places.sanctuary import definitions, status
from icemonitor.web.app import create_app

ROW = {"event_date": "2017-01-05", "aor": "LOS", "counted": True, "release_id": "r1", "method_class": "at_large"}


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    if not (ww.SHARED_DATA / "sanctuary").is_dir():
        pytest.skip("../shared/data not present")
    path = ww.tiny(tmp_path_factory.mktemp("status") / "w.duckdb", [ROW])
    return TestClient(create_app(path, ref=lambda p: ww.SHARED_DATA / p))


def test_place_status_api_explains_in_the_requested_language(api):
    params = {"place": "06037", "date": "2018-02-01"}
    en = api.get("/api/v1/places/status", params=params).json()
    es = api.get("/api/v1/places/status", params={**params, "lang": "es"}).json()
    expected = status("06037", "2018-02-01", None, lambda p: ww.SHARED_DATA / p)
    n = sum(e.role == "in_force" for e in expected.events)
    assert en["answer"] == es["answer"] == "yes" and en["events"] == es["events"] and n >= 1
    assert en["reason"] == f"{n} counting event(s) in force on Feb 1, 2018"
    assert es["reason"] == f"{n} evento(s) que cuentan vigente(s) el 1 feb 2018"
    assert es["definition_text"].startswith("Ese día estaba vigente en el estado del lugar una ley estatal")
    assert es["definition_text"] == expected.definition_text.render("es")
    assert es["caveats"] == [c.render("es") for c in expected.caveats] != en["caveats"]
    assert any(c.startswith("Las filas no verificadas nunca dan 'yes'") for c in es["caveats"])
    defs = definitions()
    assert es["definitions_available"] == {k: d.description.render("es") for k, d in defs.items()}
    assert es["definitions_available"]["dhs-2025"].endswith("publicada el 29 may 2025 (EO 14287).")
    assert en["definitions_available"]["dhs-2025"].endswith("published May 29, 2025 (EO 14287).")
    assert api.get("/api/v1/places/status", params={**params, "lang": "fr"}).status_code == 422
