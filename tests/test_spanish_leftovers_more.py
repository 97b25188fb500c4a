"""More text left in English only (session 8), now in the language asked for: the analysis API's definitions,
caveats, coverage and notes (`lang`); the refresh messages and watch labels kept in the state database (said by
message id when shown); the `places counties` / `places population` titles, `releases`, the build's lines,
`detention discover` and the intake's staff commands (`--lang`, default ICEMONITOR_LANG)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from icemonitor.cli import app
from icemonitor.messages import Message, catalog

SPANISH = re.compile(r"[áéíóúñ¿¡]|\b(los|las|del|según|registros|ningún|ninguna)\b")


def _said(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, " ".join(re.sub("[\u2500-\u257f]", " ", result.output).split())


# ------------------------------------------------------------------ the API


def test_analysis_api_says_its_caveats_in_the_lang_parameter(warehouse_client):
    """/api/v1/priorities, /sweeps, /place/{place} and /detention/*: definitions, caveats and the coverage's reason
    in Spanish with lang=es (the figures unchanged); English without it; a language the catalogs lack is a 422."""
    for url in ("/api/v1/priorities?place=LOS", "/api/v1/sweeps?place=LOS&limit=3", "/api/v1/detention/trend",
                "/api/v1/detention/check?date=2025-06-01&people=50000"):
        en = warehouse_client.get(url).json()
        es = warehouse_client.get(url + "&lang=es").json()
        assert es["figures"] == en["figures"] and es["releases"] == en["releases"], url
        assert len(es["caveats"]) == len(en["caveats"]) >= 1, url
        assert es["caveats"] != en["caveats"] and all(SPANISH.search(c) for c in es["caveats"]), url
        assert es["definitions"].keys() == en["definitions"].keys(), url
        assert [k for k, v in en["definitions"].items() if es["definitions"][k] == v and v] == [], url
        if (en.get("coverage") or {}).get("reason"):
            assert es["coverage"]["reason"] != en["coverage"]["reason"], url
    priorities = warehouse_client.get("/api/v1/priorities?place=LOS&lang=es").json()
    assert priorities["coverage"]["reason"].startswith("los registros cubren el ")
    assert any(c.startswith("Parcial: los registros cubren el ") for c in priorities["caveats"])
    profile = warehouse_client.get("/api/v1/place/CA", params={"lang": "es"}).json()
    english = warehouse_client.get("/api/v1/place/CA").json()
    assert profile["criminality"]["caveats"] != english["criminality"]["caveats"]
    assert "La criminalidad no está registrada en uwchr-ice-enforce-fy16-19." in profile["criminality"]["caveats"]
    bad = warehouse_client.get("/api/v1/priorities", params={"place": "LOS", "lang": "fr"})
    assert bad.status_code == 422 and "lang" in bad.text
