"""Feed sources: other sites' RSS/Atom served locally, read through the crawler."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from tgfeed.app import App
from tgfeed.config import SourceConfig
from tgfeed.jobs.crawl import crawl, source_states
from tgfeed.sources.feeds import articles_from_feed, entry_id

from .conftest import FIXED_NOW
from .fixture_site import FixtureSite, Resource


def rss(items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<rss version="2.0"><channel><title>Báo Hưng Yên - Thời sự</title>'
        "<link>https://baohungyen.vn/</link><description>Tin</description>"
        f"{items}</channel></rss>"
    ).encode()


ITEM_1 = """<item><title>Tỉnh ủy Hưng Yên triển khai nhiệm vụ năm 2027</title>
<link>https://baohungyen.vn/thoi-su/tinh-uy-trien-khai-1.html</link>
<guid isPermaLink="false">bhy-1</guid>
<pubDate>Tue, 24 Nov 2026 08:15:00 +0700</pubDate>
<author>tuyengiao@hungyen.dcs.vn (Minh Anh)</author>
<description>&lt;p onclick="x()"&gt;Sáng 24/11, &lt;b&gt;Tỉnh ủy&lt;/b&gt; họp.&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;&lt;p&gt;&lt;a href="/chi-tiet"&gt;Xem&lt;/a&gt; &lt;a href="javascript:alert(1)"&gt;x&lt;/a&gt;&lt;/p&gt;</description>
</item>"""
ITEM_2 = """<item><title>Hội nghị giao ban khối dân vận</title>
<link>https://baohungyen.vn/thoi-su/giao-ban-2.html</link>
<pubDate>Wed, 25 Nov 2026 01:00:00 GMT</pubDate>
<description>Nội dung giao ban.</description>
</item>"""
ITEM_NO_DATE = """<item><title>Bài không có ngày</title><guid>bhy-3</guid>
<link>https://baohungyen.vn/thoi-su/khong-ngay-3.html</link><description>Ba</description></item>"""
ITEM_BAD = """<item><description>no title, no link, no guid</description></item>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Cổng TTĐT tỉnh</title>
<id>urn:uuid:feed</id><updated>2026-11-26T10:00:00+07:00</updated>
<entry><id>tag:hungyen.gov.vn,2026:news/77</id><title type="html">Kỳ họp &lt;b&gt;thứ 20&lt;/b&gt; HĐND tỉnh</title>
<link rel="alternate" href="https://hungyen.gov.vn/tin/77"/>
<published>2026-11-26T09:30:00+07:00</published><updated>2026-11-26T10:00:00+07:00</updated>
<content type="html">&lt;p&gt;Khai mạc kỳ họp.&lt;/p&gt;&lt;iframe src="https://evil"&gt;&lt;/iframe&gt;</content>
</entry></feed>""".encode()


def feed_source(url: str, name: str = "baohungyen", category: str = '["Tin báo tỉnh"]') -> str:
    return (
        f'\n[[sources]]\nname = "{name}"\nkind = "feed"\nurl = "{url}"\n'
        f"category = {category}\nallow_private = true\ndelay = 0\ntimeout = 2\nbackoff = 0.01\n"
    )


