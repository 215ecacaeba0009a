"""What the delivery does after an attempt failed, and when it renews its lease.

Pure functions of the error, the counters and the settings: no relay, no event
loop, no store. ``jobs.delivery`` carries the decisions out.

- A temporary refusal (4xx) is retried after ``retry_delay``, doubled on each
  attempt (1×, 2×, 4×…); after ``max_attempts`` attempts the recipient fails for
  this run (it is not a bounce).
- A permanent refusal (5xx) fails the recipient and counts toward the bounce limit.
- The relay unreachable (no connection): every worker pauses, 1×, 2×, 4×…
  ``retry_delay``, at most ``max_pause``; the streak of pauses is reset when a
  message gets through. After ``max_attempts`` pauses in a row the run stops and
  the remaining rows stay pending: nobody is blamed for an outage.
- Any other mail error is a setup error (bad login, TLS): the run stops.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ..config import SmtpConfig
from ..errors import MailError, PermanentMailError, TemporaryMailError

MAX_PAUSE = 300.0  # seconds: the longest pause of an outage


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    retry_delay: float  # seconds, doubled on each retry or pause
    max_attempts: int  # attempts of one recipient; pauses in a row of an outage
    relay: str = "the relay"  # named when an outage stops the run
    max_pause: float = MAX_PAUSE

    @classmethod
    def of(cls, smtp: SmtpConfig, relay: str) -> RetryPolicy:
        return cls(retry_delay=smtp.retry_delay, max_attempts=smtp.max_attempts, relay=relay)


@dataclass(frozen=True, slots=True)
class Retry:
    """Try this recipient again after ``after`` seconds."""

    after: float


@dataclass(frozen=True, slots=True)
class Fail:
    """The recipient's outcome for this run; ``permanent`` counts toward bouncing."""

    reason: str
    permanent: bool


@dataclass(frozen=True, slots=True)
class Pause:
    """The relay is unreachable: every worker waits ``after`` seconds; the
    recipient is tried again after that, with no attempt counted against it."""

    after: float


@dataclass(frozen=True, slots=True)
class Abort:
    """Stop the run; what is not sent stays pending for the next run."""

    reason: str


Decision = Retry | Fail | Pause | Abort


def decide(error: MailError, attempts: int, outage_streak: int, policy: RetryPolicy) -> Decision:
    """What to do after ``error``.

    ``attempts``: the recipient's counted attempts, this one included (a 4xx refusal);
    ``outage_streak``: the pauses in a row before this one since a message got through.
    """
    if isinstance(error, PermanentMailError):
        return Fail(error.message, permanent=True)
    if isinstance(error, TemporaryMailError):
        if error.connection:
            return outage(error, outage_streak, policy)
        if attempts >= policy.max_attempts:
            return Fail(f"gave up after {attempts} attempts: {error.message}", permanent=False)
        return Retry(backoff(policy.retry_delay, attempts))
    return Abort(error.message + (f" ({error.hint})" if error.hint else ""))


def outage(error: TemporaryMailError, streak: int, policy: RetryPolicy) -> Pause | Abort:
    """The relay could not be reached after ``streak`` pauses in a row."""
    if streak >= policy.max_attempts:
        return Abort(f"{policy.relay} unreachable: {error.message}")
    return Pause(min(backoff(policy.retry_delay, streak + 1), policy.max_pause))


def backoff(delay: float, n: int) -> float:
    """The ``n``-th wait (n ≥ 1): ``delay``, 2×, 4×…"""
    return float(delay * 2 ** (n - 1))


@dataclass(frozen=True, slots=True)
class LeaseSchedule:
    """The sending lease is taken for ``ttl`` and renewed once ``every`` has passed
    since the last renewal, on the clock the lease's expiry is compared with."""

    ttl: timedelta = timedelta(seconds=120)
    every: timedelta = timedelta(seconds=30)

    def due(self, renewed: datetime, now: datetime) -> bool:
        return now - renewed > self.every


LEASE = LeaseSchedule()
