"""A week's lifecycle end to end through the CLI and a real aiosmtpd on 127.0.0.1:
skipped is re-evaluated, no recipients is alerted and never "sent", stale sources
hold the week, approval gates delivery, resend reaches only those who lack it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from tgfeed.app import App
from tgfeed.cli import cli
from tgfeed.jobs.digest import send_digest
from tgfeed.procs import holder_id
from tgfeed.store import digest_lease
from tgfeed.store.digest_states import Bodies
from tgfeed.web.server import create_app

from .conftest import ROOT, SAMPLES, FixedClock
from .smtp_server import Recorder, SmtpServer, running_server

_smtp_server = pytest.fixture(name="smtp_server")(running_server)

WEEK = "2026-W48"
ADMIN = "cntt@tuyengiaohungyen.vn"
APPROVER = "pho.ban@tuyengiaohungyen.vn"
ALERTS = f'[admin]\nalert_to = ["{ADMIN}"]\n'


def tgfeed(app: App, *args: str) -> Result:
    """The real command line, on ``app`` (its store and its fixed clock)."""
    result = CliRunner().invoke(
        cli, list(args), obj={"app": app}, catch_exceptions=False, env={"COLUMNS": "250"}
    )
    return result


def subscribers(app: App, *emails: str) -> None:
    app.store.mail.bulk_add(
        [(e, None, None) for e in emails], now=app.now(), status="active", origin="test"
    )


def copies(server: SmtpServer, exclude: tuple[str, ...] = (ADMIN,)) -> Counter[str]:
    """How many messages each recipient got (alerts to the admin left out)."""
    return Counter(r for m in server.received for r in m.rcpt_tos if r not in exclude)


def subjects_to(server: SmtpServer, rcpt: str) -> list[str]:
    return [str(m.parsed()["Subject"]) for m in server.received if rcpt in m.rcpt_tos]


def states(app: App) -> list[tuple[str | None, str, str]]:
    return [(e.from_status, e.to_status, e.actor) for e in app.store.mail.events(WEEK)]


# -- (a) skipped is not final --------------------------------------------------


def test_a_skipped_week_is_sent_once_its_articles_arrive(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = app_factory(smtp_server.toml())
    everyone = [f"can.bo{i}@example.vn" for i in range(6)]
    subscribers(app, *everyone)
    r = tgfeed(app, "digest", "send", "--week", WEEK)
    assert r.exit_code == 0 and "no articles this week" in r.output
    assert app.store.mail.digest(WEEK).status == "skipped"  # type: ignore[union-attr]
    assert smtp_server.received == []

    assert tgfeed(app, "import", "-q", str(SAMPLES)).exit_code == 0
    r = tgfeed(app, "digest", "send", "--week", WEEK)
    assert r.exit_code == 0, r.output
    assert "sent: 6 sent now; 6 sent, 0 failed, 0 pending of 6" in r.output
    assert copies(smtp_server) == Counter(everyone)
    r = tgfeed(app, "digest", "send", "--week", WEEK)
    assert "already sent" in r.output and copies(smtp_server) == Counter(everyone)
    assert [s[:2] for s in states(app)] == [
        (None, "skipped"),
        ("skipped", "sending"),
        ("sending", "sent"),
    ]
    assert all(actor.startswith("cli:") for _, _, actor in states(app))


# -- (b) articles, nobody to send them to --------------------------------------


def test_b_no_subscribers_is_not_sent_and_alerts_then_sends(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = app_factory(smtp_server.toml() + ALERTS, samples=True)
    r = tgfeed(app, "digest", "send", "--week", WEEK)
    assert r.exit_code == 0 and "no active subscriber" in r.output
    record = app.store.mail.digest(WEEK)
    assert record is not None and record.status == "skipped"
    (alert,) = subjects_to(smtp_server, ADMIN)
    assert "không có người nhận" in alert and WEEK in alert
    assert copies(smtp_server) == Counter()
    r = tgfeed(app, "digest", "status", "--week", WEEK)
    assert f"{WEEK} [skipped]" in r.output and "no recipients" in r.output

    r = tgfeed(app, "status", "--json")  # the same object as /admin/status?format=json
    week = json.loads(r.output)["digest_week"]
    assert (week["week"], week["status"]) == (WEEK, "skipped")
    assert week["history"][0]["reason"].startswith("no recipients")
    assert week["history"][0]["at"].endswith("+07:00")

    subscribers(app, "a@example.vn", "b@example.vn")
    r = tgfeed(app, "digest", "send", "--week", WEEK)
    assert "2 sent now" in r.output
    assert copies(smtp_server) == Counter({"a@example.vn": 1, "b@example.vn": 1})
    assert app.store.mail.digest(WEEK).status == "sent"  # type: ignore[union-attr]


def test_b_a_new_reason_to_skip_is_recorded_a_repeated_one_is_not(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = app_factory(smtp_server.toml())
    tgfeed(app, "digest", "send", "--week", WEEK)
    tgfeed(app, "digest", "send", "--week", WEEK)  # still nothing: no second row
    tgfeed(app, "import", "-q", str(SAMPLES))
    tgfeed(app, "digest", "send", "--week", WEEK)  # articles now, still nobody to send to
    events = app.store.mail.events(WEEK)
    assert [(e.from_status, e.to_status) for e in events] == [
        (None, "skipped"),
        ("skipped", "skipped"),
    ]
    assert [e.reason.split(":")[0] for e in events] == ["no articles", "no recipients"]


# -- (c) fresh sources first ----------------------------------------------------


def _crawl_config(drop: Path) -> str:
    return (
        ALERTS
        + f'[[sources]]\nname = "drop"\nkind = "directory"\npath = "{drop}"\n'
        + '[schedule.jobs.crawl_site]\nkind = "ingest"\nsource = "drop"\nevery = "1h"\n'
        + '[schedule.jobs.weekly_digest]\nkind = "send_digest"\ncron = "0 7 * * mon"\n'
        + 'misfire_grace = "6h"\nafter = ["crawl_site"]\n'
        + '[digest]\nmax_source_age = "26h"\n'
    )


def test_c_failed_crawl_holds_the_week_until_it_is_fixed(
    app_factory: Callable[..., App], smtp_server: SmtpServer, tmp_path: Path, clock: FixedClock
) -> None:
    drop = tmp_path / "drop"  # missing: the crawl fails
    app = app_factory(smtp_server.toml() + _crawl_config(drop))
    subscribers(app, "a@example.vn", "b@example.vn")
    r = tgfeed(app, "jobs")
    assert "after crawl_site" in r.output

    r = tgfeed(app, "run", "weekly_digest")
    assert "weekly_digest held" in r.output, r.output
    record = app.store.mail.digest(WEEK)
    assert record is not None and record.status == "held"
    (event,) = app.store.mail.events(WEEK)
    assert event.actor == "scheduler" and "drop folder does not exist" in event.reason
    (alert,) = subjects_to(smtp_server, ADMIN)
    assert "tạm giữ" in alert
    assert copies(smtp_server) == Counter()
    runs = app.store.jobs.recent_runs(job="crawl_site")
    assert [r_["trigger"] for r_ in runs] == ["before weekly_digest"]

    drop.mkdir()  # fixed: the week's articles arrive through the crawl
    shutil.copy(SAMPLES, drop / "articles.jsonl")
    clock.advance(15 * 60)  # the retry, within misfire_grace
    r = tgfeed(app, "run", "weekly_digest")
    assert "weekly_digest ok" in r.output, r.output
    assert copies(smtp_server) == Counter({"a@example.vn": 1, "b@example.vn": 1})
    assert [s[:2] for s in states(app)] == [
        (None, "held"),
        ("held", "sending"),
        ("sending", "sent"),
    ]


def test_c_stale_ingest_holds_the_week(
    app_factory: Callable[..., App], smtp_server: SmtpServer, tmp_path: Path, clock: FixedClock
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    app = app_factory(
        smtp_server.toml() + _crawl_config(drop).replace('after = ["crawl_site"]', "")
    )
    subscribers(app, "a@example.vn")
    clock.advance(-3 * 86400)
    tgfeed(app, "import", "-q", str(SAMPLES))  # three days ago: older than 26h
    clock.advance(3 * 86400)
    r = tgfeed(app, "run", "weekly_digest")
    assert "held" in r.output
    assert "older than digest.max_source_age" in app.store.mail.events(WEEK)[-1].reason
    assert copies(smtp_server) == Counter()


def test_c_unknown_after_job_is_a_config_problem(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(
        '[schedule.jobs.weekly_digest]\nkind = "send_digest"\ncron = "0 7 * * mon"\n'
        'after = ["crawl_sit"]\n',
        encoding="utf-8",
    )
    r = CliRunner().invoke(cli, ["--config", str(tmp_path / "config.toml"), "check"])
    assert r.exit_code == 1
    assert "schedule.jobs.weekly_digest.after: no job named 'crawl_sit'" in r.output


# -- (d) editorial approval -------------------------------------------------------

APPROVAL = (
    f'[digest]\napproval = true\napprovers = ["{APPROVER}"]\n'
    'approval_deadline = "Mon 11:00"\non_deadline = "{on}"\n'
)


def approval_app(
    app_factory: Callable[..., App], server: SmtpServer, on: str = "hold"
) -> tuple[App, list[str]]:
    app = app_factory(server.toml() + ALERTS + APPROVAL.replace("{on}", on), samples=True)
    everyone = [f"can.bo{i}@example.vn" for i in range(4)]
    subscribers(app, *everyone)
    return app, everyone


def approve_path(server: SmtpServer) -> str:
    (draft,) = [m.parsed() for m in server.received if APPROVER in m.rcpt_tos]
    assert str(draft["Subject"]).startswith("[Cần duyệt] Bản tin tuần 48/2026")
    html = draft.get_body(("html",))
    assert html is not None and "Bản nháp cần duyệt" in html.get_content()
    text = draft.get_body(("plain",))
    assert text is not None
    m = re.search(r"http://\S+(/digests/2026-W48/approve/\S+)", text.get_content())
    assert m, text.get_content()
    return m[1]


@pytest.fixture
def web(live_server: Callable[[Any], Any]) -> Iterator[Callable[[App], str]]:
    servers: list[Any] = []

    def start(app: App) -> str:
        srv = live_server(create_app(app, scheduler=False)).__enter__()
        servers.append(srv)
        return str(srv.url)

    yield start
    for srv in servers:
        srv.__exit__(None, None, None)


def wait_for(predicate: Callable[[], bool], timeout: float = 15) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_d_approval_draft_to_approvers_then_one_copy_each_after_a_post(
    app_factory: Callable[..., App],
    smtp_server: SmtpServer,
    web: Callable[[App], str],
    clock: FixedClock,
) -> None:
    app, everyone = approval_app(app_factory, smtp_server)
    r = tgfeed(app, "digest", "send", "--week", WEEK)
    assert "draft awaiting approval; mailed to 1 approver(s)" in r.output, r.output
    assert copies(smtp_server, exclude=(ADMIN, APPROVER)) == Counter()
    path = approve_path(smtp_server)
    base = web(app)

    page = httpx.get(base + path, timeout=10)  # a link scanner, or the approver looking
    assert page.status_code == 200 and "Duyệt và gửi" in page.text
    assert app.store.mail.digest(WEEK).status == "draft"  # type: ignore[union-attr]
    assert httpx.get(base + path + "/draft", timeout=10).status_code == 200
    tampered = path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB")
    bad = httpx.post(base + tampered, data={"action": "approve"}, timeout=10)
    assert bad.status_code == 400 and "không hợp lệ" in bad.text
    other = path.replace("2026-W48", "2026-W47", 1)
    wrong = httpx.post(base + other, data={"action": "approve"}, timeout=10)
    assert wrong.status_code == 400 and "tuần khác" in wrong.text
    assert app.store.mail.digest(WEEK).status == "draft"  # type: ignore[union-attr]
    assert copies(smtp_server, exclude=(ADMIN, APPROVER)) == Counter()

    done = httpx.post(base + path, data={"action": "approve"}, timeout=10)
    assert done.status_code == 200 and "Bạn đã duyệt bản tin" in done.text
    assert wait_for(lambda: app.store.mail.digest(WEEK).status == "sent")  # type: ignore[union-attr]
    assert copies(smtp_server, exclude=(ADMIN, APPROVER)) == Counter(everyone)
    record = app.store.mail.digest(WEEK)
    assert record is not None and record.approved_by == APPROVER

    again = httpx.post(base + path, data={"action": "approve"}, timeout=10)
    assert again.status_code == 200 and "đã được duyệt bởi" in again.text
    r = tgfeed(app, "digest", "approve", "--week", WEEK)
    assert f"already sent; approved by {APPROVER}" in r.output
    assert copies(smtp_server, exclude=(ADMIN, APPROVER)) == Counter(everyone)
    r = tgfeed(app, "digest", "status", "--week", WEEK)
    assert f"{WEEK} [sent]" in r.output and APPROVER in r.output

    clock.advance(8 * 86400)  # the approver link works 7 days
    late = httpx.post(base + path, data={"action": "reject", "reason": "muộn"}, timeout=10)
    assert late.status_code == 400 and "hết hạn" in late.text
    assert app.store.mail.digest(WEEK).status == "sent"  # type: ignore[union-attr]


def test_d_deadline_send(
    app_factory: Callable[..., App], smtp_server: SmtpServer, clock: FixedClock
) -> None:
    app, everyone = approval_app(app_factory, smtp_server, on="send")
    tgfeed(app, "digest", "send", "--week", WEEK)
    r = tgfeed(app, "digest", "send", "--week", WEEK)  # before the deadline: still waiting
    assert "draft awaiting approval" in r.output
    assert copies(smtp_server, exclude=(ADMIN, APPROVER)) == Counter()
    clock.advance(4 * 3600 + 60)  # Monday 11:01
    r = tgfeed(app, "digest", "send", "--week", WEEK)
    assert "4 sent now" in r.output, r.output
    assert copies(smtp_server, exclude=(ADMIN, APPROVER)) == Counter(everyone)
    assert app.store.mail.digest(WEEK).approved_by == "scheduler"  # type: ignore[union-attr]
    r = tgfeed(app, "digest", "approve", "--week", WEEK)  # too late: harmless, says so
    assert "approval deadline passed" in r.output and r.exit_code == 0
    assert copies(smtp_server, exclude=(ADMIN, APPROVER)) == Counter(everyone)


def test_d_deadline_hold_then_approve_from_the_cli(
    app_factory: Callable[..., App], smtp_server: SmtpServer, clock: FixedClock
) -> None:
    app, everyone = approval_app(app_factory, smtp_server, on="hold")
    tgfeed(app, "digest", "send", "--week", WEEK)
    clock.advance(4 * 3600 + 60)
    r = tgfeed(app, "digest", "send", "--week", WEEK)
    assert "held" in r.output and "nobody approved" in r.output
    assert app.store.mail.digest(WEEK).status == "held"  # type: ignore[union-attr]
    assert any("chưa được duyệt" in s for s in subjects_to(smtp_server, ADMIN))
    assert copies(smtp_server, exclude=(ADMIN, APPROVER)) == Counter()
    r = tgfeed(app, "digest", "approve", "--week", WEEK)
    assert "approved by cli:" in r.output and "4 sent now" in r.output
    assert copies(smtp_server, exclude=(ADMIN, APPROVER)) == Counter(everyone)


def test_d_reject_records_the_reason_and_sends_nothing(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app, _ = approval_app(app_factory, smtp_server)
    tgfeed(app, "digest", "send", "--week", WEEK)
    r = tgfeed(app, "digest", "reject", "--week", WEEK, "--reason", "Sai tên hội nghị [số 3]")
    assert "rejected by cli:" in r.output
    r = tgfeed(app, "digest", "approve", "--week", WEEK)
    assert "rejected by cli:" in r.output and "Sai tên hội nghị [số 3]" in r.output
    assert copies(smtp_server, exclude=(ADMIN, APPROVER)) == Counter()
    r = tgfeed(app, "digest", "status", "--week", WEEK)
    assert "[rejected]" in r.output and "Sai tên hội nghị [số 3]" in r.output


# -- (e) resend, never a duplicate ----------------------------------------------------


def test_e_resend_new_subscribers_and_failed_reach_only_those(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    refused = {"sai.1@example.vn", "sai.2@example.vn"}
    smtp_server.handler.policy = lambda addr, n: (
        "550 5.1.1 no such user" if addr in refused else None
    )
    app = app_factory(smtp_server.toml(), samples=True)
    first = [f"can.bo{i}@example.vn" for i in range(6)]
    subscribers(app, *first, *sorted(refused))
    r = tgfeed(app, "digest", "send", "--week", WEEK)
    assert "6 sent, 2 failed" in r.output, r.output
    assert copies(smtp_server) == Counter(first)

    new = [f"moi.{i}@example.vn" for i in range(5)]
    subscribers(app, *new)
    r = tgfeed(app, "digest", "resend", "--week", WEEK, "--new-subscribers")
    assert r.exit_code == 0 and "5 sent now" in r.output, r.output
    assert copies(smtp_server) == Counter(first + new)

    smtp_server.handler.policy = None  # the admin fixed the relay's 550s
    r = tgfeed(app, "digest", "resend", "--week", WEEK, "--failed")
    assert "2 sent now" in r.output, r.output
    assert copies(smtp_server) == Counter(first + new + sorted(refused))
    for flag in ("--failed", "--new-subscribers"):  # again: nobody is left to send to
        r = tgfeed(app, "digest", "resend", "--week", WEEK, flag)
        assert "nobody to resend" in r.output
    r = tgfeed(app, "digest", "resend", "--week", WEEK, "--to", first[0])
    assert "already got" in r.output
    r = tgfeed(app, "digest", "resend", "--week", WEEK, "--to", "ngoai@example.vn")
    assert r.exit_code == 0
    r = tgfeed(app, "digest", "resend", "--week", WEEK, "--to", "ngoai@example.vn")
    assert "already got a copy" in r.output
    assert copies(smtp_server) == Counter(first + new + sorted(refused) + ["ngoai@example.vn"])
    reasons = [e.reason for e in app.store.mail.events(WEEK)]
    assert sum("resend #" in why for why in reasons) == 3
    r = tgfeed(app, "digest", "resend", "--week", WEEK)
    assert r.exit_code == 2 and "exactly one of" in r.output


def test_e_a_week_being_resent_elsewhere_is_busy(
    app_factory: Callable[..., App], smtp_server: SmtpServer
) -> None:
    app = app_factory(smtp_server.toml(), samples=True)
    subscribers(app, "a@example.vn")
    tgfeed(app, "digest", "send", "--week", WEEK)
    subscribers(app, "b@example.vn")
    other = holder_id("another-resend")  # a live process holding the week
    jobs = app.store.jobs
    jobs.acquire_lease(digest_lease(WEEK), other, now=app.now(), ttl=timedelta(minutes=2))
    r = tgfeed(app, "digest", "resend", "--week", WEEK, "--new-subscribers")
    assert r.exit_code == 1 and f"digest {WEEK} is busy" in r.output
    assert copies(smtp_server) == Counter({"a@example.vn": 1})
    assert [e.to_status for e in app.store.mail.events(WEEK)] == ["sending", "sent"]
    jobs.release_lease(digest_lease(WEEK), other)
    r = tgfeed(app, "digest", "resend", "--week", WEEK, "--new-subscribers")
    assert copies(smtp_server) == Counter({"a@example.vn": 1, "b@example.vn": 1})


# -- item 8: literal output ------------------------------------------------------


def test_status_prints_states_and_subjects_literally(app: App) -> None:
    app.store.mail.prepare_digest(
        WEEK,
        "skipped",
        Bodies("[Thử] Bản tin [bold]48[/bold]", 0),
        actor="cli:[x]",
        reason="no articles",
        now=app.now(),
    )
    r = tgfeed(app, "digest", "status", "--week", WEEK)
    assert f"{WEEK} [skipped] [Thử] Bản tin [bold]48[/bold]" in r.output
    assert "cli:[x]" in r.output
    r = tgfeed(app, "digest", "status")
    assert "[Thử] Bản tin [bold]48[/bold]" in r.output


class GatedRecorder(Recorder):
    """Holds every message at DATA until ``gate`` opens; ``entered`` says one arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.entered.set()
        await asyncio.get_running_loop().run_in_executor(None, self.gate.wait, 300)
        return await super().handle_DATA(server, session, envelope)


