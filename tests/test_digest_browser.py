"""In Chromium: subscribe through the form → the confirmation arrives in the
outbox → follow its link → active → the digest's one-click unsubscribe works."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tgfeed.app import App
from tgfeed.jobs.digest import send_digest
from tgfeed.web.server import create_app

from .test_digest_web import confirm_link, outbox, wait_for_mail, with_public_url


@pytest.mark.browser
def test_subscribe_confirm_unsubscribe_in_a_browser(
    sample_app: App, live_server: Callable[[Any], Any], browser: Any
) -> None:
    web = create_app(sample_app, scheduler=False)
    srv = live_server(web)
    app = with_public_url(web, sample_app, srv.url)
    ms = app.store.mail
    with srv:
        page = browser.new_page(locale="vi-VN")
        try:
            page.goto(f"{srv.url}/subscribe")
            assert page.locator("h1").inner_text() == "Đăng ký nhận bản tin tuần"
            page.fill("#email", "pho.ban@example.vn")
            page.fill("#name", "Phạm Thị Đoan Trang")
            page.fill("#unit", "Ban Tuyên giáo Huyện ủy Văn Lâm")
            page.click("button[type=submit]")
            page.wait_for_selector("text=Kiểm tra hộp thư của bạn")
            sub = ms.by_email("pho.ban@example.vn")
            assert sub is not None and sub.status == "pending"

            (confirmation,) = wait_for_mail(app, 1)
            assert confirmation["To"].addresses[0].addr_spec == "pho.ban@example.vn"
            page.goto(confirm_link(confirmation))
            assert page.locator("h1").inner_text() == "Đăng ký thành công"
            sub = ms.by_email("pho.ban@example.vn")
            assert sub is not None and sub.status == "active"

            # Playwright's sync API owns this thread's event loop: send from another.
            with ThreadPoolExecutor(1) as pool:
                result = pool.submit(asyncio.run, send_digest(app, week="2026-W48")).result()
            assert result.sent == 1
            digest = outbox(app)[-1]
            assert digest["To"].addresses[0].display_name == "Phạm Thị Đoan Trang"
            https = digest["List-Unsubscribe"].split(",")[0].strip().strip("<>")
            assert https.startswith(f"{srv.url}/unsubscribe/")

            # The link in the message opens a page with a button…
            page.goto(https)
            assert page.locator("h1").inner_text() == "Hủy đăng ký bản tin tuần"
            sub = ms.by_email("pho.ban@example.vn")
            assert sub is not None and sub.status == "active"  # merely opening changes nothing
            # …and one click unsubscribes.
            page.click("button[type=submit]")
            page.wait_for_selector("text=Đã hủy đăng ký")
            sub = ms.by_email("pho.ban@example.vn")
            assert sub is not None and sub.status == "unsubscribed"
            assert sub.unsubscribed_at is not None
            # The web copy linked from the message renders too.
            page.goto(f"{srv.url}/digests/2026-W48")
            assert "Bản tin tuần 48/2026" in page.locator("h1").inner_text()
        finally:
            page.close()


@pytest.mark.browser
def test_an_approver_opens_the_preview_and_approves_in_a_browser(
    app_factory: Callable[..., App], live_server: Callable[[Any], Any], browser: Any
) -> None:
    approver = "pho.ban@tuyengiaohungyen.vn"
    app = app_factory(f'[digest]\napproval = true\napprovers = ["{approver}"]\n', samples=True)
    app.store.mail.add_subscriber(
        "can.bo@example.vn", now=app.now(), status="active", origin="test"
    )
    web = create_app(app, scheduler=False)
    srv = live_server(web)
    app = with_public_url(web, app, srv.url)
    with srv:
        with ThreadPoolExecutor(1) as pool:
            result = pool.submit(asyncio.run, send_digest(app, week="2026-W48")).result()
        assert result.status == "draft"
        (draft,) = wait_for_mail(app, 1)
        assert draft["To"].addresses[0].addr_spec == approver
        text = draft.get_body(("plain",))
        assert text is not None
        link = next(line for line in text.get_content().splitlines() if "/approve/" in line).strip()
        page = browser.new_page(locale="vi-VN")
        try:
            page.goto(link)
            assert page.locator("h1").inner_text() == "Duyệt bản tin tuần 2026-W48"
            frame = page.frame_locator("iframe")
            assert "Bản tin tuần 48/2026" in frame.locator("body").inner_text()
            record = app.store.mail.digest("2026-W48")
            assert record is not None and record.status == "draft"  # opening changes nothing
            page.click("#approve")
            page.wait_for_selector("#result")
            assert "Bạn đã duyệt bản tin" in page.locator("#result").inner_text()
            msgs = wait_for_mail(app, 2)
            assert [m["To"].addresses[0].addr_spec for m in msgs[1:]] == ["can.bo@example.vn"]
            record = app.store.mail.digest("2026-W48")
            assert record is not None and record.approved_by == approver
        finally:
            page.close()
