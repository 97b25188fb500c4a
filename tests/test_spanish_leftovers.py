"""Text a person reads that was left in English only, now in the language asked for: the API's place-status
explanations (`lang`); the `history` and `watch list` tables, the scheduler's lines, the watch commands' errors, how
--place words were read and `detention place`'s total (`--lang`, default ICEMONITOR_LANG)."""

from __future__ import annotations

import re

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


# ------------------------------------------------------------------ the command line

@pytest.fixture
def state_home(tmp_path, monkeypatch):
    """A data folder whose state database holds one refresh, its file versions and diff, and one watch."""
    from icemonitor.watch import state

    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path))
    monkeypatch.delenv("ICEMONITOR_LANG", raising=False)
    con = state.connect(tmp_path)
    con.execute("INSERT INTO refreshes (id, started_at, finished_at, status, message) VALUES "
                "(1, '2026-12-01T00:00:00Z', '2026-12-01T00:05:00Z', 'updated', ''), "
                "(2, '2026-12-02T00:00:00Z', NULL, 'failed', '')")
    con.execute("INSERT INTO release_files (release_id, file_name, sha256, status, first_refresh) VALUES "
                "('r1', 'a.csv', 'ab12', 'in_use', 1), ('r1', 'a.csv', 'cd34', 'superseded', 1)")
    con.execute("INSERT INTO release_diff VALUES (1, 'arrests', 'r1', '2017-01', 'LOS', 0, 1200, 0, 1100), "
                "(1, 'arrests', 'r1', '', '', 5, 0, 5, 0)")
    con.execute("INSERT INTO watches (place, place_label, kind, channel, target, created_at, lang) VALUES "
                "('LOS', 'AOR LOS', 'sweeps', 'email', 'a@example.org', '2026-12-01T00:00:00Z', 'es')")
    con.close()
    from rich.console import Console

    from icemonitor.watch import cli as watch_cli

    monkeypatch.setattr(watch_cli, "out", Console(width=300))  # whole headers, one line each
    return tmp_path


def cli(*args: str) -> str:
    from typer.testing import CliRunner

    from icemonitor.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return " ".join(re.sub("[\u2500-\u257f]", " ", result.output).split())  # the table's lines left out


def test_history_tables_in_the_chosen_language(state_home, monkeypatch):
    es = cli("history", "--lang", "es")
    for words in ("actualizaciones", "inicio", "fin", "estado", "mensaje", "actualizado", "con error",
                  "versiones de los archivos de las entregas", "entrega", "archivo", "primera actualización",
                  "en uso", "reemplazada"):
        assert words in es, words
    assert "refreshes" not in es and "in_use" not in es and "superseded" not in es and "failed" not in es
    en = cli("history")
    assert "refreshes" in en and "started" in en and "in use" in en and "superseded" in en and "failed" in en
    diff = cli("history", "1", "--lang", "es")
    assert "actualización 1: filas añadidas y eliminadas por tabla, mes y AOR (todas las entregas)" in diff
    assert "tabla mes AOR antes después añadidas eliminadas contadas antes contadas después" in diff
    assert "arrests 2017-01 LOS 0 1,200 1,200 0 0 1,100" in diff and "(sin fecha) (sin AOR) 5 0 0 5 5 0" in diff
    monkeypatch.setenv("ICEMONITOR_LANG", "es")  # the default of --lang, as for every command
    assert cli("history", "1") == diff
    assert "(no date) (no AOR)" in cli("history", "1", "--lang", "en")


def test_watch_list_in_the_chosen_language(state_home, monkeypatch):
    es = cli("watch", "list", "--lang", "es")
    assert "vigilancias" in es and "id lugar vigilancia canal destino idioma creada" in es
    assert "1 AOR LOS sweeps email a@example.org es 2026-12-01T00:00:00Z" in es
    en = cli("watch", "list")
    assert "watches" in en and "id place watch channel target language created" in en
    monkeypatch.setenv("ICEMONITOR_LANG", "es")
    assert cli("watch", "list") == es


def test_scheduler_lines_in_the_chosen_language(state_home, monkeypatch, caplog):
    """`scheduler --lang es`: what the refresh says, a held lock and a failed round, logged in Spanish."""
    from types import SimpleNamespace

    from icemonitor.lock import RefreshLock
    from icemonitor.messages import msg
    from icemonitor.watch import refresh, scheduler

    rounds = iter(["said", "locked", "broken"])

    def fake_refresh(**_):
        what = next(rounds)
        if what == "locked":
            with RefreshLock(state_home), RefreshLock(state_home):  # a second holder: LockHeld
                pass
        if what == "broken":
            raise RuntimeError("disk full")
        return SimpleNamespace(refresh_id=7, messages=[msg("nothing new: the warehouse is up to date")])

    real_run = scheduler.run
    monkeypatch.setattr(refresh, "refresh", fake_refresh)
    monkeypatch.setattr(scheduler, "run", lambda *a, **k: real_run(*a, **{**k, "iterations": 3, "sleep": lambda s: None,
                                                                           "clock": lambda: 1e9 * next(ticks)}))
    ticks = iter(range(1, 10_000))
    caplog.set_level("INFO")
    cli("scheduler", "--every", "1s", "--lang", "es")
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("icemonitor")]
    assert "actualización 7: nada nuevo: el almacén de datos está al día" in lines
    assert any(line.startswith("actualización omitida: ya hay otro proceso refresh en curso (pid ") for line in lines)
    assert "la actualización falló: disk full" in lines
    assert not any("refresh" in line.split(":")[0] or "skipped" in line or "failed" in line for line in lines)


