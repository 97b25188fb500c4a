"""Helpers for the watch tests: a small archive of real release files, raw-file counts taken independently,
a webhook receiver and an SMTP server (STARTTLS + AUTH) on loopback. No tests here."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import hmac
import json
import shutil
import socket
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LESA = SHARED_DATA / "ice" / "uwchr-ice-enforce-fy16-19"
LESA_ID = "uwchr-ice-enforce-fy16-19"
SEATTLE = SHARED_DATA / "ice" / "uwchr-seattle-aor-fy12-19"
PREAMBLE_LINES = 5  # the nationwide LESA files open with 5 lines before the header


def lesa_file(fy: int) -> Path:
    return LESA / f"EROArrests_FY{fy}.csv.gz"


@dataclass
class Archive:
    """What the catalog would list: (release_id, file name, path, reader, options); the test changes it."""

    files: list[tuple[str, str, Path, str, dict]] = field(default_factory=list)

    def add_lesa(self, fy: int, path: Path | None = None) -> None:
        self.files.append((LESA_ID, f"EROArrests_FY{fy}.csv.gz", path or lesa_file(fy), "lesa_nationwide",
                           {"table": "arrests"}))

    def set_path(self, name: str, path: Path) -> None:
        self.files = [(r, n, path if n == name else p, rd, o) for r, n, p, rd, o in self.files]

    def drop(self, name: str) -> None:
        self.files = [f for f in self.files if f[1] != name]

    def list_sources(self, home: Path):
        from icemonitor.warehouse.build import BuildSource

        return [BuildSource(r, n, p, rd, options=o) for r, n, p, rd, o in self.files]

    @staticmethod
    def fetch(home: Path, mirror: Path | None) -> None:
        return None


def run_refresh(home: Path, archive: Archive, **kw):
    from icemonitor.watch.refresh import refresh

    from icemonitor.watch.refresh import plain_build

    kw.setdefault("fetch", archive.fetch)
    kw.setdefault("build", plain_build)
    return refresh(home, list_sources=archive.list_sources, **kw)


def raw_lesa_arrests(path: Path) -> pd.DataFrame:
    """The raw nationwide arrests file read with pandas alone: AOR name, month, method."""
    df = pd.read_csv(path, sep="|", skiprows=PREAMBLE_LINES, dtype=str, keep_default_na=False)
    df = df[df["Apprehension Date"].str.len() > 0]
    dates = pd.to_datetime(df["Apprehension Date"], format="%m/%d/%Y")
    return pd.DataFrame({"aor_name": df["Area of Responsibility"].str.strip(), "month": dates.dt.strftime("%Y-%m"),
                         "method": df["Apprehension Method"].str.strip(),
                         "landmark": df["Apprehension Landmark"].str.strip()})


def rewrite_lesa(src: Path, dest: Path, drop) -> int:
    """Copy a nationwide file, leaving out data lines for which drop(aor_name, date_text, method) is true."""
    dropped = 0
    with gzip.open(src, "rt", encoding="utf-8", newline="") as fin, gzip.open(dest, "wt", encoding="utf-8", newline="") as fout:
        for i, line in enumerate(fin):
            if i > PREAMBLE_LINES:
                parts = line.split("|")
                if drop(parts[0].strip('"'), parts[1], parts[2].strip('"')):
                    dropped += 1
                    continue
            fout.write(line)
    return dropped


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebhookReceiver:
    """An HTTP receiver on loopback that checks nothing itself: it records every request, and counts
    deliveries once per Idempotency-Key (as a receiver following the docs would)."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.requests: list[dict] = []
        self.processed: dict[str, dict] = {}
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                req = {"path": self.path, "headers": dict(self.headers.items()), "body": body}
                receiver.requests.append(req)
                key = self.headers.get("Idempotency-Key")
                receiver.processed.setdefault(key, req)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def verify_signature(secret: bytes, headers: dict, body: bytes) -> bool:
    """Check X-Icemonitor-Signature the way a receiver would, written here independently."""
    ts = headers["X-Icemonitor-Timestamp"]
    expected = "sha256=" + hmac.new(secret, f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Icemonitor-Signature"])


def self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A throwaway certificate for 127.0.0.1 / localhost, made with cryptography."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class SmtpServer:
    """aiosmtpd on loopback requiring STARTTLS and AUTH (user/password given here)."""

    def __init__(self, folder: Path, user: str, password: str) -> None:
        self.cert, self.key = self_signed_cert(folder)
        self.user, self.password = user, password
        self.messages: list[dict] = []
        self.auth_attempts: list[tuple[str, str]] = []
        self.port = free_port()
        self.controller = None

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        server = self

        class Handler:
            async def handle_DATA(self, srv, session, envelope):  # noqa: N802
                server.messages.append({"content": envelope.content, "mail_from": envelope.mail_from,
                                        "rcpt_tos": list(envelope.rcpt_tos), "tls": session.ssl is not None,
                                        "authenticated": session.authenticated})
                return "250 OK"

        def authenticator(srv, session, envelope, mechanism, auth_data):
            if not isinstance(auth_data, LoginPassword):
                return AuthResult(success=False, handled=False)
            login, pw = auth_data.login.decode(), auth_data.password.decode()
            server.auth_attempts.append((login, pw))
            ok = login == server.user and pw == server.password
            return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 on failure

        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        self.controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, tls_context=ctx, require_starttls=True,
            authenticator=authenticator, auth_require_tls=True, ready_timeout=10,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller:
            self.controller.stop()


def copy_to(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


def load_json(text: bytes) -> dict:
    return json.loads(text.decode())
