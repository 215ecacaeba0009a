"""`tgfeed subscribers import` and the digest commands as logs and cron mail see
them (CliRunner: stdout is not a terminal, 80 columns): every value whole, local
times with their offset, `--json` that parses, and no progress output at all —
while on a terminal the same commands do draw their progress bar."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tgfeed.app import App
from tgfeed.cli import base as cli_base
from tgfeed.cli import cli
from tgfeed.store.digest_states import Bodies

LONG = "ban.tuyen.giao.huyen.uy.van.lam.tinh.hung.yen@example-rat-dai.gov.vn"
SUBJECT = "Bản tin tuần 48/2026 — Ban Tuyên giáo Tỉnh ủy Hưng Yên, các hội nghị và hoạt động"
WEEK = "2026-W48"
LOCAL = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d\+07:00")
HIDE_CURSOR = "\x1b[?25l"  # a live progress display starting


def tgfeed(app: App, *args: str) -> Result:
    return CliRunner().invoke(
        cli, list(args), obj={"app": app}, catch_exceptions=False, env={"COLUMNS": "80"}
    )


def _csv(tmp_path: Path, n: int = 120) -> Path:
    path = tmp_path / "danh-sach.csv"
    rows = [f"{LONG},Nguyễn Thị Thanh Thủy Hương,Ban Tuyên giáo Huyện ủy Văn Lâm"]
    rows += [f"can.bo{i}@example.vn,Cán bộ {i},Đơn vị {i}" for i in range(n)]
    rows.insert(3, "khong-phai-dia-chi,Sai,Sai")
    path.write_text("email,họ tên,đơn vị\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_subscribers_import_is_silent_when_piped_then_lists_whole_values(
    app: App, tmp_path: Path
) -> None:
    r = tgfeed(app, "subscribers", "import", str(_csv(tmp_path)), "--active")
    assert r.exit_code == 1  # one line skipped
    assert r.stdout == "121 added, 0 updated, 1 skipped (1 problem)\n"  # no bar, no escapes
    assert r.stderr == "line 5: not an email address: 'khong-phai-dia-chi'\n"
    listed = tgfeed(app, "subscribers", "list").stdout
    assert "…" not in listed
    row = next(line for line in listed.splitlines() if line.startswith(LONG))
    assert "Nguyễn Thị Thanh Thủy Hương  Ban Tuyên giáo Huyện ủy Văn Lâm" in row
    assert LOCAL.search(row)
    data = json.loads(tgfeed(app, "subscribers", "list", "--json").stdout)
    assert len(data) == 121 and data[0]["email"] == LONG


def test_subscribers_import_draws_its_bar_on_a_terminal(
    app: App, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_base.console, "_force_terminal", True)  # as a tty would
    r = tgfeed(app, "subscribers", "import", str(_csv(tmp_path, 5)), "--active")
    assert HIDE_CURSOR in r.stdout and r.stdout.endswith(
        "6 added, 0 updated, 1 skipped (1 problem)\n"
    )


@pytest.fixture
def sent(app_factory: Callable[..., App]) -> App:
    app = app_factory(samples=True)
    app.store.mail.bulk_add(
        [(LONG, "Nguyễn Thị Thanh Thủy Hương", None), ("doc@example.vn", None, None)],
        now=app.now(),
        status="active",
        origin="test",
    )
    return app


def test_digest_send_and_status_are_whole_local_and_json_when_piped(sent: App) -> None:
    r = tgfeed(sent, "digest", "send", "--week", WEEK)
    assert r.exit_code == 0
    assert r.stdout == f"{WEEK}: sent: 2 sent now; 2 sent, 0 failed, 0 pending of 2\n"  # no bar
    sent.store.mail.prepare_digest(
        "2026-W47",
        "skipped",
        Bodies(SUBJECT, 0),
        actor="cli:ban",
        reason="no articles",
        now=sent.now(),
    )
    recent = tgfeed(sent, "digest", "status").stdout
    assert "…" not in recent and SUBJECT in recent
    assert recent.splitlines()[0].split() == [
        "week",
        "status",
        "articles",
        "recipients",
        "sent",
        "failed",
        "at",
        "subject",
    ]
    w48 = next(line for line in recent.splitlines() if line.startswith(WEEK))
    assert LOCAL.search(w48) and " sent " in w48
    data = json.loads(tgfeed(sent, "digest", "status", "--json").stdout)
    assert [d["week"] for d in data["digests"]] == [WEEK, "2026-W47"]
    assert data["digests"][0]["deliveries"]["sent"] == 2
    assert data["digests"][0]["created_at"].endswith("+07:00")
    assert data["subscribers"]["active"] == 2

    detail = tgfeed(sent, "digest", "status", "--week", WEEK).stdout
    assert "…" not in detail and LOCAL.search(detail)
    history = detail[detail.index("history") :]
    assert re.search(r"\+07:00  —  +sending  cli:\S+  2 recipients\n", history), history
    week = json.loads(tgfeed(sent, "digest", "status", "--week", WEEK, "--json").stdout)
    assert (week["status"], week["recipients"], week["failed"]) == ("sent", 2, [])
    assert [h["to"] for h in week["history"]] == ["sending", "sent"]
    assert all(h["at"].endswith("+07:00") for h in week["history"])
    none = json.loads(tgfeed(sent, "digest", "status", "--week", "2026-W40", "--json").stdout)
    assert none == {
        "week": "2026-W40",
        "status": "none",
        "history": [],
        "failed": [],
        "pending": [],
    }


def test_digest_send_draws_its_bar_on_a_terminal(
    sent: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli_base.console, "_force_terminal", True)
    r = tgfeed(sent, "digest", "send", "--week", WEEK)
    assert HIDE_CURSOR in r.stdout and "2 sent now" in r.stdout
