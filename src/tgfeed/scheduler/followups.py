"""What the scheduler does after a digest run: retry a held week within its
grace, and act at a draft's approval deadline.

A held run (stale sources) is tried again every ``digest.hold_retry`` while the
fire time plus the job's ``misfire_grace`` has not passed; after that the admin
is alerted that the week waits for `tgfeed digest send`. A draft gets a timer at
its ``deadline_at``; both are re-armed when a scheduler (re)starts.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..jobs.alerts import alert
from ..text import format_vi_datetime, iso_local, parse_iso_datetime
from .runner import RunOutcome

if TYPE_CHECKING:
    from .service import SchedulerService

log = logging.getLogger("tgfeed.scheduler")


def is_followup(job_id: str) -> bool:
    """Timers added here, not jobs of ``[schedule.jobs]`` (a reload keeps them)."""
    return ":" in job_id


async def after_run(
    service: SchedulerService, name: str, outcome: RunOutcome, scheduled: datetime | None
) -> None:
    summary = outcome.summary or {}
    if outcome.outcome == "held" and scheduled is not None:
        await _retry(service, name, scheduled, str(summary.get("week", "")))
    elif summary.get("status") == "draft":
        week = str(summary.get("week"))
        record = service.app.store.mail.digest(week)
        if record is not None and record.deadline_at is not None:
            arm_deadline(service, week, record.deadline_at)


async def _retry(service: SchedulerService, name: str, scheduled: datetime, week: str) -> None:
    app = service.app
    job = app.config.schedule.jobs.get(name)
    if job is None or service.scheduler is None:
        return
    at = app.now() + timedelta(seconds=app.config.digest.hold_retry)
    until = scheduled + timedelta(seconds=job.misfire_grace)
    if at > until:
        log.error("job %s: week %s still held at the end of its grace; not retried", name, week)
        await alert(
            app,
            f"{name}:gave-up",
            f"[tgfeed] Bản tin {week} chưa gửi: hết thời gian chờ nguồn tin",
            f"Nguồn tin vẫn chưa cập nhật đến {format_vi_datetime(until, app.tz)} "
            f"(misfire_grace của {name}), nên bản tin tuần {week} chưa được gửi.\n\n"
            f"Khi nguồn tin đã sửa, gửi bằng: tgfeed digest send --week {week}\n",
        )
        return
    log.info("job %s: week %s held; retrying at %s", name, week, iso_local(at, app.tz))
    service.scheduler.add_job(
        service._run,
        "date",
        run_date=at,
        args=[name, "retry", scheduled],
        id=f"{name}:retry",
        replace_existing=True,
        misfire_grace_time=None,
    )


def arm_deadline(service: SchedulerService, week: str, deadline_at: datetime) -> None:
    """At the deadline, the draft gets ``on_deadline`` (if nobody approved it)."""
    if service.scheduler is None:
        return
    service.scheduler.add_job(
        _deadline_due,
        "date",
        run_date=max(deadline_at, service.app.now()),
        args=[service, week],
        id=f"deadline:{week}",
        replace_existing=True,
        misfire_grace_time=None,
    )


async def _deadline_due(service: SchedulerService, week: str) -> None:
    from ..jobs.digest import send_digest

    try:
        with service.live.use() as app:
            result = await send_digest(app, week=week, actor="scheduler")
        log.info("digest %s at its approval deadline: %s", week, result.status)
    except Exception as exc:  # logged; the week's state and audit trail say the rest
        log.error("digest %s at its approval deadline: %s", week, exc)


def rearm(service: SchedulerService) -> None:
    """At start-up: deadline timers of drafts, retries of held runs still in grace."""
    app = service.app
    for record in app.store.mail.drafts():
        if record.deadline_at is not None:
            arm_deadline(service, record.week, record.deadline_at)
    for name, job in app.config.schedule.jobs.items():
        last: dict[str, Any] | None = app.store.jobs.last_run(name)
        if job.kind != "send_digest" or not last or last["outcome"] != "held":
            continue
        if last["scheduled_at"] and service.scheduler is not None:
            scheduled = parse_iso_datetime(last["scheduled_at"])
            if app.now() < scheduled + timedelta(seconds=job.misfire_grace):
                service.scheduler.add_job(
                    service._run,
                    "date",
                    run_date=app.now(),
                    args=[name, "retry", scheduled],
                    id=f"{name}:retry",
                    replace_existing=True,
                    misfire_grace_time=None,
                )
