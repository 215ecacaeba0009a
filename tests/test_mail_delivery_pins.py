"""The delivery loop's smaller promises, against a real aiosmtpd on 127.0.0.1 and a
real SQLite store: the progress it reports, and a stop (SIGTERM) in mid-run that
lets the message on the wire finish and keeps the rest pending. No sleeps."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable

import pytest

from tgfeed.app import App
from tgfeed.errors import StoreError
from tgfeed.jobs.digest import DigestResult, send_digest

from .smtp_faults import FaultyRelay, Moment
from .smtp_server import SmtpServer, running_server
from .test_mail_delivery import WEEK, make_app, run
from .test_mail_delivery_ledger import RUN_LIMIT

_smtp_server = pytest.fixture(name="smtp_server")(running_server)


def test_progress_starts_at_the_rows_already_done_and_counts_each_recipient(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    n = 6
    app = make_app(app_factory, smtp_server, n=n, connections=1)
    stopping = app.runtime.stopping = asyncio.Event()
    seen: list[tuple[int, int]] = []

    def stop_after_two(done: int, total: int) -> None:
        seen.append((done, total))
        if done == 2:
            stopping.set()

    first = run(app, progress=stop_after_two)
    assert seen[:3] == [(0, n), (1, n), (2, n)]
    app.runtime.stopping = None  # the next start (the event belonged to the last loop)
    resumed: list[tuple[int, int]] = []
    second = run(app, progress=lambda done, total: resumed.append((done, total)))
    assert resumed[0] == (first.sent, n)  # a resumed run starts where the first stopped
    assert resumed == [(d, n) for d in range(first.sent, n + 1)]
    assert second.status == "sent" and second.sent_now == n - first.sent


class _Logged(logging.Handler):
    """Sets ``seen`` when a log message containing ``text`` is emitted."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text
        self.seen = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


def test_stopping_mid_run_finishes_the_message_on_the_wire_and_starts_no_other(
    app_factory: Callable[..., App], caplog: pytest.LogCaptureFixture
) -> None:
    """The service starts stopping (SIGTERM) while the 4th message is on the wire
    (the relay holds its RCPT until the delivery says it is stopping): that message
    is finished and recorded, no other one is started (no MAIL after it), the rest
    stays pending, and the next run sends it, so everyone gets exactly one copy."""
    n = 10
    everyone = [f"user{i:04d}@example.vn" for i in range(n)]
    box: dict[str, asyncio.AbstractEventLoop] = {}
    stopping = asyncio.Event()
    draining = _Logged("message(s) on the wire")
    mails: list[int] = []

    def stop_during_the_4th(m: Moment) -> str | None:
        if m.stage == "mail":
            mails.append(m.connection)
        if m.stage == "rcpt" and m.rcpt == everyone[3] and not draining.seen.is_set():
            box["loop"].call_soon_threadsafe(stopping.set)
            draining.seen.wait(RUN_LIMIT)
        return None

    caplog.set_level(logging.WARNING, logger="tgfeed.jobs.delivery")  # whatever ran before
    log = logging.getLogger("tgfeed.jobs.delivery")
    log.addHandler(draining)
    try:
        with FaultyRelay(stop_during_the_4th) as relay:
            # The drain waits up to timeout + 5 s for the message on the wire: 10 s here.
            app = app_factory(relay.toml(connections=1, timeout=5), samples=True)
            app.store.mail.bulk_add(
                [(a, None, None) for a in everyone], now=app.now(), status="active", origin="test"
            )
            app.runtime.stopping = stopping
            first = run(
                app, progress=lambda d, t: box.setdefault("loop", asyncio.get_running_loop())
            )
            assert draining.seen.is_set()
            assert "still on the wire" not in caplog.text  # the drain did not give up
            assert first.status == "incomplete", first
            assert first.error and "service stopped" in first.error
            assert len(mails) == 4  # no message started after the 4th
            assert (first.sent, first.pending, first.sent_now) == (4, n - 4, 4)
            assert sorted(relay.copies()) == everyone[:4]  # the 4th was finished and recorded
            app.runtime.stopping = None  # the next start (the event belonged to the last loop)
            second = run(app)
    finally:
        log.removeHandler(draining)
    assert second.status == "sent", second
    assert second.sent_now == n - 4
    copies = relay.copies()
    assert sorted(copies) == everyone and all(len(c) == 1 for c in copies.values())


def test_progress_counts_a_refused_recipient_as_done(app_factory: Callable[..., App]) -> None:
    """A recipient the relay refuses for good (550) has its final outcome: the
    progress counts it like a sent one."""
    n = 4

    def refuse_one(address: str, attempt: int) -> str | None:
        return "550 5.1.1 No such user" if address == "user0001@example.vn" else None

    seen: list[tuple[int, int]] = []

    async def send_and_list_the_tasks_left(app: App) -> tuple[DigestResult, set[object]]:
        result = await send_digest(app, week=WEEK, progress=lambda d, t: seen.append((d, t)))
        return result, asyncio.all_tasks() - {asyncio.current_task()}

    server = SmtpServer(refuse_one).start()
    try:
        app = make_app(app_factory, server, n=n, connections=1)
        app.runtime.stopping = asyncio.Event()  # as under the service: never set here
        result, left = asyncio.run(send_and_list_the_tasks_left(app))
    finally:
        server.stop()
    assert (result.sent, result.failed, result.pending) == (n - 1, 1, 0)
    assert result.sent_now == n - 1  # the refused one is done, not sent
    assert seen == [(d, n) for d in range(n + 1)]
    assert left == set()  # the run leaves no task behind in the service's loop


