"""Serving feeds through a real uvicorn server on 127.0.0.1 (httpx), and the
index page in a real Chromium (Playwright)."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import socket
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import feedparser
import httpx
import pytest

from tests.feeds_support import check_atom, check_json, check_rss
from tgfeed.app import App
from tgfeed.jobs.feeds import build_feeds
from tgfeed.web.server import create_app

IDENTITY = {"accept-encoding": "identity"}
CATEGORY = "chinh-tri-xa-hoi/tin-tuc-trong-tinh"


def raw_get(url: str, target: str) -> tuple[int, bytes]:
    """Send ``target`` byte for byte (no client-side normalisation of ``..``)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


def test_conditional_get_gzip_head_and_media_types(sample_app: App, live_server: Any) -> None:
    with (
        live_server(create_app(sample_app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url) as c,
    ):
        for fmt, ctype, check in (
            ("rss", "application/rss+xml; charset=utf-8", check_rss),
            ("atom", "application/atom+xml; charset=utf-8", check_atom),
            ("json", "application/feed+json; charset=utf-8", check_json),
        ):
            r = c.get(f"/feeds/{CATEGORY}.{fmt}", headers=IDENTITY)
            assert r.status_code == 200 and r.headers["content-type"] == ctype
            check(r.content)
            etag = r.headers["etag"]
            # Strong ETag: the hash of exactly these bytes.
            digest = hashlib.blake2b(r.content, digest_size=16).hexdigest()
            assert etag == f'"{digest}"'
            assert r.headers["cache-control"] == "public, max-age=300"
            assert r.headers["vary"] == "Accept, Accept-Encoding"  # page or feed by Accept
            # Last-Modified: when these bytes were first served (the app's clock),
            # not the newest article's date.
            first = parsedate_to_datetime(r.headers["last-modified"])
            assert first == sample_app.now().replace(microsecond=0)

            again = c.get(f"/feeds/{CATEGORY}.{fmt}", headers={**IDENTITY, "if-none-match": etag})
            assert again.status_code == 304 and again.content == b""
            assert again.headers["etag"] == etag

        r = c.get("/feeds/all.atom", headers=IDENTITY)
        body, etag, lm = r.content, r.headers["etag"], r.headers["last-modified"]
        assert c.get("/feeds/all.atom", headers={"if-modified-since": lm}).status_code == 304
        earlier = format_datetime(parsedate_to_datetime(lm) - timedelta(seconds=1), usegmt=True)
        assert c.get("/feeds/all.atom", headers={"if-modified-since": earlier}).status_code == 200
        # If-None-Match is checked first: a stale tag wins over a matching date.
        both = {"if-none-match": '"stale"', "if-modified-since": lm}
        assert c.get("/feeds/all.atom", headers=both).status_code == 200
        weak = c.get("/feeds/all.atom", headers={**IDENTITY, "if-none-match": f"W/{etag}"})
        assert weak.status_code == 304

        # gzip when accepted: precompressed, its own ETag, same content.
        with httpx.stream(
            "GET", srv.url + "/feeds/all.atom", headers={"accept-encoding": "gzip"}
        ) as z:
            raw = b"".join(z.iter_raw())
            assert z.headers["content-encoding"] == "gzip"
            assert gzip.decompress(raw) == body and len(raw) < len(body) / 2
            gz_etag = z.headers["etag"]
        assert gz_etag != etag
        gz304 = c.get(
            "/feeds/all.atom", headers={"accept-encoding": "gzip", "if-none-match": gz_etag}
        )
        assert gz304.status_code == 304
        assert (
            c.get("/feeds/all.atom", headers={"accept-encoding": "gzip;q=0"}).headers.get(
                "content-encoding"
            )
            is None
        )

        head = c.head("/feeds/all.atom", headers=IDENTITY)
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == len(body)
        assert head.headers["etag"] == etag

        opml = c.get("/feeds.opml")
        assert opml.status_code == 200
        assert opml.headers["content-type"] == "text/x-opml; charset=utf-8"
        assert (
            c.get("/feeds.opml", headers={"if-none-match": opml.headers["etag"]}).status_code == 304
        )

        index = c.get("/")
        assert index.status_code == 200 and "text/html" in index.headers["content-type"]
        assert "content-security-policy" in index.headers
        assert c.get("/", headers={"if-none-match": index.headers["etag"]}).status_code == 304


def test_404_and_path_traversal(sample_app: App, live_server: Any) -> None:
    with (
        live_server(create_app(sample_app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url) as c,
    ):
        r = c.get("/feeds/khong-co-chuyen-muc-nay.rss")
        assert r.status_code == 404 and "text/html" in r.headers["content-type"]
        assert "Không tìm thấy nguồn tin" in r.text
        assert c.get("/feeds/all.xml").status_code == 404
        assert c.get("/feeds/ALL.rss").status_code == 404
        assert c.head("/feeds/khong-co.rss").status_code == 404
        for target in (
            "/feeds/../../../../etc/passwd",
            "/feeds/../../../../etc/passwd.rss",
            "/feeds/%2e%2e/%2e%2e/%2e%2e/etc/passwd.rss",
            "/feeds/..%2f..%2f..%2fetc%2fpasswd.rss",
            "/feeds/chinh-tri-xa-hoi/..%2f..%2fconfig.toml.rss",
            "/feeds/%2fetc%2fpasswd.rss",
            "/feeds/..\\..\\etc\\passwd.rss",
        ):
            status, data = raw_get(srv.url, target)
            assert status in (400, 404), (target, status)
            assert b"root:" not in data and b"[store]" not in data


def test_search_feeds(sample_app: App, live_server: Any) -> None:
    with (
        live_server(create_app(sample_app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url) as c,
    ):
        r = c.get("/feeds/search.json", params={"q": "hội nghị"})
        assert r.status_code == 200
        feed = check_json(r.content)
        assert feed["title"].startswith("Tìm kiếm “hội nghị”")
        assert feed["feed_url"].endswith("/feeds/search.json?q=h%E1%BB%99i%20ngh%E1%BB%8B")
        items = feed["items"]
        assert items
        # Exact-tone matches come first.
        exact = [
            "hội nghị" in (i["title"] + i.get("summary", "") + i["content_html"]).casefold()
            for i in items
        ]
        assert exact[0] and exact == sorted(exact, reverse=True)
        # Diacritic-insensitive: "hoi nghi" finds the same articles.
        plain = check_json(c.get("/feeds/search.json", params={"q": "HOI  nghi"}).content)
        assert {i["id"] for i in plain["items"]} == {i["id"] for i in items}
        rss = c.get("/feeds/search.rss", params={"q": "hội nghị"})
        parsed = feedparser.parse(rss.content)
        assert parsed.bozo == 0 and [e.id for e in parsed.entries] == [i["id"] for i in items]
        again = c.get(
            "/feeds/search.rss",
            params={"q": "Hội  Nghị"},
            headers={"if-none-match": rss.headers["etag"]},
        )
        assert again.status_code == 304  # same normalised query, same cached feed
        assert c.get("/feeds/search.rss").status_code == 400
        assert c.get("/feeds/search.rss", params={"q": "   "}).status_code == 400
        long = c.get("/feeds/search.rss", params={"q": "a" * 101})
        assert long.status_code == 400 and "Từ khóa quá dài" in long.text
        assert c.get("/feeds/search.xml", params={"q": "x"}).status_code == 404
        nothing = check_rss(c.get("/feeds/search.rss", params={"q": "zzzkhongco"}).content)
        assert nothing.findall("channel/item") == []


def test_search_results_are_capped_by_the_config(sample_app: App, live_server: Any) -> None:
    feeds = sample_app.config.feeds.model_copy(update={"search_max_results": 3})
    sample_app = sample_app.with_config(sample_app.config.model_copy(update={"feeds": feeds}))
    assert len(sample_app.store.articles.search("hội nghị", limit=50)) > 3
    with live_server(create_app(sample_app, scheduler=False)) as srv:
        r = httpx.get(srv.url + "/feeds/search.atom", params={"q": "hội nghị"})
        assert len(feedparser.parse(r.content).entries) == 3


def test_cache_renders_once_per_store_version(sample_app: App, live_server: Any) -> None:
    pub = sample_app.publisher
    with (
        live_server(create_app(sample_app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url) as c,
    ):
        first = {p: c.get(p).headers["etag"] for p in ("/feeds/all.rss", f"/feeds/{CATEGORY}.rss")}
        renders = pub.cache.renders
        for _ in range(20):
            assert c.get("/feeds/all.rss").headers["etag"] == first["/feeds/all.rss"]
        assert pub.cache.renders == renders  # no re-render per request

        # A new article in another category: the all-feed changes, the category
        # feed is re-checked once and keeps its bytes and ETag.
        newest = sample_app.store.articles.latest("thong-bao", 1)[0]
        fresh = dataclasses.replace(
            newest,
            id="tag:tuyengiaohungyen.vn,2018:bai-viet/8888",
            url="https://tuyengiaohungyen.vn/bai-viet/moi-8888.aspx",
            title="Tin mới nhất",
            published_at=newest.published_at + timedelta(days=2),
        )
        sample_app.store.articles.upsert([fresh], now=sample_app.now())
        r = c.get("/feeds/all.rss")
        assert r.headers["etag"] != first["/feeds/all.rss"]
        assert feedparser.parse(r.content).entries[0].title == "Tin mới nhất"
        assert c.get(f"/feeds/{CATEGORY}.rss").headers["etag"] == first[f"/feeds/{CATEGORY}.rss"]
        assert pub.cache.renders == renders + 1


def test_rebuild_with_unchanged_data_serves_the_same_etags(
    sample_app: App, live_server: Any
) -> None:
    out = build_feeds(sample_app).output_dir
    with (
        live_server(create_app(sample_app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url, headers=IDENTITY) as c,
    ):
        before = {
            fmt: c.get(f"/feeds/all.{fmt}").headers["etag"] for fmt in ("rss", "atom", "json")
        }
        mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
        again = build_feeds(sample_app)
        assert again.written == 0 and again.removed == 0
        assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == mtimes
        for fmt, etag in before.items():
            assert c.get(f"/feeds/all.{fmt}").headers["etag"] == etag
            digest = hashlib.blake2b((out / f"feeds/all.{fmt}").read_bytes(), digest_size=16)
            assert etag == f'"{digest.hexdigest()}"'


def test_cache_control_comes_from_the_config(sample_app: App, live_server: Any) -> None:
    feeds = sample_app.config.feeds.model_copy(update={"cache_control": "public, max-age=60"})
    sample_app = sample_app.with_config(sample_app.config.model_copy(update={"feeds": feeds}))
    with live_server(create_app(sample_app, scheduler=False)) as srv:
        r = httpx.get(srv.url + "/feeds/all.json")
        assert r.headers["cache-control"] == "public, max-age=60"


@pytest.mark.browser
def test_browser_finds_autodiscovery_links_and_follows_a_feed(
    sample_app: App, live_server: Any, browser: Any
) -> None:
    with live_server(create_app(sample_app, scheduler=False)) as srv:
        page = browser.new_page()
        try:
            response = page.goto(srv.url + "/")
            assert response is not None and response.status == 200
            assert "Nguồn tin" in page.title()
            alternates = page.locator('head link[rel="alternate"]')
            found = [
                (alternates.nth(i).get_attribute("type"), alternates.nth(i).get_attribute("href"))
                for i in range(alternates.count())
            ]
            assert ("application/rss+xml", "/feeds/all.rss") in found
            assert ("application/atom+xml", "/feeds/all.atom") in found
            assert ("application/feed+json", "/feeds/all.json") in found
            for top in ("chinh-tri-xa-hoi", "thong-bao", "thong-tin-tuyen-truyen", "xay-dung-dang"):
                assert ("application/rss+xml", f"/feeds/{top}.rss") in found
            assert page.locator('link[rel="outline"]').get_attribute("href") == "/feeds.opml"
            # Every autodiscovered feed answers and parses.
            for ctype, href in found:
                got = page.request.get(srv.url + href)
                assert got.status == 200 and got.headers["content-type"].startswith(ctype)
            # Follow the RSS link of one category from the visible tree.
            link = page.locator('#feed-chinh-tri-xa-hoi--tin-tuc-trong-tinh a[data-format="rss"]')
            with page.expect_navigation() as nav:
                link.click()
            followed = nav.value
            assert followed is not None and followed.status == 200
            assert page.url == f"{srv.url}/feeds/{CATEGORY}.rss"
            # A person following the link gets the readable page of the feed (issue 13);
            # the same URL without a browser's Accept header is the feed.
            assert followed.headers["content-type"] == "text/html; charset=utf-8"
            assert "Tin tức trong tỉnh" in page.content()
            check_rss(page.request.get(page.url).body())
        finally:
            page.close()
