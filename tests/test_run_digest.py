"""`tgfeed run <send_digest job>` tells a script whether the week went out: exit 0 only
when it is sent, 1 for an error, and for a week not sent one line (held, why, what
to do) with its own status: 3 awaiting approval, 4 held, 5 skipped. Other jobs are
unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner, Result

from tgfeed.app import App, build_app
from tgfeed.cli import cli
from tgfeed.jobs.ingest import import_paths
from tgfeed.loader import load_file

from .conftest import SAMPLES, FixedClock, write_config

WEEK = "2026-W48"
APPROVER = "pho.ban@tuyengiaohungyen.vn"
APPROVAL = (
    f'[digest]\napproval = true\napprovers = ["{APPROVER}"]\n'
    'approval_deadline = "Mon 11:00"\non_deadline = "hold"\n'
)
AGAIN = (
    "fix the sources, then run it again (`tgfeed run weekly_digest`), "
    f"or send it anyway with `tgfeed digest send --week {WEEK}`"
)


def tgfeed(app: App, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj={"app": app}, env={"COLUMNS": "250"})


def _subscribe(app: App) -> None:
    app.store.mail.bulk_add(
        [("a@example.vn", None, None)], now=app.now(), status="active", origin="test"
    )


def _line(r: Result) -> str:
    lines = r.output.splitlines()
    assert len(lines) == 1, r.output
    return lines[0]


def test_a_sent_week_exits_0(sample_app: App) -> None:
    _subscribe(sample_app)
    r = tgfeed(sample_app, "run", "weekly_digest")
    assert r.exit_code == 0, r.output
    assert _line(r).startswith("weekly_digest ok: week 2026-W48; status sent;")
    r = tgfeed(sample_app, "run", "weekly_digest")  # sent before: still the week is out
    assert r.exit_code == 0 and "status already-done" in r.output


def test_a_draft_awaiting_approval_exits_3(app_factory: Callable[..., App]) -> None:
    app = app_factory(APPROVAL, samples=True)
    _subscribe(app)
    r = tgfeed(app, "run", "weekly_digest")
    assert r.exit_code == 3, r.output
    assert _line(r) == (
        f"weekly_digest awaiting approval: {WEEK} not sent yet: the draft waits for "
        f"{APPROVER} (mailed to 1 approver(s)) until 2026-11-30 11:00+07:00, then "
        "on_deadline = hold; they approve it from the mail's link, on /admin/digest, "
        f"or with `tgfeed digest approve --week {WEEK}`"
    )
    r = tgfeed(app, "run", "weekly_digest")  # still waiting: the same answer, nobody mailed
    assert r.exit_code == 3 and "(mailed to" not in _line(r)
    assert app.store.mail.digest(WEEK).status == "draft"  # type: ignore[union-attr]


def test_a_week_held_at_its_approval_deadline_exits_4(
    app_factory: Callable[..., App], clock: FixedClock
) -> None:
    app = app_factory(APPROVAL, samples=True)
    _subscribe(app)
    assert tgfeed(app, "run", "weekly_digest").exit_code == 3
    clock.advance(4 * 3600 + 60)  # Monday 11:01, past the deadline
    r = tgfeed(app, "run", "weekly_digest")
    assert r.exit_code == 4, r.output
    line = _line(r)
    assert line.startswith(f"weekly_digest held: {WEEK} not sent: nobody approved by the deadline")
    assert line.endswith(
        f"digest.on_deadline = hold; approve it with `tgfeed digest approve --week {WEEK}` "
        f"(or on /admin/digest), or reject it with `tgfeed digest reject --week {WEEK} "
        '--reason "…"`'
    )


def test_stale_sources_hold_the_week_with_exit_4(app_factory: Callable[..., App]) -> None:
    app = app_factory('[digest]\nmax_source_age = "26h"\n')
    _subscribe(app)
    r = tgfeed(app, "run", "weekly_digest")
    assert r.exit_code == 4, r.output
    assert _line(r) == f"weekly_digest held: {WEEK} not sent: nothing was ever ingested; {AGAIN}"
    assert app.store.mail.digest(WEEK).status == "held"  # type: ignore[union-attr]


def test_a_skipped_week_exits_5_with_its_reason(app_factory: Callable[..., App]) -> None:
    app = app_factory()
    _subscribe(app)
    r = tgfeed(app, "run", "weekly_digest")
    assert r.exit_code == 5, r.output
    assert _line(r) == (
        f"weekly_digest skipped: {WEEK} not sent: no articles this week; "
        "the next run re-evaluates it"
    )
    assert tgfeed(app, "import", "-q", str(SAMPLES)).exit_code == 0
    assert tgfeed(app, "subscribers", "remove", "a@example.vn").exit_code == 0
    r = tgfeed(app, "run", "weekly_digest")  # articles now, but no active subscriber
    assert r.exit_code == 5, r.output
    assert _line(r) == (
        f"weekly_digest skipped: {WEEK} not sent: no active subscriber (the administrator "
        f"is alerted); add subscribers, then `tgfeed digest send --week {WEEK}`"
    )


def test_a_disabled_digest_exits_5(app_factory: Callable[..., App]) -> None:
    app = app_factory("[digest]\nenabled = false\n", samples=True)
    _subscribe(app)
    r = tgfeed(app, "run", "weekly_digest")
    assert r.exit_code == 5, r.output
    assert _line(r) == (
        f"weekly_digest skipped: {WEEK} not sent: the digest is disabled ([digest] enabled = false)"
    )


def test_an_error_is_still_exit_1_and_other_jobs_are_unchanged(
    app_factory: Callable[..., App], tmp_path: Path, clock: FixedClock
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "digest.html.j2").write_text("{{ no_such_value }}", encoding="utf-8")
    path = write_config(tmp_path)
    path.write_text(f'templates_dir = "{templates}"\n' + path.read_text("utf-8"), "utf-8")
    with build_app(load_file(path), clock=clock) as broken:
        import_paths(broken, [SAMPLES])
        _subscribe(broken)
        r = tgfeed(broken, "run", "weekly_digest")
    assert r.exit_code == 1 and r.output.startswith("weekly_digest failed: "), r.output
    held = app_factory('[digest]\nmax_source_age = "26h"\n')
    r = tgfeed(held, "run", "cleanup")
    assert r.exit_code == 0 and _line(r) == "cleanup ok"
    r = tgfeed(held, "run", "weekly_digest", "--dry-run")  # a dry run sends nothing by design
    assert r.exit_code == 0 and _line(r).startswith("weekly_digest ok (dry run, not recorded)")


def test_the_exit_status_reaches_the_shell_and_is_in_the_help(tmp_path: Path) -> None:
    write_config(tmp_path, '[digest]\nmax_source_age = "26h"\n')
    env = {**os.environ, "COLUMNS": "80"}
    env.pop("TGFEED_CONFIG", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "tgfeed", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )

    r = run("run", "weekly_digest")
    assert r.returncode == 4, r.stderr
    assert r.stdout == f"weekly_digest held: {WEEK} not sent: nothing was ever ingested; {AGAIN}\n"
    out = run("run", "weekly_digest", "--json")
    assert out.returncode == 4
    data = json.loads(out.stdout)
    assert (data["outcome"], data["summary"]["status"]) == ("held", "held")
    assert data["error"] == "nothing was ever ingested"
    usage = run("run", "--help")
    assert usage.returncode == 0
    text = " ".join(usage.stdout.split())
    assert "Exit status: 0 done (a digest: the week is sent, now or before), 1 an error." in text
    for code, meaning in (("3", "awaiting approval"), ("4", "held"), ("5", "skipped")):
        assert f" {code} {meaning} (" in text, usage.stdout
