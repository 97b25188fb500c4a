"""The targeting and check CLI commands: readable tables and --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "claims" / "september-2017-sweep.yaml"


@pytest.fixture(scope="module")
def home(warehouse_path, tmp_path_factory):
    base = tmp_path_factory.mktemp("home")
    (base / "warehouse.duckdb").symlink_to(warehouse_path)
    return base


def test_targeting_and_check_commands(home, monkeypatch):
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    monkeypatch.setenv("ICEMONITOR_MIRROR", str(SHARED_DATA))
    from icemonitor.cli import app

    runner = CliRunner()
    r = runner.invoke(app, ["targeting", "--definition", "state-law", "--from", "2017-10-01", "--to", "2018-09-30",
                            "--period", "fy", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["parameters"]["definition"] == "state-law" and data["extra"]["models"]
    r = runner.invoke(app, ["targeting", "--from", "2017-10-01", "--to", "2018-09-30", "--period", "fy"])
    assert r.exit_code == 0, r.output
    assert "Rate ratios" in r.stdout and "in plain words" in r.stdout
    r = runner.invoke(app, ["check", str(EXAMPLE), "--data-root", str(SHARED_DATA), "--json"])
    assert r.exit_code == 0, r.output
    verdicts = {f["id"]: f["verdict"] for f in json.loads(r.stdout)["figures"]}
    assert verdicts["national-498"] == "consistent" and verdicts["no-record-third-national"] == "not checkable"
    r = runner.invoke(app, ["check", str(EXAMPLE), "--data-root", str(SHARED_DATA)])
    assert r.exit_code == 0 and "not checkable" in r.stdout and "SELECT count(*)" in r.stdout
