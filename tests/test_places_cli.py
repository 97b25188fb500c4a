"""The `places` CLI group and the warehouse tables."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from icemonitor.places.cli import register
from icemonitor.places.tables import place_tables

from conftest import SHARED_DATA  # ../shared/data beside the repo
pytestmark = pytest.mark.skipif(not SHARED_DATA.exists(), reason="needs ../shared/data")


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    a = typer.Typer()

    @a.callback()
    def _root() -> None:
        """test root"""

    register(a)
    return a


def run(app, *args):
    return CliRunner().invoke(app, ["places", *args, "--data-root", str(SHARED_DATA)])


def test_status_json(app):
    r = run(app, "status", "CA", "--date", "2018-01-02", "--definition", "state-law", "--json")
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["answer"] == "yes" and data["definition"] == "state-law"
    assert any("SB 54" in e["citation"] for e in data["events"])
    r2 = run(app, "status", "CA", "--date", "2017-12-31", "--definition", "state-law", "--json")
    assert json.loads(r2.output)["answer"] == "no"


def test_status_text_in_the_chosen_language(app, monkeypatch):
    """`places status --lang es` (or ICEMONITOR_LANG=es) says its line, labels, reason, definition and caveats in
    Spanish, dates as dates; English stays as it was; the JSON is the same in both."""
    from icemonitor.places.sanctuary import definitions

    args = ("status", "CA", "--date", "2018-01-02", "--definition", "state-law")
    en = " ".join(run(app, *args, "--lang", "en").output.split())
    assert "California on Jan 2, 2018 under state-law: YES" in en
    assert "Reason: 1 counting event(s) in force on Jan 2, 2018" in en and "Caveat: " in en
    r = run(app, *args, "--lang", "es")
    assert r.exit_code == 0, r.output
    es = " ".join(r.output.split())
    d = definitions()["state-law"]
    assert "California el 2 ene 2018 según state-law: SÍ" in es
    assert "Motivo: 1 evento(s) que cuentan vigente(s) el 2 ene 2018" in es
    assert f"Definición: {' '.join(d.description.render('es').split())}" in es
    assert f"Advertencia: {' '.join(d.caveats[0].render('es').split())}" in es
    assert "Reason" not in es and "Jan 2" not in es and "Eventos de política en que se basa la respuesta" in es
    monkeypatch.setenv("ICEMONITOR_LANG", "es")
    assert "Motivo:" in run(app, *args).output
    assert json.loads(run(app, *args, "--json").output) == json.loads(run(app, *args, "--json", "--lang", "en").output)
    assert run(app, *args, "--lang", "fr").exit_code == 2


def test_status_bad_place(app):
    r = run(app, "status", "Narnia", "--date", "2018-01-02")
    assert r.exit_code == 2 and "unknown place" in r.output


def test_counties_by_aor_and_date(app):
    before = json.loads(run(app, "counties", "--aor", "SNA", "--date", "2019-01-01", "--json").output)["counties"]
    after = json.loads(run(app, "counties", "--aor", "SNA", "--date", "2024-01-01", "--json").output)["counties"]
    assert "48061" in {c["county_fips"] for c in before} and "48061" not in {c["county_fips"] for c in after}


def test_population_cli(app):
    r = run(app, "population", "--level", "aor", "--year", "2017", "--json")
    data = json.loads(r.output)
    los = next(x for x in data["rows"] if x["aor"] == "LOS")
    assert los["year"] == 2017 and "2013-2017" in los["vintage"]


def test_place_tables():
    t = place_tables(lambda p: SHARED_DATA / p, last_year=2020)
    assert set(t) == {"counties", "county_aor_periods", "population", "policies", "sanctuary_definitions"}
    pop = t["population"]
    assert sorted(pop["year"].unique().to_list()) == list(range(2012, 2021))
    assert pop.filter(pop["year"] == 2017)["imputed"].sum() < pop.filter(pop["year"] == 2012)["imputed"].sum()


def test_mirror_env_is_honoured(app, monkeypatch, tmp_path):
    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path))  # nothing fetched: files come from the mirror
    monkeypatch.setenv("ICEMONITOR_MIRROR", str(SHARED_DATA))
    r = CliRunner().invoke(app, ["places", "status", "06037", "--date", "2018-01-02", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["answer"] == "yes"
