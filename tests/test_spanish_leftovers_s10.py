"""Text left in English only after session 9, now in the language asked for: the command line's own frame and
parse errors (Typer's copy of click), fetch's errors, `serve`'s startup lines, `report --lang`'s default, and the
OpenAPI description of the `lang` parameter of the answers made by `respond`."""

from __future__ import annotations

import re
import socket

import pytest
from typer.testing import CliRunner

from icemonitor.cli import app
from icemonitor.messages.cli_lang import PARSE_ERRORS, parse_error_text
from test_fetch import SHARED_DATA, _get, _no_network, server  # noqa: F401 - the loopback server fixture


def _said(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, " ".join(re.sub("[\u2500-\u257f]", " ", result.output).split())


# ------------------------------------------------------------------ the command line's own texts


def test_parse_errors_and_usage_in_the_chosen_language(monkeypatch):
    """A mistyped command line with --lang es (or ICEMONITOR_LANG=es): the usage line, the hint and the error in
    Spanish, exit code 2 as before; English again without it, in the same process."""
    monkeypatch.delenv("ICEMONITOR_LANG", raising=False)
    code, out = _said("summary", "--bogus", "--lang", "es")
    assert code == 2 and out == ("Uso: icemonitor summary [OPTIONS] Pruebe 'icemonitor summary --help' para ver la "
                                 "ayuda. Error No existe la opción: --bogus")
    assert _said("sweeps", "--limit", "x", "--lang", "es")[1].endswith(
        "Error Valor no válido para '--limit': debe ser un número entero; el texto no se puede leer como entero")
    assert _said("report", "--lang", "es")[1].endswith("Error Falta la opción '--place'.")
    assert _said("summary", "extra", "--lang", "es")[1].endswith(
        "Se recibieron argumentos adicionales inesperados (extra)")
    assert _said("fetch", "--lang", "es", "--mirror")[1] == "Error La opción '--mirror' requiere un argumento."
    assert _said("report", "--place", "CA", "--from", "2018-01-01", "--to", "2018-02-01", "--output", "x",
                 "--format", "doc", "--lang", "es")[1].endswith(
        "Valor no válido para --format: elija una de estas: md, html, pdf")  # our own BadParameter: a message
    monkeypatch.setenv("ICEMONITOR_LANG", "es")
    code, out = _said("nosuch")
    assert code == 2 and out.startswith("Uso: icemonitor [OPTIONS] COMMAND [ARGS]...")
    assert out.endswith("No existe el comando 'nosuch'.")
    said = _said("summary", "--help")[1]
    assert said.startswith("Uso: icemonitor summary [OPTIONS]") and "--help <bool> Muestra este mensaje y termina." in said
    monkeypatch.delenv("ICEMONITOR_LANG")
    code, out = _said("summary", "--bogus")
    assert code == 2 and out == ("Usage: icemonitor summary [OPTIONS] Try 'icemonitor summary --help' for help. "
                                 "Error No such option: --bogus")
    said = _said("summary", "--help")[1]
    assert said.startswith("Usage: icemonitor summary [OPTIONS]") and "Show this message and exit." in said


def test_every_parse_error_pattern_reads_its_own_english():
    """Each pattern of PARSE_ERRORS matches the English of its message (filled with sample values) and gives back
    those values: pattern and message say the same thing; and each has Spanish."""
    for pattern, message in PARSE_ERRORS:
        names = re.findall(r"\{(\w+)\}", message.msgid)
        values = {n: f"'v{i}'" if n != "count" else str(i + 2) for i, n in enumerate(names)}
        english = message.msgid.format(**values)
        found = re.fullmatch(pattern, english, flags=re.DOTALL)
        assert found and found.groupdict() == values, message.msgid
        spanish = parse_error_text(english, "es")
        assert spanish != english and all(v in spanish for v in values.values()), message.msgid
    assert parse_error_text("something Typer says that no pattern knows", "es") == \
        "something Typer says that no pattern knows"


# ------------------------------------------------------------------ fetch


def test_fetch_errors_in_the_chosen_language(tmp_path, monkeypatch):
    """A checksum mismatch (naming the file), a failure list (hosts not tried, derivations without inputs) and the
    CLI's missing mirror folder, said in Spanish; the English unchanged."""
    from icemonitor.catalog.fetch import FetchError, fetch
    from icemonitor.errors import ChecksumError
    from icemonitor.messages.cli_lang import error_text

    monkeypatch.delenv("ICEMONITOR_LANG", raising=False)
    mirror = tmp_path / "mirror"
    dst = mirror / "ice/mn-ddp-extracts/st_cloud_denied.csv"
    dst.parent.mkdir(parents=True)
    dst.write_bytes((SHARED_DATA / "ice/mn-ddp-extracts/st_cloud_denied.csv").read_bytes().replace(b"MEXICO",
                                                                                                b"MEXICA", 1))
    with pytest.raises(ChecksumError) as err:
        fetch("mn-ddp-st-cloud-detainers", home=tmp_path / "home", mirror=mirror)
    es = error_text(err.value, "es")
    assert es.startswith(f"la suma de verificación de st_cloud_denied.csv desde {dst} no coincide: se esperaba sha256 ")
    assert es.endswith("; no se archiva (archivo st_cloud_denied.csv)")
    assert str(err.value).startswith(f"checksum mismatch for st_cloud_denied.csv from {dst}: expected sha256 ")

    with pytest.raises(FetchError) as err:
        fetch(["bln-la-aor-arrests-2025-06", "ref-sanctuary", "ref-aor"], home=tmp_path / "home2", mirror=mirror,
              client=_no_network([]), retries=0, backoff=0.0)
    es = error_text(err.value, "es")
    assert es.startswith("no se pudieron archivar 7 archivos:\n- ")
    assert es.count("no se intentó; no se pudo conectar con") == 6
    assert es.count("no se derivó porque falta su archivo de entrada") == 3
    assert "could not" not in es and "failed" not in es.replace("network disabled", "")
    assert str(err.value).startswith("7 files could not be archived:\n- ")

    code, out = _said("fetch", "ref-aor", "--mirror", str(tmp_path / "nowhere"), "--lang", "es",
                      env={"ICEMONITOR_HOME": str(tmp_path / "home3")})
    assert code == 2 and out.endswith(f"error: la carpeta de copia local no existe (archivo {tmp_path / 'nowhere'})")


def test_download_errors_in_the_chosen_language(server, tmp_path):  # noqa: F811 - the fixture
    """An HTTP error from the loopback server, said in Spanish (the status and address as they are)."""
    from icemonitor.catalog.fetch import FetchError
    from icemonitor.messages.cli_lang import error_text

    server.files.clear()
    with pytest.raises(FetchError) as err:
        _get(server, tmp_path)
    assert re.fullmatch(r"falló la descarga de sea-i213s-2026-02-13\.csv\.gz: HTTP 404 desde http://127\.0\.0\.1:\d+/"
                        r"\S+", error_text(err.value, "es")), error_text(err.value, "es")


# ------------------------------------------------------------------ serve, report


def test_serve_startup_errors_in_the_chosen_language(tmp_path, monkeypatch):
    """`serve --lang es` on a port something listens on: uvicorn cannot bind it, and serve says so in one line in
    Spanish naming the address and what to do, exit 2; the note that the warehouse is not built yet, in Spanish
    too."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    home = {"ICEMONITOR_HOME": str(tmp_path)}
    monkeypatch.delenv("ICEMONITOR_LANG", raising=False)
    try:
        code, out = _said("serve", "--port", str(port), "--lang", "es", env=home)
        assert code == 2 and (
            f"nota: todavía no hay almacén de datos en {tmp_path / 'warehouse.duckdb'}; las páginas y la API "
            "responden 503 hasta que `icemonitor build` lo genere") in out
        assert out.endswith(f"error: serve no puede arrancar: no se puede escuchar en 127.0.0.1:{port}: otro programa "
                            "ya usa esa dirección (elija otro --host u otro --port)"), out
        code, out = _said("serve", "--port", str(port), env=home)
        assert code == 2 and out.endswith(f"error: serve cannot start: cannot listen on 127.0.0.1:{port}: another "
                                          "program already uses that address (choose another --host or --port)"), out
    finally:
        taken.close()


def test_report_language_defaults_to_icemonitor_lang(tmp_path, monkeypatch):
    """`report` takes its language from ICEMONITOR_LANG like every other command: its error in Spanish."""
    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path))
    monkeypatch.setenv("ICEMONITOR_LANG", "es")
    code, out = _said("report", "--place", "CA", "--from", "2018-01-01", "--to", "2018-02-01", "--output",
                      str(tmp_path / "r.html"))
    assert code == 2 and out.startswith("error: no hay almacén de datos en "), out
    assert _said("report", "--place", "CA", "--from", "2018-01-01", "--to", "2018-02-01", "--output",
                 str(tmp_path / "r.html"), "--lang", "fr")[1].endswith("Invalid value for --lang: choose one of en, es")


# ------------------------------------------------------------------ OpenAPI


def test_openapi_documents_lang_for_every_answer_made_by_respond(tmp_path):
    """Every API route whose answer goes through api_analyses.respond declares `lang` (en or es, default en) and
    says that lang=es gives Spanish."""
    import ast
    import inspect

    from icemonitor.web import api_analyses, api_claims, api_detention, api_place
    from icemonitor.web.app import create_app

    routed = {}
    for module in (api_analyses, api_claims, api_detention, api_place):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list and any(
                    isinstance(c, ast.Call) and getattr(c.func, "id", None) == "respond" for c in ast.walk(node)):
                call = node.decorator_list[0]
                routed[module.router.prefix + call.args[0].value] = call.func.attr
    assert len(routed) == 12, routed
    schema = create_app(tmp_path / "warehouse.duckdb").openapi()
    for path, method in routed.items():
        [lang] = [p for p in schema["paths"][path][method]["parameters"] if p["name"] == "lang"]
        assert lang["in"] == "query" and lang["schema"]["enum"] == ["en", "es"] and lang["schema"]["default"] == "en"
        assert "lang=es gives them in Spanish" in lang["description"], path


def test_refresh_keeps_fetch_errors_as_messages(tmp_path):
    """A refresh's fetch errors are kept as messages (the state database's JSON), so `history` says them in
    Spanish too, with the file they name."""
    from icemonitor.messages import from_json, msg, to_json
    from icemonitor.watch.refresh import catalog_fetch

    [error] = catalog_fetch(tmp_path, tmp_path / "nowhere")
    kept = to_json(msg("not fetched (the version in use, if any, stays): {err}", err=error))
    assert from_json(kept).render("es") == ("no descargado (se mantiene la versión en uso, si la hay): la carpeta de "
                                            f"copia local no existe (archivo {tmp_path / 'nowhere'})")
    assert str(error) == f"mirror folder does not exist (file {tmp_path / 'nowhere'})"
