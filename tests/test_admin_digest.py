"""Bản tin's decisions in the console, through a real uvicorn on 127.0.0.1 (the
sending after an approval runs after the response: the tests wait for it): an editor
approves (every active subscriber gets the week once) or rejects with a reason;
a viewer is refused (403 page, audited); approving a week that is not a draft,
rejecting without a reason, a bad week and a replayed CSRF token are each a
Vietnamese message on the Bản tin page, audited, with nothing changed; an
administrator resends; every lifecycle state has its Vietnamese name."""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tgfeed.app import App
from tgfeed.jobs.digest import send_digest
from tgfeed.model import DIGEST_STATUSES
from tgfeed.store.digest_states import Bodies
from tgfeed.web.admin.weeks import STATE_NAMES
from tgfeed.web.server import create_app

from .admin_support import PASSWORD, add_user, csrf_of
from .test_digest_web import outbox

WEEK = "2026-W48"
APPROVER = "pho.ban@tuyengiaohungyen.vn"
# The console's editor and administrator are approvers too (their account addresses).
APPROVAL = (
    f'[digest]\napproval = true\napprovers = ["{APPROVER}", "bientap@example.vn", '
    '"quantri@example.vn"]\napproval_deadline = "Mon 11:00"\n'
)
EVERYONE = [f"can.bo{i}@example.vn" for i in range(3)]


def _subscribe(app: App, *emails: str) -> None:
    app.store.mail.bulk_add(
        [(e, None, None) for e in emails], now=app.now(), status="active", origin="test"
    )


@pytest.fixture
def drafted(app_factory: Callable[..., App]) -> App:
    """Approval on, three active subscribers, and the week's draft made by the send job."""
    app = app_factory(APPROVAL, samples=True)
    _subscribe(app, *EVERYONE)
    add_user(app, "quantri", "admin", "quantri@example.vn")
    add_user(app, "bientap", "editor", "bientap@example.vn")
    add_user(app, "xem", "viewer")
    result = asyncio.run(send_digest(app, week=WEEK))
    assert result.status == "draft"
    return app


def _login(url: str, name: str) -> httpx.Client:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    form = client.get("/admin/login")
    r = client.post(
        "/admin/login",
        data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text), "next": "/"},
    )
    assert r.status_code == 303, r.text
    return client


@pytest.fixture
def console(
    drafted: App, live_server: Callable[[Any], Any]
) -> Iterator[Callable[[str], httpx.Client]]:
    """Log a console user in to a real server over the drafted App."""
    clients: list[httpx.Client] = []
    with live_server(create_app(drafted, scheduler=False)) as srv:

        def login(name: str) -> httpx.Client:
            clients.append(_login(srv.url, name))
            return clients[-1]

        yield login
        for client in clients:
            client.close()


def _settled(app: App, want: Counter[str]) -> None:
    """Wait (30 s at most) until the outbox holds exactly ``want`` (sending runs
    after the response), then until the week's record is no longer sending."""
    deadline = time.monotonic() + 30
    while _copies(app) != want:
        assert time.monotonic() < deadline, f"outbox {_copies(app)} != {want}"
        time.sleep(0.05)
    while (record := app.store.mail.digest(WEEK)) is not None and record.status == "sending":
        assert time.monotonic() < deadline, "the week is still sending"
        time.sleep(0.05)


def _copies(app: App) -> Counter[str]:
    """Messages per recipient in the outbox, the approver's draft left out."""
    return Counter(
        m["To"].addresses[0].addr_spec
        for m in outbox(app)
        if not str(m["Subject"]).startswith("[Cần duyệt]")
    )


def _audit(app: App, action: str) -> list[tuple[str | None, str, str | None]]:
    return [
        (a.actor, a.outcome, a.target)
        for a in reversed(app.store.users.audit_log())
        if a.action == action
    ]


def _state(html: str) -> str:
    found = re.search(r'id="state">([^<]+)<', html)
    assert found, "no state on the page"
    return found[1]


