"""WebSub publishing: tell the hub (``[feeds] hub``) which feeds changed, so WebSub
subscribers get new articles at once instead of at their next poll.

A feed whose bytes change queues one notification for its URL (``store.feeds.stamps``,
in the same transaction that moves its Last-Modified); ``notify_hub`` sends what is
queued — ``hub.mode=publish&hub.url=<feed URL>``, form-encoded — retrying a failure
(an error status, a refused connection, a timeout) after ``hub_backoff`` seconds,
doubling, ``hub_retries`` times. Every attempt is recorded; ``tgfeed status`` shows
the latest. An unchanged feed is never announced.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field

import httpx

from .app import App
from .model import HubNotice
from .store import FeedsRepo

log = logging.getLogger(__name__)

USER_AGENT = "tgfeed (WebSub publisher)"


@dataclass(slots=True)
class HubResult:
    sent: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (topic, last error)
    retries: int = 0

    @property
    def counts(self) -> dict[str, int]:
        return {"sent": len(self.sent), "failed": len(self.failed), "retries": self.retries}


async def _post(client: httpx.AsyncClient, notice: HubNotice) -> str | None:
    """One POST; None when the hub accepted it (2xx), else what went wrong."""
    try:
        r = await client.post(notice.hub, data={"hub.mode": "publish", "hub.url": notice.topic})
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    if 200 <= r.status_code < 300:
        return None
    return f"HTTP {r.status_code}"


async def _deliver(
    app: App, state: FeedsRepo, client: httpx.AsyncClient, notice: HubNotice, out: HubResult
) -> None:
    feeds = app.config.feeds
    delay = feeds.hub_backoff
    for attempt in range(feeds.hub_retries + 1):
        error = await _post(client, notice)
        last = attempt == feeds.hub_retries
        state.record_attempt(
            notice.id, now=app.now(), error=error, retry_at=None if last else app.now()
        )
        if error is None:
            out.sent.append(notice.topic)
            return
        log.warning("hub %s: %s for %s", notice.hub, error, notice.topic)
        if last:
            out.failed.append((notice.topic, error))
            return
        out.retries += 1
        await asyncio.sleep(delay)
        delay *= 2


async def notify_hub(app: App) -> HubResult:
    """Send every queued notification (nothing when ``[feeds] hub`` is unset)."""
    out = HubResult()
    if not app.config.feeds.hub:
        return out
    # One sender at a time per process (a push and a scheduled build may both call
    # this, across a reload too): a queued notification is sent once.
    async with app.runtime.websub_lock:
        return await _send_due(app, out)


async def _send_due(app: App, out: HubResult) -> HubResult:
    state = app.store.feeds
    due = state.due(app.now())
    if not due:
        return out
    async with httpx.AsyncClient(
        timeout=app.config.feeds.hub_timeout,
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        trust_env=False,
    ) as client:
        for notice in due:
            await _deliver(app, state, client, notice, out)
    return out


async def publish_changes(app: App) -> HubResult:
    """After a store change: render the feeds that changed (their Last-Modified moves,
    their notifications are queued), then tell the hub."""
    if not app.config.feeds.hub:
        return HubResult()
    app.publisher.refresh()
    return await notify_hub(app)
