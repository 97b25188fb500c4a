"""Staff accounts: argon2id passwords, TOTP second factor, lockout, and server-side sessions."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from icemonitor.intake import audit
from icemonitor.intake.keys import open_sealed, seal, totp_aad
from icemonitor.intake.store import Vault, Viewer

ROLES = ("reviewer", "attorney", "admin")
HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD = 12


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountError(ValueError):
    """A staff account cannot be created as asked."""


def add_user(vault: Vault, username: str, password: str, roles: list[str], *, actor: str = "admin") -> str:
    """Create a staff account; returns its new TOTP secret (show it once, to be put in an authenticator app)."""
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-" for c in username):
        raise AccountError("username: 1-64 letters, digits, '.', '_' or '-'")
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise AccountError(f"roles must be among {', '.join(ROLES)}")
    secret = pyotp.random_base32()
    with vault.db.transaction() as conn:
        if conn.one("SELECT 1 AS x FROM intake_users WHERE username = ?", (username,)):
            raise AccountError("that username exists already")
        conn.execute(
            "INSERT INTO intake_users (username, password_hash, enc_totp, roles, created_at) VALUES (?, ?, ?, ?, ?)",
            (username, HASHER.hash(password), seal(vault.master_key, secret.encode(), totp_aad(username)),
             ",".join(sorted(set(roles))), int(time.time())),
        )
        audit.append(conn, vault.audit_key, actor, "add-user", "", f"{username} roles {','.join(sorted(set(roles)))}")
    return secret


def unlock_user(vault: Vault, username: str, *, actor: str) -> None:
    with vault.db.transaction() as conn:
        conn.execute("UPDATE intake_users SET failed_logins = 0, locked_until = 0 WHERE username = ?", (username,))
        audit.append(conn, vault.audit_key, actor, "unlock-user", "", username)


def list_users(vault: Vault) -> list[dict]:
    with vault.db.transaction() as conn:
        return conn.execute("SELECT username, roles, failed_logins, locked_until, disabled, created_at "
                            "FROM intake_users ORDER BY username")


@dataclass
class LoginResult:
    ok: bool
    token: str = ""
    locked: bool = False


def login(vault: Vault, username: str, password: str, code: str, *, max_failures: int, lockout_seconds: int,
          now: float | None = None) -> LoginResult:
    """Check password and TOTP; count failures and lock the account after max_failures; on success a new session."""
    now = now if now is not None else time.time()
    with vault.db.transaction() as conn:
        user = conn.one("SELECT * FROM intake_users WHERE username = ?", (username,))
        if user is None:
            try:
                HASHER.verify(_DUMMY_HASH, password or "x")  # same cost whether or not the account exists
            except (VerificationError, InvalidHashError):
                pass
            audit.append(conn, vault.audit_key, "anonymous", "login-failed", "", "unknown account")
            return LoginResult(False)
        if user["disabled"] or int(user["locked_until"]) > now:
            audit.append(conn, vault.audit_key, username, "login-refused", "", "account locked")
            return LoginResult(False, locked=True)
        try:
            password_ok = HASHER.verify(user["password_hash"], password)
        except (VerificationError, InvalidHashError):
            password_ok = False
        secret = open_sealed(vault.master_key, user["enc_totp"], totp_aad(username)).decode()
        step = _matching_step(secret, code, now)
        totp_ok = step is not None and step > int(user["last_totp_step"])  # no replay of a used code
        if not (password_ok and totp_ok):
            failures = int(user["failed_logins"]) + 1
            locked_until = int(now + lockout_seconds) if failures >= max_failures else 0
            conn.execute("UPDATE intake_users SET failed_logins = ?, locked_until = ? WHERE username = ?",
                         (0 if locked_until else failures, locked_until, username))
            audit.append(conn, vault.audit_key, username, "login-failed", "", "locked" if locked_until else f"failure {failures}")
            return LoginResult(False, locked=bool(locked_until))
        conn.execute("UPDATE intake_users SET failed_logins = 0, locked_until = 0, last_totp_step = ? WHERE username = ?",
                     (step, username))
        conn.execute("DELETE FROM intake_sessions WHERE username = ? AND created_at < ?",
                     (username, int(now - 7 * 86400)))  # forget long-dead sessions of this account
        token = secrets.token_urlsafe(32)
        conn.execute("INSERT INTO intake_sessions (token_hash, username, created_at, last_seen, csrf) VALUES (?,?,?,?,?)",
                     (_token_hash(token), username, int(now), int(now), secrets.token_urlsafe(32)))
        audit.append(conn, vault.audit_key, username, "login", "")
    return LoginResult(True, token=token)


def _matching_step(secret: str, code: str, now: float) -> int | None:
    """The 30-second step whose TOTP equals code (current step, or one step either side), else None."""
    code = (code or "").strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret)
    step = int(now // 30)
    for s in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.at(s * 30), code):
            return s
    return None


@dataclass
class Session:
    token_hash: str
    viewer: Viewer
    csrf: str


def session_for(vault: Vault, token: str | None, *, idle_seconds: int, absolute_seconds: int,
                now: float | None = None) -> Session | None:
    """The live session for a cookie value, or None (unknown, idle too long, too old, or account locked)."""
    if not token or len(token) > 200:
        return None
    now = now if now is not None else time.time()
    th = _token_hash(token)
    with vault.db.transaction() as conn:
        row = conn.one("SELECT * FROM intake_sessions WHERE token_hash = ?", (th,))
        if row is None:
            return None
        user = conn.one("SELECT roles, disabled, locked_until FROM intake_users WHERE username = ?", (row["username"],))
        expired = now - int(row["last_seen"]) > idle_seconds or now - int(row["created_at"]) > absolute_seconds
        if expired or user is None or user["disabled"]:
            conn.execute("DELETE FROM intake_sessions WHERE token_hash = ?", (th,))
            return None
        conn.execute("UPDATE intake_sessions SET last_seen = ? WHERE token_hash = ?", (int(now), th))
    viewer = Viewer(row["username"], frozenset(r for r in user["roles"].split(",") if r))
    return Session(th, viewer, row["csrf"])


def logout(vault: Vault, session: Session) -> None:
    with vault.db.transaction() as conn:
        conn.execute("DELETE FROM intake_sessions WHERE token_hash = ?", (session.token_hash,))
        audit.append(conn, vault.audit_key, session.viewer.username, "logout", "")