def test_an_editor_approves_the_draft_and_each_active_subscriber_gets_it_once(
    drafted: App, console: Callable[[str], httpx.Client]
) -> None:
    client = console("bientap")
    home = client.get("/admin/")
    card = home.text[home.text.index('id="digest-card"') :][:900]
    assert f"Bản tin tuần {WEEK}" in card and "bản nháp chờ duyệt" in card
    page = client.get("/admin/digest")  # opens on the week waiting for a decision
    assert f"<h1>Bản tin tuần {WEEK}</h1>" in page.text
    assert _state(page.text) == "bản nháp chờ duyệt"
    assert 'action="/admin/digest/approve"' in page.text
    assert 'action="/admin/digest/resend"' not in page.text  # an editor does not resend

    r = client.post(
        "/admin/digest/approve",
        data={"csrf": csrf_of(page.text), "week": WEEK, "reason": "Đã soát  tên hội nghị"},
    )
    assert r.status_code == 200
    assert f"Đã duyệt bản tin tuần {WEEK}. Bản tin đang được gửi tới 3 người nhận" in r.text
    _settled(drafted, Counter(EVERYONE))
    record = drafted.store.mail.digest(WEEK)
    assert record is not None and record.status == "sent"
    assert record.approved_by == "console:bientap"
    assert _audit(drafted, "digest.approve") == [("bientap", "ok", WEEK)]

    after = client.get("/admin/digest", params={"week": WEEK})
    assert _state(after.text) == "đã gửi"
    history = after.text[after.text.index('id="history"') :]
    assert "console:bientap" in history and "Đã soát tên hội nghị; 3 recipients" in history
    assert 'data-action="digest.approve" data-outcome="ok"' in after.text
    card = client.get("/admin/").text
    assert "bản nháp chờ duyệt" not in card[card.index('id="digest-card"') :][:900]

    # The send job afterwards (the scheduler's next run, or `tgfeed digest send`) adds nothing.
    again = asyncio.run(send_digest(drafted, week=WEEK))
    assert again.status == "already-done"
    assert _copies(drafted) == Counter(EVERYONE)


def test_an_editor_rejects_with_a_reason_and_without_one_is_refused(
    drafted: App, console: Callable[[str], httpx.Client]
) -> None:
    client = console("bientap")
    token = csrf_of(client.get("/admin/digest").text)
    bare = client.post("/admin/digest/reject", data={"csrf": token, "week": WEEK, "reason": "  "})
    assert bare.status_code == 400
    assert "Xin ghi lý do từ chối để người soạn biết cần sửa gì." in bare.text
    assert f"<h1>Bản tin tuần {WEEK}</h1>" in bare.text  # the same page
    assert drafted.store.mail.digest(WEEK).status == "draft"  # type: ignore[union-attr]
    assert _audit(drafted, "digest.reject") == [("bientap", "refused", WEEK)]

    r = client.post(
        "/admin/digest/reject", data={"csrf": token, "week": WEEK, "reason": "Sai tên hội nghị"}
    )
    assert r.status_code == 200 and "Đã từ chối bản tin tuần" in r.text
    assert _state(r.text) == "bị từ chối"
    assert drafted.store.mail.events(WEEK)[-1].reason == "Sai tên hội nghị"
    assert _copies(drafted) == Counter()
    assert _audit(drafted, "digest.reject")[-1] == ("bientap", "ok", WEEK)
    # A rejected week is not approved by a second click.
    late = client.post("/admin/digest/approve", data={"csrf": token, "week": WEEK})
    assert late.status_code == 409
    assert "đã bị từ chối bởi console:bientap" in late.text and "Sai tên hội nghị" in late.text
    assert _copies(drafted) == Counter()


def test_a_viewer_is_refused_and_the_refusal_is_audited(
    drafted: App, console: Callable[[str], httpx.Client]
) -> None:
    client = console("xem")
    page = client.get("/admin/digest")
    assert 'action="/admin/digest/approve"' not in page.text
    token = csrf_of(page.text)
    for path, action in (("approve", "digest.approve"), ("reject", "digest.reject")):
        r = client.post(f"/admin/digest/{path}", data={"csrf": token, "week": WEEK, "reason": "x"})
        assert r.status_code == 403
        assert "Vai trò của bạn không được duyệt hay từ chối bản tin." in r.text
        assert _audit(drafted, action) == [("xem", "refused", None)]
    r = client.post("/admin/digest/resend", data={"csrf": token, "week": WEEK, "kind": "failed"})
    assert r.status_code == 403 and "Chỉ quản trị viên được gửi lại bản tin." in r.text
    assert drafted.store.mail.digest(WEEK).status == "draft"  # type: ignore[union-attr]
    assert _copies(drafted) == Counter()


def test_approving_a_week_that_is_not_a_draft_is_refused_with_its_message(
    drafted: App, console: Callable[[str], httpx.Client]
) -> None:
    client = console("bientap")
    token = csrf_of(client.get("/admin/digest").text)
    assert client.post("/admin/digest/approve", data={"csrf": token, "week": WEEK}).is_success
    _settled(drafted, Counter(EVERYONE))
    twice = client.post("/admin/digest/approve", data={"csrf": token, "week": WEEK})
    assert twice.status_code == 409
    assert (
        f"Bản tin tuần {WEEK} không còn là bản nháp (đã gửi): đã được duyệt bởi console:bientap"
        in twice.text
    )
    none = client.post("/admin/digest/approve", data={"csrf": token, "week": "2026-W40"})
    assert none.status_code == 409 and "Tuần 2026-W40 chưa có bản nháp nào để duyệt." in none.text
    bad = client.post("/admin/digest/approve", data={"csrf": token, "week": "tuần 48"})
    assert bad.status_code == 400 and "Tuần không hợp lệ: ghi dạng 2026-W48." in bad.text
    assert _audit(drafted, "digest.approve") == [
        ("bientap", "ok", WEEK),
        ("bientap", "refused", WEEK),
        ("bientap", "refused", "2026-W40"),
        ("bientap", "refused", None),
    ]
    assert _copies(drafted) == Counter(EVERYONE)
    assert drafted.store.mail.digest("2026-W40") is None