def test_watch_errors_and_notes_in_the_chosen_language(state_home):
    """The watch commands' errors (and the refresh lock's) in --lang; English as before without it."""
    from typer.testing import CliRunner

    from icemonitor.cli import app
    from icemonitor.lock import RefreshLock

    def said(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, list(args))
        return result.exit_code, " ".join(result.output.split())

    code, text = said("watch", "add", "--watch", "nope", "--email", "a@example.org", "--lang", "es")
    assert code == 2 and text.startswith("error: Vigilancia desconocida; elija una de estas: sweeps, ")
    assert "(campo 'watch', valor 'nope')" in text
    assert said("watch", "remove", "9", "--lang", "es")[1] == \
        "error: no hay ninguna vigilancia activa con ese id (campo 'watch_id', valor 9)"
    assert said("watch", "remove", "9")[1] == "error: no active watch with that id (field 'watch_id', value 9)"
    assert said("watch", "add", "--watch", "sweeps", "--place", "LOS", "--lang", "es")[1] == \
        "error: indique exactamente uno de --email o --webhook (campo 'email/webhook')"
    assert said("watch", "check", "1", "--from", "2017-13", "--to", "2017-09", "--lang", "es")[1] == \
        "error: los meses se escriben AAAA-MM (campo 'from', valor '2017-13')"
    assert said("scheduler", "--every", "5 weeks", "--lang", "es")[1] == \
        "error: los intervalos se escriben 90s, 30m, 24h o 1d (campo 'every', valor '5 weeks')"
    with RefreshLock(state_home, name="deliver"):  # another process is sending
        code, text = said("alerts", "deliver", "--lang", "es")
    assert code == 75 and text.startswith("error: ya hay otro proceso deliver en curso (pid ")


def test_how_a_place_was_read_is_said_in_the_chosen_language():
    """The note every analysis command prints for --place words that were not a literal place, and `places find`."""
    from typer.testing import CliRunner

    from icemonitor.cli import app
    from icemonitor.places.place_names import parse_place, reading_note

    def ref(p):
        return ww.SHARED_DATA / p

    if not (ww.SHARED_DATA / "geo").is_dir():
        pytest.skip("../shared/data not present")
    pomona = reading_note(parse_place("Pomona, CA", ref), ref)
    assert str(pomona) == ("Pomona, CA is a city in Los Angeles County, CA; the records place arrests by county, so "
                           "these are the figures of Los Angeles County, CA.")
    assert pomona.render("es") == ("Pomona, CA es una ciudad situada en condado de Los Ángeles, CA; los registros "
                                   "ubican los arrestos por condado, así que estas son las cifras de condado de Los "
                                   "Ángeles, CA.")
    los_angeles = reading_note(parse_place("Los Angeles", ref), ref)
    assert los_angeles.render("es") == ("Se leyó 'Los Angeles' como condado de Los Ángeles, CA. Para la oficina de "
                                        "ICE de Los Ángeles, indique en cambio --place LOS.")
    assert str(los_angeles).endswith("For ICE's Los Angeles field office instead, give --place LOS.")

    def find(*args: str) -> str:
        result = CliRunner().invoke(app, ["places", "find", *args, "--data-root", str(ww.SHARED_DATA)])
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    assert find("Pomona, CA", "--lang", "es").startswith("condado de Los Ángeles, CA (county 06037) Pomona, CA es una")
    assert find("LA", "--lang", "es").startswith("LA puede significar: ")
    assert find("Narnnia", "--lang", "es").startswith("ningún lugar se llama 'Narnnia'")
    assert find("Narnnia").startswith("no place is named 'Narnnia'")


def test_detention_place_total_line_in_the_chosen_language(built_home, monkeypatch):
    """`detention place LOS --lang es`: the place's total line in Spanish, with the figures of its --json."""
    import json

    from typer.testing import CliRunner

    from icemonitor.cli import app

    monkeypatch.setenv("ICEMONITOR_HOME", str(built_home))
    figures = json.loads(CliRunner().invoke(app, ["detention", "place", "LOS", "--json"]).output)
    extra = figures["extra"]
    if extra["held_during_day"] is None:
        pytest.skip("no detention records in this build")
    out = " ".join(CliRunner().invoke(app, ["detention", "place", "LOS", "--lang", "es"]).output.split())
    assert (f"personas retenidas en AOR de Los Ángeles (LOS) el " in out
            and f": {extra['held_during_day']:,} en {extra['facilities']} centros ({extra['held_before']:,} el " in out)
    assert "held in" not in out