def test_a_ledger_that_cannot_be_read_fails_the_run_with_the_store_error(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    """From the run's start the pending rows cannot be read (SQLite refuses it):
    the run fails with that store error instead of ending as merely incomplete,
    and nothing is sent."""
    app = make_app(app_factory, smtp_server, n=3, connections=1)
    conn = app.store.db.conn

    def deny_names(action: int, table: str | None, column: str | None, *_: object) -> int:
        if action == sqlite3.SQLITE_READ and (table, column) == ("deliveries", "name"):
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    try:
        with pytest.raises(StoreError):
            run(app, progress=lambda done, total: conn.set_authorizer(deny_names))
    finally:
        conn.set_authorizer(None)
    assert smtp_server.received == []


def test_an_unreachable_relay_stops_the_run_after_max_attempts_pauses(
    app_factory: Callable[..., App],
) -> None:
    """Every session is dropped at connect: the first try, then one try after each
    of the ``max_attempts`` pauses, then the run stops with everyone pending."""
    with FaultyRelay(lambda m: "drop" if m.stage == "connect" else None) as relay:
        app = app_factory(relay.toml(connections=1, max_attempts=2, retry_delay=0.01), samples=True)
        app.store.mail.bulk_add(
            [("user0000@example.vn", None, None)], now=app.now(), status="active", origin="test"
        )
        result = run(app)
    assert result.status == "incomplete", result
    assert result.error and "unreachable" in result.error
    assert (result.sent, result.failed, result.pending) == (0, 0, 1)
    assert relay.connections == 1 + 2


def test_an_address_that_can_no_longer_be_sent_to_fails_alone(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    """A ledger row whose address became unusable (here: a header injection) is
    failed with the reason, without a bounce; the others are sent."""
    n = 4
    app = make_app(app_factory, smtp_server, n=n, connections=1)
    conn = app.store.db.conn

    def spoil_one_row(done: int, total: int) -> None:
        if done == 0:
            conn.execute(
                "UPDATE deliveries SET email = ? WHERE email = ?",
                ("user0001@example.vn\r\nBcc: x@example.vn", "user0001@example.vn"),
            )
            conn.commit()

    seen: list[int] = []
    result = run(app, progress=lambda d, t: (spoil_one_row(d, t), seen.append(d)))
    assert (result.sent, result.failed, result.pending) == (n - 1, 1, 0)
    assert seen == list(range(n + 1))
    record = app.store.mail.digest(WEEK)
    assert record is not None
    (row,) = [r for r in app.store.mail.deliveries(record.id) if r.status == "failed"]
    assert row.last_error and "not an email address" in row.last_error
    subscriber = app.store.mail.by_email("user0001@example.vn")
    assert subscriber is not None and subscriber.status == "active"  # not a bounce
    assert subscriber.bounce_count == 0 and row.attempts == 0  # nor counted toward one
    assert "user0001@example.vn" not in smtp_server.by_recipient()
    assert len(smtp_server.received) == n - 1


def test_progress_counts_a_recipient_who_left_during_the_run(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    n = 4
    app = make_app(app_factory, smtp_server, n=n, connections=1)
    leaver = app.store.mail.by_email("user0003@example.vn")
    assert leaver is not None
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)
        if done == 1:
            app.store.mail.unsubscribe(leaver.id, now=app.now())

    result = run(app, progress=progress)
    assert (result.sent, result.skipped, result.pending) == (n - 1, 1, 0)
    assert seen == list(range(n + 1))


def test_after_a_success_an_outage_gets_max_attempts_pauses_again(
    app_factory: Callable[..., App],
) -> None:
    """The first message gets through, then the relay goes away for good: the
    connection it dropped, then one try after each of the ``max_attempts`` pauses."""
    mails = 0

    def away_after_one(m: Moment) -> str | None:
        nonlocal mails
        if m.stage == "mail":
            mails += 1
            return "drop" if mails > 1 else None
        return "drop" if m.stage == "connect" and m.connection > 1 else None

    with FaultyRelay(away_after_one) as relay:
        app = app_factory(relay.toml(connections=1, max_attempts=2, retry_delay=0.01), samples=True)
        app.store.mail.bulk_add(
            [(f"user{i:04d}@example.vn", None, None) for i in range(2)],
            now=app.now(),
            status="active",
            origin="test",
        )
        result = run(app)
    assert result.status == "incomplete", result
    assert (result.sent, result.pending) == (1, 1)
    assert relay.connections == 1 + 2


def test_a_send_longer_than_one_ledger_batch_reaches_everyone_once(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    """The ledger is read 500 rows at a time and the feeder waits for the queue to
    drain before reading on: with one connection, 540 recipients take two batches
    and the second wait really waits (a feeder that spun would hang the run)."""
    n = 540
    app = make_app(app_factory, smtp_server, n=n, connections=1)
    result = run(app)
    assert (result.status, result.sent_now, result.sent, result.pending) == ("sent", n, n, 0)
    ids = smtp_server.message_ids()
    assert len(ids) == n and len(set(ids)) == n
