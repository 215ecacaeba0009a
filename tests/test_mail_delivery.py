"""Delivering the digest to a real aiosmtpd server on 127.0.0.1: exactly one copy
each, retries of 4xx, 5xx recorded, a relay outage ridden through, resuming."""

from __future__ import annotations

import asyncio
import hashlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tgfeed.app import App
from tgfeed.errors import MailError
from tgfeed.jobs.digest import DigestResult, send_digest
from tgfeed.mail import send_simple
from tgfeed.store import digest_lease

from .smtp_server import SmtpServer, running_server

_smtp_server = pytest.fixture(name="smtp_server")(running_server)

WEEK = "2026-W48"


def make_app(
    app_factory: Callable[..., App],
    server: SmtpServer,
    n: int = 20,
    *,
    mail: str = "",
    extra: str = "",
    **smtp: object,
) -> App:
    app = app_factory(server.toml(mail, **smtp) + extra, samples=True)
    app.store.mail.bulk_add(
        [(f"user{i:04d}@example.vn", f"Người nhận Đức {i}", None) for i in range(n)],
        now=app.now(),
        status="active",
        origin="test",
    )
    return app


def run(app: App, **kw: object) -> DigestResult:
    return asyncio.run(send_digest(app, week=kw.pop("week", WEEK), **kw))  # type: ignore[arg-type]


def addresses(n: int) -> set[str]:
    return {f"user{i:04d}@example.vn" for i in range(n)}


def assert_exactly_once(server: SmtpServer, expected: set[str]) -> None:
    ids = server.message_ids()
    assert set(ids) == expected
    dupes = {rcpt: mids for rcpt, mids in ids.items() if len(mids) != 1}
    assert not dupes, dupes
    assert len({mids[0] for mids in ids.values()}) == len(expected)  # one id per recipient


def assert_at_least_once(server: SmtpServer, expected: set[str], *, connections: int) -> None:
    """The documented floor (docs/guarantees.md §1): everyone has a copy; a duplicate
    only where a whole message's 250 was lost, at most one per connection open when
    the relay went away, byte-identical with the same Message-ID."""
    copies = server.by_recipient()
    assert set(copies) == expected
    resent = {rcpt: rs for rcpt, rs in copies.items() if len(rs) > 1}
    assert sum(len(rs) - 1 for rs in resent.values()) <= connections, resent
    for rcpt, rs in resent.items():
        assert len({r.message_id for r in rs}) == 1, f"{rcpt}: different Message-IDs"
        assert len({r.data for r in rs}) == 1, f"{rcpt}: the copies differ"
    assert len({rs[0].message_id for rs in copies.values()}) == len(expected)  # one id each


