"""The analysis CLI commands run against a warehouse and print tables or JSON."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner



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
