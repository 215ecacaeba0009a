"""The schedule: fire times, catch-up of missed runs, the digest week, the lease,
live reload — with a fixed clock where time matters."""

from __future__ import annotations

import asyncio
import email
import email.policy
import mailbox
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tgfeed.app import App
from tgfeed.config import JobConfig
from tgfeed.loader import load
from tgfeed.scheduler.runner import run_job
from tgfeed.scheduler.service import SchedulerService
from tgfeed.scheduler.triggers import describe, latest_fire_time, next_fire_times
from tgfeed.text import iso_local

from .conftest import FixedClock

ROOT = Path(__file__).resolve().parents[1]
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
# Monday 2026-11-30 07:00 +07:00
MONDAY_7 = datetime(2026, 11, 30, 0, 0, tzinfo=timezone.utc)

DIGEST_ONLY = """
[admin]
alert_to = ["cntt@tuyengiaohungyen.vn"]
[schedule.jobs.weekly_digest]
kind = "send_digest"
cron = "0 7 * * mon"
misfire_grace = "6h"
"""


def test_next_fire_times_of_the_example_schedule() -> None:
    config = load(ROOT / "config.example.toml")
    now = datetime(2026, 11, 29, 12, 1, tzinfo=timezone.utc)  # Sunday 19:01 local
    got = {
        n: [iso_local(t) for t in next_fire_times(j, TZ, now)]
        for n, j in config.schedule.jobs.items()
    }
    assert got["weekly_digest"] == [
        "2026-11-30T07:00:00+07:00",
        "2026-12-07T07:00:00+07:00",
        "2026-12-14T07:00:00+07:00",
    ]
    assert got["build_feeds"] == [
        "2026-11-29T19:15:00+07:00",
        "2026-11-29T19:30:00+07:00",
        "2026-11-29T19:45:00+07:00",
    ]
    assert got["cleanup"][0] == "2026-11-30T03:30:00+07:00"
    assert describe(config.schedule.jobs["crawl_site"]) == "every 30m"


def test_schedule_uses_its_timezone_not_the_hosts() -> None:
    job = JobConfig(kind="send_digest", cron="0 7 * * mon")
    utc_times = next_fire_times(job, ZoneInfo("UTC"), MONDAY_7 - timedelta(hours=1))
    local_times = next_fire_times(job, TZ, MONDAY_7 - timedelta(hours=1))
    assert local_times[0] == MONDAY_7
    assert utc_times[0] == MONDAY_7 + timedelta(hours=7)


def test_latest_fire_time() -> None:
    job = JobConfig(kind="send_digest", cron="0 7 * * mon")
    assert (
        latest_fire_time(job, TZ, MONDAY_7 - timedelta(days=8), MONDAY_7 + timedelta(hours=2))
        == MONDAY_7
    )
    assert latest_fire_time(job, TZ, MONDAY_7, MONDAY_7 + timedelta(hours=2)) is None


def test_digest_fired_monday_7am_selects_week_48(sample_app: App) -> None:
    outcome = asyncio.run(
        run_job(
            sample_app,
            "weekly_digest",
            trigger="schedule",
            scheduled_at=MONDAY_7 + timedelta(minutes=3),
            dry_run=True,
        )
    )
    assert outcome.outcome == "ok", outcome.error
    assert outcome.summary is not None
    assert outcome.summary["week"] == "2026-W48"
    # Late (Tuesday): still the week before the scheduled fire time.
    late = asyncio.run(
        run_job(
            sample_app,
            "weekly_digest",
            trigger="schedule",
            scheduled_at=MONDAY_7 + timedelta(days=1),
            dry_run=True,
        )
    )
    assert late.summary is not None and late.summary["week"] == "2026-W48"


def test_unknown_job_is_a_clear_error(app: App) -> None:
    from tgfeed.errors import TgfeedError

    with pytest.raises(TgfeedError, match="no job named 'nope'"):
        asyncio.run(run_job(app, "nope"))


def _start_and_settle(app: App, *, wait: float = 0.5) -> SchedulerService:
    async def go() -> SchedulerService:
        service = SchedulerService(app, lease_ttl=30)
        await service.start()
        await asyncio.sleep(wait)
        while service._running:  # let catch-up runs finish
            await asyncio.sleep(0.05)
        await service.stop()
        return service

    return asyncio.run(go())


def _alerts(app: App) -> list[str]:
    box = mailbox.Maildir(app.path(app.config.mail.outbox_dir), create=True)
    return [
        str(email.message_from_bytes(bytes(m), policy=email.policy.default)["Subject"]) for m in box
    ]