def test_a_replayed_csrf_token_is_a_message_on_the_digest_page(
    drafted: App, console: Callable[[str], httpx.Client]
) -> None:
    first = console("bientap")
    old = csrf_of(first.get("/admin/digest").text)
    assert first.post("/admin/logout", data={"csrf": old}).status_code == 303
    client = console("bientap")  # a new session: the old tab's token is not its token
    r = client.post("/admin/digest/approve", data={"csrf": old, "week": WEEK})
    assert r.status_code == 403
    assert "Biểu mẫu đã hết hạn hoặc không hợp lệ" in r.text
    assert f"<h1>Bản tin tuần {WEEK}</h1>" in r.text and _state(r.text) == "bản nháp chờ duyệt"
    assert csrf_of(r.text) != old  # the page carries a fresh form to submit again
    assert drafted.store.mail.digest(WEEK).status == "draft"  # type: ignore[union-attr]
    assert _audit(drafted, "digest.approve") == [("bientap", "refused", None)]
    assert _copies(drafted) == Counter()


def test_an_administrator_resends_to_new_subscribers_only(
    drafted: App, console: Callable[[str], httpx.Client]
) -> None:
    client = console("quantri")
    token = csrf_of(client.get("/admin/digest").text)
    early = client.post(
        "/admin/digest/resend", data={"csrf": token, "week": WEEK, "kind": "failed"}
    )
    assert early.status_code == 409 and "Chỉ gửi lại được tuần đã gửi xong" in early.text
    assert "“bản nháp chờ duyệt”" in early.text
    assert client.post("/admin/digest/approve", data={"csrf": token, "week": WEEK}).is_success
    _settled(drafted, Counter(EVERYONE))
    page = client.get("/admin/digest", params={"week": WEEK})
    assert 'action="/admin/digest/resend"' in page.text
    _subscribe(drafted, "moi@example.vn")
    r = client.post(
        "/admin/digest/resend", data={"csrf": token, "week": WEEK, "kind": "new-subscribers"}
    )
    assert r.status_code == 200, r.text
    assert f"Đang gửi lại bản tin tuần {WEEK} tới 1 người nhận." in r.text
    _settled(drafted, Counter([*EVERYONE, "moi@example.vn"]))
    nobody = client.post(
        "/admin/digest/resend", data={"csrf": token, "week": WEEK, "kind": "new-subscribers"}
    )
    assert nobody.status_code == 409 and "Không có người nhận mới nào" in nobody.text
    got = client.post(
        "/admin/digest/resend", data={"csrf": token, "week": WEEK, "kind": "to", "to": EVERYONE[0]}
    )
    assert got.status_code == 409 and f"{EVERYONE[0]} đã nhận bản tin tuần {WEEK}" in got.text
    assert _copies(drafted) == Counter([*EVERYONE, "moi@example.vn"])
    assert [o for _, o, _ in _audit(drafted, "digest.resend")] == [
        "refused",
        "ok",
        "refused",
        "refused",
    ]
    assert drafted.store.mail.digest(WEEK).status == "sent"  # type: ignore[union-attr]


def test_every_lifecycle_state_has_a_vietnamese_name_on_both_screens(
    app_factory: Callable[..., App], live_server: Callable[[Any], Any]
) -> None:
    assert set(DIGEST_STATUSES) <= set(STATE_NAMES)
    app = app_factory()
    add_user(app, "xem", "viewer")
    weeks = {status: f"2026-W{10 + i:02d}" for i, status in enumerate(DIGEST_STATUSES)}
    for status, week in weeks.items():
        app.store.mail.prepare_digest(
            week, status, Bodies(f"Bản tin {week}", 1), actor="test", reason="", now=app.now()
        )
    with (
        live_server(create_app(app, scheduler=False)) as srv,
        contextlib.closing(_login(srv.url, "xem")) as client,
    ):
        for status, week in weeks.items():
            page = client.get("/admin/digest", params={"week": week})
            assert _state(page.text) == STATE_NAMES[status], status
        assert _state(client.get("/admin/digest", params={"week": "2026-W40"}).text) == (
            "chưa có bản ghi"
        )
        newest = max(weeks.items(), key=lambda kv: kv[1])
        home = client.get("/admin/").text
        last = home[home.index("Lần gửi gần nhất") :][:400]
        assert f">{STATE_NAMES[newest[0]]}</span>" in last
