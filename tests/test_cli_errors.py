"""Error messages reach the user whole: source values in brackets are not eaten as Rich markup."""

from __future__ import annotations

import pytest
import typer

from icemonitor.cli import fail
from icemonitor.errors import InputError


def test_error_value_in_brackets_is_printed_whole(capsys):
    err = InputError("unknown apprehension method", file="EROArrests_FY2017.csv.gz", row=7, field="Apprehension Method",
                     value="[not_recorded] Local")
    with pytest.raises(typer.Exit) as exit_info:
        fail(err)
    assert exit_info.value.exit_code == 2
    printed = " ".join(capsys.readouterr().err.split())
    assert "[not_recorded] Local" in printed and "EROArrests_FY2017.csv.gz" in printed and "Apprehension Method" in printed


# --- the program as people run it: `icemonitor` (pyproject's console script) and `python -m icemonitor` ---

import os
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_cli(args: list[str], home: Path, stdin: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python -m icemonitor ARGS` in a child process (what the console script runs: icemonitor.cli:main)."""
    given = env or {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("ICEMONITOR_")}
    env.update(ICEMONITOR_HOME=str(home), PYTHONPATH=str(REPO / "src"), COLUMNS="200", **given)
    return subprocess.run([sys.executable, "-m", "icemonitor", *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=300)


@pytest.fixture(scope="module")
def home(request, tmp_path_factory):
    base = tmp_path_factory.mktemp("home")
    (base / "warehouse.duckdb").symlink_to(request.getfixturevalue("warehouse_path"))
    return base


def test_console_script_runs_main_the_error_handler():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["icemonitor"] == "icemonitor.cli:main"
    assert "from icemonitor.cli import main" in (REPO / "src/icemonitor/__main__.py").read_text()


def assert_one_line_and_hint(r: subprocess.CompletedProcess, *words: str) -> None:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2, r.stderr
    assert len(lines) == 2 and lines[0].startswith("error: ") and lines[1].startswith("hint: "), r.stderr
    assert "Traceback" not in r.stderr and "╭" not in r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)


def test_missing_warehouse_is_one_line_and_a_hint(tmp_path):
    r = run_cli(["summary", "--by", "fy"], tmp_path)
    assert_one_line_and_hint(r, "no warehouse at", "icemonitor build")


def test_unknown_place_and_reversed_dates_are_one_line_and_a_hint(home):
    assert_one_line_and_hint(run_cli(["summary", "--place", "Narnia"], home), "unknown place 'Narnia'")
    r = run_cli(["summary", "--place", "LOS", "--from", "2017-09-27", "--to", "2017-09-24"], home)
    assert_one_line_and_hint(r, "ends (Sep 24, 2017) before it starts (Sep 27, 2017)", "swap --from and --to")


def test_reversed_dates_are_said_in_the_asked_language(home):
    reversed_days = ["summary", "--place", "LOS", "--from", "2017-09-27", "--to", "2017-09-24"]
    for r in (run_cli([*reversed_days, "--lang", "es"], home), run_cli(reversed_days, home, env={"ICEMONITOR_LANG": "es"})):
        lines = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines) == 2, r.stderr
        assert lines[0].startswith("error: el periodo termina (24 sep 2017) antes de empezar (27 sep 2017)")
        assert lines[1].startswith("sugerencia: intercambie --from y --to")
        assert "before" not in r.stderr and "2017-09-24)" not in r.stderr


def test_result_labels_are_said_in_the_asked_language(home):
    """A figure's releases, coverage, data age and caveats: labelled in Spanish with --lang es or ICEMONITOR_LANG=es
    (a period the records cover: 'completa'; one they do not cover: 'SIN REGISTROS', never a zero); JSON unchanged."""
    covered = ["summary", "--place", "LOS", "--from", "2017-09-24", "--to", "2017-09-27"]
    uncovered = ["summary", "--place", "LOS", "--from", "2021-01-01", "--to", "2021-01-31"]
    english = run_cli(covered, home).stdout
    assert "releases: uwchr-ice-enforce-fy16-19" in english and "coverage: full" in english and "data age: " in english
    for spanish in (run_cli([*covered, "--lang", "es"], home).stdout,
                    run_cli(covered, home, env={"ICEMONITOR_LANG": "es"}).stdout):
        lines = spanish.splitlines()
        assert "entregas de datos: uwchr-ice-enforce-fy16-19" in lines
        assert any(line.startswith("cobertura: completa (100% del período y el lugar)") for line in lines), spanish
        assert any(line.startswith("antigüedad de los datos: ") for line in lines)
        assert "from=24 sep 2017, to=27 sep 2017" in " ".join(spanish.split())
        assert not any(line.startswith(("releases:", "coverage:", "data age:", "caveat:")) for line in lines)
    none = " ".join(run_cli([*uncovered, "--lang", "es"], home).stdout.split())
    assert "cobertura: SIN REGISTROS (sin conteo) (0% del período y el lugar)" in none
    assert "advertencia: " in none and "1–31 ene 2021" in none and "caveat:" not in none
    assert run_cli([*covered, "--json"], home).stdout == run_cli([*covered, "--json", "--lang", "es"], home).stdout
    detention = run_cli(["detention", "now", "--lang", "es"], home)
    assert detention.returncode == 0, detention.stderr
    lines = detention.stdout.splitlines()
    assert any(line.startswith("entregas de datos: ice-detention-stats") for line in lines), detention.stdout
    assert not any(line.startswith(("releases:", "caveat:")) for line in lines)


def test_debug_shows_the_traceback(tmp_path):
    for args in (["--debug", "summary"], ["summary", "--debug"]):
        r = run_cli(args, tmp_path)
        assert r.returncode != 0 and "NoWarehouse" in r.stderr and "open_warehouse" in r.stderr, r.stderr


def test_places_as_people_say_them(home):
    period = ["--from", "2017-09-24", "--to", "2017-09-27", "--json"]
    by_name = run_cli(["summary", "--place", "Los Angeles County", *period], home)
    by_fips = run_cli(["summary", "--place", "06037", *period], home)
    assert by_name.returncode == 0, by_name.stderr
    import json

    named, coded = json.loads(by_name.stdout), json.loads(by_fips.stdout)
    assert named["figures"] == coded["figures"] and named["figures"][0]["events"] > 0
    assert "Read 'Los Angeles County' as Los Angeles County, CA" in by_name.stderr
    city = run_cli(["summary", "--place", "Pomona, CA", *period], home)
    assert json.loads(city.stdout)["figures"] == coded["figures"]
    assert "Pomona, CA is a city in Los Angeles County, CA" in city.stderr


def test_la_is_asked_with_choices(home, monkeypatch, capsys):
    # nobody at the terminal: the choices are printed, exit 2
    r = run_cli(["summary", "--place", "LA", "--from", "2017-09-24", "--to", "2017-09-27"], home, stdin="")
    assert_one_line_and_hint(r, "'LA' can mean several places", "Louisiana (state) [Louisiana]",
                             "Los Angeles County, CA (county) [06037]", "Los Angeles field office (ICE AOR LOS) [LOS]")
    # a person at the terminal picks 2 (Los Angeles County): the command runs for that place
    import io

    from icemonitor import cli

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    monkeypatch.setattr(sys, "stdin", Terminal("2\n"))
    with pytest.raises(SystemExit) as done:
        cli.main(["summary", "--place", "LA", "--from", "2017-09-24", "--to", "2017-09-27", "--json"])
    assert done.value.code in (0, None)
    out = capsys.readouterr()
    assert "1. Louisiana (state)" in out.err and '"place": "Los Angeles County, CA"' in out.out


def test_errors_and_hints_in_spanish(home, tmp_path):
    """`--lang es` (or ICEMONITOR_LANG=es): the error line and its hint in Spanish, the same two lines."""
    r = run_cli(["summary", "--place", "Narnia", "--lang", "es"], home)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 2, r.stderr
    assert lines[0].startswith("error: no se conoce el lugar 'Narnia'")
    assert lines[1].startswith("sugerencia: un lugar es un estado") and "hint" not in r.stderr
    r = run_cli(["summary", "--place", "LOS", "--from", "2017-09-27", "--to", "2017-09-24", "--lang", "es"], home)
    assert "sugerencia: intercambie --from y --to" in r.stderr and "swap" not in r.stderr
    r = run_cli(["summary", "--place", "LA", "--from", "2017-09-24", "--to", "2017-09-27", "--lang=es"], home,
                stdin="")
    assert "sugerencia: indique uno de los valores entre corchetes, p. ej. --place Louisiana" in r.stderr
    env_es = run_cli(["summary", "--by", "fy"], tmp_path, env={"ICEMONITOR_LANG": "es"})
    assert env_es.returncode == 2 and "no hay almacén de datos en" in env_es.stderr
    assert "sugerencia: ejecute `icemonitor fetch` y después `icemonitor build`" in env_es.stderr
    assert "warehouse at" not in env_es.stderr
    # English stays as it was
    en = run_cli(["summary", "--by", "fy"], tmp_path)
    assert_one_line_and_hint(en, "no warehouse at", "hint: run `icemonitor fetch` then `icemonitor build`")
