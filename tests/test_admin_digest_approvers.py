"""With ``[digest] approvers`` set, only a console user whose account address is one
of them decides a draft on Bản tin: anyone else (editor or administrator) sees the
buttons disabled with the reason in Vietnamese, and a POST from them is the 403
"Không được phép" page, audited, with nothing changed. Through a real uvicorn on
127.0.0.1 and a real aiosmtpd."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tgfeed.app import App
from tgfeed.digest.approval import approver_of
from tgfeed.jobs.digest import send_digest
from tgfeed.web.server import create_app

from .admin_support import add_user, login, page_csrf
from .smtp_server import SmtpServer, running_server

_smtp_server = pytest.fixture(name="smtp_server")(running_server)

WEEK = "2026-W48"
APPROVER = "pho.ban@tuyengiaohungyen.vn"
APPROVERS = f'[digest]\napproval = true\napprovers = ["{APPROVER}", "truong.ban@example.vn"]\n'
EVERYONE = ["can.bo1@example.vn", "can.bo2@example.vn"]
LISTED = f"{APPROVER}, truong.ban@example.vn"
WHO = (
    "Chỉ người duyệt có tên trong danh sách [digest] approvers mới được duyệt hoặc từ chối "
    f"bản tin: {LISTED}."
)
WHAT = (
    "Người duyệt dùng đường dẫn trong thư «[Cần duyệt]», hoặc đăng nhập bằng tài khoản "
    "mang địa chỉ thư của mình."
)


@pytest.fixture
def site(
    app_factory: Callable[..., App],
    smtp_server: SmtpServer,
    live_server: Callable[[Any], Any],
) -> Iterator[tuple[App, str]]:
    """The week's draft made by the send job; an approver's account (its address in
    another case), an administrator and an editor who are not approvers."""
    app = app_factory(smtp_server.toml() + APPROVERS, samples=True)
    app.store.mail.bulk_add(
        [(e, None, None) for e in EVERYONE], now=app.now(), status="active", origin="test"
    )
    add_user(app, "phoban", "editor", "Pho.Ban@TuyenGiaoHungYen.vn")
    add_user(app, "kythuat", "admin", "kythuat@example.vn")
    add_user(app, "bientap", "editor")  # no address at all
    assert asyncio.run(send_digest(app, week=WEEK)).status == "draft"
    with live_server(create_app(app, scheduler=False)) as srv:
        yield app, srv.url


def _copies(server: SmtpServer) -> Counter[str]:
    """Messages per recipient, the approvers' drafts left out."""
    return Counter(
        r
        for m in server.received
        if not str(m.parsed()["Subject"]).startswith("[Cần duyệt]")
        for r in m.rcpt_tos
    )


def _explained(html: str) -> str:
    found = re.search(r'<p class="notice" id="approve-disabled">([^<]+)</p>', html)
    assert found, "no explanation of the disabled buttons"
    return found[1]


def _history(app: App) -> list[tuple[str | None, str, str]]:
    return [(e.from_status, e.to_status, e.actor) for e in app.store.mail.events(WEEK)]


@pytest.mark.parametrize(
    ("user", "whose"),
    [
        (
            "kythuat",
            "Địa chỉ thư của tài khoản bạn (kythuat@example.vn) không có trong danh sách này.",
        ),
        ("bientap", "Tài khoản của bạn chưa có địa chỉ thư nên không khớp với người duyệt nào."),
    ],
)
def test_someone_not_in_approvers_sees_the_buttons_disabled_and_is_refused(
    site: tuple[App, str], smtp_server: SmtpServer, user: str, whose: str
) -> None:
    app, url = site
    before = _history(app)
    client, _ = login(url, user)
    with contextlib.closing(client):
        page = client.get("/admin/digest", params={"week": WEEK})
        assert page.status_code == 200
        assert _explained(page.text) == f"{WHO} {whose} {WHAT}"
        buttons = re.findall(r"<button[^>]*>(?:Duyệt và gửi|Từ chối)[^<]*</button>", page.text)
        assert len(buttons) == 2 and all(" disabled" in b for b in buttons), buttons
        token = page_csrf(client, f"/admin/digest?week={WEEK}")
        for path, action in (("approve", "digest.approve"), ("reject", "digest.reject")):
            r = client.post(
                f"/admin/digest/{path}", data={"csrf": token, "week": WEEK, "reason": "Sai tên"}
            )
            assert r.status_code == 403, r.text
            assert "<h1>Không được phép</h1>" in r.text
            assert (
                f"Bạn không được duyệt hay từ chối bản tin tuần {WEEK}. {WHO} {whose} {WHAT}"
                in r.text
            )
            (entry,) = [a for a in app.store.users.audit_log() if a.action == action]
            assert (entry.actor, entry.outcome, entry.target) == (user, "refused", WEEK)
    record = app.store.mail.digest(WEEK)
    assert record is not None and record.status == "draft" and record.approved_by is None
    assert _history(app) == before
    assert _copies(smtp_server) == Counter()


def test_an_approver_approves_from_the_console_and_is_recorded(
    site: tuple[App, str], smtp_server: SmtpServer
) -> None:
    app, url = site
    client, _ = login(url, "phoban")
    with contextlib.closing(client):
        page = client.get("/admin/digest", params={"week": WEEK})
        assert 'id="approve-disabled"' not in page.text
        button = re.search(r"<button[^>]*>Duyệt và gửi tới 2 người nhận</button>", page.text)
        assert button and "disabled" not in button[0]
        r = client.post(
            "/admin/digest/approve", data={"csrf": page_csrf(client, "/admin/digest"), "week": WEEK}
        )
        assert r.status_code == 200, r.text
    deadline = time.monotonic() + 30
    while app.store.mail.digest(WEEK).status != "sent":  # type: ignore[union-attr]
        assert time.monotonic() < deadline, "the approved week was not sent"
        time.sleep(0.05)
    assert _copies(smtp_server) == Counter(EVERYONE)
    record = app.store.mail.digest(WEEK)
    assert record is not None and record.approved_by == "console:phoban"
    assert ("draft", "approved", "console:phoban") in _history(app)
    (entry,) = [a for a in app.store.users.audit_log() if a.action == "digest.approve"]
    assert (entry.actor, entry.outcome) == ("phoban", "ok")


def test_an_approver_is_matched_by_address_whatever_its_case() -> None:
    approvers = [APPROVER, "truong.ban@example.vn"]
    assert approver_of(" Pho.Ban@TuyenGiaoHungYen.vn ", approvers) == APPROVER
    assert approver_of("pho.ban@example.vn", approvers) is None
    assert approver_of(None, approvers) is None


@pytest.mark.parametrize(("user", "verb"), [("phoban", "duyệt"), ("kythuat", "xem")])
def test_the_overview_offers_the_draft_to_approve_only_to_an_approver(
    site: tuple[App, str], user: str, verb: str
) -> None:
    _, url = site
    client, _ = login(url, user)
    with contextlib.closing(client):
        page = client.get("/admin/")
        assert page.status_code == 200
        links = re.findall(
            r'<a href="/admin/digest\?week=[^"]+">(Mở bản nháp để [^<]+)</a>', page.text
        )
        assert links == [f"Mở bản nháp để {verb}"]
