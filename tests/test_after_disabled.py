"""A job listed in another's ``after`` but switched off (``enabled = false``) is never
run, not even as that dependency: the dependent run says so in its summary, the
freshness guard (``max_source_age``) alone decides whether the week is held, and
`tgfeed check` warns about the dependency (one line, not an error)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from tgfeed.app import App
from tgfeed.cli import cli

from .conftest import SAMPLES, FixedClock

WEEK = "2026-W48"


def _schedule(drop: Path, *, enabled: bool) -> str:
    """A crawl of a folder before the digest; the folder is missing, so a crawl that
    ran would fail (and hold the week)."""
    return (
        f'[[sources]]\nname = "drop"\nkind = "directory"\npath = "{drop}"\n'
        '[schedule.jobs.crawl_site]\nkind = "ingest"\nsource = "drop"\nevery = "1h"\n'
        f"enabled = {'true' if enabled else 'false'}\n"
        '[schedule.jobs.weekly_digest]\nkind = "send_digest"\ncron = "0 7 * * mon"\n'
        'misfire_grace = "6h"\nafter = ["crawl_site"]\n'
        '[digest]\nmax_source_age = "26h"\n'
    )


def tgfeed(app: App, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj={"app": app}, env={"COLUMNS": "250"})


def _subscribe(app: App) -> None:
    app.store.mail.bulk_add(
        [("a@example.vn", None, None)], now=app.now(), status="active", origin="test"
    )


def test_an_enabled_dependency_runs_first(app_factory: Callable[..., App], tmp_path: Path) -> None:
    """The contrast: enabled, the crawl runs before the digest (and its failure holds it)."""
    app = app_factory(_schedule(tmp_path / "missing", enabled=True), samples=True)
    _subscribe(app)
    tgfeed(app, "run", "weekly_digest")
    assert [r["trigger"] for r in app.store.jobs.recent_runs(job="crawl_site")] == [
        "before weekly_digest"
    ]
    assert app.store.mail.digest(WEEK).status == "held"  # type: ignore[union-attr]


def test_a_disabled_dependency_is_not_run_and_fresh_articles_send_the_week(
    app_factory: Callable[..., App], tmp_path: Path
) -> None:
    app = app_factory(_schedule(tmp_path / "missing", enabled=False), samples=True)
    _subscribe(app)
    r = tgfeed(app, "run", "weekly_digest")
    assert r.exit_code == 0, r.output
    assert app.store.jobs.recent_runs(job="crawl_site") == []  # never run
    (run,) = app.store.jobs.recent_runs(job="weekly_digest")
    assert run["outcome"] == "ok"
    assert run["summary"]["after_not_run"] == "crawl_site (disabled)"
    assert "after not run crawl_site (disabled)" in r.output
    assert app.store.mail.digest(WEEK).status == "sent"  # type: ignore[union-attr]


def test_a_disabled_dependency_leaves_a_stale_week_held_by_max_source_age(
    app_factory: Callable[..., App], tmp_path: Path, clock: FixedClock
) -> None:
    app = app_factory(_schedule(tmp_path / "missing", enabled=False))
    _subscribe(app)
    clock.advance(-3 * 86400)
    assert tgfeed(app, "import", "-q", str(SAMPLES)).exit_code == 0  # 3 days old
    clock.advance(3 * 86400)
    r = tgfeed(app, "run", "weekly_digest")
    assert r.exit_code == 4 and "(after not run: crawl_site (disabled))" in r.output, r.output
    assert app.store.jobs.recent_runs(job="crawl_site") == []
    record = app.store.mail.digest(WEEK)
    assert record is not None and record.status == "held"
    reason = app.store.mail.events(WEEK)[-1].reason
    assert "older than digest.max_source_age" in reason and "crawl_site" not in reason
    (run,) = app.store.jobs.recent_runs(job="weekly_digest")
    assert run["outcome"] == "held" and run["summary"]["after_not_run"] == "crawl_site (disabled)"


def test_check_warns_about_a_disabled_dependency_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(_schedule(tmp_path / "drop", enabled=False), encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(path), "check"], env={"COLUMNS": "250"})
    assert r.exit_code == 0, r.output  # a warning, not a problem
    (warning,) = [line.strip() for line in r.output.splitlines() if "warning" in line]
    assert warning == (
        "warning: schedule.jobs.weekly_digest.after: 'crawl_site' is disabled "
        "(enabled = false), so weekly_digest runs without it; enable crawl_site "
        "or remove it from weekly_digest's after"
    )
    enabled = _schedule(tmp_path / "drop", enabled=True)
    path.write_text(enabled, encoding="utf-8")
    r = CliRunner().invoke(cli, ["--config", str(path), "check"], env={"COLUMNS": "250"})
    assert r.exit_code == 0 and "warning" not in r.output


def test_jobs_marks_a_disabled_dependency_as_not_run(
    app_factory: Callable[..., App], tmp_path: Path
) -> None:
    for enabled, shown in (
        (False, "after crawl_site (off: not run) "),
        (True, "after crawl_site "),
    ):
        app = app_factory(_schedule(tmp_path / "drop", enabled=enabled))
        r = tgfeed(app, "jobs")
        assert r.exit_code == 0, r.output
        (line,) = [line for line in r.output.splitlines() if line.startswith("weekly_digest")]
        assert f"cron 0 7 * * mon, {shown}" in line, line
