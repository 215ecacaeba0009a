"""The digest's web pages on a real uvicorn server: archive, subscribe (double
opt-in), confirm, unsubscribe (page + RFC 8058 one-click)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import mailbox
import re
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest

from tgfeed.app import App
from tgfeed.jobs.digest import send_digest
from tgfeed.web.server import create_app

WEEK = "2026-W48"


def with_public_url(web: Any, app: App, url: str) -> App:
    """The app with ``public_url`` set, swapped in for the running web app."""
    site = app.config.site.model_copy(update={"public_url": url})
    new = app.with_config(app.config.model_copy(update={"site": site}))
    web.state.tgfeed.swap(new)
    return new


@pytest.fixture
def served(sample_app: App, live_server: Callable[[Any], Any]) -> Iterator[tuple[App, str]]:
    web = create_app(sample_app, scheduler=False)
    srv = live_server(web)
    app = with_public_url(web, sample_app, srv.url)
    with srv:
        yield app, srv.url


def outbox(app: App) -> list[EmailMessage]:
    path = app.path(app.config.mail.outbox_dir)
    if not path.exists():
        return []
    box = mailbox.Maildir(path, create=False)
    msgs = []
    for key in sorted(box.keys()):
        with box.get_file(key) as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        msgs.append(msg)
    return msgs


def wait_for_mail(app: App, count: int, timeout: float = 10) -> list[EmailMessage]:
    deadline = time.monotonic() + timeout
    while True:
        msgs = outbox(app)
        if len(msgs) >= count or time.monotonic() > deadline:
            return msgs
        time.sleep(0.02)


def confirm_link(msg: EmailMessage) -> str:
    body = msg.get_body(("plain",))
    assert body is not None
    m = re.search(r"^(http://\S+/confirm/\S+)$", body.get_content(), re.M)
    assert m, body.get_content()
    return m[1]


def subscribe(base: str, email_addr: str, **extra: str) -> httpx.Response:
    return httpx.post(f"{base}/subscribe", data={"email": email_addr, **extra}, timeout=10)


def test_subscribe_form(served: tuple[App, str]) -> None:
    _, base = served
    r = httpx.get(f"{base}/subscribe")
    assert r.status_code == 200
    assert "Đăng ký nhận bản tin tuần" in r.text
    assert 'name="email"' in r.text and 'lang="vi"' in r.text
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_double_opt_in(served: tuple[App, str]) -> None:
    app, base = served
    r = subscribe(base, "Can.Bo@Example.VN", name="Nguyễn Thị Hà", unit="Huyện ủy Kim Động")
    assert r.status_code == 200
    assert "Kiểm tra hộp thư của bạn" in r.text
    assert r.headers["cache-control"] == "no-store"
    (msg,) = wait_for_mail(app, 1)
    assert msg["To"].addresses[0].addr_spec == "Can.Bo@example.vn"
    assert msg["Subject"] == "Xác nhận đăng ký nhận bản tin tuần"
    assert "Xin chào Nguyễn Thị Hà" in msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    ms = app.store.mail
    sub = ms.by_email("can.bo@example.vn")
    assert sub is not None and sub.status == "pending" and sub.origin == "web"
    assert sub.unit == "Huyện ủy Kim Động"
    text = " ".join(msg.get_body(("plain",)).get_content().split())  # type: ignore[union-attr]
    assert "rồi bấm nút «Xác nhận đăng ký»" in text  # the email says there is a button
    link = confirm_link(msg)
    # Opening the link (as a mail scanner does) shows a button and changes nothing.
    for _ in range(2):
        r = httpx.get(link)
        assert r.status_code == 200 and "Xác nhận đăng ký nhận bản tin" in r.text
        assert f'<form method="post" action="{link.removeprefix(base)}">' in r.text
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
        assert ms.by_email("can.bo@example.vn").status == "pending"  # type: ignore[union-attr]
    # The button's POST activates.
    r = httpx.post(link)
    assert r.status_code == 200 and "Đăng ký thành công" in r.text
    sub = ms.by_email("can.bo@example.vn")
    assert sub is not None and sub.status == "active" and sub.confirmed_at is not None
    confirmed_at = sub.confirmed_at
    # Pressing it again, or opening the link again, is harmless.
    assert "Đăng ký thành công" in httpx.post(link).text
    r = httpx.get(link)
    assert "Đăng ký đã được xác nhận" in r.text and "<form" not in r.text
    assert ms.by_email("can.bo@example.vn").confirmed_at == confirmed_at  # type: ignore[union-attr]


def test_responses_do_not_reveal_who_is_subscribed(served: tuple[App, str]) -> None:
    app, base = served
    app.store.mail.add_subscriber("da.co@example.vn", now=app.now(), status="active")
    known = subscribe(base, "da.co@example.vn")
    unknown = subscribe(base, "chua.co@example.vn")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("da.co", "X") == unknown.text.replace("chua.co", "X")
    msgs = wait_for_mail(app, 1)
    time.sleep(0.2)
    # Only the new address got a confirmation; the active one got nothing.
    assert [m["To"].addresses[0].addr_spec for m in outbox(app)] == ["chua.co@example.vn"]
    assert len(msgs) == 1
    # Asking again at once sends no second email (no mailbox flooding).
    subscribe(base, "chua.co@example.vn")
    time.sleep(0.2)
    assert len(outbox(app)) == 1


def test_invalid_address_and_honeypot(served: tuple[App, str]) -> None:
    app, base = served
    r = subscribe(base, "không phải email")
    assert r.status_code == 400
    assert "Địa chỉ email chưa đúng" in r.text
    r = subscribe(base, "bot@example.vn", website="http://spam.example")
    assert r.status_code == 200
    assert app.store.mail.by_email("bot@example.vn") is None
    r = httpx.post(
        f"{base}/subscribe",
        content=b"\xff\xfe garbage",
        timeout=10,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400


def test_subscribe_is_rate_limited_per_client(served: tuple[App, str]) -> None:
    app, base = served
    limit = app.config.web.subscribe_per_hour
    codes = [subscribe(base, f"x{i}@example.vn").status_code for i in range(limit + 2)]
    assert codes[:limit] == [200] * limit
    assert codes[limit:] == [429, 429]
    assert "Quá nhiều yêu cầu" in subscribe(base, "y@example.vn").text


def test_bad_and_expired_confirmation_links(served: tuple[App, str], clock: Any) -> None:
    app, base = served
    sub, _ = app.store.mail.add_subscriber("cho@example.vn", now=app.now())
    signer = app.signer
    good = signer.issue("confirm", sub.id, now=app.now(), max_age=3600)
    unsub_token = signer.issue("unsubscribe", sub.id, now=app.now(), max_age=3600)
    tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
    # ...and the last one has the right signature but the wrong purpose.
    for bad in ("abc", tampered, "x" * 40, "%00" * 14, unsub_token):
        for method in ("GET", "POST"):
            r = httpx.request(method, f"{base}/confirm/{bad}")
            assert r.status_code == 400, (method, bad)
            assert "Đường dẫn xác nhận không hợp lệ" in r.text, (method, bad)
            assert "<form" not in r.text
    clock.advance(3601)
    for method in ("GET", "POST"):
        r = httpx.request(method, f"{base}/confirm/{good}")
        assert r.status_code == 400 and "Đường dẫn xác nhận đã hết hạn" in r.text
    assert app.store.mail.by_email("cho@example.vn").status == "pending"  # type: ignore[union-attr]


def test_unsubscribe_page_and_one_click(served: tuple[App, str]) -> None:
    app, base = served
    ms = app.store.mail
    a, _ = ms.add_subscriber("a@example.vn", now=app.now(), status="active")
    b, _ = ms.add_subscriber("b@example.vn", now=app.now(), status="active")
    signer = app.signer
    token_a = signer.issue("unsubscribe", a.id, now=app.now(), max_age=3600)
    token_b = signer.issue("unsubscribe", b.id, now=app.now(), max_age=3600)
    # GET shows a page with a button and changes nothing (mail scanners follow links).
    r = httpx.get(f"{base}/unsubscribe/{token_a}")
    assert r.status_code == 200 and "Hủy đăng ký bản tin tuần" in r.text
    assert f'action="/unsubscribe/{token_a}"' in r.text
    assert ms.by_email("a@example.vn").status == "active"  # type: ignore[union-attr]
    # RFC 8058: what a mail provider POSTs.
    for _ in range(2):  # idempotent
        r = httpx.post(
            f"{base}/unsubscribe/{token_b}",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 200 and "Đã hủy đăng ký" in r.text
    assert ms.by_email("b@example.vn").status == "unsubscribed"  # type: ignore[union-attr]
    assert ms.by_email("a@example.vn").status == "active"  # type: ignore[union-attr]
    r = httpx.get(f"{base}/unsubscribe/{token_b}")
    assert "đã hủy đăng ký" in r.text and "<form" not in r.text
    for bad in ("nope", token_a[:-2] + "zz"):
        for method in ("GET", "POST"):
            r = httpx.request(method, f"{base}/unsubscribe/{bad}")
            assert r.status_code == 400
            assert "Đường dẫn hủy đăng ký không hợp lệ" in r.text
    # A removed subscriber's link: a calm page, not an error.
    ms.remove("a@example.vn")
    r = httpx.post(f"{base}/unsubscribe/{token_a}")
    assert r.status_code == 200 and "không còn trong danh sách" in r.text


def test_archive_and_web_copy(served: tuple[App, str]) -> None:
    app, base = served
    app.store.mail.add_subscriber("doc@example.vn", now=app.now(), status="active")
    r = httpx.get(f"{base}/digests/")
    assert r.status_code == 200 and "Chưa có bản tin nào" in r.text
    result = asyncio.run(send_digest(app, week=WEEK))
    assert result.status == "sent"
    asyncio.run(send_digest(app, week="2026-W10"))  # empty: skipped, not archived
    r = httpx.get(f"{base}/digests/")
    assert result.subject in r.text and 'href="/digests/2026-W48"' in r.text
    assert "2026-W10" not in r.text
    r = httpx.get(f"{base}/digests/{WEEK}")
    assert r.status_code == 200
    assert r.text.startswith("<!DOCTYPE html>") and "Bản tin tuần 48/2026" in r.text
    assert "/unsubscribe/" not in r.text and "TGFEEDTOKEN" not in r.text
    assert f"{base}/subscribe" in r.text
    r = httpx.get(f"{base}/digests/{WEEK.lower()}.txt")
    assert r.status_code == 200 and "BẢN TIN TUẦN 48/2026" in r.text
    for missing in ("2026-W47", "2026-W10", "garbage", "%00"):
        r = httpx.get(f"{base}/digests/{missing}")
        assert r.status_code == 404 and "Không có bản tin tuần này" in r.text
    assert httpx.get(f"{base}/digests", follow_redirects=False).status_code == 308


def test_outbox_message_is_the_digest(served: tuple[App, str], tmp_path: Path) -> None:
    app, _ = served
    app.store.mail.add_subscriber("doc@example.vn", name="Bạn đọc", now=app.now(), status="active")
    asyncio.run(send_digest(app, week=WEEK))
    (msg,) = outbox(app)
    assert msg["Delivered-To"] == "doc@example.vn"
    assert msg["Return-Path"] == "<bantin@tuyengiaohungyen.vn>"
    assert msg["To"].addresses[0].display_name == "Bạn đọc"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
