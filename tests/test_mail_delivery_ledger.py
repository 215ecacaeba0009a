"""The delivery's promises about its ledger and its lease, against a real aiosmtpd
(or the scripted relay) on 127.0.0.1 and a real SQLite store: the lease is renewed
during a long run, a failed ledger write or commit stops the run with the rest
pending, and the outage counter starts again after a message got through."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tgfeed.app import App
from tgfeed.jobs.delivery import LEASE_TTL
from tgfeed.jobs.digest import DigestResult, send_digest
from tgfeed.store import digest_lease, open_store

from .conftest import FixedClock
from .smtp_faults import FaultyRelay, Moment
from .smtp_server import SmtpServer
from .test_mail_delivery import WEEK, addresses, make_app

RUN_LIMIT = 60  # seconds: a run that hangs fails instead of blocking the suite


def run(app: App, progress: Callable[[int, int], None] | None = None) -> DigestResult:
    sending = send_digest(app, week=WEEK, progress=progress)
    return asyncio.run(asyncio.wait_for(sending, RUN_LIMIT))


def pending(app: App) -> set[str]:
    record = app.store.mail.digest(WEEK)
    assert record is not None
    rows = app.store.mail.deliveries(record.id, limit=10_000)
    return {row.email for row in rows if row.status == "pending"}


def test_lease_is_renewed_during_a_long_run(
    app_factory: Callable[..., App], clock: FixedClock
) -> None:
    """Each message takes 50 s on the app's clock, so the run lasts far longer
    than the lease: a second process asking for the week mid-run is refused."""
    step = 50.0
    n = 12
    assert n * step > 3 * LEASE_TTL.total_seconds()
    seen: list[object] = []
    box: dict[str, App] = {}

    def slow(address: str, attempt: int) -> None:
        clock.advance(step)  # the relay takes its time over every message
        other = open_store(box["app"].store.path or "")
        try:
            seen.append(
                other.jobs.acquire_lease(
                    digest_lease(WEEK), "other-host:1", now=clock(), ttl=LEASE_TTL
                )
            )
        finally:
            other.close()
        return None

    server = SmtpServer(slow).start()
    try:
        app = box["app"] = make_app(app_factory, server, n=n, connections=1)
        result = run(app)
    finally:
        server.stop()
    assert result.status == "sent", result
    assert len(seen) == n
    assert seen == [None] * n  # every attempt to take over was refused


def test_lease_is_renewed_through_an_outage_pause(
    app_factory: Callable[..., App], clock: FixedClock
) -> None:
    """The relay goes away after the first message, and each reconnection takes
    100 s on the app's clock: the pauses outlast the lease, which is renewed while
    the workers wait, so another process asking for the week is refused."""
    seen: list[object] = []
    box: dict[str, App] = {}

    def flaky(m: Moment) -> str | None:
        if m.stage == "rcpt" and m.rcpt == "user0001@example.vn" and m.attempt == 1:
            return "drop"  # the relay goes away: an outage, not this recipient's fault
        if m.stage != "connect" or m.connection == 1:
            return None
        clock.advance(100)
        other = open_store(box["app"].store.path or "")
        try:
            seen.append(
                other.jobs.acquire_lease(
                    digest_lease(WEEK), "other-host:1", now=clock(), ttl=LEASE_TTL
                )
            )
        finally:
            other.close()
        return "drop" if m.connection <= 3 else None

    with FaultyRelay(flaky) as relay:
        smtp = relay.toml(connections=1, max_attempts=5, retry_delay=0.01)
        app = box["app"] = app_factory(smtp, samples=True)
        app.store.mail.bulk_add(
            [(a, None, None) for a in sorted(addresses(3))],
            now=app.now(),
            status="active",
            origin="test",
        )
        result = run(app)
    assert result.status == "sent", result
    assert len(seen) == 3  # three reconnections, 300 s of outage
    assert seen == [None, None, None]  # every attempt to take over was refused


def test_a_sender_that_lost_its_lease_stops(
    app_factory: Callable[..., App], clock: FixedClock
) -> None:
    """The sender stalls longer than the lease over the 3rd message, and another
    process takes the week over meanwhile: the first stops at its next renewal
    instead of sending beside the new holder."""
    n = 10
    taken: list[object] = []
    box: dict[str, App] = {}

    def stall(address: str, attempt: int) -> None:
        if address == "user0002@example.vn":
            clock.advance(LEASE_TTL.total_seconds() + 60)
            other = open_store(box["app"].store.path or "")
            try:
                taken.append(
                    other.jobs.acquire_lease(
                        digest_lease(WEEK), "other-host:1", now=clock(), ttl=LEASE_TTL
                    )
                )
            finally:
                other.close()
        return None

    server = SmtpServer(stall).start()
    try:
        app = box["app"] = make_app(app_factory, server, n=n, connections=1)
        result = run(app)
    finally:
        server.stop()
    assert taken and taken[0] is not None  # the other process got the week
    assert result.status == "incomplete", result
    assert result.error and "lease" in result.error
    assert "other-host:1" in result.error  # the operator is told who has the week now
    assert len(server.received) == 3 and result.sent == 3  # nothing sent after losing it
    assert app.store.jobs.lease_holder(digest_lease(WEEK), clock()) == "other-host:1"


def test_commit_failure_stops_the_run_and_keeps_rows_pending(
    app_factory: Callable[..., App],
) -> None:
    """The 4th group commit fails for real (a deferred foreign key, checked at
    COMMIT): nothing more is sent, and the rows not committed stay pending."""
    n = 10
    server = SmtpServer().start()
    try:
        app = make_app(app_factory, server, n=n, connections=1)
        app.store.db.conn.executescript(
            """
            CREATE TABLE gate (id INTEGER PRIMARY KEY);
            CREATE TABLE breaker (gate INTEGER REFERENCES gate(id) DEFERRABLE INITIALLY DEFERRED);
            CREATE TRIGGER break_commit AFTER UPDATE OF status ON deliveries
            WHEN NEW.status = 'sent'
              AND (SELECT count(*) FROM deliveries WHERE status = 'sent') > 3
            BEGIN INSERT INTO breaker VALUES (1); END;
            """
        )
        first = run(app)
        assert first.status == "incomplete", first
        assert first.error and "commit" in first.error
        assert (first.sent, first.failed, first.pending) == (3, 0, n - 3)
        assert first.sent_now == 3  # the 4th was not recorded, so not counted
        assert len(server.received) == 4  # the one whose commit failed, then nothing
        assert len(pending(app)) == n - 3
        app.store.db.conn.execute("DROP TRIGGER break_commit")
        second = run(app)
    finally:
        server.stop()
    assert second.status == "sent", second
    assert second.sent_now == n - 3
    assert set(server.by_recipient()) == addresses(n)


def test_failed_ledger_write_stops_the_run_and_keeps_rows_pending(
    app_factory: Callable[..., App],
) -> None:
    """Marking the 4th row sent fails (SQLite's "database or disk is full", raised
    by a trigger): the run stops instead of hanging, nothing more is sent, and the
    rows not recorded stay pending for the next run."""
    n = 10
    server = SmtpServer().start()
    try:
        app = make_app(app_factory, server, n=n, connections=2)
        app.store.db.conn.execute(
            "CREATE TRIGGER full_disk BEFORE UPDATE OF status ON deliveries "
            "WHEN NEW.status = 'sent' "
            "AND (SELECT count(*) FROM deliveries WHERE status = 'sent') >= 3 "
            "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
        )
        first = run(app)
        assert first.status == "incomplete", first
        assert first.error and "full" in first.error
        assert first.failed == 0 and first.sent + first.pending == n
        assert first.sent <= 3
        assert len(server.received) <= first.sent + 2  # one not recorded per connection
        assert len(pending(app)) == first.pending
        app.store.db.conn.execute("DROP TRIGGER full_disk")
        second = run(app)
    finally:
        server.stop()
    assert second.status == "sent", second
    assert set(server.by_recipient()) == addresses(n)


def test_outage_counter_starts_again_after_a_message_got_through(
    app_factory: Callable[..., App],
) -> None:
    """The relay closes (421) on every other recipient's first try, so each pause
    is followed by a message that gets through. With max_attempts = 1 a second
    pause in a row would stop the run: it completes only because a success resets
    the count."""
    everyone = sorted(addresses(6))
    unlucky = set(everyone[::2])

    def closing(m: Moment) -> str | None:
        first_try = m.stage == "rcpt" and m.attempt == 1 and m.rcpt in unlucky
        return "421 4.3.2 Try again later" if first_try else None

    with FaultyRelay(closing) as relay:
        smtp = relay.toml(connections=1, max_attempts=1, retry_delay=0.01)
        app = app_factory(smtp, samples=True)
        app.store.mail.bulk_add(
            [(a, None, None) for a in everyone], now=app.now(), status="active", origin="test"
        )
        result = run(app)
    assert relay.faults["rcpt:421"] == len(unlucky)
    assert result.status == "sent", result
    assert (result.sent, result.failed, result.pending) == (len(everyone), 0, 0)
    assert sorted(relay.copies()) == everyone
