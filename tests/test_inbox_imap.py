"""The inbox over IMAP with TLS against a real Dovecot on 127.0.0.1: the same
mailbox processing as the Maildir tests, read by UNSEEN, marked \\Seen and
optionally moved; bad credentials and an untrusted certificate are one line."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import free_port, write_config
from .dovecot_server import DOVECOT, Dovecot
from .inbox_support import UNSUBSCRIBE, dsn, unsubscribe_request
from .test_cli import run

USER_UNKNOWN = "550 5.1.1 <chi@example.vn>: Recipient address rejected: User unknown"


@pytest.fixture
def dovecot() -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists() and not os.environ.get("TGFEED_REQUIRE_DOVECOT"):
        pytest.skip("Dovecot is not installed (Debian: dovecot-imapd)")
    with Dovecot(free_port()) as server:
        yield server


def _config(tmp_path: Path, server: Dovecot, extra: str = "", *, ca: bool = True) -> None:
    (tmp_path / "imap-password").write_text(server.password + "\n")
    (tmp_path / "imap-password").chmod(0o600)
    write_config(
        tmp_path,
        f'unsubscribe_mailto = "{UNSUBSCRIBE}"\n'
        "[mail.inbox]\n"
        f'host = "{server.host}"\nport = {server.port}\nuser = "{server.user}"\n'
        'password_file = "imap-password"\ntimeout = 10\n'
        + (f'ca_file = "{server.cafile}"\n' if ca else "")
        + extra,
    )
    for name in ("binh", "chi", "dung"):
        r = run("subscribers", "add", f"{name}@example.vn", "--active", cwd=tmp_path)
        assert r.returncode == 0, r.stderr


def test_imap_inbox_is_processed_once_and_marked_seen(tmp_path: Path, dovecot: Dovecot) -> None:
    _config(tmp_path, dovecot)
    dovecot.append(
        unsubscribe_request("binh@example.vn", mid="<u1@example.vn>"),
        dsn(
            ("chi@example.vn", "failed", "5.1.1", USER_UNKNOWN),
            ("dung@example.vn", "delayed", "4.4.1", "Connection timed out"),
            mid="<dsn-1@mx.example.vn>",
        ),
        b"From: ai@example.vn\nTo: bounces@example.vn\nSubject: hello\nMessage-ID: <o@x>\n\nhi\n",
    )
    # Already read by a person: not unseen, so not ours to process.
    dovecot.append(unsubscribe_request("dung@example.vn", mid="<seen@x>"), flags="(\\Seen)")
    r = run("inbox", "process", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"imap://bounces@127.0.0.1:{dovecot.port}/INBOX: 3 message(s)" in r.stdout
    assert "1 unsubscribed, 1 hard bounce(s) (1 now bounced), 1 soft, 1 ignored" in r.stdout
    r = run("subscribers", "list", cwd=tmp_path)
    lines = {line.split()[0]: line for line in r.stdout.splitlines() if "@example.vn" in line}
    assert "unsubscribed" in lines["binh@example.vn"]
    assert "bounced" in lines["chi@example.vn"]
    assert "active" in lines["dung@example.vn"]  # the message a person read was left alone
    assert dovecot.search("INBOX", "UNSEEN") == 0
    assert dovecot.search("INBOX", "ALL") == 4  # marked, not moved
    r = run("inbox", "process", cwd=tmp_path)
    assert r.returncode == 0 and ": 0 message(s)" in r.stdout


def test_imap_processed_messages_move_to_a_folder(tmp_path: Path, dovecot: Dovecot) -> None:
    _config(tmp_path, dovecot, 'processed_folder = "processed"\n')
    dovecot.append(
        unsubscribe_request("binh@example.vn", mid="<m1@x>"),
        unsubscribe_request("chi@example.vn", mid="<m2@x>"),
    )
    r = run("inbox", "process", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "2 message(s): 2 unsubscribed" in r.stdout
    assert dovecot.search("INBOX", "ALL") == 0
    assert dovecot.search("processed", "SEEN") == 2


def test_wrong_password_is_one_line(tmp_path: Path, dovecot: Dovecot) -> None:
    _config(tmp_path, dovecot)
    (tmp_path / "imap-password").write_text("sai-mat-khau\n")
    r = run("inbox", "process", cwd=tmp_path)
    assert r.returncode == 1
    assert "login failed: [AUTHENTICATIONFAILED]" in r.stderr and "Traceback" not in r.stderr
    assert "sai-mat-khau" not in r.stderr


def test_an_untrusted_certificate_is_refused(tmp_path: Path, dovecot: Dovecot) -> None:
    _config(tmp_path, dovecot, ca=False)
    dovecot.append(unsubscribe_request("binh@example.vn", mid="<m1@x>"))
    r = run("inbox", "process", cwd=tmp_path)
    assert r.returncode == 1
    assert "cannot connect" in r.stderr and "CERTIFICATE_VERIFY_FAILED" in r.stderr
    assert "ca_file" in r.stderr  # the hint
    assert dovecot.search("INBOX", "UNSEEN") == 1
