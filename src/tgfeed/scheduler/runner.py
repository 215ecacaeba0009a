"""Run one job by name, record it in the store, alert on failure.

The glue the scheduler and `tgfeed run` share: each job kind maps to a function
in ``tgfeed.jobs``; every run is recorded (scheduled time, start, end, outcome,
counts, error); a failed run emails ``admin.alert_to`` (throttled per job).
"""

from __future__ import annotations

import dataclasses
import logging
import socket
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..app import App
from ..config import JobConfig
from ..errors import TgfeedError
from ..jobs.alerts import alert as alert
from ..model import BatchResult, JobOutcome, JobResult, RunStatus
from ..text import format_vi_datetime, iso_local

log = logging.getLogger("tgfeed.scheduler")

JobFunc = Callable[[App, JobConfig, datetime | None, bool], Awaitable[JobResult]]


@dataclass(frozen=True, slots=True)
class RunOutcome:
    """A recorded run: the job, its row in the store, and what was recorded."""

    job: str
    run_id: int
    outcome: RunStatus
    summary: dict[str, Any] | None
    error: str | None


def summarize(result: Any) -> dict[str, Any] | None:
    """A JSON-able summary of what a job returned."""
    if result is None:
        return None
    if isinstance(result, BatchResult):
        return dict(result.counts)
    if isinstance(result, dict):
        return {
            str(k): summarize(v) if not isinstance(v, str | int | float | bool | None) else v
            for k, v in result.items()
        }
    if dataclasses.is_dataclass(result) and not isinstance(result, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(result):
            v = getattr(result, f.name)
            if isinstance(v, str | int | float | bool | None):
                out[f.name] = v
            elif isinstance(v, dict | BatchResult) or dataclasses.is_dataclass(v):
                out[f.name] = summarize(v)
            elif isinstance(v, list | tuple):
                out[f.name] = len(v)
            else:
                out[f.name] = str(v)
        return out
    return {"result": str(result)}


# -- the job kinds --------------------------------------------------------------
# Each returns a JobResult; a job's own failure may also raise (recorded as failed).


async def _build_feeds(
    app: App, job: JobConfig, scheduled: datetime | None, dry: bool
) -> JobResult:
    from ..jobs.feeds import build_feeds
    from ..websub import notify_hub

    result = build_feeds(app, dry_run=dry, reuse_entries=True)  # the service's own cache
    if not dry:
        await notify_hub(app)  # the feeds whose bytes changed; recorded, never raises
    summary = summarize(result) or {}
    if result.failures:
        # The feeds that could be written were; the run still fails, so it is alerted.
        return JobResult(
            "failed",
            summary,
            f"{len(result.failures)} feed file(s) not written: "
            + "; ".join(f"{path}: {reason}" for path, reason in result.failures[:5])
            + " (check the disk and the permissions of [feeds] output_dir)",
        )
    return JobResult("ok", summary)


# The digest's answers, as job outcomes (the others — a draft awaiting approval, a week
# already done, a dry run — are ok).
_DIGEST_OUTCOMES: dict[str, JobOutcome] = {
    "sent": "ok",
    "skipped": "skipped",
    "no-recipients": "skipped",  # alerted by the digest itself
    "held": "held",  # stale sources: alerted by the digest; the scheduler retries
    "incomplete": "incomplete",
}


async def _send_digest(
    app: App, job: JobConfig, scheduled: datetime | None, dry: bool
) -> JobResult:
    from ..jobs.digest import send_digest
    from ..jobs.freshness import stale_reason

    # The week comes from the scheduled fire time: a late run sends the right week.
    # Its ``after`` jobs have just run: stale sources hold the week (and it is retried).
    stale = stale_reason(app, job) if job.after or app.config.digest.max_source_age else None
    result = await send_digest(
        app, fire_time=scheduled or app.now(), dry_run=dry, actor="scheduler", stale=stale
    )
    outcome = _DIGEST_OUTCOMES.get(result.status, "ok")
    reason = result.error
    if outcome == "incomplete" and not reason:
        reason = "the run ended with deliveries pending"
    return JobResult(outcome, summarize(result) or {}, reason)


async def _crawl(app: App, job: JobConfig, scheduled: datetime | None, dry: bool) -> JobResult:
    from ..jobs.crawl import check_sources, crawl
    from ..websub import publish_changes

    results = await crawl(app, job.source, dry_run=dry)
    if not dry:
        await publish_changes(app)  # WebSub: only when [feeds] hub is set
        # A source that keeps failing fails the run: it shows in status and alerts.
        check_sources(app, results)
    return JobResult("ok", {name: dict(r.counts) for name, r in results.items()})


async def _cleanup(app: App, job: JobConfig, scheduled: datetime | None, dry: bool) -> JobResult:
    cutoff = app.now() - timedelta(days=180)
    pruned = 0 if dry else app.store.jobs.prune(cutoff)
    if not dry:
        app.store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        app.store.db.execute("PRAGMA optimize")
    return JobResult("ok", {"job_runs_pruned": pruned})


async def _process_inbox(
    app: App, job: JobConfig, scheduled: datetime | None, dry: bool
) -> JobResult:
    from ..jobs.inbox import process_inbox

    result = await process_inbox(app, dry_run=dry)
    summary = summarize(result) or {}
    if result.status == "skipped":
        return JobResult("skipped", summary, "no [mail.inbox] is configured")
    if result.failed:
        # What could be processed was; the run fails so that it shows and alerts.
        return JobResult(
            "failed",
            summary,
            f"inbox: {result.failed} message(s) not processed: "
            + "; ".join(result.errors[:3])
            + " (retried at the next run; `tgfeed inbox process` shows each)",
        )
    return JobResult("ok", summary)


KINDS: dict[str, JobFunc] = {
    "build_feeds": _build_feeds,
    "send_digest": _send_digest,
    "crawl": _crawl,
    "ingest": _crawl,  # a named source (e.g. a directory) ingested on its schedule
    "cleanup": _cleanup,
    "process_inbox": _process_inbox,
}


async def run_job(
    app: App,
    name: str,
    *,
    trigger: str = "manual",
    scheduled_at: datetime | None = None,
    dry_run: bool = False,
    job: JobConfig | None = None,
) -> RunOutcome:
    """Run the job ``name`` once, recording it; never raises for a job's own failure."""
    job = job or app.config.schedule.jobs.get(name)
    if job is None:
        known = ", ".join(sorted(app.config.schedule.jobs)) or "none"
        raise TgfeedError(f"no job named {name!r}", hint=f"jobs in [schedule.jobs]: {known}")
    if dry_run:
        return await dry_run_job(app, name, job, scheduled_at)
    js = app.store.jobs
    off: list[str] = []
    if trigger != "resume":  # a resumed run finishes what it started
        off = await _run_after(app, name, job)
    run_id = js.start_run(name, job.kind, trigger, scheduled_at, app.now(), dry_run)
    try:
        result = await KINDS[job.kind](app, job, scheduled_at, dry_run)
    except Exception as exc:
        error = exc.message if isinstance(exc, TgfeedError) else f"{type(exc).__name__}: {exc}"
        log.debug("%s", traceback.format_exc())
        result = JobResult("failed", {}, error)
    if off:  # the run's record says which of its ``after`` jobs were not run
        not_run = ", ".join(f"{dep} (disabled)" for dep in off)
        result = dataclasses.replace(result, summary={**result.summary, "after_not_run": not_run})
    return await _record(app, name, job, run_id, scheduled_at, result)


async def _run_after(app: App, name: str, job: JobConfig) -> list[str]:
    """Run the jobs ``name`` runs after (e.g. the crawl the digest must not run
    without), except those switched off (``enabled = false``): a disabled job is
    never run, not even as a dependency. Returns the names of those left out."""
    jobs = app.config.schedule.jobs
    off = []
    for dep in job.after:
        dep_job = jobs.get(dep)
        if dep_job is not None and not dep_job.enabled:
            log.warning("job %s: %s (in its after) is disabled; not run", name, dep)
            off.append(dep)
            continue
        await run_job(app, dep, trigger=f"before {name}", scheduled_at=None)
    return off


async def _record(
    app: App,
    name: str,
    job: JobConfig,
    run_id: int,
    scheduled_at: datetime | None,
    result: JobResult,
) -> RunOutcome:
    """Store the run's end from its JobResult; alert when it failed or is incomplete."""
    js = app.store.jobs
    summary = result.summary or None
    status: RunStatus
    if result.outcome in ("ok", "skipped", "held"):
        status = result.outcome
        why = result.reason if status == "held" else None  # why the week waits
        js.finish_run(run_id, status, app.now(), summary, error=why)
        log.info("job %s %s: %s", name, status, summary)
        return RunOutcome(name, run_id, status, summary, why)
    error = result.reason or "the run did not finish"
    stopping = app.runtime.stopping
    if result.outcome == "incomplete" and stopping is not None and stopping.is_set():
        # Stopped by SIGTERM/SIGINT: resumed at the next start, not a failure.
        js.finish_run(run_id, "interrupted", app.now(), summary, error=result.reason)
        return RunOutcome(name, run_id, "interrupted", summary, result.reason)
    log.error("job %s failed: %s", name, error)
    js.finish_run(run_id, "failed", app.now(), summary, error=error)
    what = "thất bại" if result.outcome == "failed" else "chưa hoàn tất"
    await alert(
        app,
        name,
        f"[tgfeed] Công việc {name} {what}",
        _failure_text(app, name, job, scheduled_at, error),
    )
    return RunOutcome(name, run_id, "failed", summary, error)


async def dry_run_job(
    app: App, name: str, job: JobConfig, scheduled_at: datetime | None
) -> RunOutcome:
    """A dry run: the job does everything but send or write, and the run itself is
    not recorded either (it is nobody's last run, and alerts nobody)."""
    try:
        result = await KINDS[job.kind](app, job, scheduled_at, True)
    except Exception as exc:
        error = exc.message if isinstance(exc, TgfeedError) else f"{type(exc).__name__}: {exc}"
        return RunOutcome(name, 0, "failed", None, error)
    status: RunStatus = result.outcome if result.outcome in ("ok", "skipped", "held") else "failed"
    return RunOutcome(name, 0, status, result.summary or None, result.reason)


def _failure_text(
    app: App, name: str, job: JobConfig, scheduled: datetime | None, error: str
) -> str:
    when = format_vi_datetime(scheduled or app.now(), app.tz)
    return (
        f"Công việc «{name}» ({job.kind}) lúc {when} đã thất bại.\n\n"
        f"Lỗi: {error}\n\n"
        f"Máy chủ: {socket.gethostname()}\n"
        f"Xem chi tiết: {app.config.site.public_url}/admin/status hoặc `tgfeed status`.\n"
    )


async def record_missed(
    app: App, name: str, job: JobConfig, scheduled_at: datetime, reason: str
) -> None:
    """A fire time beyond its misfire grace: recorded as missed and alerted, never run."""
    app.store.jobs.record_missed(name, job.kind, scheduled_at, app.now(), reason)
    log.warning("job %s missed its run at %s: %s", name, iso_local(scheduled_at, app.tz), reason)
    text = (
        f"Công việc «{name}» ({job.kind}) lẽ ra chạy lúc "
        f"{format_vi_datetime(scheduled_at, app.tz)} nhưng đã bị lỡ: {reason}.\n\n"
        f"Chạy lại bằng tay nếu cần: tgfeed run {name}\n"
    )
    await alert(app, name, f"[tgfeed] Công việc {name} bị lỡ", text)
