"""Fresh sources before the scheduled digest: why a week should be held, if it should.

The digest job's ``after`` jobs have just run (``scheduler.runner``); the week is
held when one of them failed, when a source they crawl failed its last run, or
when the newest ingest is older than ``digest.max_source_age``. A job of ``after``
that is disabled was not run (``scheduler.runner``), so it is left out: the
others and the age bound judge the week.
"""

from __future__ import annotations

from datetime import timedelta

from ..app import App
from ..config import JobConfig
from ..text import format_vi_datetime, parse_iso_datetime
from .source_status import source_states

_CRAWLS = ("crawl", "ingest")


def stale_reason(app: App, job: JobConfig) -> str | None:
    """Why the week's sources are not fresh, in one line; None when they are."""
    jobs = app.config.schedule.jobs
    js = app.store.jobs
    states = {s.name: s for s in source_states(app)}
    for dep in job.after:
        dep_job = jobs.get(dep)
        if dep_job is not None and not dep_job.enabled:
            continue  # switched off, so not run: the others and the age bound decide
        last = js.last_run(dep)
        if last is None or last["dry_run"]:
            return f"job {dep} has not run"
        if last["outcome"] in ("failed", "missed"):
            return f"the last {dep} run failed: {last['error'] or last['outcome']}"
        if dep_job is None or dep_job.kind not in _CRAWLS:
            continue
        names = [dep_job.source] if dep_job.source else [n for n, s in states.items() if s.enabled]
        for name in names:
            state = states.get(name)
            if state is not None and state.consecutive_failures:
                return f"the last {dep} run failed for source {name}: {state.last_error}"
    bound = app.config.digest.max_source_age
    if bound:
        runs = app.store.articles.recent_runs(1)
        if not runs:
            return "nothing was ever ingested"
        newest = parse_iso_datetime(runs[0]["finished_at"])
        age = app.now() - newest
        if age > timedelta(seconds=bound):
            hours = int(age.total_seconds() // 3600)
            return (
                f"the newest ingest ({format_vi_datetime(newest, app.tz)}) is {hours}h old, "
                f"older than digest.max_source_age ({bound // 3600}h)"
            )
    return None
