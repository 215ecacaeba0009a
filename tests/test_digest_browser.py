"""In Chromium: subscribe through the form → the confirmation arrives in the
outbox → its link opens a page with a button (still pending) → the click
activates → the digest's unsubscribe page works. The public pages and the
digest (even with its <style> stripped) fit a 375 px phone screen; an approver opens
the preview and approves."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tgfeed.app import App
from tgfeed.jobs.digest import send_digest
from tgfeed.web.server import create_app

from .test_digest_render import WEEK, compose
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
            # The link opens a page with one button; opening it confirms nothing…
            page.goto(confirm_link(confirmation))
            assert page.locator("h1").inner_text() == "Xác nhận đăng ký nhận bản tin"
            assert page.locator("button").all_inner_texts() == ["Xác nhận đăng ký"]
            sub = ms.by_email("pho.ban@example.vn")
            assert sub is not None and sub.status == "pending"
            # …clicking it does.
            page.click("button[type=submit]")
            page.wait_for_selector("text=Đăng ký thành công")
            sub = ms.by_email("pho.ban@example.vn")
            assert sub is not None and sub.status == "active"

            # Playwright's sync API owns this thread's event loop: send from another.
            with ThreadPoolExecutor(1) as pool:
                result = pool.submit(asyncio.run, send_digest(app, week="2026-W48")).result()
            assert result.sent == 1
            # Maildir names do not sort by time within a second: pick it by subject.
            (digest,) = [m for m in outbox(app) if m["Subject"].startswith("Bản tin tuần")]
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


PHONE = {"width": 375, "height": 740}
WIDTH = "document.documentElement.scrollWidth"


@pytest.mark.browser
def test_public_pages_fit_a_375px_screen(
    sample_app: App, live_server: Callable[[Any], Any], browser: Any
) -> None:
    web = create_app(sample_app, scheduler=False)
    srv = live_server(web)
    app = with_public_url(web, sample_app, srv.url)
    sub, _ = app.store.mail.add_subscriber(
        "nguyen.thi.thanh.huyen.van.phong@example.vn", now=app.now()
    )
    confirm = app.signer.issue("confirm", sub.id, now=app.now(), max_age=3600)
    unsub = app.signer.issue("unsubscribe", sub.id, now=app.now(), max_age=3600)
    with srv:
        page = browser.new_page(locale="vi-VN", viewport=PHONE)
        try:
            widths: dict[str, int] = {}
            for path in (
                "/subscribe",
                f"/confirm/{confirm}",
                "/confirm/x",
                f"/unsubscribe/{unsub}",
            ):
                page.goto(srv.url + path)
                widths[path] = page.evaluate(WIDTH)
            page.goto(f"{srv.url}/subscribe")
            page.fill("#email", "pho.truong.ban.tuyen.giao.huyen.uy@example.vn")
            page.click("button[type=submit]")
            page.wait_for_selector("text=Kiểm tra hộp thư của bạn")
            widths["subscribed"] = page.evaluate(WIDTH)
            page.goto(f"{srv.url}/confirm/{confirm}")
            page.click("button[type=submit]")
            page.wait_for_selector("text=Đăng ký thành công")
            widths["confirmed"] = page.evaluate(WIDTH)
            assert widths == dict.fromkeys(widths, 375)
        finally:
            page.close()


def _without_style(html: str) -> str:
    """The digest as a client that strips <style> shows it (inline styles only)."""
    return re.sub(r"<style[^>]*>.*?</style>", "", html, flags=re.S)


@pytest.mark.browser
def test_digest_is_readable_at_375px_without_its_style_block(sample_app: App, browser: Any) -> None:
    _, rendered = compose(sample_app, WEEK)
    bare = _without_style(rendered.html)
    assert "<style" not in bare and "@media" not in bare
    # Gmail's mobile webmail ignores display:none: drop it too.
    no_display = bare.replace("display:none;", "")
    assert no_display.count("preheader") == bare.count("preheader") == 1
    page = browser.new_page(viewport=PHONE)
    try:
        for html in (rendered.html, bare, no_display):
            page.set_content(html)
            assert page.evaluate(WIDTH) == 375
            title = page.locator("h1.title").bounding_box()
            assert title is not None and title["x"] > 0 and title["x"] + title["width"] <= 375
            # The preheader takes no room and shows nothing.
            pre = page.evaluate(
                "(() => { const e = document.querySelector('.preheader');"
                " const s = getComputedStyle(e); const r = e.getBoundingClientRect();"
                " return [r.height, r.width, s.visibility, s.opacity]; })()"
            )
            assert pre[0] == 0 and pre[1] == 0 and (pre[2] == "hidden" or pre[3] == "0")
    finally:
        page.close()
