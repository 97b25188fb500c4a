"""`icemonitor intake ...`: init-key, add-user, rotate-key, verify-audit, purge (run through the real CLI)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from icemonitor.cli import app
from icemonitor.intake.db import Database
from icemonitor.intake.keys import read_key_file
from icemonitor.intake.store import Vault, Viewer

REPO = Path(__file__).resolve().parents[1]
REVIEWER = Viewer("rev", frozenset({"reviewer"}))


@pytest.fixture
def env(tmp_path, monkeypatch):
    home = tmp_path / "home"
    key = tmp_path / "secrets" / "intake.key"
    monkeypatch.setenv("ICEMONITOR_HOME", str(home))
    monkeypatch.setenv("ICEMONITOR_INTAKE_KEY_FILE", str(key))
    monkeypatch.setenv("ICEMONITOR_INTAKE_DB", f"sqlite:///{tmp_path / 'intake.sqlite'}")
    return tmp_path, key


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(app, ["intake", *args], input=input)


def test_init_key_writes_a_private_key_and_refuses_to_overwrite(env):
    _, key = env
    r = run("init-key")
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and len(read_key_file(key)) == 32
    assert run("init-key").exit_code != 0
    assert len(read_key_file(key)) == 32


def test_init_key_refuses_the_data_folder(env):
    tmp, _ = env
    r = run("init-key", "--key-file", str(tmp / "home" / "intake.key"))
    assert r.exit_code == 2 and "inside the data folder" in r.output
    assert not (tmp / "home" / "intake.key").exists()


def test_add_user_rotate_verify_purge(env):
    tmp, key = env
    assert run("init-key").exit_code == 0
    r = run("add-user", "ana", "--role", "reviewer", "--role", "attorney")
    assert r.exit_code == 0, r.output
    assert "/staff/enrol/" in r.output and "TOTP" not in r.output
    vault = Vault(Database(os.environ["ICEMONITOR_INTAKE_DB"]), read_key_file(key)).open()
    refs = [vault.create_request({"name": f"persona {i}", "phone": "1"}, "normal") for i in range(5)]
    old_key = read_key_file(key)

    r = run("rotate-key")
    assert r.exit_code == 0, r.output
    assert "5 data keys re-wrapped" in r.output and not Path(f"{key}.new").exists()
    new_key = read_key_file(key)
    assert new_key != old_key and stat.S_IMODE(key.stat().st_mode) == 0o600
    fresh = Vault(Database(os.environ["ICEMONITOR_INTAKE_DB"]), new_key).open()
    assert [fresh.get_request(REVIEWER, ref)["name"] for ref in refs] == [f"persona {i}" for i in range(5)]

    fresh.set_status(REVIEWER, refs[0], "closed")
    r = run("purge", "--days", "0", "--json")
    assert r.exit_code == 0 and refs[0] in r.output

    r = run("verify-audit")
    assert r.exit_code == 0 and "intact" in r.output
    with fresh.db.transaction() as conn:
        conn.execute("DROP TRIGGER intake_audit_no_update")
        conn.execute("UPDATE intake_audit SET detail = 'nothing happened' WHERE seq = 3")
    r = run("verify-audit")
    assert r.exit_code == 1 and "TAMPERED at row 3" in r.output


def test_missing_key_is_a_clear_cli_error(env, monkeypatch):
    tmp, _ = env
    for command in ("verify-audit", "purge", "rotate-key"):
        proc = subprocess.run([sys.executable, "-m", "icemonitor", "intake", command], capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO / "src")}, timeout=120)
        assert proc.returncode == 2, command
        assert "does not exist" in proc.stderr and "Traceback" not in proc.stderr, command


def test_verify_audit_compares_the_chain_with_its_anchor(env):
    tmp, key = env
    assert run("init-key").exit_code == 0
    assert run("add-user", "ana", "--role", "reviewer").exit_code == 0
    anchor = tmp / "home" / "intake-audit.anchor"  # the default: the data folder, outside the database
    assert anchor.read_text().startswith("audit 1:")
    r = run("verify-audit")
    assert r.exit_code == 0 and "intact: 1 rows" in r.output
    longer = "audit 7:" + "ab" * 32  # e.g. the copy an earlier alert carried
    r = run("verify-audit", "--anchor", longer)
    assert r.exit_code == 1 and "truncated" in r.output
    assert run("verify-audit", "--anchor", "nonsense").exit_code == 2
