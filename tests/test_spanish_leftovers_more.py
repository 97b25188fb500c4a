"""More text left in English only (session 8), now in the language asked for: the analysis API's definitions,
caveats, coverage and notes (`lang`); the refresh messages and watch labels kept in the state database (said by
message id when shown); the `places counties` / `places population` titles, `releases`, the build's lines,
`detention discover` and the intake's staff commands (`--lang`, default ICEMONITOR_LANG)."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from icemonitor.cli import app
from test_detention_discovery import _url, site  # noqa: F401 - the loopback page fixture

SPANISH = re.compile(r"[áéíóúñ¿¡]|\b(el|la|los|las|del|de|se|con|según|registros)\b", re.IGNORECASE)


def _said(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, " ".join(re.sub("[\u2500-\u257f]", " ", result.output).split())


# ------------------------------------------------------------------ the API


def _figures(answer: dict) -> list:
    """The figure rows with every text left out (a row's note, a sweep's other names: display text, said in the
    language asked for); the figures, their keys and their order kept."""
    def numbers(value):
        if isinstance(value, dict):
            return {k: numbers(v) for k, v in value.items() if not isinstance(v, str)}
        if isinstance(value, list):
            return [numbers(v) for v in value if not isinstance(v, str)]
        return value

    return numbers(answer["figures"])


def test_analysis_api_says_its_caveats_in_the_lang_parameter(warehouse_client):
    """/api/v1/priorities, /sweeps, /place/{place} and /detention/*: definitions, caveats and the coverage's reason
    in Spanish with lang=es (the figures unchanged); English without it; a language the catalogs lack is a 422."""
    for url in ("/api/v1/priorities?place=LOS", "/api/v1/sweeps?place=LOS&limit=3", "/api/v1/detention/trend",
                "/api/v1/detention/check?date=2025-06-01&people=50000"):
        en = warehouse_client.get(url).json()
        es = warehouse_client.get(url + ("&" if "?" in url else "?") + "lang=es").json()
        assert _figures(es) == _figures(en) and es["releases"] == en["releases"], url
        assert len(es["caveats"]) == len(en["caveats"]) >= 1, url
        assert es["caveats"] != en["caveats"] and all(SPANISH.search(c) for c in es["caveats"]), url
        assert es["definitions"].keys() == en["definitions"].keys(), url
        assert [k for k, v in en["definitions"].items() if es["definitions"][k] == v and v] == [], url
        if (en.get("coverage") or {}).get("reason"):
            assert es["coverage"]["reason"] != en["coverage"]["reason"], url
    priorities = warehouse_client.get("/api/v1/priorities?place=LOS&lang=es").json()
    notes = {r["note"] for r in priorities["figures"]}  # a figure's note says why it has no share: a message
    assert "antecedentes penales no registrados en esta entrega de datos" in notes
    assert priorities["coverage"]["reason"].startswith("los registros cubren el ")
    assert any(c.startswith("Parcial: los registros cubren el ") for c in priorities["caveats"])
    profile = warehouse_client.get("/api/v1/place/CA", params={"lang": "es"}).json()
    english = warehouse_client.get("/api/v1/place/CA").json()
    assert profile["criminality"]["caveats"] != english["criminality"]["caveats"]
    assert "La criminalidad no está registrada en uwchr-ice-enforce-fy16-19." in profile["criminality"]["caveats"]
    held = warehouse_client.get("/api/v1/detention/place", params={"place": "LOS", "lang": "es"}).json()
    assert held["parameters"]["place"] == "AOR de Los Ángeles (LOS)"  # the place's label, said in Spanish too
    assert not any("Los Angeles AOR" in c for c in held["caveats"])
    bad = warehouse_client.get("/api/v1/priorities", params={"place": "LOS", "lang": "fr"})
    assert bad.status_code == 422 and "lang" in bad.text


# ------------------------------------------------------------------ texts kept in the state database


@pytest.fixture
def wide_watch_cli(tmp_path, monkeypatch):
    """ICEMONITOR_HOME in a fresh folder; the watch commands' tables printed whole (one line per row)."""
    from rich.console import Console

    from icemonitor.watch import cli as watch_cli

    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ICEMONITOR_LANG", raising=False)
    monkeypatch.delenv("ICEMONITOR_MIRROR", raising=False)
    monkeypatch.setattr(watch_cli, "out", Console(width=1000))
    return tmp_path / "home"


def test_refresh_messages_are_kept_as_messages_and_said_in_the_chosen_language(wide_watch_cli):
    """A real refresh (one nationwide arrests file) keeps its messages by id: `history --lang es` says them in
    Spanish with the refresh's own figures; a row written before (English text only) still shows, its lines that
    are message ids translated."""
    from test_watch_support import Archive, lesa_file, run_refresh

    if not lesa_file(2016).exists():
        pytest.skip("../shared/data not present")
    from icemonitor.watch import state

    archive = Archive()
    archive.add_lesa(2016)
    first = run_refresh(wide_watch_cli, archive, run_watches=False)
    second = run_refresh(wide_watch_cli, archive, run_watches=False)
    added = sum(c.added for c in first.changes)
    assert first.status == "updated" and second.status == "unchanged" and added > 100_000
    con = state.connect(wide_watch_cli)
    con.execute("INSERT INTO refreshes (id, started_at, finished_at, status, message) VALUES (9, "
                "'2026-01-01T00:00:00Z', '2026-01-01T00:01:00Z', 'unchanged', "
                "'nothing new: the warehouse is up to date\nsomething else said in 2025')")
    con.close()
    es = _said("history", "--lang", "es")[1]
    assert (f"almacén de datos reconstruido: 1 archivo(s) añadido(s), 0 versión(es) nueva(s), 0 eliminado(s); "
            f"{added:,} filas añadidas y 0 eliminadas en {len(first.changes)} celdas de tabla/entrega/mes/AOR") in es
    assert es.count("nada nuevo: el almacén de datos está al día") == 2  # the new row and the old one
    assert "something else said in 2025" in es and "warehouse rebuilt" not in es and "nothing new" not in es
    en = _said("history")[1]
    assert f"warehouse rebuilt: 1 file(s) added, 0 new version(s), 0 removed; {added:,} rows added" in en


def test_watch_labels_are_said_in_the_chosen_language(wide_watch_cli):
    """`watch list --lang es`: the labels of new watches (kept as messages) and of a watch stored before (its
    English label a message id) in Spanish; English as stored without --lang."""
    from icemonitor.watch import state

    assert _said("watch", "add", "--watch", "intake-urgent", "--email", "staff@example.org")[0] == 0
    assert _said("watch", "add", "--watch", "stale-posting", "--email", "desk@example.org")[0] == 0
    con = state.connect(wide_watch_cli)
    con.execute("INSERT INTO watches (place, place_label, kind, channel, target, created_at) VALUES "
                "('US', 'United States', 'detention-posting', 'email', 'old@example.org', '2026-01-01T00:00:00Z')")
    con.close()
    es = _said("watch", "list", "--lang", "es")[1]
    assert "intake-urgent email staff@example.org" in es
    assert "bandeja de entrada (solicitudes urgentes) intake-urgent" in es
    assert "Estados Unidos stale-posting" in es and "Estados Unidos detention-posting email old@example.org" in es
    assert "United States" not in es and "intake inbox" not in es
    en = _said("watch", "list")[1]
    assert "intake inbox (urgent requests) intake-urgent" in en and en.count("United States") == 2


# ------------------------------------------------------------------ places, releases, fetch, build


def test_places_counties_and_population_titles_in_the_chosen_language(monkeypatch):
    """`places counties` and `places population --lang es`: title, caption and errors in Spanish; the rows the
    same as --json's."""
    import json

    from conftest import SHARED_DATA

    if not (SHARED_DATA / "geo").is_dir():
        pytest.skip("../shared/data not present")
    monkeypatch.delenv("ICEMONITOR_LANG", raising=False)
    root = ("--data-root", str(SHARED_DATA))
    counties = json.loads(CliRunner().invoke(app, ["places", "counties", "--aor", "LOS", "--date", "2018-01-01",
                                                   "--json", *root]).output)["counties"]
    es = _said("places", "counties", "--aor", "los", "--date", "2018-01-01", "--lang", "es", *root)[1]
    assert es.startswith("Condados de LOS (mapa de AOR al 1 ene 2018)") and f"{len(counties)} condados" in es
    assert "Counties" not in es and len(counties) >= 5
    en = _said("places", "counties", "--aor", "LOS", "--date", "2018-01-01", *root)[1]
    assert en.startswith("Counties in LOS (AOR map on Jan 1, 2018)") and f"{len(counties)} counties" in en
    code, bad = _said("places", "counties", "--aor", "ZZZ", "--date", "2018-01-01", "--lang", "es", *root)
    assert code == 2 and bad.startswith("error: código de AOR desconocido el 1 ene 2018 (campo 'aor', valor 'ZZZ')")
    rows = json.loads(CliRunner().invoke(app, ["places", "population", "--level", "state", "--year", "2018",
                                               "--json", *root]).output)["rows"]
    vintage = "; ".join(sorted({r["vintage"] for r in rows}))
    es = _said("places", "population", "--level", "state", "--year", "2018", "--lang", "es", *root)[1]
    assert es.startswith("Población por estado, 2018")
    assert ("total_pop = población total de la ACS de 5 años; noncitizen_pop = total_pop - ciudadanos" in es
            and f"Edición de la ACS: {vintage}" in es)
    en = _said("places", "population", "--level", "state", "--year", "2018", *root)[1]
    assert en.startswith("Population by state, 2018") and f"ACS vintage: {vintage}" in en


def test_fetch_and_releases_in_the_chosen_language(tmp_path, monkeypatch):
    """`fetch` (two small releases from the mirror) and `releases --lang es`: counts, title and headers in
    Spanish; a build without the files: its error in Spanish."""
    from conftest import SHARED_DATA

    if not (SHARED_DATA / "ice").is_dir():
        pytest.skip("../shared/data not present")
    home = tmp_path / "home"
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    monkeypatch.delenv("ICEMONITOR_LANG", raising=False)
    monkeypatch.delenv("ICEMONITOR_MIRROR", raising=False)
    ids = ("mn-ddp-st-cloud-detainers", "bln-la-aor-arrests-2025-06")
    code, out = _said("fetch", *ids, "--mirror", str(SHARED_DATA), "--lang", "es")
    assert code == 0 and f"2 archivo(s) archivado(s), 0 ya presente(s); archivo de originales: {home / 'raw'}" in out
    code, out = _said("fetch", *ids, "--mirror", str(SHARED_DATA))
    assert code == 0 and "0 file(s) archived, 2 already present; raw archive: " in out
    from rich.console import Console

    from icemonitor.catalog import cli as catalog_cli

    monkeypatch.setattr(catalog_cli, "Console", lambda *a, **k: Console(*a, **{**k, "width": 1000}))
    es = _said("releases", "--lang", "es")[1]
    assert f"entregas (archivo de originales: {home / 'raw'})" in es
    assert "entrega tipo FOIA registros cobertura archivos origen MB archivados sumas de verificación" in es
    assert "ddp-ice-processed-latest (a pedido)" in es and "desconocida hasta la primera descarga" in es
    assert "(on request)" not in es and "releases (raw archive" in _said("releases")[1]
    code, out = _said("build", "--no-fetch", "--lang", "es")
    assert code == 2 and out.startswith("error: no descargado: ejecute `icemonitor fetch uwchr-ice-enforce-fy16-19` "
                                        "(archivo EROArrests_FY")


def test_the_build_stages_are_said_by_message_id():
    """Every stage the places build step names (its `say(...)`) has Spanish in the build's progress line."""
    import ast
    import inspect

    from icemonitor.places import build_step
    from icemonitor.warehouse.cli import STEPS

    said = [n.args[0].value for n in ast.walk(ast.parse(inspect.getsource(build_step)))
            if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "say" and n.args
            and isinstance(n.args[0], ast.Constant)]
    assert said and set(said) <= set(STEPS)
    assert [STEPS[s].render("es") for s in said] == ["lugares: condados, población, políticas, ubicación de los "
                                                     "puntos de referencia",
                                                     "detención: publicaciones de estadísticas, exclusiones, paneles"]


# ------------------------------------------------------------------ detention discover, the intake's staff commands


def test_detention_discover_in_the_chosen_language(site, tmp_path, monkeypatch):
    """`detention discover --lang es` over a page played from a loopback server: new postings, the count already
    archived and the rejected link (an HTML page) said in Spanish."""
    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ICEMONITOR_LANG", raising=False)
    code, es = _said("detention", "discover", "--url", _url(site), "--lang", "es")
    assert code == 0, es
    assert "publicación nueva: FY25_detentionStats.xlsx (" in es and "ya archivadas: 0" in es
    assert re.search(r"rechazada: http://127\.0\.0\.1:\d+/doclib/detention/FY26_detentionStats_05072026\.xlsx: el "
                     r"enlace respondió con una página HTML, no con un libro \.xlsx \(\d+ bytes\)", es), es
    code, en = _said("detention", "discover", "--url", _url(site))
    assert "already archived: 2" in en and "rejected:" in en and "an HTML page" in en


def test_intake_staff_commands_in_the_chosen_language(tmp_path, monkeypatch):
    """The intake's staff commands (`init-key`, `add-user`, `list-users`, `set-roles`, `verify`, `purge`, their
    errors) say their lines in --lang; the username is shown as typed, nothing else of it."""
    key = tmp_path / "secrets" / "intake.key"
    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ICEMONITOR_INTAKE_KEY_FILE", str(key))
    monkeypatch.setenv("ICEMONITOR_INTAKE_DB", f"sqlite:///{tmp_path / 'intake.sqlite'}")
    monkeypatch.delenv("ICEMONITOR_LANG", raising=False)
    code, out = _said("intake", "init-key", "--lang", "es")
    assert code == 0 and out.startswith(f"clave maestra escrita en {key}. Guarde una copia aparte")
    code, out = _said("intake", "init-key", "--lang", "es")
    assert code == 2 and out == f"error: el archivo de clave {key} ya existe: no se sobrescribe"
    code, out = _said("intake", "add-user", "ana", "--role", "admin", "--base-url", "https://x.example", "--lang", "es")
    assert code == 0 and out.startswith("cuenta ana creada. Entregue a su titular este enlace de alta de un solo uso "
                                        "(válido 72 horas): https://x.example/staff/enrol/")
    code, out = _said("intake", "add-user", "ana", "--role", "admin", "--lang", "es")
    assert code == 2 and out == "error: ese nombre de usuario ya existe"
    assert _said("intake", "set-roles", "ana", "--role", "boss", "--lang", "es")[1] == \
        "error: los roles deben ser de entre estos: reviewer, attorney, admin"
    assert _said("intake", "list-users", "--lang", "es")[1] == "ana admin en espera de alta inicios de sesión fallidos 0"
    assert _said("intake", "list-users")[1] == "ana admin waiting for enrolment failed logins 0"
    code, out = _said("intake", "verify", "--lang", "es")
    assert code == 0 and re.fullmatch(r"se abren 0 de 0 solicitudes; se abren 0 de 0 segundos factores del personal; "
                                      r"registro de auditoría intacto \(\d+ filas\)", out), out
    assert _said("intake", "purge", "--lang", "es")[1] == "0 solicitudes cerradas hace más de 90 días destruidas"
    monkeypatch.setenv("ICEMONITOR_LANG", "es")
    assert _said("intake", "delete-user", "nadie")[1] == "error: no hay ninguna cuenta con ese nombre de usuario"


# ------------------------------------------------------------------ --help


def test_every_help_text_has_spanish_and_help_is_said_in_the_chosen_language(monkeypatch):
    """Every help text the command line shows (each command's and each option's, as Typer builds them) is in the
    catalog; `--help --lang es` (or ICEMONITOR_LANG=es) prints them in Spanish, with Typer's frame words; English
    again without them, in the same process."""
    import typer.main

    from icemonitor.messages import catalog

    es = catalog("es")
    todo, missing = [("icemonitor", typer.main.get_command(app))], []
    while todo:
        name, cmd = todo.pop()
        missing += [(name, text) for text in [cmd.help, *(getattr(p, "help", None) for p in cmd.params)]
                    if text and text not in es]
        todo += [(f"{name} {sub}", c) for sub, c in (getattr(cmd, "commands", None) or {}).items()]
    assert not missing, missing
    monkeypatch.delenv("ICEMONITOR_LANG", raising=False)
    said = _said("summary", "--help", "--lang", "es")[1]
    assert "Eventos contados por grupo, con proporciones, intervalos de Wilson y entregas." in said
    assert "Opciones" in said and "[predeterminado: arrests]" in said and "idioma del texto de salida" in said
    assert "Counted events per group" not in said
    monkeypatch.setenv("ICEMONITOR_LANG", "es")
    said = _said("serve", "--help")[1]
    assert "Sirve el panel (EN/ES) y la API JSON" in said and "Puerto TCP" in said
    top = _said("--help")[1]
    assert "Registros de control migratorio de ICE" in top and "Comandos" in top
    assert "Construye el almacén de datos DuckDB" in top
    monkeypatch.delenv("ICEMONITOR_LANG")
    english = _said("summary", "--help")[1]
    assert "Counted events per group, with shares" in english and "Options" in english and "[default: arrests]" in english


# ------------------------------------------------------------------ on the built warehouse


def test_detention_check_and_places_coverage_in_the_chosen_language(built_home, warehouse_path, monkeypatch):
    """`detention check --lang es`: the claim and its answer in Spanish (the answer of --json's); `places coverage
    --lang es`: its tables' titles, headers, signal words and definitions in Spanish."""
    import json

    from conftest import SHARED_DATA

    monkeypatch.setenv("ICEMONITOR_HOME", str(built_home))
    monkeypatch.delenv("ICEMONITOR_LANG", raising=False)
    answer = json.loads(CliRunner().invoke(app, ["detention", "check", "2025-06-01", "50000", "--json"]).output)
    words = {"supported": "la respaldan todos los conteos de ese día",
             "not_supported": "no la respalda ningún conteo de ese día",
             "depends_on_measure": "la respaldan algunos conteos de ese día y otros no (vea las medidas)",
             "no_records": "ningún registro cuenta ese día: no hay respuesta (no es cero)"}
    es = _said("detention", "check", "2025-06-01", "50000", "--lang", "es")[1]
    assert es.endswith(f"ICE retuvo a más de 50,000 personas el 1 jun 2025: {words[answer['extra']['answer']]}")
    assert "ICE held more than 50,000 people on Jun 1, 2025: " in _said("detention", "check", "2025-06-01", "50000")[1]
    from rich.console import Console

    from icemonitor.places import cli_landmarks

    monkeypatch.setattr(cli_landmarks, "Console", lambda *a, **k: Console(*a, **{**k, "width": 400}))
    code, es = _said("places", "coverage", "--warehouse", str(warehouse_path), "--reference", str(SHARED_DATA),
                     "--lang", "es")
    assert code == 0, es
    for words in ("Señales de ubicación (arrestos contados)", "señal ubicado por arrestos proporción",
                  "arrestos contados por señal de ubicación.", "sin estado, condado ni condado del centro",
                  "Cobertura de la ubicación de puntos de referencia (proporción de arrestos contados)",
                  "AOR arrestos county_event"):
        assert words in es, words
    assert "Placement signals" not in es and "placed by" not in es
