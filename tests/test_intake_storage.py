"""Storage and keys, on SQLite and PostgreSQL: encryption at rest, key checks, rotation, audit chain, retention."""

from __future__ import annotations

import sqlite3
import time

import pytest
from cryptography.exceptions import InvalidTag
from intake_support import add_staff, db_url, make_settings, pg_server  # noqa: F401 - fixtures

from icemonitor.intake import audit, auth
from icemonitor.intake.db import Database
from icemonitor.intake.keys import IntakeKeyError, new_key, read_key_file, write_key_file
from icemonitor.intake.store import PERSONAL_FIELDS, Vault, Viewer

PERSON = {
    "name": "Rosa Itzel Quintanilla-Merino",
    "phone": "+1 (214) 555-0199",
    "email": "rosa.quintanilla@example.org",
    "trusted_contact": "Hermana Lucía Quintanilla 469-555-0142",
    "language": "es",
    "place": "Dallas County",
    "situation": "detained_now",
    "message": "Mi esposo fue detenido esta mañana cerca de la parada del autobús en Garland",
}
REVIEWER = Viewer("rev", frozenset({"reviewer"}))


def open_vault(url: str, key: bytes | None = None) -> Vault:
    return Vault(Database(url), key or new_key()).open()


def remove_append_only_guard(conn, sqlite_trigger: str) -> None:
    """What an attacker with database write access does first: drop (SQLite) or disable (PostgreSQL) the trigger."""
    if conn.kind == "sqlite":
        conn.execute(f"DROP TRIGGER {sqlite_trigger}")
    else:
        conn.execute("ALTER TABLE intake_audit DISABLE TRIGGER intake_audit_no_change")


def raw_dump(url: str) -> str:
    """Everything in the database as text, taken without the application's code path where possible."""
    if url.startswith("sqlite:///"):
        conn = sqlite3.connect(url[len("sqlite:///"):])
        text = "\n".join(conn.iterdump())
        conn.close()
        return text
    import psycopg

    out = []
    with psycopg.connect(url) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename")]
        assert "intake_requests" in tables
        for t in tables:
            for row in conn.execute(f'SELECT * FROM "{t}"'):
                out.append(f"{t}: {row!r}")
    return "\n".join(out)


def searchable(dump: str) -> str:
    return dump.lower()


def needles() -> list[str]:
    return [PERSON["name"], "Quintanilla", PERSON["phone"], "555-0199", "2145550199", PERSON["email"],
            "Garland", "detenido esta", "Dallas County", "detained_now"]


def test_dump_holds_no_plaintext_personal_data(db_url):
    vault = open_vault(db_url)
    ref = vault.create_request(PERSON, "urgent")
    vault.add_note(REVIEWER, ref, "Llamó Lucía Quintanilla, número alterno 972-555-0111")
    dump = raw_dump(db_url)
    assert ref in dump  # the dump is real and holds the row
    for needle in needles() + ["972-555-0111"]:
        assert needle.lower() not in searchable(dump), needle
        assert needle.encode().hex() not in dump.lower()  # sqlite dumps blobs as X'..hex..'
    # and the application reads it all back
    got = vault.get_request(REVIEWER, ref)
    assert {f: got[f] for f in PERSONAL_FIELDS} == PERSON
    assert got["notes"][0]["text"].endswith("972-555-0111")


def test_ciphertext_is_bound_to_record_and_field(db_url):
    vault = open_vault(db_url)
    a = vault.create_request(PERSON, "urgent")
    b = vault.create_request({**PERSON, "name": "Otra Persona"}, "normal")
    with vault.db.transaction() as conn:
        ra = conn.one("SELECT id, enc_name, enc_phone FROM intake_requests WHERE reference = ?", (a,))
        # swap fields within a record, and copy a ciphertext to another record
        conn.execute("UPDATE intake_requests SET enc_phone = ? WHERE reference = ?", (ra["enc_name"], a))
        conn.execute("UPDATE intake_requests SET enc_name = ? WHERE reference = ?", (ra["enc_name"], b))
    for ref in (a, b):  # neither opens; each is shown as unreadable, not as another record's data or an error
        got = vault.get_request(REVIEWER, ref)
        assert got["unreadable"] and got["name"] == got["phone"] == ""
    with vault.db.transaction() as conn:
        ra = conn.one("SELECT id FROM intake_requests WHERE reference = ?", (a,))
        with pytest.raises(InvalidTag):
            Vault._decrypt_row(vault._data_key(conn, vault.master_key, ra["id"]),
                               conn.one("SELECT * FROM intake_requests WHERE reference = ?", (a,)))
    assert sorted(vault.verify_records().unreadable) == sorted([a, b])


