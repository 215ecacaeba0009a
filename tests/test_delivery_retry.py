"""The delivery's decisions after a failed attempt and its lease schedule
(jobs.retry): pure functions, checked without a relay or an event loop."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tgfeed.errors import MailError, PermanentMailError, TemporaryMailError
from tgfeed.jobs.retry import (
    LEASE,
    MAX_PAUSE,
    Abort,
    Fail,
    LeaseSchedule,
    Pause,
    Retry,
    RetryPolicy,
    decide,
)

POLICY = RetryPolicy(retry_delay=30.0, max_attempts=5, relay="smtp.example.vn:587")
REFUSED = TemporaryMailError("451 4.7.1 Try again later", code=451)
DOWN = TemporaryMailError("smtp.example.vn:587: cannot connect: refused", connection=True)


def test_exponential_backoff_for_4xx() -> None:
    waits = [decide(REFUSED, attempts, 0, POLICY) for attempts in (1, 2, 3, 4)]
    assert waits == [Retry(30.0), Retry(60.0), Retry(120.0), Retry(240.0)]


def test_4xx_gives_up_after_max_attempts_without_bouncing() -> None:
    assert decide(REFUSED, 5, 0, POLICY) == Fail(
        "gave up after 5 attempts: 451 4.7.1 Try again later", permanent=False
    )
    assert decide(REFUSED, 6, 0, POLICY) == Fail(
        "gave up after 6 attempts: 451 4.7.1 Try again later", permanent=False
    )


def test_4xx_is_not_an_outage() -> None:
    """A refusal of one address is retried even in the middle of an outage streak."""
    assert decide(REFUSED, 1, POLICY.max_attempts, POLICY) == Retry(30.0)


def test_5xx_fails_for_good_at_once() -> None:
    error = PermanentMailError("550 5.1.1 User unknown", code=550)
    assert decide(error, 0, 0, POLICY) == Fail("550 5.1.1 User unknown", permanent=True)


def test_outage_pauses_double_up_to_the_longest_pause() -> None:
    policy = RetryPolicy(retry_delay=30.0, max_attempts=10)
    pauses = [decide(DOWN, 0, streak, policy) for streak in range(6)]
    assert pauses == [Pause(s) for s in (30.0, 60.0, 120.0, 240.0, 300.0, 300.0)]
    assert MAX_PAUSE == 300.0


def test_outage_stops_the_run_after_max_attempts_pauses_in_a_row() -> None:
    assert decide(DOWN, 0, 4, POLICY) == Pause(300.0)  # the 5th pause: 480 s, capped
    assert decide(DOWN, 0, 5, POLICY) == Abort(
        "smtp.example.vn:587 unreachable: smtp.example.vn:587: cannot connect: refused"
    )


def test_outage_counts_pauses_not_the_recipients_attempts() -> None:
    assert decide(DOWN, 99, 0, POLICY) == Pause(30.0)


def test_setup_error_stops_the_run_with_its_hint() -> None:
    error = MailError("535 authentication failed", hint="check [mail.smtp] username")
    assert decide(error, 0, 0, POLICY) == Abort(
        "535 authentication failed (check [mail.smtp] username)"
    )
    assert decide(MailError("TLS refused"), 0, 0, POLICY) == Abort("TLS refused")


@pytest.mark.parametrize("delay", [0.0, 0.02])
def test_small_delays_keep_their_schedule(delay: float) -> None:
    policy = RetryPolicy(retry_delay=delay, max_attempts=3)
    assert decide(REFUSED, 2, 0, policy) == Retry(delay * 2)
    assert decide(DOWN, 0, 2, policy) == Pause(delay * 4)


def test_lease_lasts_two_minutes_renewed_every_30_seconds() -> None:
    """docs/digest.md: how long another host waits for a holder that stopped."""
    assert LeaseSchedule(ttl=timedelta(minutes=2), every=timedelta(seconds=30)) == LEASE


def test_lease_is_renewed_well_before_it_expires() -> None:
    start = datetime(2026, 11, 30, tzinfo=UTC)
    assert not LEASE.due(start, start + LEASE.every)
    assert LEASE.due(start, start + LEASE.every + timedelta(microseconds=1))
    assert LEASE.every * 2 < LEASE.ttl  # a renewal can be late once and the lease holds


def test_a_short_lease_schedule() -> None:
    short = LeaseSchedule(ttl=timedelta(seconds=4), every=timedelta(seconds=1))
    start = datetime(2026, 11, 30, tzinfo=UTC)
    assert [short.due(start, start + timedelta(seconds=s)) for s in (0, 1, 2)] == [
        False,
        False,
        True,
    ]
