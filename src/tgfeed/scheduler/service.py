"""The live scheduler: APScheduler's AsyncIOScheduler in the server's event loop.

- jobs come from ``[schedule.jobs]`` with fixed ids, ``coalesce``, ``max_instances=1``
  and each job's own ``misfire_grace`` (APScheduler's default is 1 second);
- at start-up a fire time missed while the service was down runs once if within
  its grace, else is recorded as missed and alerted — never twice; a run the
  previous process left unfinished is resumed (a digest completes its ledger);
- one scheduler per store: a lease row in SQLite, renewed while running; a second
  ``tgfeed serve`` serves HTTP only and takes over if the first one dies;
- the config file is watched: a valid edit reschedules live, an invalid one is
  refused (shown in status) and the last good schedule keeps running;
- on shutdown no new job starts and running jobs get time to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_JOB_MISSED, EVENT_JOB_SUBMITTED, JobEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from watchfiles import awatch

from ..app import App, LiveApp, build_app
from ..config import Config, JobConfig, ScheduleConfig
from ..errors import ConfigError, TgfeedError
from ..jobs.status import job_rows
from ..loader import load_file
from ..procs import holder_id
from ..store import SCHEDULER_LEASE, JobsRepo
from ..text import iso_local, parse_iso_datetime
from .followups import after_run, is_followup, rearm
from .runner import record_missed, run_job
from .triggers import describe, latest_fire_time, make_trigger, next_fire_times

log = logging.getLogger("tgfeed.scheduler")

LEASE = SCHEDULER_LEASE
RESTART_KEYS = (("store", "path"), ("web", "host"), ("web", "port"))


class SchedulerService:
    def __init__(
        self,
        app: App | LiveApp,
        *,
        config_path: Path | None = None,
        lease_ttl: float = 30.0,
        shutdown_grace: float = 60.0,
        reload_debounce_ms: int = 300,
    ) -> None:
        self.live = app if isinstance(app, LiveApp) else LiveApp(app)
        self.config_path = config_path
        self.holder = holder_id(f"{id(self):x}")
        self.lease_ttl = timedelta(seconds=lease_ttl)
        self.shutdown_grace = shutdown_grace
        self.reload_debounce_ms = reload_debounce_ms
        self.role = "starting"
        self.config_error: list[str] | None = None
        self.restart_needed: list[str] = []
        self.last_reload: datetime | None = None
        self.scheduler: AsyncIOScheduler | None = None
        self._submitted: dict[str, datetime] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._running: set[asyncio.Task[Any]] = set()
        self._tasks: list[asyncio.Task[Any]] = []
        runtime = self.live.current.runtime
        self._stopping = runtime.stopping = asyncio.Event()
        self._scheduled_configs: dict[str, tuple[JobConfig, str]] = {}
        runtime.scheduler = self

    @property
    def app(self) -> App:
        """The current App: a reload swaps in a new one."""
        return self.live.current

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        js = self.app.store.jobs
        if js.acquire_lease(LEASE, self.holder, now=self.app.now(), ttl=self.lease_ttl):
            await self._become_leader()
        else:
            holder = js.lease_holder(LEASE, self.app.now())
            self.role = "standby"
            log.warning(
                "another tgfeed process (%s) schedules this store; this one serves HTTP only "
                "and takes over if that one stops",
                holder,
            )
        self._tasks.append(asyncio.create_task(self._lease_loop(), name="tgfeed-lease"))
        if self.config_path is not None:
            self._tasks.append(asyncio.create_task(self._watch(), name="tgfeed-config-watch"))

    async def stop(self) -> None:
        """No new jobs; running ones get ``shutdown_grace`` seconds; lease released."""
        self._stopping.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        if self._running:
            log.info(
                "waiting up to %ss for %d running job(s)", self.shutdown_grace, len(self._running)
            )
            _, pending = await asyncio.wait(set(self._running), timeout=self.shutdown_grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.role == "leader":
            self.app.store.jobs.release_lease(LEASE, self.holder)
        self.role = "stopped"

    async def _become_leader(self) -> None:
        self.role = "leader"
        js = self.app.store.jobs
        tz = self.app.config.schedule.timezone
        self.scheduler = AsyncIOScheduler(
            timezone=tz, job_defaults={"coalesce": True, "max_instances": 1}
        )
        self.scheduler.add_listener(self._on_event, EVENT_JOB_SUBMITTED | EVENT_JOB_MISSED)
        interrupted = self._interrupted_runs()
        self._apply(self.app.config.schedule, initial=True)
        self.scheduler.start()
        log.info("scheduler started (%s) with %d job(s)", tz, len(self.scheduler.get_jobs()))
        for name, scheduled in interrupted:
            job = self.app.config.schedule.jobs.get(name)
            if job is not None and job.enabled:
                log.warning("resuming job %s interrupted by the previous process", name)
                self._spawn(name, "resume", scheduled)
        await self._catch_up(js, skip={n for n, _ in interrupted})
        rearm(self)

    def _interrupted_runs(self) -> list[tuple[str, datetime | None]]:
        """Runs the previous holder left 'running': marked failed, returned for resuming."""
        js = self.app.store.jobs
        runs = [r for r in js.recent_runs(200) if not r["dry_run"] and r["trigger"] != "manual"]
        latest: dict[str, dict[str, Any]] = {}
        for r in runs:  # newest first
            latest.setdefault(r["job"], r)
        running = [r for r in latest.values() if r["outcome"] in ("running", "interrupted")]
        js.interrupted_runs(self.app.now())
        out: dict[str, datetime | None] = {}
        for r in running:
            out.setdefault(
                r["job"], parse_iso_datetime(r["scheduled_at"]) if r["scheduled_at"] else None
            )
        return list(out.items())

    # -- jobs ----------------------------------------------------------------

    def _apply(self, schedule: ScheduleConfig, *, initial: bool = False) -> list[str]:
        """Add, remove and reschedule jobs to match ``schedule``; what changed."""
        assert self.scheduler is not None
        tz = _zone(schedule.timezone)
        changes: list[str] = []
        current = {j.id: j for j in self.scheduler.get_jobs() if not is_followup(j.id)}
        wanted = {n: j for n, j in schedule.jobs.items() if j.enabled}
        for name in sorted(set(current) - set(wanted)):
            self.scheduler.remove_job(name)
            changes.append(f"removed {name}")
        old_jobs = self._scheduled_configs
        for name, job in sorted(wanted.items()):
            if name in current and old_jobs.get(name) == (job, schedule.timezone):
                continue
            self.scheduler.add_job(
                self._fire,
                trigger=make_trigger(job, tz),
                args=[name],
                id=name,
                name=name,
                replace_existing=True,
                misfire_grace_time=job.misfire_grace or None,
                coalesce=True,
                max_instances=1,
            )
            changes.append(
                f"{'rescheduled' if name in current else 'added'} {name} ({describe(job)})"
            )
            self.app.store.jobs.ensure_state(name, self.app.now())
        self._scheduled_configs = {n: (j, schedule.timezone) for n, j in wanted.items()}
        if not initial:
            for change in changes:
                log.info("schedule: %s", change)
        return changes

    def _on_event(self, event: JobEvent) -> None:
        if event.code == EVENT_JOB_SUBMITTED:
            times = getattr(event, "scheduled_run_times", None) or []
            if times:
                self._submitted[event.job_id] = times[-1]
        elif event.code == EVENT_JOB_MISSED:
            job = self.app.config.schedule.jobs.get(event.job_id)
            when = getattr(event, "scheduled_run_time", None) or self.app.now()
            if job is not None:
                asyncio.get_running_loop().create_task(
                    record_missed(
                        self.app,
                        event.job_id,
                        job,
                        when,
                        f"started too late (beyond misfire_grace {job.misfire_grace}s)",
                    )
                )

    async def _fire(self, name: str) -> None:
        scheduled = self._submitted.pop(name, None) or self.app.now()
        await self._run(name, "schedule", scheduled)

    def _spawn(self, name: str, trigger: str, scheduled: datetime | None) -> None:
        asyncio.get_running_loop().create_task(self._run(name, trigger, scheduled))

    async def _run(self, name: str, trigger: str, scheduled: datetime | None) -> None:
        if self._stopping.is_set():
            return
        lock = self._locks.setdefault(name, asyncio.Lock())
        if lock.locked():
            log.warning("job %s is still running; this run is skipped", name)
            return
        task = asyncio.current_task()
        assert task is not None
        self._running.add(task)
        try:
            async with lock:
                with self.live.use() as app:  # a reload meanwhile does not close it
                    outcome = await run_job(app, name, trigger=trigger, scheduled_at=scheduled)
                await after_run(self, name, outcome, scheduled)
        finally:
            self._running.discard(task)

    async def _catch_up(self, js: JobsRepo, skip: set[str]) -> None:
        """Fire times that passed while no scheduler ran: once within grace, else missed."""
        now = self.app.now()
        tz = _zone(self.app.config.schedule.timezone)
        for name, job in sorted(self.app.config.schedule.jobs.items()):
            if not job.enabled or name in skip:
                continue
            state = js.state(name)
            if state is None:
                continue
            known_since, last = state
            missed = latest_fire_time(job, tz, last or known_since, now)
            if missed is None:
                continue
            late = now - missed
            if late <= timedelta(seconds=job.misfire_grace):
                log.info(
                    "job %s missed %s while down; running it once now", name, iso_local(missed, tz)
                )
                self._spawn(name, "catch-up", missed)
            else:
                await record_missed(
                    self.app,
                    name,
                    job,
                    missed,
                    f"the service was down (late by {late}, misfire_grace {job.misfire_grace}s)",
                )

    # -- lease -----------------------------------------------------------------

    async def _lease_loop(self) -> None:
        js = self.app.store.jobs
        interval = self.lease_ttl.total_seconds() / 3
        while not self._stopping.is_set():
            await asyncio.sleep(interval)
            if self._stopping.is_set():
                return
            ok = js.acquire_lease(LEASE, self.holder, now=self.app.now(), ttl=self.lease_ttl)
            if ok and self.role == "standby":
                log.warning("the scheduling process is gone; this one takes over scheduling")
                await self._become_leader()
            elif not ok and self.role == "leader":
                log.error("lost the scheduler lease to another process; stopping scheduling")
                if self.scheduler is not None:
                    self.scheduler.shutdown(wait=False)
                self.role = "standby"

    # -- live reload -------------------------------------------------------------

    async def _watch(self) -> None:
        assert self.config_path is not None
        target = self.config_path.resolve()
        # The folder is watched (an editor or the console replaces the file, which a
        # watch on the file itself would lose), but only the config file counts: the
        # store's WAL beside it changes all the time.
        async for changes in awatch(
            target.parent,
            debounce=self.reload_debounce_ms,
            stop_event=self._stopping,
            recursive=False,
            watch_filter=lambda _, path: Path(path).resolve() == target,
        ):
            if any(Path(p).resolve() == target for _, p in changes):
                await self.reload()

    async def reload(self) -> list[str]:
        """Re-read the config file; apply it if valid, else keep the last good one."""
        assert self.config_path is not None
        self.last_reload = self.app.now()
        try:
            new = await asyncio.to_thread(load_file, self.config_path)
        except ConfigError as exc:
            self.config_error = exc.problems
            log.error(
                "config reload refused; the last good configuration keeps running: %s",
                "; ".join(exc.problems),
            )
            return []
        self.config_error = None
        old = self.app.config
        self.restart_needed = [
            f"{section}.{key}"
            for section, key in RESTART_KEYS
            if getattr(getattr(old, section), key) != getattr(getattr(new, section), key)
        ]
        if self.restart_needed:
            log.warning(
                "these settings change only after a restart: %s", ", ".join(self.restart_needed)
            )
        try:
            fresh = build_app(
                _keep_restart_keys(new, old), clock=self.app.clock, runtime=self.app.runtime
            )
        except TgfeedError as exc:
            self.config_error = [exc.message]
            log.error("config reload refused: %s", exc.message)
            return []
        self.live.swap(fresh)  # the web, the jobs and status now see the new config
        changes: list[str] = []
        if self.scheduler is not None and self.role == "leader":
            changes = self._apply(self.app.config.schedule)
        log.info("config reloaded (%s)", ", ".join(changes) or "schedule unchanged")
        return changes

    # -- status ------------------------------------------------------------------

    def _upcoming(self, name: str, job: JobConfig) -> list[datetime]:
        """The next fire times; the first as APScheduler has it when this is the leader."""
        tz = _zone(self.app.config.schedule.timezone)
        upcoming = next_fire_times(job, tz, self.app.now(), 3) if job.enabled else []
        aps = self.scheduler.get_job(name) if self.scheduler and self.role == "leader" else None
        if aps is not None and aps.next_run_time is not None and upcoming:
            upcoming[0] = aps.next_run_time
        return upcoming

    def status(self) -> dict[str, Any]:
        now = self.app.now()
        js = self.app.store.jobs
        jobs = job_rows(self.app, self._upcoming)
        return {
            "role": self.role,
            "holder": js.lease_holder(LEASE, now),
            "timezone": self.app.config.schedule.timezone,
            "config_path": str(self.config_path) if self.config_path else None,
            "config_error": self.config_error,
            "restart_needed": self.restart_needed,
            "jobs": jobs,
        }


def _zone(name: str) -> Any:
    return ZoneInfo(name)


def _keep_restart_keys(new: Config, old: Config) -> Config:
    """The new config, but with settings that need a restart kept as they run now."""
    return new.model_copy(
        update={
            "store": old.store,
            "web": new.web.model_copy(update={"host": old.web.host, "port": old.web.port}),
        }
    )


@contextlib.asynccontextmanager
async def scheduler_lifespan(
    app: App | LiveApp, config_path: Path | None = None
) -> AsyncIterator[SchedulerService]:
    service = SchedulerService(app, config_path=config_path)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()