def test_wrong_key_refuses_to_open(db_url):
    open_vault(db_url, new_key()).create_request(PERSON, "urgent")
    with pytest.raises(IntakeKeyError, match="does not open this database"):
        open_vault(db_url, new_key())


def test_missing_key_file_is_a_clear_error(tmp_path, monkeypatch):
    from icemonitor.intake.keys import key_file_from_env

    monkeypatch.delenv("ICEMONITOR_INTAKE_KEY_FILE", raising=False)
    with pytest.raises(IntakeKeyError, match="ICEMONITOR_INTAKE_KEY_FILE is not set"):
        key_file_from_env()
    with pytest.raises(IntakeKeyError, match="does not exist"):
        read_key_file(tmp_path / "absent.key")
    (tmp_path / "bad.key").write_text("not a key\n")
    with pytest.raises(IntakeKeyError, match="bad header"):
        read_key_file(tmp_path / "bad.key")


def test_app_refuses_to_start_without_the_right_key(tmp_path, db_url):
    from fastapi import FastAPI

    from icemonitor.intake import mount_intake

    settings = make_settings(tmp_path, db_url)
    mount_intake(FastAPI(), settings)  # first start records the key check
    write_key_file(settings.key_file, new_key(), overwrite=True)
    with pytest.raises(IntakeKeyError, match="does not open this database"):
        mount_intake(FastAPI(), settings)
    settings.key_file.unlink()
    with pytest.raises(IntakeKeyError, match="does not exist"):
        mount_intake(FastAPI(), settings)
    write_key_file(settings.key_file, new_key())
    settings.key_file.chmod(0o644)
    with pytest.raises(IntakeKeyError, match="readable by other users"):
        mount_intake(FastAPI(), settings)


def test_rotation_keeps_every_record_readable(db_url):
    old = new_key()
    vault = open_vault(db_url, old)
    people = [{**PERSON, "name": f"Persona {i}", "message": f"mensaje número {i}"} for i in range(25)]
    refs = [vault.create_request(p, "normal") for p in people]
    vault.add_note(REVIEWER, refs[3], "nota tres")
    rev = add_staff(vault, "rev", ["reviewer"])
    new = new_key()
    assert vault.rotate(new).rewrapped == 25
    reopened = open_vault(db_url, new)
    for ref, person in zip(refs, people):
        got = reopened.get_request(REVIEWER, ref)
        assert {f: got[f] for f in PERSONAL_FIELDS} == person
    assert reopened.get_request(REVIEWER, refs[3])["notes"][0]["text"] == "nota tres"
    assert auth.login(reopened, "rev", rev.password, rev.code()).ok
    with pytest.raises(IntakeKeyError):
        open_vault(db_url, old)
    assert audit.verify(reopened.db, reopened.audit_key).ok


def test_audit_chain_detects_a_tampered_row(db_url):
    vault = open_vault(db_url)
    ref = vault.create_request(PERSON, "urgent")
    vault.get_request(REVIEWER, ref)
    vault.set_status(REVIEWER, ref, "contacted")
    vault.get_request(REVIEWER, ref)
    check = audit.verify(vault.db, vault.audit_key)
    assert check.ok and check.rows == 4
    # the log refuses ordinary updates ...
    with pytest.raises(Exception, match="append-only"):
        with vault.db.transaction() as conn:
            conn.execute("UPDATE intake_audit SET actor = ? WHERE seq = 2", ("someone-else",))
    assert audit.verify(vault.db, vault.audit_key).ok
    # ... and an attacker who removes the guard and edits a row is detected
    with vault.db.transaction() as conn:
        remove_append_only_guard(conn, "intake_audit_no_update")
        conn.execute("UPDATE intake_audit SET actor = ? WHERE seq = 2", ("someone-else",))
    check = audit.verify(vault.db, vault.audit_key)
    assert not check.ok and check.bad_seq == 2


