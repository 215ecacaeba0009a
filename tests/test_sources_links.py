"""The crawler's pure helpers: links of a page, Crawl-delay, bytes → text."""

from __future__ import annotations

import unicodedata

from tgfeed.sources.links import crawl_delay, extract_links, page_text

from .fixture_site import article_html, to_cp1258


def test_extract_links_absolute_unique_http_only() -> None:
    html = (
        '<base href="https://tuyengiaohungyen.vn/chuyen-muc/">'
        '<a href="../bai-viet/a-1.aspx#top">a</a><a href="/bai-viet/a-1.aspx">again</a>'
        "<a href=\"javascript:__doPostBack('p','2')\">2</a><a href=\"mailto:x@y.vn\">m</a>"
        '<a href="https://www.tuyengiaohungyen.vn/bai-viet/b-2.aspx">b</a><a>no href</a>'
        '<link rel="next" href="tin.aspx?page=2"><a href="http://[bad">x</a>'
    )
    assert extract_links(html, "https://example.org/") == [
        "https://tuyengiaohungyen.vn/bai-viet/a-1.aspx",
        "https://www.tuyengiaohungyen.vn/bai-viet/b-2.aspx",
        "https://tuyengiaohungyen.vn/chuyen-muc/tin.aspx?page=2",
    ]


def test_crawl_delay_prefers_our_group_and_allows_fractions() -> None:
    robots = (
        "User-agent: Googlebot\nCrawl-delay: 9\n\n"
        "User-agent: *\nDisallow: /admin\nCrawl-delay: 2.5\n\n"
        "User-agent: tgfeed\nUser-agent: other\nCrawl-delay: 0.5 # ours\n"
    )
    assert crawl_delay(robots, "tgfeed") == 0.5
    assert crawl_delay(robots, "somebot") == 2.5
    assert crawl_delay("User-agent: *\nDisallow: /\n", "tgfeed") is None
    assert crawl_delay("User-agent: *\nCrawl-delay: soon\n", "tgfeed") is None


def test_page_text_decodes_windows_1258_and_mislabels_to_nfc() -> None:
    title = "Đẩy mạnh học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh"
    raw = to_cp1258(article_html(title, charset="windows-1258"))
    assert title not in raw.decode("cp1258")  # tone marks really are separate characters
    for declared in ("windows-1258", "utf-8", None):
        text = unicodedata.normalize("NFC", page_text(raw, declared))
        assert title in text
    utf8 = article_html(title).encode()
    assert title in page_text(utf8, "iso-8859-1")  # valid UTF-8 wins over a wrong label
