"""The command line starts light (issue #14: `summary` for one AOR-year <= 1 s, timed by bench/bench_cli.py): the
CLI registers every command without importing the heavy libraries, a command imports what it uses when it runs,
and every command's help still shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import web_warehouse as ww

REPO = Path(__file__).resolve().parents[1]
HEAVY = ("polars", "pandas", "numpy", "scipy", "statsmodels", "pyarrow", "fastapi", "starlette", "uvicorn",
         "weasyprint", "jinja2", "python_calamine", "duckdb", "argon2", "cryptography", "httpx")


def _modules_after(code: str, **env: str) -> set[str]:
    """The heavy modules a fresh interpreter holds after running `code` (stdout's last line: the JSON list)."""
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"],
                         env={**os.environ, "PYTHONPATH": str(REPO / "src"), **env}, check=True, text=True,
                         capture_output=True).stdout
    return {m.split(".")[0] for m in json.loads(out.strip().splitlines()[-1])} & set(HEAVY)


def test_registering_every_command_imports_no_heavy_library():
    assert _modules_after("import icemonitor.cli") == set()


def test_summary_of_an_aor_imports_neither_polars_nor_scipy(tmp_path):
    ww.tiny(tmp_path / "warehouse.duckdb", [{"release_id": "r", "event_date": "2017-10-02", "aor": "LOS",
                                              "counted": True}] * 3)
    code = ("import contextlib, io, json\nfrom icemonitor.cli import app\nbuf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n"
            "    try:\n        app(['summary', '--aor', 'LOS', '--from', '2017-10-01', '--to', '2018-09-30', '--json'])\n"
            "    except SystemExit as e:\n        assert e.code == 0, buf.getvalue()\n"
            "assert json.loads(buf.getvalue())['figures'][0]['events'] == 3, buf.getvalue()")
    loaded = _modules_after(code, ICEMONITOR_HOME=str(tmp_path))
    assert "duckdb" in loaded  # it ran the query
    assert not loaded & {"polars", "pandas", "scipy", "statsmodels", "pyarrow", "fastapi", "uvicorn", "jinja2"}


def _commands(group, path=()):
    for name, cmd in group.commands.items():
        yield (*path, name)
        if hasattr(cmd, "commands"):  # a group (typer's own click)
            yield from _commands(cmd, (*path, name))


def test_every_command_shows_its_help():
    import typer.main
    from typer.testing import CliRunner

    from icemonitor.cli import app

    commands = list(_commands(typer.main.get_command(app)))
    assert {("summary",), ("serve",), ("build",), ("intake", "init-key"), ("places", "find")} <= set(commands)
    runner = CliRunner()
    for path in commands:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "120"})
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.output, path
