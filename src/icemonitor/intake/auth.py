"""Staff accounts: argon2id passwords, TOTP second factor, enrolment links, lifecycle, and server-side sessions.

An admin creates an account with roles only; the system answers with a one-time enrolment link. The person opens
it, sees their own TOTP secret (never shown to the admin), chooses a password and confirms with a code. Session
ids and enrolment tokens are stored only as HMAC-SHA-256 under keys derived from the master key, so a row written
into the database without the key file is no session and no enrolment. Every account change is audited; admins
see the changes the other admins made (account_changes).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag

from icemonitor.intake import audit
from icemonitor.messages import msg
from icemonitor.intake.db import Conn
from icemonitor.intake.keys import derived_key, open_sealed, seal, totp_aad
from icemonitor.intake.store import Vault, Viewer

ROLES = ("reviewer", "attorney", "admin")
HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(16))
MIN_PASSWORD = 12
ENROL_SECONDS = 72 * 3600
ACCOUNT_ACTIONS = ("add-user", "enrol", "set-roles", "disable-user", "enable-user", "delete-user", "reset-user",
                   "end-sessions", "unlock-user")


def _keyed_hash(master: bytes, purpose: str, token: str) -> str:
    """HMAC-SHA-256 of a bearer token under a key derived from the master key for that purpose."""
    return hmac.new(derived_key(master, purpose), token.encode(), hashlib.sha256).hexdigest()


def _session_hash(master: bytes, token: str) -> str:
    return _keyed_hash(master, "session-tokens", token)


def _enrol_hash(master: bytes, token: str) -> str:
    return _keyed_hash(master, "enrolment-tokens", token)


class AccountError(ValueError):
    """A staff account cannot be created or changed as asked."""


def _check_username(username: str) -> None:
    if not username or len(username) > 64 or not all(c.isascii() and (c.isalnum() or c in "._-") for c in username):
        raise AccountError(msg("username: 1-64 letters, digits, '.', '_' or '-'"))


def _roles_text(roles: list[str]) -> str:
    bad = [r for r in roles if r not in ROLES]
    if bad or not roles:
        raise AccountError(msg("roles must be among {roles}", roles=", ".join(ROLES)))
    return ",".join(sorted(set(roles)))


def _user(conn: Conn, username: str) -> dict:
    user = conn.one("SELECT * FROM intake_users WHERE username = ?", (username,))
    if user is None:
        raise AccountError(msg("no account with that username"))
    return user


def _new_enrolment(conn: Conn, master: bytes, username: str, now: float) -> str:
    """A fresh one-time enrolment token for username (the account's password and second factor are cleared)."""
    token = secrets.token_urlsafe(32)
    conn.execute("UPDATE intake_users SET password_hash = '', enc_totp = ?, enrolled = 0, enrol_hash = ?, "
                 "enrol_expires = ?, last_totp_step = 0, failed_logins = 0 WHERE username = ?",
                 (b"", _enrol_hash(master, token), int(now + ENROL_SECONDS), username))
    conn.execute("DELETE FROM intake_sessions WHERE username = ?", (username,))
    return token


def _keep_an_admin(conn: Conn, username: str, roles_after: str | None) -> None:
    """Refuse a change that would leave no enabled admin (roles_after None: the account goes away or off)."""
    admins = [u["username"] for u in conn.execute("SELECT username, roles FROM intake_users WHERE disabled = 0")
              if "admin" in u["roles"].split(",")]
    if admins == [username] and (roles_after is None or "admin" not in roles_after.split(",")):
        raise AccountError(msg("that would leave no enabled admin account"))


def add_user(vault: Vault, username: str, roles: list[str], *, actor: str = "admin", now: float | None = None) -> str:
    """Create a staff account with roles and no password; returns its one-time enrolment token (valid 72 h)."""
    _check_username(username)
    roles_text = _roles_text(roles)
    now = now if now is not None else time.time()
    with vault.db.transaction() as conn:
        master = vault.key(conn)
        conn.lock("intake_audit")
        if conn.one("SELECT 1 AS x FROM intake_users WHERE username = ?", (username,)):
            raise AccountError(msg("that username exists already"))
        conn.execute("INSERT INTO intake_users (username, password_hash, enc_totp, roles, created_at, enrolled) "
                     "VALUES (?, '', ?, ?, ?, 0)", (username, b"", roles_text, int(now)))
        token = _new_enrolment(conn, master, username, now)
        audit.append(conn, vault.audit_key, actor, "add-user", "", f"{username} roles {roles_text}")
    return token


def start_enrolment(vault: Vault, token: str, *, new_secret: bool = True,
                    now: float | None = None) -> tuple[str, str] | None:
    """For a valid enrolment token: (username, a new TOTP secret for that person to add to their app); else None.

    Each visit makes a new secret, so a secret someone else saw through the link before its owner is void
    (new_secret=False: the pending one again, for a retry after a mistyped password or code)."""
    now = now if now is not None else time.time()
    if not token or len(token) > 200:
        return None
    with vault.db.transaction() as conn:
        master = vault.key(conn)
        user = conn.one("SELECT username, enc_totp, enrol_expires FROM intake_users WHERE enrol_hash = ?",
                        (_enrol_hash(master, token),))
        if user is None or int(user["enrol_expires"]) < now:
            return None
        if not new_secret and bytes(user["enc_totp"]):
            return user["username"], open_sealed(master, user["enc_totp"], totp_aad(user["username"])).decode()
        secret = pyotp.random_base32()
        conn.execute("UPDATE intake_users SET enc_totp = ? WHERE username = ?",
                     (seal(master, secret.encode(), totp_aad(user["username"])), user["username"]))
    return user["username"], secret


def finish_enrolment(vault: Vault, token: str, password: str, code: str, *, now: float | None = None) -> str:
    """Set the person's password once their code proves the secret is in their app; the link is then spent."""
    now = now if now is not None else time.time()
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    with vault.db.transaction() as conn:
        master = vault.key(conn)
        user = conn.one("SELECT * FROM intake_users WHERE enrol_hash = ?", (_enrol_hash(master, token or ""),))
        if user is None or int(user["enrol_expires"]) < now or not bytes(user["enc_totp"]):
            raise AccountError("this enrolment link is not valid (used, expired or replaced): ask an admin for a new one")
        secret = open_sealed(master, user["enc_totp"], totp_aad(user["username"])).decode()
        step = _matching_step(secret, code, now)
        if step is None:
            raise AccountError("that code does not match: check the authenticator app's clock and try again")
        conn.execute("UPDATE intake_users SET password_hash = ?, enrolled = 1, enrol_hash = NULL, enrol_expires = 0, "
                     "last_totp_step = ?, failed_logins = 0 WHERE username = ?",
                     (HASHER.hash(password), step, user["username"]))
        audit.append(conn, vault.audit_key, user["username"], "enrol", "", f"{user['username']} roles {user['roles']}")
    return user["username"]


def reset_user(vault: Vault, username: str, *, actor: str, now: float | None = None) -> str:
    """Clear the account's password and second factor, end its sessions; returns a new enrolment token."""
    now = now if now is not None else time.time()
    with vault.db.transaction() as conn:
        master = vault.key(conn)
        conn.lock("intake_audit")
        _user(conn, username)
        token = _new_enrolment(conn, master, username, now)
        audit.append(conn, vault.audit_key, actor, "reset-user", "", username)
    return token


def set_roles(vault: Vault, username: str, roles: list[str], *, actor: str) -> None:
    roles_text = _roles_text(roles)
    with vault.db.transaction() as conn:
        conn.lock("intake_audit")  # before row locks, as rotation and purge take them
        user = _user(conn, username)
        _keep_an_admin(conn, username, roles_text)
        conn.execute("UPDATE intake_users SET roles = ? WHERE username = ?", (roles_text, username))
        audit.append(conn, vault.audit_key, actor, "set-roles", "", f"{username} roles {user['roles']} -> {roles_text}")


def set_disabled(vault: Vault, username: str, disabled: bool, *, actor: str) -> None:
    """Disable (its sessions end at once) or enable an account."""
    with vault.db.transaction() as conn:
        conn.lock("intake_audit")  # before row locks, as rotation and purge take them
        user = _user(conn, username)
        if disabled:
            _keep_an_admin(conn, username, None)
            conn.execute("DELETE FROM intake_sessions WHERE username = ?", (username,))
        conn.execute("UPDATE intake_users SET disabled = ? WHERE username = ?", (1 if disabled else 0, username))
        audit.append(conn, vault.audit_key, actor, "disable-user" if disabled else "enable-user", "",
                     f"{username} roles {user['roles']}")


def delete_user(vault: Vault, username: str, *, actor: str) -> None:
    """Delete an account and its sessions; the requests assigned to it go back to the shared queue."""
    with vault.db.transaction() as conn:
        conn.lock("intake_audit")  # before row locks, as rotation and purge take them
        user = _user(conn, username)
        _keep_an_admin(conn, username, None)
        conn.execute("DELETE FROM intake_sessions WHERE username = ?", (username,))
        conn.execute("UPDATE intake_requests SET assigned_to = NULL WHERE assigned_to = ?", (username,))
        conn.execute("DELETE FROM intake_users WHERE username = ?", (username,))
        audit.append(conn, vault.audit_key, actor, "delete-user", "", f"{username} roles {user['roles']}")


def end_sessions(vault: Vault, username: str, *, actor: str) -> int:
    """Log the account out everywhere; returns the number of sessions ended."""
    with vault.db.transaction() as conn:
        conn.lock("intake_audit")  # before row locks, as rotation and purge take them
        _user(conn, username)
        n = int(conn.one("SELECT COUNT(*) AS n FROM intake_sessions WHERE username = ?", (username,))["n"])
        conn.execute("DELETE FROM intake_sessions WHERE username = ?", (username,))
        audit.append(conn, vault.audit_key, actor, "end-sessions", "", f"{username}: {n}")
    return n


def unlock_user(vault: Vault, username: str, *, actor: str) -> None:
    """Reset the account's failed-login count (the lock-outs themselves are per client, in memory: web.py)."""
    with vault.db.transaction() as conn:
        conn.lock("intake_audit")  # before row locks, as rotation and purge take them
        conn.execute("UPDATE intake_users SET failed_logins = 0, locked_until = 0 WHERE username = ?", (username,))
        audit.append(conn, vault.audit_key, actor, "unlock-user", "", username)


def list_users(vault: Vault) -> list[dict]:
    with vault.db.transaction() as conn:
        return conn.execute("SELECT username, roles, failed_logins, locked_until, disabled, enrolled, enrol_expires, "
                            "created_at FROM intake_users ORDER BY username")


def account_changes(vault: Vault, viewer: Viewer, *, days: int = 7, now: float | None = None) -> list[dict]:
    """Account changes (grants, enrolments, resets, ...) of the last days made by someone other than viewer."""
    if "admin" not in viewer.roles:
        return []
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((now if now is not None else time.time()) - days * 86400))
    marks = ",".join("?" * len(ACCOUNT_ACTIONS))
    with vault.db.transaction() as conn:
        return conn.execute(f"SELECT at, actor, action, detail FROM intake_audit WHERE action IN ({marks}) "
                            "AND actor <> ? AND at >= ? ORDER BY seq DESC LIMIT 50",
                            (*ACCOUNT_ACTIONS, viewer.username, since))