def test_missed_run_within_grace_runs_once(
    app_factory: Callable[..., App], clock: FixedClock
) -> None:
    clock.value = MONDAY_7 - timedelta(days=2)
    app = app_factory(DIGEST_ONLY, samples=True)
    app.store.mail.add_subscriber("ban.doc@example.vn", now=app.now(), status="active")
    _start_and_settle(app)  # the service first knows the job on Saturday
    clock.value = MONDAY_7 + timedelta(hours=2)  # down at 07:00, back at 09:00
    _start_and_settle(app)
    runs = app.store.jobs.recent_runs(job="weekly_digest")
    assert [(r["trigger"], r["outcome"]) for r in runs] == [("catch-up", "ok")]
    assert runs[0]["scheduled_at"] == "2026-11-30T00:00:00+00:00"
    assert runs[0]["summary"]["week"] == "2026-W48"
    clock.value += timedelta(hours=1)  # another restart: never twice
    _start_and_settle(app)
    assert len(app.store.jobs.recent_runs(job="weekly_digest")) == 1


def test_missed_run_beyond_grace_is_recorded_and_alerted(
    app_factory: Callable[..., App], clock: FixedClock
) -> None:
    clock.value = MONDAY_7 - timedelta(days=2)
    app = app_factory(DIGEST_ONLY)
    _start_and_settle(app)
    clock.value = MONDAY_7 + timedelta(hours=7)  # beyond the 6h grace
    _start_and_settle(app)
    runs = app.store.jobs.recent_runs(job="weekly_digest")
    assert [r["outcome"] for r in runs] == ["missed"]
    assert "misfire_grace" in runs[0]["error"]
    assert any("weekly_digest" in s and "lỡ" in s for s in _alerts(app))
    _start_and_settle(app)
    assert len(app.store.jobs.recent_runs(job="weekly_digest")) == 1


def test_failed_job_alerts_at_most_once_per_interval(
    app_factory: Callable[..., App], clock: FixedClock, tmp_path: Path
) -> None:
    app = app_factory("""
[admin]
alert_to = ["cntt@tuyengiaohungyen.vn"]
[schedule.jobs.crawl]
kind = "crawl"
every = "15m"
source = "gone"
[[sources]]
name = "gone"
kind = "directory"
path = "/nonexistent/tgfeed-test-folder"
alert_after = 1
""")
    first = asyncio.run(run_job(app, "crawl"))
    second = asyncio.run(run_job(app, "crawl"))
    assert first.outcome == second.outcome == "failed"
    assert len([s for s in _alerts(app) if "crawl" in s]) == 1
    clock.advance(3601)
    asyncio.run(run_job(app, "crawl"))
    assert len([s for s in _alerts(app) if "crawl" in s]) == 2


def test_one_scheduler_per_store(app_factory: Callable[..., App]) -> None:
    a = app_factory(DIGEST_ONLY)
    b = app_factory(DIGEST_ONLY)

    async def go() -> tuple[str, str, str]:
        first = SchedulerService(a, lease_ttl=30)
        second = SchedulerService(b, lease_ttl=30)
        await first.start()
        await second.start()
        roles = (first.role, second.role)
        await first.stop()
        await second.stop()
        return roles[0], roles[1], second.status()["role"]

    leader, standby, _ = asyncio.run(go())
    assert (leader, standby) == ("leader", "standby")


def test_reload_applies_valid_and_refuses_invalid(
    app_factory: Callable[..., App], tmp_path: Path
) -> None:
    app = app_factory(DIGEST_ONLY)
    path = tmp_path / "config.toml"

    async def go() -> None:
        service = SchedulerService(app, config_path=path)
        await service.start()
        assert service.scheduler is not None
        old_next = service.scheduler.get_job("weekly_digest").next_run_time
        path.write_text(
            path.read_text(encoding="utf-8").replace("0 7 * * mon", "30 6 * * tue"),
            encoding="utf-8",
        )
        changes = await service.reload()
        assert changes == ["rescheduled weekly_digest (cron 30 6 * * tue)"]
        new_next = service.scheduler.get_job("weekly_digest").next_run_time
        assert new_next != old_next
        assert new_next.astimezone(TZ).strftime("%a %H:%M") == "Tue 06:30"
        path.write_text(
            path.read_text(encoding="utf-8").replace("30 6 * * tue", "99 * * * *"), encoding="utf-8"
        )
        assert await service.reload() == []
        assert (
            service.config_error and "schedule.jobs.weekly_digest.cron" in service.config_error[0]
        )
        assert service.scheduler.get_job("weekly_digest").next_run_time == new_next
        path.write_text("[site\n", encoding="utf-8")  # half-written by an editor
        await service.reload()
        assert service.config_error and "TOML syntax error" in service.config_error[0]
        path.unlink()
        await service.reload()
        assert service.config_error and "No such file" in service.config_error[0]
        assert service.scheduler.get_job("weekly_digest") is not None
        await service.stop()

    asyncio.run(go())


