"""A feed opened in a browser is a readable Vietnamese page; a feed reader at the
same URL gets the feed (issue 13, items 5 and 7): Chromium at 1280 and 375 px,
the copy button's clipboard, the index page and the HTML search page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tgfeed.app import App
from tgfeed.web import create_app

from .feeds_support import check_atom, check_json, check_rss
from .test_deploy_nginx import NGINX, Stack, stack  # noqa: F401  (the nginx fixture)

CATEGORY = "thong-tin-tuyen-truyen/tin-tuc-hoat-dong"
CHROME_ACCEPT = (
    "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
    "image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7"
)
READERS = {
    "miniflux": "application/rss+xml, application/rdf+xml;q=0.8, application/atom+xml;q=0.6, "
    "application/xml;q=0.4, text/xml;q=0.4, */*;q=0.2",
    "feedparser": "application/atom+xml,application/rdf+xml,application/rss+xml,"
    "application/x-netcdf,application/xml;q=0.9,text/xml;q=0.2,*/*;q=0.1",
    "curl": "*/*",
    "validator": "",
}
SHOTS = Path("/tmp/tgfeed-screenshots")


def test_readers_get_the_feed_and_browsers_the_page(sample_app: App, live_server: Any) -> None:
    checks = {"rss": check_rss, "atom": check_atom, "json": check_json}
    with live_server(create_app(sample_app, scheduler=False)) as srv:
        for fmt, check in checks.items():
            url = f"{srv.url}/feeds/{CATEGORY}.{fmt}"
            for name, accept in READERS.items():
                r = httpx.get(url, headers={"accept": accept} if accept else {})
                assert r.status_code == 200, name
                assert r.headers["content-type"].startswith("application/"), name
                assert r.headers["vary"] == "Accept, Accept-Encoding"
                check(r.content)
            page = httpx.get(url, headers={"accept": CHROME_ACCEPT})
            assert page.headers["content-type"] == "text/html; charset=utf-8"
            assert page.headers["vary"] == "Accept, Accept-Encoding"
            assert "<h1>Thông tin - Tuyên truyền » Tin tức hoạt động" in page.text
            assert f'data-copy="http://127.0.0.1:8080/feeds/{CATEGORY}.{fmt}"' in page.text
            again = httpx.get(
                url, headers={"accept": CHROME_ACCEPT, "if-none-match": page.headers["etag"]}
            )
            assert again.status_code == 304


@pytest.mark.parametrize("width", [1280, 375])
def test_feed_in_chromium_is_a_readable_page_with_a_working_copy_button(
    sample_app: App, live_server: Any, browser: Any, width: int
) -> None:
    SHOTS.mkdir(exist_ok=True)
    with live_server(create_app(sample_app, scheduler=False)) as srv:
        ctx = browser.new_context(
            viewport={"width": width, "height": 900},
            permissions=["clipboard-read", "clipboard-write"],
        )
        page = ctx.new_page()
        try:
            response = page.goto(f"{srv.url}/feeds/{CATEGORY}.rss")
            assert response is not None and response.status == 200
            assert response.headers["content-type"] == "text/html; charset=utf-8"
            shot = SHOTS / f"feed-{width}.png"
            page.screenshot(path=str(shot), full_page=False)
            assert shot.stat().st_size > 10_000
            assert page.locator("h1").inner_text().startswith("Thông tin - Tuyên truyền")
            items = page.locator("ol.items li")
            expected = len(sample_app.store.articles.latest(CATEGORY, 50))
            assert items.count() == expected > 0
            first = sample_app.store.articles.latest(CATEGORY, 1)[0].published_at.astimezone(
                sample_app.tz
            )
            # The local date and time (+07:00), as Vietnamese write it.
            assert items.first.locator("time").inner_text() == first.strftime("%d/%m/%Y %H:%M")
            # Nothing wider than the screen: no sideways scrolling on a phone.
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            button = page.locator("button.copy").first
            box = button.bounding_box()
            assert box is not None and box["height"] >= 44
            button.click()
            # A locator wait, not wait_for_function: the page's CSP forbids eval.
            page.locator("button.copy").first.filter(has_text="Đã").wait_for()
            copied = page.evaluate("navigator.clipboard.readText()")
            assert copied == f"http://127.0.0.1:8080/feeds/{CATEGORY}.rss"
        finally:
            ctx.close()


def test_index_links_the_digest_and_has_tap_sized_links_and_copy_buttons(
    sample_app: App, live_server: Any, browser: Any
) -> None:
    with live_server(create_app(sample_app, scheduler=False)) as srv:
        ctx = browser.new_context(
            viewport={"width": 375, "height": 800},
            permissions=["clipboard-read", "clipboard-write"],
        )
        page = ctx.new_page()
        try:
            page.goto(srv.url + "/")
            page.screenshot(path=str(SHOTS / "index-375.png"), full_page=False)
            subscribe = page.locator('.digest a[href="/subscribe"]')
            assert subscribe.count() == 1 and subscribe.is_visible()
            assert "Bản tin tuần" in page.locator(".digest h2").inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= 375
            links = page.locator("ul.feeds .fmt a")
            rows = page.locator("ul.feeds li")
            assert links.count() == 3 * rows.count()
            for i in range(links.count()):
                box = links.nth(i).bounding_box()
                assert box is not None and box["height"] >= 44 and box["width"] >= 44
            buttons = page.locator("ul.feeds button.copy")
            assert buttons.count() == rows.count()
            page.locator(f"#feed-{CATEGORY.replace('/', '--')} button.copy").click()
            page.locator("button.copy", has_text="Đã").first.wait_for()
            copied = page.evaluate("navigator.clipboard.readText()")
            assert copied == f"http://127.0.0.1:8080/feeds/{CATEGORY}.rss"

            # The search box leads to an HTML results page that offers the feed.
            page.fill("#q", "hội nghị")
            with page.expect_navigation():
                page.click("form.search button")
            assert page.url.startswith(srv.url + "/search?q=")
            page.screenshot(path=str(SHOTS / "search-375.png"), full_page=False)
            results = page.locator("ol.items li")
            assert results.count() > 0
            assert "Hội nghị" in results.first.locator("a.title").inner_text()
            feed_url = page.locator(".follow button.copy").get_attribute("data-copy")
            assert feed_url is not None and "/feeds/search.rss?q=" in feed_url
        finally:
            ctx.close()
        feed = httpx.get(srv.url + "/feeds/search.rss", params={"q": "hội nghị"})
        assert feed.headers["content-type"].startswith("application/rss+xml")
        check_rss(feed.content)
        too_long = httpx.get(srv.url + "/search", params={"q": "x" * 500})
        assert too_long.status_code == 400 and "tối đa" in too_long.text
        empty = httpx.get(srv.url + "/search")
        assert empty.status_code == 200 and "<ol" not in empty.text


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
def test_nginx_negotiates_like_tgfeed(stack: Stack) -> None:  # noqa: F811
    url = stack.url + "/feeds/all.rss"
    for name, accept in READERS.items():
        r = httpx.get(url, headers={"accept": accept, "accept-encoding": "identity"})
        assert r.content == (stack.public / "feeds/all.rss").read_bytes(), name
        assert "accept" in [v.strip().lower() for v in r.headers.get_list("vary")], name
    page = httpx.get(url, headers={"accept": CHROME_ACCEPT})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "Accept" in page.headers["vary"]
    assert "<h1>" in page.text and "Sao chép" in page.text


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
def test_nginx_sends_the_flat_opml_to_tgfeed(stack: Stack) -> None:  # noqa: F811
    nested = httpx.get(stack.url + "/feeds.opml")
    assert nested.content == (stack.public / "feeds.opml").read_bytes()
    flat = httpx.get(stack.url + "/feeds.opml", params={"flat": "leaves"})
    assert flat.status_code == 200 and flat.content != nested.content
    assert flat.content == httpx.get(stack.tgfeed_url + "/feeds.opml?flat=leaves").content
