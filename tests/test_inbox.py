"""The mailbox side of the list, with a real Maildir: unsubscribe requests to the
List-Unsubscribe mailto:, delivery status notifications (RFC 3464) as bounces,
the inbox log, idempotency, and one bad message never stopping the batch."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from tgfeed.app import App
from tgfeed.errors import InboxError
from tgfeed.inbox.parse import parse_message
from tgfeed.jobs.digest import send_digest
from tgfeed.jobs.inbox import LEASE, process_inbox
from tgfeed.loader import loads
from tgfeed.procs import holder_id
from tgfeed.scheduler.runner import run_job

from .conftest import write_config
from .inbox_support import (
    INBOX_TOML,
    UNSUBSCRIBE,
    deliver,
    dsn,
    states,
    unsubscribe_request,
)
from .test_cli import run
from .test_digest_web import outbox

WEEK = "2026-W48"
USER_UNKNOWN = "550 5.1.1 <{}>: Recipient address rejected: User unknown in local table"


# -- classifying one message (pure) ---------------------------------------------


def test_a_dsn_names_its_recipients_with_action_and_status() -> None:
    raw = dsn(
        ("a@example.vn", "failed", "5.1.1", USER_UNKNOWN.format("a@example.vn")),
        ("B@Example.VN", "delayed", "4.4.1", "connect to mx.example.vn: Connection timed out"),
        ("c@example.vn", "delivered", "2.0.0", "250 ok"),
        mid="<dsn-1@mx.example.vn>",
    )
    item = parse_message(raw, unsubscribe_address=UNSUBSCRIBE)
    assert item.kind == "bounce" and item.key == "<dsn-1@mx.example.vn>"
    a, b, c = item.recipients
    assert (a.address, a.action, a.status) == ("a@example.vn", "failed", "5.1.1")
    assert a.hard and a.no_such_address and not a.soft
    assert "User unknown" in a.diagnostic
    assert (b.address, b.soft, b.hard) == ("B@example.vn", True, False)
    assert not (c.hard or c.soft)


def test_a_failed_dsn_that_is_not_5_1_is_hard_but_not_no_such_address() -> None:
    raw = dsn(("a@example.vn", "failed", "5.2.2", "552 mailbox full"), mid="<d@x>")
    (r,) = parse_message(raw, unsubscribe_address=None).recipients
    assert r.hard and not r.no_such_address


def test_an_unsubscribe_request_carries_its_token() -> None:
    token = "AQIAAAAAAAAAAWsMvIAHCoxvvBeI15LLSZVwZlIJ"
    raw = unsubscribe_request("thu@example.vn", mid="<u@x>", subject=f"unsubscribe {token}")
    item = parse_message(raw, unsubscribe_address=UNSUBSCRIBE)
    assert item.kind == "unsubscribe" and item.tokens == (token,)
    assert item.sender == "thu@example.vn"
    # The token in the address's +detail, and no subject at all.
    local, _, domain = UNSUBSCRIBE.partition("@")
    raw = unsubscribe_request("thu@example.vn", mid="<v@x>", to=f"{local}+{token}@{domain}")
    item = parse_message(
        raw.replace(b"Subject: unsubscribe\n", b""), unsubscribe_address=UNSUBSCRIBE
    )
    assert item.kind == "unsubscribe" and item.tokens == (token,)


def test_what_is_not_an_unsubscribe_request() -> None:
    # Mail to another address, without the word and a token: not a request.
    other = unsubscribe_request("thu@example.vn", mid="<o@x>", to="bantin@tuyengiaohungyen.vn")
    assert parse_message(other, unsubscribe_address=UNSUBSCRIBE).kind == "other"
    # An out-of-office reply to the unsubscribe address is not a request either.
    auto = b"Auto-Submitted: auto-replied\n" + unsubscribe_request("thu@example.vn", mid="<a@x>")
    item = parse_message(auto, unsubscribe_address=UNSUBSCRIBE)
    assert item.kind == "other" and "automatic" in item.note
    # A multipart/report that is not a delivery status (e.g. a feedback report).
    arf = dsn(("a@example.vn", "failed", "5.1.1", "x"), mid="<f@x>").replace(
        b"report-type=delivery-status", b"report-type=feedback-report"
    )
    assert parse_message(arf, unsubscribe_address=UNSUBSCRIBE).kind == "other"


@pytest.mark.parametrize("raw", [b"", b"   \n\n", b"\x00\x01\x02 binary noise"])
def test_unreadable_messages_raise_one_clear_error(raw: bytes) -> None:
    with pytest.raises(InboxError):
        parse_message(raw, unsubscribe_address=UNSUBSCRIBE)


def test_a_message_without_message_id_is_keyed_by_its_bytes() -> None:
    raw = unsubscribe_request("thu@example.vn", mid="<x@x>").replace(b"Message-ID: <x@x>\n", b"")
    key = parse_message(raw, unsubscribe_address=UNSUBSCRIBE).key
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", key)
    assert parse_message(raw + b"x", unsubscribe_address=UNSUBSCRIBE).key != key


# -- end to end: a digest goes out, the mailbox answers -------------------------


def _mailto(digest: EmailMessage) -> tuple[str, str]:
    """The mailto: of a sent digest's List-Unsubscribe: (address, subject)."""
    m = re.search(r"<mailto:([^?>]+)\?subject=([^>]+)>", str(digest["List-Unsubscribe"]))
    assert m, digest["List-Unsubscribe"]
    return m[1], m[2].replace("%20", " ")


