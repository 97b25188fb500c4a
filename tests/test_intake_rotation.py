"""Key rotation while the server runs, unreadable records, and `intake verify` (issue 15, item 3)."""

from __future__ import annotations

import os

import pytest
from intake_support import add_staff, db_url, logged_in, make_client, make_settings, pg_server, submit  # noqa: F401
from typer.testing import CliRunner

from icemonitor.cli import app
from icemonitor.intake.db import Database
from icemonitor.intake.keys import KEY_ENV, new_key, pending_key_file, read_key_file, seal, wrap_aad, write_key_file
from icemonitor.intake.store import Vault


@pytest.fixture
def running(tmp_path, db_url, monkeypatch):
    settings = make_settings(tmp_path, db_url)
    monkeypatch.setenv(KEY_ENV, str(settings.key_file))
    monkeypatch.setenv("ICEMONITOR_INTAKE_DB", db_url)
    monkeypatch.setenv("ICEMONITOR_HOME", str(tmp_path / "home"))
    client, ia = make_client(settings)
    return settings, client, ia


def cli(*args: str):
    return CliRunner().invoke(app, ["intake", *args])


def test_rotate_key_under_a_running_server_loses_no_request(running):
    settings, client, ia = running
    _, before = submit(client, name="Antes Rotación", phone="1", situation="detained_now")
    atty = add_staff(ia, "atty", ["attorney"])
    logged_in(client, atty)
    r = cli("rotate-key")
    assert r.exit_code == 0, r.output
    # the running server: the old session ended with the old key; a new login reads everything
    assert client.get("/staff").status_code == 303
    logged_in(client, atty)
    assert client.get("/staff").status_code == 200
    assert "Antes Rotación" in client.get(f"/staff/requests/{before}").text
    _, during = submit(client, name="Durante Rotación", phone="2")  # sealed with the new key, not the retired one
    # a restart with the key file as it now is: every request opens
    client2, ia2 = make_client(settings)
    logged_in(client2, add_staff(ia2, "atty2", ["attorney"]))  # (atty's next code is not due yet)
    for ref, name in ((before, "Antes Rotación"), (during, "Durante Rotación")):
        page = client2.get(f"/staff/requests/{ref}")
        assert page.status_code == 200 and name in page.text
    assert cli("rotate-key").exit_code == 0  # a second rotation works too
    r = cli("verify")
    assert r.exit_code == 0 and "2 of 2 requests open" in r.output, r.output


def test_a_request_in_the_window_before_the_key_file_is_renamed_uses_the_new_key(running):
    settings, client, ia = running
    key_file = settings.key_file
    fresh = new_key()
    write_key_file(pending_key_file(key_file), fresh)  # what rotate-key writes first ...
    other = Vault(Database(settings.db_url), read_key_file(key_file)).open()
    other.rotate(fresh)  # ... then commits; the rename has not happened yet
    _, ref = submit(client, name="En la ventana", phone="3")
    os.replace(pending_key_file(key_file), key_file)
    reopened = Vault(Database(settings.db_url), fresh).open()
    assert reopened.verify_records().ok
    from icemonitor.intake.store import Viewer

    assert reopened.get_request(Viewer("t", frozenset({"attorney"})), ref)["name"] == "En la ventana"


def test_one_unreadable_record_never_takes_down_the_inbox(running):
    settings, client, ia = running
    _, good = submit(client, name="Legible", phone="1")
    _, bad = submit(client, name="Ilegible", phone="2")
    with ia.vault.db.transaction() as conn:  # sealed with a key nobody has any more
        rid = conn.one("SELECT id FROM intake_requests WHERE reference = ?", (bad,))["id"]
        conn.execute("UPDATE intake_request_keys SET wrapped_key = ? WHERE request_id = ?",
                     (seal(new_key(), new_key(), wrap_aad(rid)), rid))
    logged_in(client, add_staff(ia, "atty", ["attorney"]))
    inbox = client.get("/staff")
    assert inbox.status_code == 200 and good in inbox.text and bad in inbox.text and "unreadable" in inbox.text
    assert client.get("/staff/api/requests").status_code == 200
    page = client.get(f"/staff/requests/{bad}")
    assert page.status_code == 200 and "does not open" in page.text and "Ilegible" not in page.text
    r = cli("verify")
    assert r.exit_code == 1 and bad in r.output and good not in r.output
    r = cli("rotate-key")  # rotation goes on, leaving the unreadable record as it was, and says so
    assert r.exit_code == 0 and "1 records did not open" in r.output
    logged_in(client, add_staff(ia, "atty2", ["attorney"]))
    assert "Legible" in client.get(f"/staff/requests/{good}").text


def test_submissions_during_repeated_rotations_all_open_afterwards(running):
    """Writers keep submitting from threads while rotate-key runs three times: every request opens after."""
    import threading

    settings, client, ia = running
    refs: list[str] = []
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                refs.append(ia.vault.create_request({"name": f"escritor {n}-{i}", "phone": "1"}, "normal"))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    try:
        for _ in range(3):
            assert cli("rotate-key").exit_code == 0
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors and len(refs) > 3
    fresh = Vault(Database(settings.db_url), read_key_file(settings.key_file)).open()
    check = fresh.verify_records()
    assert check.ok and check.requests == len(refs), check.unreadable