def test_feed_entries_become_articles_and_a_reread_changes_nothing(
    app_factory: Callable[..., App],
) -> None:
    with FixtureSite() as site:
        site.add(
            "/rss/thoi-su.rss",
            Resource(
                rss(ITEM_1 + ITEM_2 + ITEM_NO_DATE + ITEM_BAD),
                content_type="application/rss+xml; charset=utf-8",
            ),
        )
        app = app_factory(feed_source(f"{site.url}/rss/thoi-su.rss"))
        result = asyncio.run(crawl(app))["baohungyen"]
        assert result.counts == {"added": 3, "updated": 0, "unchanged": 0, "failed": 1}
        assert "neither a guid/id nor a link" in (result.failures[0].reason or "")

        first_id = entry_id("baohungyen", "bhy-1", "tuyengiaohungyen.vn")
        assert first_id.startswith("tag:tuyengiaohungyen.vn,2018:feed/baohungyen/")
        art = app.store.articles.get(first_id)
        assert art is not None
        assert art.title == "Tỉnh ủy Hưng Yên triển khai nhiệm vụ năm 2027"
        assert art.url == "https://baohungyen.vn/thoi-su/tinh-uy-trien-khai-1.html"
        assert art.category == ("Tin báo tỉnh",)
        assert art.published_at == datetime(2026, 11, 24, 1, 15, tzinfo=UTC)
        assert "script" not in art.body_html and "onclick" not in art.body_html
        assert "javascript:" not in art.body_html
        assert 'href="https://baohungyen.vn/chi-tiet"' in art.body_html
        assert "<b>Tỉnh ủy</b>" in art.body_html
        assert art.body_text.startswith("Sáng 24/11, Tỉnh ủy họp.")
        # No guid: the link is the identity. No date: first seen (the clock).
        assert (
            app.store.articles.get(
                entry_id(
                    "baohungyen",
                    "https://baohungyen.vn/thoi-su/giao-ban-2.html",
                    "tuyengiaohungyen.vn",
                )
            )
            is not None
        )
        undated = app.store.articles.get(entry_id("baohungyen", "bhy-3", "tuyengiaohungyen.vn"))
        assert undated is not None and undated.published_at == FIXED_NOW

        # Unchanged feed → 304, nothing parsed, nothing recorded as new.
        site.clear_log()
        again = asyncio.run(crawl(app))["baohungyen"]
        assert again.counts == {"added": 0, "updated": 0, "unchanged": 0, "failed": 0}
        assert [h.status for h in site.hits_for("/rss/thoi-su.rss")] == [304]

        # An edited entry updates its article; the undated one keeps its first-seen date.
        edited = ITEM_1.replace("họp.", "họp phiên thường kỳ.")
        site.add("/rss/thoi-su.rss", rss(edited + ITEM_2 + ITEM_NO_DATE))
        third = asyncio.run(crawl(app))["baohungyen"]
        assert third.counts == {"added": 0, "updated": 1, "unchanged": 2, "failed": 0}
        art = app.store.articles.get(first_id)
        assert art is not None and "phiên thường kỳ" in art.body_text
        undated = app.store.articles.get(entry_id("baohungyen", "bhy-3", "tuyengiaohungyen.vn"))
        assert undated is not None and undated.published_at == FIXED_NOW
        assert app.store.articles.count() == 3


def test_atom_feed_html_title_and_dates() -> None:
    source = SourceConfig(name="cong-ttdt", kind="feed", url="https://hungyen.gov.vn/rss")
    items = articles_from_feed(
        ATOM,
        source,
        url="https://hungyen.gov.vn/rss",
        site_url="https://tuyengiaohungyen.vn",
        now=FIXED_NOW,
    )
    [(label, art)] = items
    assert label == "https://hungyen.gov.vn/tin/77"
    assert not isinstance(art, Exception)
    assert art.title == "Kỳ họp thứ 20 HĐND tỉnh"
    assert art.category == ("Cổng TTĐT tỉnh",)  # no category configured: the feed's title
    assert art.published_at == datetime(2026, 11, 26, 2, 30, tzinfo=UTC)
    assert art.updated_at == datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
    assert art.body_html == "<p>Khai mạc kỳ họp.</p>"


def test_not_a_feed_is_a_source_failure(app_factory: Callable[..., App]) -> None:
    with FixtureSite() as site:
        site.add("/rss", "<html><body>Trang chủ</body></html>")
        app = app_factory(feed_source(f"{site.url}/rss") + feed_source(f"{site.url}/gone", "gone"))
        results = asyncio.run(crawl(app))
        assert "not an RSS or Atom feed" in (results["baohungyen"].failures[0].reason or "")
        assert "HTTP 404" in (results["gone"].failures[0].reason or "")
        states = {s.name: s for s in source_states(app)}
        assert states["baohungyen"].consecutive_failures == 1
        assert states["gone"].last_error is not None and "HTTP 404" in states["gone"].last_error
