"""Alerting the administrator: ``admin.alert_to``, throttled per key."""

from __future__ import annotations

import logging
from datetime import timedelta

from ..app import App

log = logging.getLogger("tgfeed.scheduler")


async def alert(app: App, job: str, subject: str, text: str) -> bool:
    """Email admin.alert_to, at most once per job per alert_interval; never raises."""
    to = list(app.config.admin.alert_to)
    if not to:
        return False
    interval = timedelta(seconds=app.config.admin.alert_interval)
    if not app.store.jobs.alert_due(job, app.now(), interval):
        log.info("alert for %s suppressed (one per %s)", job, interval)
        return False
    try:
        from ..mail import send_simple

        await send_simple(app, to, subject, text)
    except Exception as exc:
        log.error("could not send the alert for %s: %s", job, exc)
        return False
    return True


__all__ = ["alert"]