@dataclass
class LoginResult:
    ok: bool
    token: str = ""


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password or "x")
    except (VerificationError, InvalidHashError):
        return False


def login(vault: Vault, username: str, password: str, code: str, *, locked_out: bool = False,
          now: float | None = None) -> LoginResult:
    """Check password and TOTP; on success a new session. Unknown, disabled, not yet enrolled, locked out (this
    client, see web.py) and wrong all take the same path: one argon2 verification, one update, one audit row."""
    now = now if now is not None else time.time()
    with vault.db.transaction() as conn:
        master = vault.key(conn)
        user = conn.one("SELECT * FROM intake_users WHERE username = ?", (username,))
        usable = user is not None and not user["disabled"] and bool(user["enrolled"]) and not locked_out
        password_ok = _password_matches(user["password_hash"] if usable else _DUMMY_HASH, password)
        step = None
        if usable:
            secret = open_sealed(master, user["enc_totp"], totp_aad(username)).decode()
            step = _matching_step(secret, code, now)
        totp_ok = usable and step is not None and step > int(user["last_totp_step"])  # no replay of a used code
        if not (usable and password_ok and totp_ok):
            conn.execute("UPDATE intake_users SET failed_logins = failed_logins + 1 WHERE username = ?", (username,))
            why = ("unknown account" if user is None else "refused: locked out from this client" if locked_out
                   else "refused: account disabled or not enrolled" if not usable else "wrong password or code")
            audit.append(conn, vault.audit_key, "anonymous" if user is None else username, "login-failed", "", why)
            return LoginResult(False)
        conn.execute("UPDATE intake_users SET failed_logins = 0, locked_until = 0, last_totp_step = ? WHERE username = ?",
                     (step, username))
        conn.execute("DELETE FROM intake_sessions WHERE username = ? AND created_at < ?",
                     (username, int(now - 7 * 86400)))  # forget long-dead sessions of this account
        token = secrets.token_urlsafe(32)
        conn.execute("INSERT INTO intake_sessions (token_hash, username, created_at, last_seen, csrf) VALUES (?,?,?,?,?)",
                     (_session_hash(master, token), username, int(now), int(now), secrets.token_urlsafe(32)))
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
    """The live session for a cookie value, or None (unknown, idle too long, too old, or account disabled/reset)."""
    if not token or len(token) > 200:
        return None
    now = now if now is not None else time.time()
    with vault.db.transaction() as conn:
        th = _session_hash(vault.key(conn), token)
        row = conn.one("SELECT * FROM intake_sessions WHERE token_hash = ?", (th,))
        if row is None:
            return None
        user = conn.one("SELECT roles, disabled, enrolled FROM intake_users WHERE username = ?", (row["username"],))
        expired = now - int(row["last_seen"]) > idle_seconds or now - int(row["created_at"]) > absolute_seconds
        if expired or user is None or user["disabled"] or not user["enrolled"]:
            conn.execute("DELETE FROM intake_sessions WHERE token_hash = ?", (th,))
            return None
        conn.execute("UPDATE intake_sessions SET last_seen = ? WHERE token_hash = ?", (int(now), th))
    viewer = Viewer(row["username"], frozenset(r for r in user["roles"].split(",") if r))
    return Session(th, viewer, row["csrf"])


def logout(vault: Vault, session: Session) -> None:
    with vault.db.transaction() as conn:
        conn.execute("DELETE FROM intake_sessions WHERE token_hash = ?", (session.token_hash,))
        audit.append(conn, vault.audit_key, session.viewer.username, "logout", "")