def test_every_recipient_gets_exactly_one_copy(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = make_app(app_factory, smtp_server, n=40)
    result = run(app)
    assert result.status == "sent"
    assert (result.recipients, result.sent, result.failed, result.pending) == (40, 40, 0, 0)
    assert result.sent_now == 40
    assert_exactly_once(smtp_server, addresses(40))
    for received in smtp_server.received:
        assert received.rcpt_tos == (received.parsed()["To"].addresses[0].addr_spec,)
        assert received.mail_from == "bantin@tuyengiaohungyen.vn"
    ms = app.store.mail
    record = ms.digest(WEEK)
    assert record is not None and record.status == "sent" and record.finished_at is not None
    assert all(r.status == "sent" and r.server_reply for r in ms.deliveries(record.id, limit=100))
    # The week is done: running it again sends nothing.
    again = run(app)
    assert again.status == "already-done"
    assert len(smtp_server.received) == 40


def _flaky(share: float) -> Callable[[str, int], str | None]:
    def policy(address: str, attempt: int) -> str | None:
        bucket = int(hashlib.sha256(address.encode()).hexdigest(), 16) % 100
        if attempt == 1 and bucket < share * 100:
            return "451 4.7.1 Greylisted, try again later"
        return None

    return policy


def test_451_to_30_percent_of_first_attempts_all_delivered_after_retries(
    app_factory: Callable[..., App],
) -> None:
    server = SmtpServer(_flaky(0.3)).start()
    try:
        app = make_app(app_factory, server, n=60)
        result = run(app)
    finally:
        server.stop()
    refused = {addr for addr, _ in server.handler.refusals}
    assert 8 <= len(refused) <= 30  # about 30% of 60
    assert result.status == "sent" and result.sent == 60 and result.failed == 0
    assert_exactly_once(server, addresses(60))
    ms = app.store.mail
    record = ms.digest(WEEK)
    assert record is not None
    rows = {r.email: r for r in ms.deliveries(record.id, limit=100)}
    for addr in refused:
        assert rows[addr].attempts == 2 and "451" in (rows[addr].last_error or "")
    assert all(rows[a].attempts == 1 for a in addresses(60) - refused)


def test_temporary_failures_give_up_after_max_attempts(app_factory: Callable[..., App]) -> None:
    server = SmtpServer(
        lambda a, n: "452 4.2.2 Mailbox full" if a == "user0003@example.vn" else None
    ).start()
    try:
        app = make_app(app_factory, server, n=6, max_attempts=3)
        result = run(app)
    finally:
        server.stop()
    assert (result.sent, result.failed, result.pending) == (5, 1, 0)
    assert server.handler.rcpt_attempts["user0003@example.vn"] == 3
    ms = app.store.mail
    sub = ms.by_email("user0003@example.vn")
    assert sub is not None and sub.status == "active" and sub.bounce_count == 0  # not a bounce
    record = ms.digest(WEEK)
    assert record is not None
    (row,) = ms.deliveries(record.id, status="failed")
    assert row.attempts == 3 and "gave up after 3 attempts" in (row.last_error or "")


@pytest.mark.parametrize(("bounce_limit", "status"), [(1, "bounced"), (3, "active")])
def test_550_for_one_address_is_recorded_and_the_others_delivered(
    app_factory: Callable[..., App], bounce_limit: int, status: str
) -> None:
    bad = "user0007@example.vn"
    server = SmtpServer(lambda a, n: "550 5.1.1 User unknown" if a == bad else None).start()
    try:
        app = make_app(app_factory, server, n=12, mail=f"bounce_limit = {bounce_limit}")
        result = run(app)
    finally:
        server.stop()
    assert result.status == "sent"  # nothing left pending
    assert (result.sent, result.failed) == (11, 1)
    assert server.handler.rcpt_attempts[bad] == 1  # a permanent failure is not retried
    assert_exactly_once(server, addresses(12) - {bad})
    ms = app.store.mail
    record = ms.digest(WEEK)
    assert record is not None
    (row,) = ms.deliveries(record.id, status="failed")
    assert row.email == bad and "550" in (row.last_error or "") and row.attempts == 1
    sub = ms.by_email(bad)
    assert sub is not None and sub.bounce_count == 1 and sub.status == status


def test_server_stopped_mid_run_and_restarted_completes_without_duplicates(
    app_factory: Callable[..., App],
) -> None:
    server = SmtpServer().start()
    n = 200
    connections = 4
    app = make_app(app_factory, server, n=n, retry_delay=0.05, connections=connections)
    stopped = threading.Event()

    def outage() -> None:
        deadline = time.monotonic() + 30
        while len(server.received) < 60 and time.monotonic() < deadline:
            time.sleep(0.005)
        server.stop()
        stopped.set()
        time.sleep(0.6)
        server.start()

    t = threading.Thread(target=outage)
    t.start()
    try:
        result = run(app)
    finally:
        t.join()
        server.stop()
    assert stopped.is_set()
    assert len(server.received) >= 60
    assert result.status == "sent", result
    assert (result.sent, result.failed, result.pending) == (n, 0, 0)
    # A message the relay took just before stopping, whose 250 never reached us, is
    # sent again after the restart: the SMTP floor, not a defect.
    assert_at_least_once(server, addresses(n), connections=connections)


def test_outage_longer_than_the_retry_schedule_stops_then_resumes(
    app_factory: Callable[..., App],
) -> None:
    server = SmtpServer().start()
    n = 120
    app = make_app(app_factory, server, n=n, retry_delay=0.01, max_attempts=3)

    def outage() -> None:
        while len(server.received) < 30:
            time.sleep(0.005)
        server.stop()

    t = threading.Thread(target=outage)
    t.start()
    first = run(app)
    t.join()
    assert first.status == "incomplete"
    assert first.error and "unreachable" in first.error
    assert first.pending > 0 and first.failed == 0  # nobody blamed for the relay's outage
    # The relay may have taken a message whose 250 never came back when it went down:
    # that recipient is still pending and is sent again (the SMTP floor: at most one
    # duplicate per open connection, with the same Message-ID).
    connections = 4
    assert first.sent <= len(server.received) <= first.sent + connections
    server.start()
    try:
        second = run(app)
    finally:
        server.stop()
    assert second.status == "sent"
    assert second.sent_now == first.pending
    ids = server.message_ids()
    assert set(ids) == addresses(n)
    dupes = {rcpt: mids for rcpt, mids in ids.items() if len(mids) > 1}
    assert len(dupes) <= connections, dupes
    assert all(len(set(mids)) == 1 for mids in ids.values())  # a resend has the same id


def test_a_test_send_never_counts_as_the_run(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = make_app(app_factory, smtp_server, n=3)
    result = run(app, to="Bien.Tap@Example.vn")
    assert result.status == "test" and result.sent_now == 1
    (received,) = smtp_server.received
    assert received.rcpt_tos == ("Bien.Tap@example.vn",)
    assert ".test." in received.message_id
    assert app.store.mail.digest(WEEK) is None
    real = run(app)
    assert real.status == "sent" and real.sent == 3
    assert len(smtp_server.received) == 4
    # A test send to a subscriber: same content, a different Message-ID than the real one.
    run(app, to="user0001@example.vn")
    ids = smtp_server.message_ids()["user0001@example.vn"]
    assert len(ids) == 2 and ids[0] != ids[1]


def test_dry_run_sends_and_writes_nothing(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = make_app(app_factory, smtp_server, n=5)
    result = run(app, dry_run=True)
    assert result.status == "dry-run" and result.recipients == 5 and result.articles > 0
    assert "Bản tin tuần 48/2026" in result.subject
    assert smtp_server.received == []
    assert app.store.mail.digest(WEEK) is None


def test_empty_week_is_skipped_and_recorded(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = make_app(app_factory, smtp_server, n=2)
    result = run(app, week="2026-W10")
    assert result.status == "skipped"
    assert "không có tin mới" in result.subject
    record = app.store.mail.digest("2026-W10")
    assert record is not None and record.status == "skipped"
    # Skipped is not final: a later send re-evaluates it (still nothing to send).
    assert run(app, week="2026-W10").status == "skipped"
    assert [e.to_status for e in app.store.mail.events("2026-W10")] == ["skipped"]
    assert smtp_server.received == []


def test_empty_week_sent_when_send_empty(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = make_app(app_factory, smtp_server, n=2, extra="[digest]\nsend_empty = true\n")
    result = run(app, week="2026-W10")
    assert result.status == "sent" and result.sent == 2
    text = smtp_server.received[0].parsed().get_body(("plain",))
    assert text is not None and "không có tin hội nghị, hoạt động mới" in text.get_content()


def test_week_defaults_to_the_last_complete_week_of_the_fire_time(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = make_app(app_factory, smtp_server, n=1)
    # Fired late, on Tuesday 1/12/2026 10:00 +07:00: still the week of 23–29/11.
    result = asyncio.run(send_digest(app, fire_time=datetime(2026, 12, 1, 3, 0, tzinfo=UTC)))
    assert result.week == WEEK and result.status == "sent"


def test_unsubscribed_during_a_run_is_skipped(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = make_app(app_factory, smtp_server, n=10, connections=1)
    ms = app.store.mail
    leaver = ms.by_email("user0008@example.vn")
    assert leaver is not None

    def progress(done: int, total: int) -> None:
        if done == 2:
            ms.unsubscribe(leaver.id, now=app.now())

    result = run(app, progress=progress)
    assert (result.sent, result.skipped, result.pending) == (9, 1, 0)
    assert "user0008@example.vn" not in smtp_server.message_ids()


def test_another_live_process_holds_the_week(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = make_app(app_factory, smtp_server, n=3)
    ms = app.store.mail
    # A first run that stopped with everything pending (the relay was down).
    ms.start_digest(
        WEEK,
        subject="s",
        article_count=1,
        mail_html="<p>x</p>",
        mail_text="x",
        web_html="",
        web_text="",
        now=app.now(),
    )
    jobs, lease, ttl = app.store.jobs, digest_lease(WEEK), timedelta(seconds=120)
    jobs.acquire_lease(lease, "another-host:4242", now=app.now(), ttl=ttl)
    with pytest.raises(MailError, match="busy: another process"):
        run(app)
    assert smtp_server.received == []
    # A holder on this machine whose process is gone is taken over.
    import socket

    jobs.release_lease(lease, "another-host:4242")
    jobs.acquire_lease(lease, f"{socket.gethostname()}:999999", now=app.now(), ttl=ttl)
    assert run(app).status == "sent"
    assert len(smtp_server.received) == 3


def test_rate_limit_spaces_the_messages(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = make_app(app_factory, smtp_server, n=10, max_per_minute=1200)  # 20 a second
    started = time.monotonic()
    run(app)
    assert time.monotonic() - started >= 0.45
    assert len(smtp_server.received) == 10


def test_sent_message_parses_back_with_every_header(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = make_app(
        app_factory,
        smtp_server,
        n=0,
        mail='unsubscribe_mailto = "huy@tuyengiaohungyen.vn"\nreply_to = "lienhe@tuyengiaohungyen.vn"',
    )
    ms = app.store.mail
    sub, _ = ms.add_subscriber(
        "dang.uy@example.vn", now=app.now(), name="Đặng Thị Ửng Đào", status="active"
    )
    result = run(app)
    assert result.sent == 1
    (received,) = smtp_server.received
    msg = received.parsed()
    assert not msg.defects
    assert msg["From"].addresses[0].display_name == "Ban Tuyên giáo Tỉnh ủy Hưng Yên"
    assert msg["To"].addresses[0].display_name == "Đặng Thị Ửng Đào"
    assert msg["Subject"] == result.subject
    assert msg["Subject"].startswith("Bản tin tuần 48/2026 (23/11 – 29/11/2026): ")
    assert msg["Date"] == "Mon, 30 Nov 2026 07:00:00 +0700"
    assert msg["Message-ID"].startswith(f"<2026-W48.{sub.id}.")
    assert msg["Message-ID"].endswith("@tuyengiaohungyen.vn>")
    assert msg["Reply-To"] == "lienhe@tuyengiaohungyen.vn"
    assert msg["List-Id"].endswith("<bantin.tuyengiaohungyen.vn>")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Precedence"] == "bulk"
    https, mailto = (u.strip().strip("<>") for u in msg["List-Unsubscribe"].split(","))
    token = https.rsplit("/", 1)[1]
    assert https == f"http://127.0.0.1:8080/unsubscribe/{token}"
    assert mailto == f"mailto:huy@tuyengiaohungyen.vn?subject=unsubscribe%20{token}"
    assert app.signer.verify(token, "unsubscribe", now=app.now()) == sub.id
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    text_s, html_s = text.get_content(), html.get_content()
    for part in (text_s, html_s):
        assert token in part
        for word in (
            "Hội nghị",
            "Tỉnh ủy",
            "Hưng Yên",
            "giao ban",
            "tổ chức",
            "Đọc nhiều nhất".upper() if part is text_s else "Đọc nhiều nhất",
        ):
            assert word in part, word
        assert "đ" in part and "ư" in part and "ơ" in part
    assert "TGFEEDTOKEN" not in received.data.decode("ascii")


def test_dkim_signature_verifies(
    app_factory: Callable[..., App], smtp_server: SmtpServer, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    (tmp_path / "dkim.pem").write_bytes(pem)
    (tmp_path / "dkim.pem").chmod(0o600)  # a key other users can read is refused
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    app = make_app(
        app_factory,
        smtp_server,
        n=2,
        extra='[mail.dkim]\ndomain = "tuyengiaohungyen.vn"\nselector = "tg2026"\n'
        f'key_file = "{tmp_path / "dkim.pem"}"\n',
    )
    assert run(app).sent == 2

    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"tg2026._domainkey.tuyengiaohungyen.vn."
        return record

    for received in smtp_server.received:
        assert received.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(received.data, dnsfunc=dns)
        tampered = (
            received.data.replace(b"List-Unsubscribe-Post: List", b"List-Unsubscribe-Post:  List")
            .replace(b"Precedence: bulk", b"Precedence: list")
            .replace(b"=C4=91", b"d", 1)
        )
        assert not dkim.verify(tampered, dnsfunc=dns)


def test_send_simple_and_the_mailer_reuses_connections(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = make_app(app_factory, smtp_server, n=0)
    asyncio.run(send_simple(app, ["admin@example.vn"], "Lỗi: tác vụ gửi bản tin", "Chi tiết…\n"))
    (received,) = smtp_server.received
    assert received.parsed()["Subject"] == "Lỗi: tác vụ gửi bản tin"

    async def many() -> None:
        mailer = app.mailer()
        try:
            for i in range(6):
                await mailer.send(
                    "bantin@tuyengiaohungyen.vn", [f"x{i}@example.vn"], b"Subject: x\r\n\r\nx\r\n"
                )
            assert mailer.concurrency == 4
            assert len(mailer._all) == 1  # type: ignore[attr-defined]  # sequential: one connection
        finally:
            await mailer.aclose()

    asyncio.run(many())
    assert len(smtp_server.received) == 7
