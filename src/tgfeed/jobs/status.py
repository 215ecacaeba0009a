"""What ran, what will run, what failed: one dict for `tgfeed status`, `tgfeed jobs`
and ``/admin/status``."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from ..app import App
from ..config import JobConfig
from ..scheduler.triggers import describe, next_fire_times
from ..store import SCHEDULER_LEASE
from ..text import iso_local, last_complete_week
from .source_status import source_states

Upcoming = Callable[[str, JobConfig], list[datetime]]


def job_rows(app: App, upcoming: Upcoming | None = None) -> list[dict[str, Any]]:
    """One row per configured job: its trigger, dependencies, next fire times (local,
    with offset) and last run. ``upcoming`` overrides the next fire times (the live
    scheduler knows its own)."""
    js = app.store.jobs
    tz = ZoneInfo(app.config.schedule.timezone)
    now = app.now()

    def computed(name: str, job: JobConfig) -> list[datetime]:
        return next_fire_times(job, tz, now) if job.enabled else []

    times = upcoming or computed
    return [
        {
            "name": name,
            "kind": job.kind,
            "trigger": describe(job),
            "enabled": job.enabled,
            "misfire_grace": job.misfire_grace,
            "after": job.after,
            "next": [iso_local(t, tz) for t in times(name, job)],
            "last": js.last_run(name),
        }
        for name, job in sorted(app.config.schedule.jobs.items())
    ]


def schedule_status(app: App) -> dict[str, Any]:
    """The live scheduler's view when one runs in this process, else the config's."""
    service = app.runtime.scheduler
    if service is not None:
        return service.status()
    js = app.store.jobs
    now = app.now()
    jobs = job_rows(app)
    holder = js.lease_holder(SCHEDULER_LEASE, now)
    return {
        "role": "running elsewhere" if holder else "not running",
        "holder": holder,
        "timezone": app.config.schedule.timezone,
        "config_path": str(app.config.source_path) if app.config.source_path else None,
        "config_error": None,
        "restart_needed": [],
        "jobs": jobs,
    }


def _jsonable(obj: Any) -> Any:
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {k: _jsonable(v) for k, v in dataclasses.asdict(obj).items()}
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    return obj


def week_state(app: App) -> dict[str, Any]:
    """The current week's digest (the last complete week): its state and history."""
    week = last_complete_week(app.now(), app.tz)
    ms = app.store.mail
    record = ms.digest(week)
    return {
        "week": week,
        "status": record.status if record else "none",
        "subject": record.subject if record else None,
        "approved_by": record.approved_by if record else None,
        "deadline_at": iso_local(record.deadline_at, app.tz)
        if record and record.deadline_at
        else None,
        "history": [
            {
                "at": iso_local(e.at, app.tz),
                "from": e.from_status,
                "to": e.to_status,
                "actor": e.actor,
                "reason": e.reason,
            }
            for e in ms.events(week)
        ],
    }


def digest_status(app: App) -> dict[str, Any] | None:
    ms = app.store.mail
    digests = ms.digests(limit=1)
    if not digests:
        return None
    last = digests[0]
    return {
        "week": last.week,
        "status": last.status,
        "subject": last.subject,
        "articles": last.article_count,
        "created_at": last.created_at.isoformat(),
        "finished_at": last.finished_at.isoformat() if last.finished_at else None,
        "deliveries": ms.delivery_counts(last.id),
        "subscribers": ms.count_subscribers(),
    }


def inbox_status(app: App) -> dict[str, Any] | None:
    """The bounce/unsubscribe mailbox: what its log holds (None when not configured)."""
    if app.config.mail.inbox is None:
        return None
    last = app.store.inbox.log(limit=1)
    return {
        "counts": app.store.inbox.counts(),
        "last_processed_at": iso_local(last[0].processed_at, app.tz) if last else None,
    }


def collect_status(app: App) -> dict[str, Any]:
    js = app.store.jobs
    status: dict[str, Any] = _jsonable(
        {
            "now": iso_local(app.now(), app.tz),
            "articles": app.store.articles.count(),
            "schedule": schedule_status(app),
            "recent_runs": js.recent_runs(15),
            "failures": js.failures(10),
            "digest": digest_status(app),
            "digest_week": week_state(app),
            "ingest": {
                "runs": app.store.articles.recent_runs(5),
                "failures": app.store.articles.recent_failures(10),
            },
            "sources": source_states(app),
            "websub": websub_status(app),
            "inbox": inbox_status(app),
        }
    )
    return status


def websub_status(app: App) -> dict[str, Any] | None:
    """The hub notifications: counts and the latest few (None when no hub is set)."""
    if not app.config.feeds.hub:
        return None
    state = app.store.feeds
    return {
        "hub": app.config.feeds.hub,
        "counts": state.notice_counts(),
        "recent": state.notices(10),
    }
