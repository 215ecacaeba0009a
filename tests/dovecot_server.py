"""A real IMAP server for the inbox tests: Debian's Dovecot, configured in a
temporary folder, listening with TLS (a self-signed certificate made here) on a
free port of 127.0.0.1, one user with a Maildir. Started in the foreground by
the test and stopped by its pid."""

from __future__ import annotations

import datetime as dt
import imaplib
import ipaddress
import os
import shutil
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USER, PASSWORD = "bounces", "mat-khau-thu-nghiem"


def self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


class Dovecot:
    def __init__(self, port: int) -> None:
        self.host, self.port = "127.0.0.1", port
        self.user, self.password = USER, PASSWORD
        self.dir = Path(tempfile.mkdtemp(prefix="tgfeed-dovecot-"))
        self.dir.chmod(0o755)  # the mail user (nobody, under root) must reach its home
        self.cafile, key = self_signed(self.dir)
        self.log = self.dir / "dovecot.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._configure(key)

    def _configure(self, key: Path) -> None:
        d = self.dir
        for sub in ("run", "state", "home"):
            (d / sub).mkdir()
        (d / "passwd").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        if os.geteuid() == 0:
            uid = gid = 65534  # nobody: Dovecot refuses mail access as root
            os.chown(d / "home", uid, gid)
            users = ""
        else:
            uid, gid = os.getuid(), os.getgid()
            me = os.environ.get("USER") or str(uid)
            users = f"default_internal_user = {me}\ndefault_login_user = {me}\n"
        (d / "dovecot.conf").write_text(
            f"base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {self.log}\n"
            f"protocols = imap\nlisten = {self.host}\nssl = required\n"
            f"ssl_cert = <{self.cafile}\nssl_key = <{key}\n{users}"
            "auth_mechanisms = plain\nfirst_valid_uid = 1\n"
            "passdb {\n  driver = passwd-file\n"
            f"  args = scheme=PLAIN username_format=%u {d}/passwd\n}}\n"
            "userdb {\n  driver = static\n"
            f"  args = uid={uid} gid={gid} home={d}/home/%u\n}}\n"
            "mail_location = maildir:~/Maildir\n"
            "service imap-login {\n  chroot =\n"
            "  inet_listener imap {\n    port = 0\n  }\n"
            f"  inet_listener imaps {{\n    port = {self.port}\n    ssl = yes\n  }}\n}}\n"
            "service anvil {\n  chroot =\n}\n"
        )

    def __enter__(self) -> Dovecot:
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.dir / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                self.client().logout()
                return self
            except (OSError, imaplib.IMAP4.error):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    err = self.proc.stderr.read() if self.proc.stderr else b""
                    self.__exit__()
                    raise RuntimeError(f"dovecot did not start: {err!r}") from None
                time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def client(self) -> imaplib.IMAP4_SSL:
        """A logged-in IMAP client (the test's own view of the mailbox)."""
        ctx = ssl.create_default_context(cafile=str(self.cafile))
        conn = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=ctx, timeout=10)
        conn.login(self.user, self.password)
        return conn

    def append(self, *messages: bytes, flags: str | None = None) -> None:
        conn = self.client()
        try:
            for raw in messages:
                typ, _ = conn.append("INBOX", flags, None, raw.replace(b"\n", b"\r\n"))
                assert typ == "OK"
        finally:
            conn.logout()

    def search(self, folder: str, criteria: str) -> int:
        """How many messages of ``folder`` match ``criteria`` (e.g. UNSEEN)."""
        conn = self.client()
        try:
            typ, _ = conn.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return -1
            _, data = conn.uid("SEARCH", None, criteria)
            return len((data[0] or b"").split())
        finally:
            conn.logout()
