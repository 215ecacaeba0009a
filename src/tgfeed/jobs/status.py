"""What ran, what will run, what failed: one dict for `tgfeed status`, `tgfeed jobs`
and ``/admin/status``."""

from __future__ import annotations

import dataclasses
from typing import Any

from ..app import App
from ..scheduler.runner import jobs_store
from ..scheduler.triggers import describe, next_fire_times
from ..text import iso_local


def schedule_status(app: App) -> dict[str, Any]:
    """The live scheduler's view when one runs in this process, else the config's."""
    service = app.extras.get("scheduler")
    if service is not None:
        status: dict[str, Any] = service.status()
        return status
    from zoneinfo import ZoneInfo

    from ..scheduler.service import LEASE

    js = jobs_store(app)
    tz = ZoneInfo(app.config.schedule.timezone)
    now = app.now()
    jobs = [
        {
            "name": name,
            "kind": job.kind,
            "trigger": describe(job),
            "enabled": job.enabled,
            "misfire_grace": job.misfire_grace,
            "next": [iso_local(t, tz) for t in next_fire_times(job, tz, now)]
            if job.enabled
            else [],
            "last": js.last_run(name),
        }
        for name, job in sorted(app.config.schedule.jobs.items())
    ]
    holder = js.lease_holder(LEASE, now)
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


def digest_status(app: App) -> dict[str, Any] | None:
    from ..store.mail import MailStore

    ms = MailStore(app.store)
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


def collect_status(app: App) -> dict[str, Any]:
    from .crawl import source_states

    js = jobs_store(app)
    status: dict[str, Any] = _jsonable(
        {
            "now": iso_local(app.now(), app.tz),
            "articles": app.store.count(),
            "schedule": schedule_status(app),
            "recent_runs": js.recent_runs(15),
            "failures": js.failures(10),
            "digest": digest_status(app),
            "ingest": {
                "runs": app.store.recent_runs(5),
                "failures": app.store.recent_failures(10),
            },
            "sources": source_states(app),
            "websub": websub_status(app),
        }
    )
    return status


def websub_status(app: App) -> dict[str, Any] | None:
    """The hub notifications: counts and the latest few (None when no hub is set)."""
    if not app.config.feeds.hub:
        return None
    from ..store.feedstate import feed_state

    state = feed_state(app.store, app.extras)
    return {
        "hub": app.config.feeds.hub,
        "counts": state.notice_counts(),
        "recent": state.notices(10),
    }
