"""Job configs → APScheduler triggers, fire times and descriptions.

Pure given ``now``; the only module that imports APScheduler's triggers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..config import JobConfig

# Catch-up looks back at most this far (an `every` job would otherwise iterate a lot).
MAX_LOOKBACK = timedelta(days=62)


def validate_cron(expr: str) -> None:
    """Raise ValueError unless ``expr`` is a valid 5-field crontab expression."""
    CronTrigger.from_crontab(expr, timezone="UTC")


def make_trigger(job: JobConfig, tz: ZoneInfo, *, anchor: datetime | None = None) -> BaseTrigger:
    """The trigger for a job; ``every`` triggers are anchored (default: the epoch in
    local time) so their fire times do not depend on when the service started."""
    jitter = job.jitter or None
    if job.cron is not None:
        trigger = CronTrigger.from_crontab(job.cron, timezone=tz)
        trigger.jitter = jitter
        return trigger
    assert job.every is not None
    start = anchor or datetime(2020, 1, 1, tzinfo=tz)
    return IntervalTrigger(seconds=job.every, start_date=start, timezone=tz, jitter=jitter)


def next_fire_times(job: JobConfig, tz: ZoneInfo, now: datetime, n: int = 3) -> list[datetime]:
    trigger = make_trigger(job.model_copy(update={"jitter": 0}), tz)
    out: list[datetime] = []
    prev: datetime | None = None
    cursor = now
    for _ in range(n):
        nxt = trigger.get_next_fire_time(prev, cursor)
        if nxt is None:
            break
        out.append(nxt)
        prev, cursor = nxt, nxt + timedelta(microseconds=1)
    return out


def latest_fire_time(
    job: JobConfig, tz: ZoneInfo, after: datetime, now: datetime
) -> datetime | None:
    """The latest fire time in (after, now], or None."""
    trigger = make_trigger(job.model_copy(update={"jitter": 0}), tz)
    start = max(after, now - MAX_LOOKBACK)
    prev: datetime | None = None
    cursor = start + timedelta(microseconds=1)
    latest = None
    for _ in range(100_000):
        nxt = trigger.get_next_fire_time(prev, cursor)
        if nxt is None or nxt > now:
            break
        latest = nxt
        prev, cursor = nxt, nxt + timedelta(microseconds=1)
    return latest


def describe(job: JobConfig) -> str:
    if job.cron is not None:
        return f"cron {job.cron}"
    assert job.every is not None
    s = job.every
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if s % size == 0:
            return f"every {s // size}{unit}"
    return f"every {s}s"
