"""A job's typed result decides what is recorded and who is told: ``ok`` and ``skipped``
are recorded as such, ``held`` (a digest waiting for fresh sources, which alerted
itself) is recorded with its reason, ``failed`` and ``incomplete`` are recorded failed with their reason
and alert the administrator, and an ``incomplete`` run cut short by a shutdown is
recorded ``interrupted`` without an alert."""

from __future__ import annotations

import asyncio
import mailbox
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tgfeed.app import App
from tgfeed.config import JobConfig
from tgfeed.model import JobResult
from tgfeed.scheduler import runner

JOB = '[admin]\nalert_to = ["cntt@tuyengiaohungyen.vn"]\n'


def _run(app: App, result: JobResult, monkeypatch: pytest.MonkeyPatch) -> runner.RunOutcome:
    async def kind(app: App, job: JobConfig, scheduled: datetime | None, dry: bool) -> JobResult:
        return result

    monkeypatch.setitem(runner.KINDS, "cleanup", kind)
    return asyncio.run(runner.run_job(app, "cleanup"))


def _alerts(tmp_path: Path) -> int:
    box = tmp_path / "outbox"
    return len(mailbox.Maildir(box, create=False)) if box.exists() else 0


@pytest.mark.parametrize(
    ("result", "recorded", "error", "alerts"),
    [
        (JobResult("ok", {"pruned": 3}), "ok", None, 0),
        (JobResult("skipped", {"week": "2026-W48"}, "nothing to send"), "skipped", None, 0),
        (JobResult("held", {"week": "2026-W48"}, "crawl failed"), "held", "crawl failed", 0),
        (JobResult("failed", {}, "relay refused"), "failed", "relay refused", 1),
        (JobResult("incomplete", {"pending": 2}, "2 pending"), "failed", "2 pending", 1),
        (JobResult("incomplete", {"pending": 2}), "failed", "the run did not finish", 1),
    ],
)
def test_the_outcome_decides_the_record_and_the_alert(
    app_factory: Callable[..., App],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    result: JobResult,
    recorded: str,
    error: str | None,
    alerts: int,
) -> None:
    app = app_factory(JOB)
    outcome = _run(app, result, monkeypatch)
    assert (outcome.outcome, outcome.error, outcome.summary) == (
        recorded,
        error,
        result.summary or None,
    )
    last = app.store.jobs.last_run("cleanup")
    assert last is not None and (last["outcome"], last["error"]) == (recorded, error)
    assert _alerts(tmp_path) == alerts


def test_an_incomplete_run_cut_short_by_a_shutdown_is_interrupted_not_alerted(
    app_factory: Callable[..., App], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    app = app_factory(JOB)
    app.runtime.stopping = asyncio.Event()
    app.runtime.stopping.set()
    outcome = _run(app, JobResult("incomplete", {"pending": 2}, "2 pending"), monkeypatch)
    assert (outcome.outcome, outcome.error) == ("interrupted", "2 pending")
    assert _alerts(tmp_path) == 0


def test_a_job_that_raises_is_recorded_failed_with_its_error(
    app_factory: Callable[..., App], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    async def kind(app: App, job: JobConfig, scheduled: datetime | None, dry: bool) -> JobResult:
        raise OSError("disk gone")

    app = app_factory(JOB)
    monkeypatch.setitem(runner.KINDS, "cleanup", kind)
    outcome = asyncio.run(runner.run_job(app, "cleanup"))
    assert (outcome.outcome, outcome.error) == ("failed", "OSError: disk gone")
    assert _alerts(tmp_path) == 1
