"""The master key (a file outside the database) and AES-GCM encryption of personal fields.

Each request has its own random 256-bit data key. Field values are encrypted with that data key;
the data key is stored only wrapped (encrypted) by the master key. The associated data of every
ciphertext names the record id and the field, so a ciphertext copied to another record or field
fails to decrypt.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from icemonitor.errors import IcemonitorError
from icemonitor.messages import msg
from icemonitor.intake import KEY_ENV  # noqa: F401 - defined in the package, where the CLI reads it cheaply

KEY_HEADER = "icemonitor-intake-master-key v1"
FORMAT = b"\x01"
NONCE_BYTES = 12


class IntakeKeyError(IcemonitorError):
    """The master key is missing, unreadable or does not open this database."""


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=256)


def key_file_from_env() -> Path:
    """The master key file named by ICEMONITOR_INTAKE_KEY_FILE (required: there is no default)."""
    env = os.environ.get(KEY_ENV)
    if not env:
        raise IntakeKeyError(msg("{name} is not set: name the intake master key file (create one with "
                                 "`icemonitor intake init-key --key-file PATH`)", name=KEY_ENV))
    return Path(env).expanduser()


def pending_key_file(path: Path) -> Path:
    """Where `rotate-key` writes the new key before the database changes (renamed over path afterwards)."""
    return path.with_name(path.name + ".new")


def derived_key(master: bytes, purpose: str) -> bytes:
    """A 256-bit key for one purpose (e.g. hashing session tokens), derived from the master key with HKDF."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=f"icemonitor-intake|{purpose}".encode()).derive(master)


def write_key_file(path: Path, key: bytes, *, overwrite: bool = False) -> None:
    """Write the key (mode 0600) atomically; refuse to replace an existing key unless asked."""
    if path.exists() and not overwrite:
        raise IntakeKeyError(msg("key file {path} already exists: refusing to overwrite it", path=str(path)))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{KEY_HEADER}\n{base64.b64encode(key).decode()}\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_key_file(path: Path) -> bytes:
    """Read a master key file written by write_key_file, with a clear error when it is not one."""
    if not path.exists():
        raise IntakeKeyError(msg("intake master key file {path} does not exist (create it with `icemonitor intake "
                                 "init-key`, or point ICEMONITOR_INTAKE_KEY_FILE at the right file)", path=str(path)))
    try:
        text = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise IntakeKeyError(msg("cannot read intake master key file {path}: {kind}", path=str(path),
                                 kind=type(exc).__name__)) from None
    if len(text) < 2 or text[0].strip() != KEY_HEADER:
        raise IntakeKeyError(msg("{path} is not an icemonitor intake master key file (bad header)", path=str(path)))
    try:
        key = base64.b64decode(text[1].strip(), validate=True)
    except ValueError:
        raise IntakeKeyError(msg("{path}: the key line is not valid base64", path=str(path))) from None
    if len(key) != 32:
        raise IntakeKeyError(msg("{path}: the key must be 32 bytes, found {n}", path=str(path), n=len(key)))
    return key


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-GCM encrypt: format byte + 96-bit random nonce + ciphertext-and-tag."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return FORMAT + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt what seal() produced; raises InvalidTag on a wrong key, wrong aad or tampering."""
    blob = bytes(blob)
    if blob[:1] != FORMAT:
        raise InvalidTag("unknown ciphertext format")
    return AESGCM(key).decrypt(blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :], aad)


def reseal(old: bytes, new: bytes, blob: bytes, aad: bytes) -> bytes | None:
    """blob opened with old and sealed again with new (key rotation); None when old does not open it."""
    try:
        return seal(new, open_sealed(old, blob, aad), aad)
    except InvalidTag:
        return None


def field_aad(record_id: str, field: str) -> bytes:
    """Associated data binding a ciphertext to its record and field."""
    return f"icemonitor-intake|{record_id}|{field}".encode()


def totp_aad(username: str) -> bytes:
    """Associated data of a staff user's sealed TOTP secret."""
    return f"icemonitor-intake|user:{username}|totp".encode()


def wrap_aad(record_id: str) -> bytes:
    """Associated data binding a wrapped data key to its record."""
    return f"icemonitor-intake|{record_id}|data-key".encode()


KEY_CHECK_PLAINTEXT = b"icemonitor intake key check"
KEY_CHECK_AAD = b"icemonitor-intake|key-check"
AUDIT_KEY_AAD = b"icemonitor-intake|audit-key"