@pytest.fixture
def inbox_app(app_factory: Callable[..., App]) -> App:
    app = app_factory(INBOX_TOML, samples=True)
    ms = app.store.mail
    for name in ("an", "binh", "chi", "dung", "giang"):
        ms.add_subscriber(f"{name}@example.vn", now=app.now(), status="active")
    result = asyncio.run(send_digest(app, week=WEEK))
    assert result.sent == 5
    return app


def test_the_mailbox_answers_a_sent_digest(inbox_app: App, tmp_path: Path) -> None:
    app, ms, maildir = inbox_app, inbox_app.store.mail, tmp_path / "inbox"
    by_to = {m["To"].addresses[0].addr_spec: m for m in outbox(app)}
    address, subject = _mailto(by_to["an@example.vn"])
    assert address == UNSUBSCRIBE
    deliver(
        maildir,
        # an replies from another address: the token names them.
        unsubscribe_request("an.nha@gmail.example", mid="<u1@gmail.example>", subject=subject),
        # binh writes "unsubscribe" by hand, no token: their From is used.
        unsubscribe_request("binh@example.vn", mid="<u2@example.vn>"),
        # chi's mailbox does not exist; dung's is slow; giang's got it.
        dsn(
            ("chi@example.vn", "failed", "5.1.1", USER_UNKNOWN.format("chi@example.vn")),
            ("dung@example.vn", "delayed", "4.4.1", "Connection timed out"),
            ("giang@example.vn", "delivered", "2.0.0", "250 2.0.0 Ok"),
            mid="<dsn-1@mx.example.vn>",
        ),
        b"",  # an empty file (a broken delivery)
        unsubscribe_request("ai.do@example.vn", mid="<u3@x>", to="bantin@tuyengiaohungyen.vn"),
    )
    r = run("inbox", "process", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (
        "5 message(s): 2 unsubscribed, 1 hard bounce(s) (1 now bounced), 1 soft, "
        "2 ignored, 1 unreadable, 0 already processed, 0 failed"
    ) in r.stdout
    status = {s.email: s.status for s in ms.subscribers()}
    assert status == {
        "an@example.vn": "unsubscribed",
        "binh@example.vn": "unsubscribed",
        "chi@example.vn": "bounced",
        "dung@example.vn": "active",
        "giang@example.vn": "active",
    }
    # Every message processed is marked seen (cur/, flag S); nothing is left in new/.
    st = states(maildir)
    assert st["new"] == [] and len(st["cur"]) == 5
    assert all(name.endswith(":2,S") for name in st["cur"])
    # Everything is in the log: message id, kind, subscriber, outcome.
    log = {(e.message_key, e.email): e for e in app.store.inbox.log()}
    an = ms.by_email("an@example.vn")
    assert an is not None
    e = log["<u1@gmail.example>", "an@example.vn"]
    assert (e.kind, e.subscriber_id, e.outcome, e.detail) == (
        "unsubscribe",
        an.id,
        "unsubscribed",
        "by token",
    )
    assert log["<u2@example.vn>", "binh@example.vn"].detail == "by sender"
    assert log["<dsn-1@mx.example.vn>", "chi@example.vn"].outcome == "now bounced"
    assert log["<dsn-1@mx.example.vn>", "chi@example.vn"].detail.startswith("failed 5.1.1 ")
    assert log["<dsn-1@mx.example.vn>", "dung@example.vn"].kind == "bounce-soft"
    assert log["<dsn-1@mx.example.vn>", "giang@example.vn"].kind == "report"
    assert sorted(app.store.inbox.counts().items()) == sorted(
        {
            "unsubscribe": 2,
            "bounce-hard": 1,
            "bounce-soft": 1,
            "report": 1,
            "other": 1,
            "invalid": 1,
        }.items()
    )
    r = run("inbox", "log", "--json", cwd=tmp_path)
    entries = json.loads(r.stdout)
    assert {e["message_id"] for e in entries} >= {"<u1@gmail.example>", "<dsn-1@mx.example.vn>"}
    # A second run finds nothing to do.
    r = run("inbox", "process", cwd=tmp_path)
    assert r.returncode == 0 and "0 message(s)" in r.stdout


def test_a_message_seen_again_is_never_acted_on_twice(inbox_app: App, tmp_path: Path) -> None:
    """A crash after the log was written but before the message was marked: the
    next run finds it again, says so, and only marks it."""
    app, maildir = inbox_app, tmp_path / "inbox"
    bounce = dsn(("dung@example.vn", "failed", "5.2.2", "552 mailbox full"), mid="<again@mx>")
    deliver(maildir, bounce)
    first = asyncio.run(process_inbox(app))
    assert (first.messages, first.hard_bounces, first.already) == (1, 1, 0)
    deliver(maildir, bounce)  # the same message, back in new/
    again = asyncio.run(process_inbox(app))
    assert (again.messages, again.hard_bounces, again.already) == (1, 0, 1)
    dung = app.store.mail.by_email("dung@example.vn")
    assert dung is not None and dung.bounce_count == 1 and dung.status == "active"
    assert states(maildir)["new"] == []


def test_hard_bounces_reach_the_limit_though_a_later_send_reset_the_count(
    inbox_app: App, tmp_path: Path
) -> None:
    app, ms, maildir = inbox_app, inbox_app.store.mail, tmp_path / "inbox"
    full = ("dung@example.vn", "failed", "5.2.2", "552 5.2.2 mailbox full")
    deliver(maildir, dsn(full, mid="<b1@mx>"), dsn(full, mid="<b2@mx>"))
    asyncio.run(process_inbox(app))
    dung = ms.by_email("dung@example.vn")
    assert dung is not None and (dung.status, dung.bounce_count) == ("active", 2)
    # The relay accepts the next digest, which ends the relay's run of failures…
    asyncio.run(send_digest(app, week="2026-W47"))
    assert ms.by_email("dung@example.vn").bounce_count == 0  # type: ignore[union-attr]
    # …but the mailbox bounced it again: the third hard bounce gives up on it.
    deliver(maildir, dsn(full, mid="<b3@mx>"))
    result = asyncio.run(process_inbox(app))
    assert result.now_bounced == 1
    assert ms.by_email("dung@example.vn").status == "bounced"  # type: ignore[union-attr]


def test_a_dry_run_changes_nothing(inbox_app: App, tmp_path: Path) -> None:
    maildir = tmp_path / "inbox"
    deliver(maildir, unsubscribe_request("binh@example.vn", mid="<d1@x>"))
    r = run("inbox", "process", "--dry-run", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "unsubscribe binh@example.vn: would unsubscribe (by sender)" in r.stdout
    assert "1 unsubscribed" in r.stdout
    assert inbox_app.store.mail.by_email("binh@example.vn").status == "active"  # type: ignore[union-attr]
    assert len(states(maildir)["new"]) == 1 and inbox_app.store.inbox.log() == []


def test_one_unreadable_entry_does_not_stop_the_batch(inbox_app: App, tmp_path: Path) -> None:
    maildir = tmp_path / "inbox"
    deliver(maildir, unsubscribe_request("binh@example.vn", mid="<ok@x>"))
    (maildir / "new" / "0000.broken").mkdir()  # cannot be read as a file
    deliver(maildir, unsubscribe_request("chi@example.vn", mid="<ok2@x>"))
    r = run("inbox", "process", cwd=tmp_path)
    assert r.returncode == 1
    assert "not processed: new/0000.broken: cannot read new/0000.broken" in r.stdout
    assert "3 message(s): 2 unsubscribed" in r.stdout and "1 failed" in r.stdout
    ms = inbox_app.store.mail
    assert ms.by_email("binh@example.vn").status == "unsubscribed"  # type: ignore[union-attr]
    assert ms.by_email("chi@example.vn").status == "unsubscribed"  # type: ignore[union-attr]
    assert states(maildir)["new"] == ["0000.broken"]  # left for the next run


def test_processed_messages_can_move_to_a_folder(
    app_factory: Callable[..., App], tmp_path: Path
) -> None:
    app = app_factory(INBOX_TOML + 'processed_folder = "processed"\n')
    maildir = tmp_path / "inbox"
    deliver(maildir, unsubscribe_request("x@example.vn", mid="<m1@x>"))
    result = asyncio.run(process_inbox(app))
    assert result.messages == 1 and result.ignored == 1  # not a subscriber: logged only
    (entry,) = app.store.inbox.log()
    assert (entry.kind, entry.outcome, entry.email) == (
        "unsubscribe",
        "unknown address",
        "x@example.vn",
    )
    st = states(maildir)
    assert st["new"] == st["cur"] == [] and len(st[".processed/cur"]) == 1
    assert (maildir / ".processed" / "maildirfolder").exists()  # a Maildir++ folder


# -- the schedule, the CLI and bad configuration --------------------------------


def test_the_inbox_job_is_scheduled_when_an_inbox_is_configured(tmp_path: Path) -> None:
    write_config(tmp_path, INBOX_TOML)
    (tmp_path / "inbox" / "new").mkdir(parents=True)
    (tmp_path / "inbox" / "cur").mkdir()
    r = run("jobs", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"process_inbox\s+process_inbox\s+every 10m", r.stdout), r.stdout
    r = run("run", "process_inbox", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("process_inbox ok")
    # Without [mail.inbox] there is no such job.
    write_config(tmp_path)
    assert "process_inbox" not in run("jobs", cwd=tmp_path).stdout


def test_a_configured_job_of_that_kind_is_kept(tmp_path: Path) -> None:
    path = write_config(
        tmp_path,
        INBOX_TOML + '[schedule.jobs.bounces]\nkind = "process_inbox"\ncron = "*/5 * * * *"\n',
    )
    jobs = loads(path.read_bytes(), source=path).schedule.jobs
    assert "process_inbox" not in jobs and jobs["bounces"].kind == "process_inbox"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('maildir = "x"\nhost = "imap.example.vn"\nuser = "u"\n', "give exactly one of maildir"),
        ('host = "imap.example.vn"\n', "an IMAP inbox needs user"),
        ('host = "imap.example.vn"\nuser = "u"\npassword = "hunter2"\n', "secrets never go in"),
        ('maildir = "x"\nprocessed_folder = "../etc"\n', "processed_folder must be a plain"),
    ],
)
def test_bad_inbox_settings_are_one_clear_line(tmp_path: Path, toml: str, message: str) -> None:
    write_config(tmp_path, "[mail.inbox]\n" + toml)
    r = run("check", cwd=tmp_path)
    assert r.returncode == 1
    assert "mail.inbox" in r.stderr + r.stdout and message in r.stderr + r.stdout
    assert "hunter2" not in r.stderr + r.stdout


def test_a_missing_maildir_is_one_line_with_a_hint(tmp_path: Path) -> None:
    write_config(tmp_path, INBOX_TOML)
    r = run("inbox", "process", cwd=tmp_path)
    assert r.returncode == 1
    assert f"mail.inbox.maildir: {tmp_path / 'inbox'} is not a Maildir (no new/ folder)" in r.stderr
    assert "Traceback" not in r.stderr


def test_an_imap_password_must_come_from_env_or_file(tmp_path: Path) -> None:
    write_config(
        tmp_path,
        '[mail.inbox]\nhost = "127.0.0.1"\nuser = "bounces"\npassword_env = "TGFEED_NO_SUCH"\n',
    )
    r = run("inbox", "process", cwd=tmp_path)
    assert r.returncode == 1
    assert "environment variable TGFEED_NO_SUCH is not set" in r.stderr


def test_two_processes_never_read_the_inbox_at_once(inbox_app: App, tmp_path: Path) -> None:
    app = inbox_app
    deliver(tmp_path / "inbox", unsubscribe_request("binh@example.vn", mid="<l1@x>"))
    other = holder_id("another-run")  # this (live) process, as another holder
    assert app.store.jobs.acquire_lease(LEASE, other, now=app.now(), ttl=timedelta(minutes=5))
    with pytest.raises(InboxError, match="being processed by another process"):
        asyncio.run(process_inbox(app))
    assert app.store.mail.by_email("binh@example.vn").status == "active"  # type: ignore[union-attr]
    app.store.jobs.release_lease(LEASE, other)
    assert asyncio.run(process_inbox(app)).unsubscribed == 1


def test_a_bounce_for_a_forwarded_address_is_matched_by_the_returned_message(
    inbox_app: App, tmp_path: Path
) -> None:
    """The report names the address the mail was forwarded to; the headers it returns
    (the digest's own, with its List-Unsubscribe token) say whose it was."""
    app = inbox_app
    chi = next(m for m in outbox(app) if m["To"].addresses[0].addr_spec == "chi@example.vn")
    headers = "\n".join(f"{k}: {v}" for k, v in chi.items() if k.lower() != "dkim-signature")
    forwarded = ("chi.nha@forward.example", "failed", "5.1.1", "550 5.1.1 no such user")
    deliver(tmp_path / "inbox", dsn(forwarded, mid="<fw@mx>", original=headers))
    result = asyncio.run(process_inbox(app))
    assert result.now_bounced == 1
    assert app.store.mail.by_email("chi@example.vn").status == "bounced"  # type: ignore[union-attr]
    (entry,) = app.store.inbox.log()
    assert entry.email == "chi@example.vn"
    assert "reported for chi.nha@forward.example" in entry.detail
    # Naming several recipients, a report is not matched by one returned token.
    two = dsn(
        forwarded, ("x@forward.example", "failed", "5.1.1", "550"), mid="<fw2@mx>", original=headers
    )
    deliver(tmp_path / "inbox", two)
    assert asyncio.run(process_inbox(app)).hard_bounces == 0


def test_status_shows_the_inbox(inbox_app: App, tmp_path: Path) -> None:
    deliver(tmp_path / "inbox", unsubscribe_request("binh@example.vn", mid="<s1@x>"))
    assert run("inbox", "process", cwd=tmp_path).returncode == 0
    r = run("status", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "inbox: 1 unsubscribe request(s), 0 hard and 0 soft bounce(s), 0 other" in r.stdout
    st = json.loads(run("status", "--json", cwd=tmp_path).stdout)
    assert st["inbox"]["counts"]["unsubscribe"] == 1


def test_the_scheduled_run_fails_and_says_why_when_a_message_was_not_processed(
    inbox_app: App, tmp_path: Path
) -> None:
    app = inbox_app
    deliver(tmp_path / "inbox", unsubscribe_request("binh@example.vn", mid="<j1@x>"))
    (tmp_path / "inbox" / "new" / "0000.broken").mkdir()
    outcome = asyncio.run(run_job(app, "process_inbox", trigger="schedule"))
    assert outcome.outcome == "failed"
    assert outcome.error is not None
    assert outcome.error.startswith("inbox: 1 message(s) not processed: new/0000.broken")
    assert outcome.summary is not None and outcome.summary["unsubscribed"] == 1
    (tmp_path / "inbox" / "new" / "0000.broken").rmdir()
    assert asyncio.run(run_job(app, "process_inbox", trigger="schedule")).outcome == "ok"