def test_e_two_processes_resending_the_same_week_one_does_it_the_other_is_busy(
    app_factory: Callable[..., App], tmp_path: Path
) -> None:
    server = SmtpServer()
    handler = server.handler = GatedRecorder()
    server.start()
    try:
        app = app_factory(server.toml(timeout=60), samples=True)
        subscribers(app, "a@example.vn")
        handler.gate.set()
        asyncio.run(send_digest(app, week=WEEK))
        handler.gate.clear()
        handler.entered.clear()
        new = [f"moi.{i}@example.vn" for i in range(5)]
        subscribers(app, *new)
        config = str(tmp_path / "config.toml")
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "200"}
        cmd = [sys.executable, "-m", "tgfeed", "--config", config, "digest", "resend"]
        args = ["--week", WEEK, "--new-subscribers"]
        first = subprocess.Popen(
            [*cmd, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert handler.entered.wait(300), "the first resend never reached the relay"
        second = subprocess.run(
            [*cmd, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        handler.gate.set()
        out, _ = first.communicate(timeout=120)
    finally:
        handler.gate.set()
        server.stop()
    assert second.returncode == 1 and f"digest {WEEK} is busy" in second.stderr, second
    assert first.returncode == 0 and "5 sent now" in out, out
    assert copies(server) == Counter(["a@example.vn", *new])
    resends = [e for e in app.store.mail.events(WEEK) if "resend #" in e.reason]
    assert len(resends) == 1