HELD = """
[admin]
alert_to = ["cntt@tuyengiaohungyen.vn"]
alert_interval = "2h"
[[sources]]
name = "drop"
kind = "directory"
path = "missing-drop"
[schedule.jobs.crawl_site]
kind = "ingest"
source = "drop"
every = "1h"
[schedule.jobs.weekly_digest]
kind = "send_digest"
cron = "0 7 * * mon"
misfire_grace = "1h"
after = ["crawl_site"]
[digest]
hold_retry = "20m"
"""


def test_a_held_digest_is_retried_within_its_grace_then_given_up(
    app_factory: Callable[..., App], clock: FixedClock
) -> None:
    """The scheduler's follow-up of a held week: a retry timer every hold_retry while
    the fire time plus misfire_grace lasts, then one alert and no more timers."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from tgfeed.scheduler.followups import after_run

    clock.value = MONDAY_7
    app = app_factory(HELD, samples=True)
    app.store.mail.add_subscriber("a@example.vn", now=app.now(), status="active")

    async def go() -> list[datetime | None]:
        service = SchedulerService(app)
        service.scheduler = AsyncIOScheduler(timezone="UTC")
        service.scheduler.start(paused=True)  # timers are looked at, never fired
        seen: list[datetime | None] = []
        try:
            for _ in range(4):
                outcome = await run_job(app, "weekly_digest", scheduled_at=MONDAY_7)
                assert outcome.outcome == "held", outcome
                await after_run(service, "weekly_digest", outcome, MONDAY_7)
                job = service.scheduler.get_job("weekly_digest:retry")
                seen.append(job.trigger.run_date if job is not None else None)
                if job is not None:
                    job.remove()
                clock.advance(20 * 60)
        finally:
            service.scheduler.shutdown(wait=False)
        return seen

    seen = asyncio.run(go())
    step = timedelta(minutes=20)
    assert seen == [MONDAY_7 + step, MONDAY_7 + 2 * step, MONDAY_7 + 3 * step, None]
    record = app.store.mail.digest("2026-W48")
    assert record is not None and record.status == "held"
    assert "drop folder does not exist" in (app.store.jobs.last_run("weekly_digest") or {})["error"]
    subjects = _alerts(app)
    assert sum("đang tạm giữ" in s for s in subjects) == 1  # one per alert_interval
    assert sum("hết thời gian chờ nguồn tin" in s for s in subjects) == 1


def test_a_draft_gets_a_deadline_timer_and_the_timer_applies_on_deadline(
    app_factory: Callable[..., App], clock: FixedClock
) -> None:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from tgfeed.scheduler.followups import _deadline_due, after_run, rearm

    clock.value = MONDAY_7
    app = app_factory(
        DIGEST_ONLY + '[digest]\napproval = true\napprovers = ["duyet@example.vn"]\n'
        'approval_deadline = "Mon 11:00"\non_deadline = "send"\n',
        samples=True,
    )
    app.store.mail.add_subscriber("a@example.vn", now=app.now(), status="active")

    async def go() -> tuple[datetime | None, datetime | None]:
        service = SchedulerService(app)
        service.scheduler = AsyncIOScheduler(timezone="UTC")
        service.scheduler.start(paused=True)
        try:
            outcome = await run_job(app, "weekly_digest", scheduled_at=MONDAY_7)
            await after_run(service, "weekly_digest", outcome, MONDAY_7)
            armed = service.scheduler.get_job("deadline:2026-W48")
            first = armed.trigger.run_date if armed else None
            service.scheduler.remove_all_jobs()
            rearm(service)  # a restart re-arms it
            again = service.scheduler.get_job("deadline:2026-W48")
            clock.advance(4 * 3600 + 1)
            await _deadline_due(service, "2026-W48")
            return first, again.trigger.run_date if again else None
        finally:
            service.scheduler.shutdown(wait=False)

    first, again = asyncio.run(go())
    deadline = MONDAY_7 + timedelta(hours=4)  # Monday 11:00 local
    assert first == deadline and again == deadline
    record = app.store.mail.digest("2026-W48")
    assert record is not None and record.status == "sent" and record.approved_by == "scheduler"