def test_audit_chain_cannot_be_rebuilt_without_the_key(db_url):
    """An attacker with write access to the database but not the key file edits a row and recomputes every hash."""
    import hashlib
    import json

    vault = open_vault(db_url)
    ref = vault.create_request(PERSON, "urgent")
    for _ in range(3):
        vault.get_request(REVIEWER, ref)
    with vault.db.transaction() as conn:
        remove_append_only_guard(conn, "intake_audit_no_update")
        conn.execute("UPDATE intake_audit SET actor = 'nobody' WHERE seq = 2")
        prev = "0" * 64
        for row in conn.execute("SELECT * FROM intake_audit ORDER BY seq"):
            body = json.dumps([prev, int(row["seq"]), row["at"], row["actor"], row["action"], row["reference"],
                               row["detail"]], ensure_ascii=True, separators=(",", ":"))
            digest = hashlib.sha256(body.encode()).hexdigest()
            conn.execute("UPDATE intake_audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, row["seq"]))
            prev = digest
    check = audit.verify(vault.db, vault.audit_key)
    assert not check.ok and check.bad_seq == 1  # the very first rebuilt row no longer matches its keyed hash


def test_audit_chain_detects_a_deleted_row(db_url):
    vault = open_vault(db_url)
    ref = vault.create_request(PERSON, "urgent")
    for _ in range(3):
        vault.get_request(REVIEWER, ref)
    with vault.db.transaction() as conn:
        remove_append_only_guard(conn, "intake_audit_no_delete")
        conn.execute("DELETE FROM intake_audit WHERE seq = 3")
    check = audit.verify(vault.db, vault.audit_key)
    assert not check.ok and check.bad_seq == 4


@pytest.mark.parametrize("kept", [0, 3])
def test_audit_chain_truncation_is_caught_by_its_anchor(db_url, tmp_path, kept):
    """Deleting every audit row, or the last ones, leaves a consistent chain: the anchor outside the database
    catches it (issue 15, item 14)."""
    anchor = tmp_path / "state" / "intake-audit.anchor"
    vault = Vault(Database(db_url, anchor), new_key()).open()
    ref = vault.create_request(PERSON, "urgent")
    for _ in range(4):
        vault.get_request(REVIEWER, ref)
    rows, head = audit.head(vault.db)
    assert audit.read_anchor(anchor) == (rows, head) == (5, head)
    assert audit.verify(vault.db, vault.audit_key).ok
    with vault.db.transaction() as conn:
        remove_append_only_guard(conn, "intake_audit_no_delete")
        conn.execute("DELETE FROM intake_audit WHERE seq > ?", (kept,))
    assert audit.verify(Database(db_url), vault.audit_key).ok  # the chain alone looks intact ...
    check = audit.verify(vault.db, vault.audit_key)  # ... the anchor file says otherwise
    assert not check.ok and "truncated" in check.reason and f"{rows} rows" in check.reason
    given = audit.parse_anchor(f"alert text ... {audit.anchor_text(rows, head)} ...")  # the copy in an alert
    assert not audit.verify(Database(db_url), vault.audit_key, given).ok


def test_retention_shreds_closed_requests_after_n_days(db_url):
    vault = open_vault(db_url)
    old_closed = vault.create_request(PERSON, "urgent")
    recent_closed = vault.create_request(PERSON, "normal")
    still_open = vault.create_request(PERSON, "normal")
    vault.set_status(REVIEWER, old_closed, "closed")
    vault.set_status(REVIEWER, recent_closed, "closed")
    now = time.time()
    with vault.db.transaction() as conn:
        conn.execute("UPDATE intake_requests SET closed_at = ? WHERE reference = ?", (int(now - 31 * 86400), old_closed))
    assert vault.purge(30, now=now) == [old_closed]
    with vault.db.transaction() as conn:
        row = conn.one("SELECT * FROM intake_requests WHERE reference = ?", (old_closed,))
        keys = conn.one("SELECT COUNT(*) AS n FROM intake_request_keys")
        shreds = conn.execute("SELECT * FROM intake_audit WHERE action = 'shred'")
    assert row["shredded_at"] is not None and all(row[f"enc_{f}"] is None for f in PERSONAL_FIELDS)
    assert int(keys["n"]) == 2
    assert [s["reference"] for s in shreds] == [old_closed] and shreds[0]["actor"] == "retention"
    from icemonitor.intake.store import RequestNotFound

    with pytest.raises(RequestNotFound):
        vault.get_request(REVIEWER, old_closed)
    assert vault.get_request(REVIEWER, recent_closed)["name"] == PERSON["name"]
    assert vault.get_request(REVIEWER, still_open)["name"] == PERSON["name"]
    assert old_closed not in [r["reference"] for r in vault.list_requests(REVIEWER)]
    assert audit.verify(vault.db, vault.audit_key).ok


def test_sql_injection_strings_are_stored_as_data(db_url):
    vault = open_vault(db_url)
    evil = "x'); DROP TABLE intake_requests; --"
    person = {f: f"{evil} {f} \" OR 1=1 --" for f in PERSONAL_FIELDS}
    ref = vault.create_request(person, "normal")
    vault.add_note(REVIEWER, ref, evil)
    got = vault.get_request(REVIEWER, ref)
    assert {f: got[f] for f in PERSONAL_FIELDS} == person and got["notes"][0]["text"] == evil
    for filt in ("status", "urgency", "assigned"):
        assert vault.list_requests(REVIEWER, **{filt: "new' OR '1'='1"}) == []
    assert [r["reference"] for r in vault.list_requests(REVIEWER)] == [ref]
