"""The analysis CLI commands run against a warehouse and print tables or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA



@pytest.fixture(scope="module")
def home(request, tmp_path_factory):
    base = tmp_path_factory.mktemp("home")
    (base / "warehouse.duckdb").symlink_to(request.getfixturevalue("warehouse_path"))
    return base


def test_summary_and_sweeps_json(home, monkeypatch):
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    from icemonitor.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["summary", "--by", "fy", "--aor", "SEA", "--from", "2015-10-01", "--to", "2019-09-30", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [f["events"] for f in data["figures"]][:3] == [2698, 3376, 3067]
    r = runner.invoke(app, ["sweeps", "--place", "LOS", "--from", "2017-09-01", "--to", "2017-10-31", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert any(f["start"] <= "2017-09-27" and f["end"] >= "2017-09-24" for f in data["figures"])
    r = runner.invoke(app, ["priorities", "--table", "removals", "--place", "LOS", "--by", "fy"])
    assert r.exit_code == 0 and "PROXY" in r.stdout


def test_wide_results_print_one_block_per_row_on_a_narrow_console(home, monkeypatch):
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    from icemonitor.analysis import cli as analysis_cli
    from icemonitor.cli import app

    example = Path(__file__).resolve().parents[1] / "examples" / "claims" / "september-2017-sweep.yaml"
    runner = CliRunner()
    for width, blocks in ((80, True), (400, False)):
        monkeypatch.setattr(analysis_cli.out, "_width", width)
        r = runner.invoke(app, ["check", str(example), "--data-root", str(SHARED_DATA)])
        assert r.exit_code == 0, r.output
        lines = r.stdout.splitlines()
        # as blocks, each claim's fields are on lines of their own ("verdict  consistent"); as a table, in one row
        has_block = any(line.split()[:2] == ["verdict", "consistent"] for line in lines if line.strip())
        assert has_block is blocks, r.stdout[:2000]
        assert all(len(line) <= width for line in lines if not line.startswith("national-498:")
                   and ": SELECT" not in line)
