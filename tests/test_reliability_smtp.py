"""The weekly digest through an SMTP relay that misbehaves: drops connections,
stalls past the timeout, answers 421/451/452/550/554, closes during DATA.

Each case states its expected outcome; all share the delivery promise: nothing
is lost (every ledger row marked sent is a message the relay holds; every
subscriber ends sent, failed with a reason, or pending for the next run) and a
duplicate arises only when the relay took the whole message but its reply never
reached us — then it carries the same Message-ID, one per such fault. (451
greylisting at RCPT, a 452 that never clears, 550 at RCPT with bounce counting and
a relay stopped and restarted mid-run are proven in test_mail_delivery.py.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tgfeed.app import App
from tgfeed.jobs.digest import DigestResult, send_digest

from .smtp_faults import FaultyRelay, Moment

WEEK = "2026-W48"
N = 12
EVERYONE = {f"user{i:04d}@example.vn" for i in range(N)}
BAD = {"user0002@example.vn", "user0005@example.vn", "user0009@example.vn"}
ONE = "user0007@example.vn"
# Our timeout in the stall cases: a stall is an hour, so this only has to be longer
# than any honest reply on a loaded machine (0.4 s was not: a late 250 made an
# unscripted duplicate).
STALL_TIMEOUT = 2.5


def make_app(app_factory: Callable[..., App], relay: FaultyRelay, **smtp: object) -> App:
    app = app_factory(relay.toml(**smtp), samples=True)
    app.store.mail.bulk_add(
        [(addr, f"Người nhận {addr[4:8]}", None) for addr in sorted(EVERYONE)],
        now=app.now(),
        status="active",
        origin="test",
    )
    return app


def send(app: App) -> DigestResult:
    return asyncio.run(send_digest(app, week=WEEK))


def ledger(app: App) -> dict[str, object]:
    ms = app.store.mail
    record = ms.digest(WEEK)
    assert record is not None
    return {row.email: row for row in ms.deliveries(record.id, limit=1000)}


@dataclass
class Outcome:
    lost: int = 0  # marked sent, but the relay never got it
    duplicates: int = 0  # extra copies the relay holds
    sent: int = 0
    failed: int = 0
    pending: int = 0


def check_delivery(app: App, relay: FaultyRelay) -> Outcome:
    rows = ledger(app)
    assert set(rows) == EVERYONE
    copies = relay.copies()
    out = Outcome()
    for email, row in rows.items():
        status = row.status  # type: ignore[attr-defined]
        held = copies.get(email, [])
        if status == "sent":
            out.sent += 1
            out.lost += not held
        elif status == "failed":
            out.failed += 1
            assert row.last_error, email  # type: ignore[attr-defined]
        else:
            out.pending += 1
        if len(held) > 1:
            out.duplicates += len(held) - 1
            assert len({k.message_id for k in held}) == 1, f"{email}: different Message-IDs"
            assert len({k.data for k in held}) == 1, f"{email}: the copies differ"
        assert sum(k.answered for k in held) <= 1, f"{email}: acknowledged twice"
    assert set(copies) <= EVERYONE
    return out


def first_time(stage: str, action: str, who: set[str]) -> Callable[[Moment], str | None]:
    return lambda m: action if m.stage == stage and m.rcpt in who and m.attempt == 1 else None


# (id, script, smtp settings, expected sent/failed, expected duplicates)
CASES = [
    (
        "drop-at-connect",  # the relay accepts TCP and hangs up: retried on a new connection
        lambda m: "drop" if m.stage == "connect" and m.connection <= 3 else None,
        {},
        (N, 0),
        0,
    ),
    (
        "stall-at-connect",  # no greeting until our timeout: a connection fault, retried
        lambda m: "stall" if m.stage == "connect" and m.connection <= 2 else None,
        {"timeout": STALL_TIMEOUT},
        (N, 0),
        0,
    ),
    (
        "421-greeting",  # "service not available": retried on a new connection
        lambda m: (
            "421 4.3.2 Service not available"
            if m.stage == "connect" and m.connection <= 3
            else None
        ),
        {},
        (N, 0),
        0,
    ),
    (
        "421-at-mail",  # the relay shuts the session mid-way
        lambda m: "421 4.3.2 Shutting down" if m.stage == "mail" and m.attempt in (2, 5) else None,
        {},
        (N, 0),
        0,
    ),
    (
        "451-after-data",  # the message is refused for now: retried, delivered once
        first_time("dot", "451 4.3.0 Temporary local problem", BAD),
        {},
        (N, 0),
        0,
    ),
    (
        "452-at-rcpt",  # insufficient storage for now: retried, delivered
        first_time("rcpt", "452 4.3.1 Insufficient system storage", BAD),
        {},
        (N, 0),
        0,
    ),
    (
        "550-at-rcpt",  # no such user: failed for good, not retried, others delivered
        lambda m: "550 5.1.1 User unknown" if m.rcpt == ONE and m.stage == "rcpt" else None,
        {},
        (N - 1, 1),
        0,
    ),
    (
        "554-after-data",  # content refused for good: failed, not retried
        lambda m: "554 5.7.1 Message rejected" if m.rcpt == ONE and m.stage == "dot" else None,
        {},
        (N - 1, 1),
        0,
    ),
    (
        "drop-mid-data",  # closed before the final dot: the relay has half a message, drops it
        first_time("mid-data", "drop", BAD),
        {},
        (N, 0),
        0,
    ),
    (
        "drop-after-dot",  # the relay has the whole message, its 250 never arrives: duplicate
        first_time("dot", "drop", BAD),
        {},
        (N, 0),
        len(BAD),
    ),
    (
        "stall-after-dot",  # no 250 before our timeout: the same honest duplicate
        first_time("dot", "stall", {"user0002@example.vn", "user0009@example.vn"}),
        {"timeout": STALL_TIMEOUT},
        (N, 0),
        2,
    ),
]


@pytest.mark.parametrize(
    ("script", "smtp", "expected", "duplicates"),
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_relay_fault_and_its_outcome(
    app_factory: Callable[..., App],
    script: Callable[[Moment], str | None],
    smtp: dict[str, object],
    expected: tuple[int, int],
    duplicates: int,
) -> None:
    with FaultyRelay(script) as relay:
        app = make_app(app_factory, relay, **smtp)
        started = time.monotonic()
        result = send(app)
        elapsed = time.monotonic() - started
    assert sum(relay.faults.values()) >= 1, "the fault never happened"
    outcome = check_delivery(app, relay)
    assert (outcome.sent, outcome.failed, outcome.pending) == (*expected, 0), (outcome, result)
    assert result.status == "sent" and result.error is None
    assert outcome.lost == 0
    assert outcome.duplicates == duplicates
    held_faults = relay.faults["dot:drop"] + relay.faults["dot:stall"]
    assert outcome.duplicates <= held_faults  # one per reply lost after a whole message
    assert elapsed < 30
    rows = ledger(app)
    if expected[1]:
        row = rows[ONE]
        assert row.attempts == 1  # type: ignore[attr-defined]
        error = row.last_error or ""  # type: ignore[attr-defined]
        assert "550 5.1.1" in error or "554 5.7.1" in error, error
        sub = app.store.mail.by_email(ONE)
        assert sub is not None and sub.bounce_count == 1


def test_relay_refusing_every_session_stops_the_run_and_the_next_resumes(
    app_factory: Callable[..., App],
) -> None:
    """554 at every greeting: the relay is unusable, not the addresses. The run stops
    with every row pending and nobody blamed; the next run, once the relay is
    fixed, sends each exactly once."""
    refusing = {"on": True}

    def script(m: Moment) -> str | None:
        if refusing["on"] and m.stage == "connect":
            return "554 5.3.2 No service for you"
        return None

    with FaultyRelay(script) as relay:
        app = make_app(app_factory, relay, max_attempts=3, retry_delay=0.01)
        first = send(app)
        assert first.status == "incomplete"
        assert first.error and "unreachable" in first.error
        assert (first.sent, first.failed, first.pending) == (0, 0, N)
        assert relay.kept == []
        subs = app.store.mail
        assert all((s := subs.by_email(a)) is not None and s.bounce_count == 0 for a in EVERYONE)
        refusing["on"] = False
        second = send(app)
    assert second.status == "sent" and second.sent_now == N
    outcome = check_delivery(app, relay)
    assert (outcome.sent, outcome.lost, outcome.duplicates) == (N, 0, 0)


def test_our_sender_refused_stops_the_run_with_everyone_pending(
    app_factory: Callable[..., App],
) -> None:
    """550 to MAIL FROM: our own setup is wrong. Stop at once (no point trying the
    other addresses), blame nobody, name the fix; resume after the fix."""
    refusing = {"on": True}

    def script(m: Moment) -> str | None:
        if refusing["on"] and m.stage == "mail":
            return "550 5.7.1 Sender address rejected: not owned by user"
        return None

    with FaultyRelay(script) as relay:
        app = make_app(app_factory, relay)
        first = send(app)
        assert first.status == "incomplete"
        assert first.error and "envelope sender" in first.error
        assert first.failed == 0 and first.pending == N
        refusing["on"] = False
        second = send(app)
    assert second.status == "sent", second
    outcome = check_delivery(app, relay)
    assert (outcome.sent, outcome.lost, outcome.duplicates) == (N, 0, 0)


@pytest.mark.parametrize("stage", ["mail", "rcpt"])
def test_relay_shutting_down_on_every_session_blames_nobody(
    app_factory: Callable[..., App], stage: str
) -> None:
    """421 ("service not available, closing") at MAIL or RCPT on every session is the
    relay's state, not the address's: like an outage, the run stops with every row
    pending — nobody is marked failed after max_attempts — and the next run resumes."""
    refusing = {"on": True}

    def script(m: Moment) -> str | None:
        if refusing["on"] and m.stage == stage:
            return "421 4.3.2 System shutting down"
        return None

    with FaultyRelay(script) as relay:
        app = make_app(app_factory, relay, max_attempts=3, retry_delay=0.01)
        first = send(app)
        assert first.status == "incomplete", first
        assert (first.sent, first.failed, first.pending) == (0, 0, N), first
        refusing["on"] = False
        second = send(app)
    assert second.status == "sent", second
    outcome = check_delivery(app, relay)
    assert (outcome.sent, outcome.lost, outcome.duplicates) == (N, 0, 0)
