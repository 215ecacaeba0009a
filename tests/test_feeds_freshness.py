"""Feeds that real readers never get wrong (issue 13): Last-Modified is when the
bytes last changed (served and built), one id per article whatever path brought
it in, retractions as RFC 6721 tombstones, WebSub publish pings to a local hub."""

from __future__ import annotations

import asyncio
import json
import threading
import xml.etree.ElementTree as StdET
from collections.abc import Callable, Iterator
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import feedparser
import httpx
import lxml.etree as ET
import pytest
from click.testing import CliRunner

from tgfeed.app import App, build_app
from tgfeed.cli import cli
from tgfeed.config import loads
from tgfeed.feeds.catalog import ALL_FEED
from tgfeed.feeds.publish import Publisher
from tgfeed.ids import is_valid_tag
from tgfeed.importers import article_from_record
from tgfeed.jobs.crawl import crawl
from tgfeed.jobs.feeds import build_feeds
from tgfeed.jobs.ingest import import_paths
from tgfeed.store.feedstate import FeedState
from tgfeed.store.idmigration import id_changes
from tgfeed.web import create_app
from tgfeed.websub import notify_hub

from .conftest import SAMPLES, FixedClock
from .feeds_support import check_atom
from .fixture_site import FixtureSite, Resource, article_html, listing_html
from .test_deploy_nginx import NGINX, Stack, stack  # noqa: F401  (the nginx fixture)

TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"
IDENTITY = {"accept-encoding": "identity"}
TOKEN = "s3cr3t-token-for-freshness"


def make_app(
    tmp_path: Path, clock: FixedClock, *, site: str = "", feeds: str = "", extra: str = ""
) -> App:
    """An App over tmp_path with its own [site]/[feeds] lines (the shared config
    helper has its own [feeds] table)."""
    path = tmp_path / "config.toml"
    path.write_text(
        '[store]\npath = "data/tgfeed.db"\n'
        f"[site]\n{site}\n"
        f'[feeds]\noutput_dir = "public"\n{feeds}\n'
        '[mail]\noutbox_dir = "outbox"\n' + extra,
        encoding="utf-8",
    )
    return build_app(loads(path.read_bytes(), source=path), clock=clock)


def back_dated(app: App, n: int, days_ago: int = 5) -> Any:
    """An article published well before the newest one in the store."""
    when = app.now() - timedelta(days=days_ago)
    rec = {
        "url": f"{app.config.site.url}/bai-viet/bai-dang-muon-{n}-{7000 + n}.aspx",
        "title": f"Bài đăng muộn số {n}",
        "category": ["Thông tin - Tuyên truyền", "Tin tức hoạt động"],
        "published": when.isoformat(),
        "body_text": "Một bài được đăng muộn với ngày cũ.",
    }
    return article_from_record(rec, "test", app.config.site.url, app.tz)


# -- 1. Last-Modified --------------------------------------------------------------


def test_served_last_modified_is_when_the_bytes_changed(
    sample_app: App, clock: FixedClock, live_server: Callable[[Any], Any]
) -> None:
    app = sample_app
    with (
        live_server(create_app(app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url, headers=IDENTITY) as c,
    ):
        first = c.get("/feeds/all.rss")
        lm1, etag1 = first.headers["last-modified"], first.headers["etag"]
        # Unchanged: 304 by either validator.
        assert c.get("/feeds/all.rss", headers={"if-modified-since": lm1}).status_code == 304
        assert c.get("/feeds/all.rss", headers={"if-none-match": etag1}).status_code == 304

        # A new article with an old date: an If-Modified-Since-only client gets it.
        clock.advance(120)
        art = back_dated(app, 1)
        app.store.upsert([art], now=app.now())
        r = c.get("/feeds/all.rss", headers={"if-modified-since": lm1})
        assert r.status_code == 200 and art.id.encode() in r.content
        lm2 = r.headers["last-modified"]
        assert parsedate_to_datetime(lm2) == app.now().replace(microsecond=0)
        assert parsedate_to_datetime(lm2) > parsedate_to_datetime(lm1)

        # Unpublishing the newest article: the date moves forward, never back.
        newest = app.store.latest(None, 1)[0]
        clock.advance(60)
        assert app.store.unpublish(newest.id, now=app.now())
        r = c.get("/feeds/all.rss", headers={"if-modified-since": lm2})
        assert r.status_code == 200 and newest.id.encode() not in r.content
        lm3 = r.headers["last-modified"]
        assert parsedate_to_datetime(lm3) > parsedate_to_datetime(lm2)
        old_date = format_datetime(newest.published_at, usegmt=True)
        assert c.get("/feeds/all.rss", headers={"if-modified-since": old_date}).status_code == 200


def test_conditional_get_bad_input_gets_the_full_feed(
    sample_app: App, live_server: Callable[[Any], Any]
) -> None:
    with (
        live_server(create_app(sample_app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url, headers=IDENTITY) as c,
    ):
        r = c.get("/feeds/all.atom")
        lm, etag = r.headers["last-modified"], r.headers["etag"]
        future = format_datetime(sample_app.now() + timedelta(days=30), usegmt=True)
        for headers in (
            {"if-modified-since": "yesterday, around noon"},
            {"if-modified-since": "Mon, 99 Foo 2026 25:61:00 GMT"},
            {"if-modified-since": future},  # a date in the future is not a validator
            {"if-modified-since": "Thu, 01 Jan 1970 00:00:00 GMT"},
            {"if-none-match": '"stale"', "if-modified-since": lm},  # If-None-Match wins
            {"if-none-match": "", "if-modified-since": lm},
        ):
            got = c.get("/feeds/all.atom", headers=headers)
            assert got.status_code == 200, headers
            assert got.content == r.content
        assert c.get("/feeds/all.atom", headers={"if-none-match": etag}).status_code == 304
        assert c.get("/feeds/all.atom", headers={"if-modified-since": lm}).status_code == 304


def test_build_sets_mtime_and_serve_agrees(
    sample_app: App, clock: FixedClock, tmp_path: Path, live_server: Callable[[Any], Any]
) -> None:
    build_feeds(sample_app)
    rss = tmp_path / "public" / "feeds" / "all.rss"
    with live_server(create_app(sample_app, scheduler=False)) as srv:
        served = httpx.get(srv.url + "/feeds/all.rss", headers=IDENTITY)
    assert served.content == rss.read_bytes()
    assert parsedate_to_datetime(served.headers["last-modified"]).timestamp() == rss.stat().st_mtime

    # A rebuild with the same bytes keeps the mtime even when the clock moved.
    clock.advance(3600)
    mtime = rss.stat().st_mtime_ns
    sample_app.store.upsert([back_dated(sample_app, 2, days_ago=400)], now=sample_app.now())
    build_feeds(sample_app)  # the article is too old for all.rss's 50 items
    assert rss.stat().st_mtime_ns == mtime
    atom = tmp_path / "public" / "feeds" / "all.atom"
    assert atom.stat().st_mtime_ns == mtime


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
def test_nginx_serves_built_files_with_the_same_dates(
    stack: Stack,  # noqa: F811
    sample_app: App,
    clock: FixedClock,
) -> None:
    with httpx.Client(base_url=stack.url, headers=IDENTITY) as c:
        r = c.get("/feeds/all.rss")
        lm1 = r.headers["last-modified"]
        tg = httpx.get(stack.tgfeed_url + "/feeds/all.rss", headers=IDENTITY)
        assert tg.content == r.content
        assert tg.headers["last-modified"] == lm1  # nginx and tgfeed serve agree
        assert c.get("/feeds/all.rss", headers={"if-modified-since": lm1}).status_code == 304
        etag = r.headers["etag"]
        assert c.get("/feeds/all.rss", headers={"if-none-match": etag}).status_code == 304

        clock.advance(300)
        art = back_dated(sample_app, 3)
        sample_app.store.upsert([art], now=sample_app.now())
        build_feeds(sample_app)
        r = c.get("/feeds/all.rss", headers={"if-modified-since": lm1})
        assert r.status_code == 200 and art.id.encode() in r.content
        lm2 = r.headers["last-modified"]
        assert parsedate_to_datetime(lm2) > parsedate_to_datetime(lm1)

        newest = sample_app.store.latest(None, 1)[0]
        clock.advance(300)
        sample_app.store.unpublish(newest.id, now=sample_app.now())
        build_feeds(sample_app)
        r = c.get("/feeds/all.rss", headers={"if-modified-since": lm2})
        assert r.status_code == 200 and newest.id.encode() not in r.content
        old = format_datetime(newest.published_at, usegmt=True)
        assert c.get("/feeds/all.rss", headers={"if-modified-since": old}).status_code == 200


# -- 2. one id per article -----------------------------------------------------------


def _site_with(site: FixtureSite, path: str, title: str) -> None:
    site.add("/robots.txt", "User-agent: *\nAllow: /\n")
    site.add("/chuyen-muc/tin.aspx", listing_html("Tin tức", [(path, title)]))
    site.add(path, article_html(title))


def _crawl_toml(site: FixtureSite) -> str:
    return (
        '\n[[sources]]\nname = "site"\nkind = "site"\n'
        f'listing_urls = ["{site.url}/chuyen-muc/tin.aspx"]\n'
        "allow_private = true\ndelay = 0\ntimeout = 2\nretries = 0\nrobots = false\n"
        '\n[web]\napi_token_env = "TGFEED_TEST_API_TOKEN"\n'
    )


@pytest.mark.parametrize("order", ["push-then-crawl", "crawl-then-push"])
def test_push_and_crawl_of_one_url_are_one_article(
    order: str,
    tmp_path: Path,
    clock: FixedClock,
    live_server: Callable[[Any], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TGFEED_TEST_API_TOKEN", TOKEN)
    path = "/bai-viet/hoi-nghi-tap-huan-3609.aspx"
    with FixtureSite() as site:
        _site_with(site, path, "Hội nghị tập huấn nghiệp vụ")
        port = site.url.rsplit(":", 1)[1]
        # Capitals and a port in site.url; the crawler reaches it as 127.0.0.1.
        app = make_app(
            tmp_path, clock, site=f'url = "http://LocalHost:{port}"', extra=_crawl_toml(site)
        )
        assert app.config.site.url == f"http://localhost:{port}"
        push = {
            "url": f"http://LocalHost:{port}{path}",
            "title": "Hội nghị tập huấn nghiệp vụ",
            "category": ["Thông tin - Tuyên truyền", "Tin tức hoạt động"],
            "published": "2026-11-24T14:15:40+07:00",
            "body_text": "Nội dung từ CMS.",
        }
        with live_server(create_app(app, scheduler=False)) as srv:

            def do_push() -> str:
                r = httpx.post(
                    f"{srv.url}/api/articles",
                    json=push,
                    headers={"Authorization": f"Bearer {TOKEN}"},
                )
                assert r.status_code == 200, r.text
                return str(r.json()["results"][0]["id"])

            def do_crawl() -> None:
                results = asyncio.run(crawl(app, "site"))
                assert results["site"].count("failed") == 0, results["site"].failures

            if order == "push-then-crawl":
                pushed = do_push()
                do_crawl()
            else:
                do_crawl()
                pushed = do_push()
        assert pushed == "tag:localhost,2018:bai-viet/3609"
        assert is_valid_tag(pushed)
        assert app.store.count() == 1
        assert [a.id for a in app.store.latest(None, 10)] == [pushed]
        app.close()


def test_every_ingest_path_makes_the_same_rfc4151_id(tmp_path: Path, clock: FixedClock) -> None:
    site = "https://User@TuyenGiaoHungYen.VN:8443"
    url = "https://tuyengiaohungyen.vn:8443/bai-viet/tin-tức-hội-nghị-3610.aspx"
    app = make_app(tmp_path, clock, site=f'url = "{site}"')
    assert app.config.site.url == "https://tuyengiaohungyen.vn:8443"
    rec = {
        "url": url,
        "title": "Tin",
        "category": ["A"],
        "published": "2026-11-24T14:15:40+07:00",
        "body_text": "x",
    }
    jsonl = article_from_record(rec, "jsonl", app.config.site.url)
    explicit = article_from_record(
        {**rec, "id": "tag:TuyenGiaoHungYen.vn:8443,2018:bai-viet/3610"}, "csv", site
    )
    assert jsonl.id == explicit.id == "tag:tuyengiaohungyen.vn,2018:bai-viet/3610"
    slug_only = article_from_record({**rec, "url": url.replace("-3610", "")}, "x", site)
    assert is_valid_tag(slug_only.id) and "%E1%BB%A9" in slug_only.id  # "ứ", percent-encoded
    app.close()


def test_old_shape_ids_are_migrated_and_duplicates_merged(
    tmp_path: Path, clock: FixedClock
) -> None:
    app = make_app(tmp_path, clock, site='url = "http://127.0.0.1:45395"')
    base = back_dated(app, 4)
    new_id = "tag:127.0.0.1,2018:bai-viet/7004"
    assert base.id == new_id
    import dataclasses

    older = dataclasses.replace(base, id="tag:127.0.0.1:45395,2018:bai-viet/7004", title="Cũ")
    lonely = dataclasses.replace(
        back_dated(app, 5), id="tag:127.0.0.1:45395,2018:bai-viet/7005", title="Chỉ một"
    )
    app.store.upsert([older, lonely], now=app.now())
    clock.advance(60)
    app.store.upsert([dataclasses.replace(base, title="Mới")], now=app.now())
    # An existing store from before: forget that its ids were already checked.
    app.store.db.execute("DELETE FROM feedstate_meta")
    app.close()

    app = make_app(tmp_path, clock, site='url = "http://127.0.0.1:45395"')
    ids = sorted(a.id for a in app.store.latest(None, 10))
    assert ids == [new_id, "tag:127.0.0.1,2018:bai-viet/7005"]
    kept = app.store.get(new_id)
    assert kept is not None and kept.title == "Mới"  # the newest content won
    outcomes = {(c.old_id, c.outcome) for c in id_changes(FeedState(app.store))}
    assert outcomes == {
        ("tag:127.0.0.1:45395,2018:bai-viet/7004", "merged-dropped"),
        ("tag:127.0.0.1:45395,2018:bai-viet/7005", "renamed"),
    }
    out = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "config.toml"), "articles", "migrate-ids"]
    )
    assert out.exit_code == 0 and "merged-dropped: tag:127.0.0.1:45395" in out.output
    app.close()


# -- 4. retractions --------------------------------------------------------------------


def test_retraction_is_an_atom_tombstone_and_leaves_rss_and_json(
    sample_app: App,
    clock: FixedClock,
    tmp_path: Path,
    live_server: Callable[[Any], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = sample_app
    victim = app.store.latest("thong-tin-tuyen-truyen", 1)[0]
    monkeypatch.setenv("TGFEED_TEST_API_TOKEN", TOKEN)
    # The API needs its token in the config: a second App over the same store.
    path = tmp_path / "config.toml"
    path.write_text(
        path.read_text(encoding="utf-8") + '\n[web]\napi_token_env = "TGFEED_TEST_API_TOKEN"\n',
        encoding="utf-8",
    )
    api_app = build_app(loads(path.read_bytes(), source=path), clock=clock)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    clock.advance(30)
    with live_server(create_app(api_app, scheduler=False)) as srv:
        url = f"{srv.url}/api/articles/{victim.id}"
        r = httpx.delete(url, params={"reason": "Thông tin chưa chính xác"}, headers=auth)
        assert r.status_code == 204
        assert httpx.delete(url, headers=auth).status_code == 204  # idempotent
        unknown = httpx.delete(f"{srv.url}/api/articles/tag:x,2018:khong-co", headers=auth)
        assert unknown.status_code == 404 and "no article" in unknown.json()["error"]
        feeds = {
            fmt: httpx.get(f"{srv.url}/feeds/thong-tin-tuyen-truyen.{fmt}").content
            for fmt in ("atom", "rss", "json")
        }
    api_app.close()

    root = check_atom(feeds["atom"])
    tombs = root.findall(f"{{{TOMBSTONES_NS}}}deleted-entry")
    assert [t.get("ref") for t in tombs] == [victim.id]
    when = tombs[0].get("when")
    assert when == app.now().astimezone(app.tz).replace(microsecond=0).isoformat()
    comment = tombs[0].find(f"{{{TOMBSTONES_NS}}}comment")
    assert comment is not None and comment.text == "Thông tin chưa chính xác"
    link = tombs[0].find(f"{{{ATOM_NS}}}link")
    assert link is not None and link.get("href") == victim.url
    assert victim.id not in {
        e.findtext(f"{{{ATOM_NS}}}id") for e in root.iter(f"{{{ATOM_NS}}}entry")
    }
    # feedparser and the standard library's parser still read the feed.
    parsed = feedparser.parse(feeds["atom"])
    assert parsed.bozo == 0 and parsed.entries and victim.id not in {e.id for e in parsed.entries}
    std = StdET.fromstring(feeds["atom"])
    assert len(std.findall(f"{{{ATOM_NS}}}entry")) == len(parsed.entries)
    # RSS and JSON Feed simply drop the item.
    assert victim.id.encode() not in feeds["rss"]
    assert victim.id not in {i["id"] for i in json.loads(feeds["json"])["items"]}
    assert feedparser.parse(feeds["rss"]).bozo == 0

    # The static build carries the same tombstone.
    build_feeds(app)
    built = (tmp_path / "public" / "feeds" / "all.atom").read_bytes()
    assert ET.fromstring(built).find(f"{{{TOMBSTONES_NS}}}deleted-entry") is not None

    # After tombstone_days the tombstone goes, at the next build.
    clock.advance(31 * 86400)
    build_feeds(app)
    built = (tmp_path / "public" / "feeds" / "all.atom").read_bytes()
    assert ET.fromstring(built).find(f"{{{TOMBSTONES_NS}}}deleted-entry") is None


def test_cli_retract(sample_app: App, tmp_path: Path) -> None:
    victim = sample_app.store.latest(None, 1)[0]
    args = ["--config", str(tmp_path / "config.toml"), "articles", "retract"]
    run = CliRunner().invoke(cli, [*args, victim.id, "--reason", "Gỡ theo yêu cầu"])
    assert run.exit_code == 0, run.output
    assert f"retracted {victim.id}" in run.output
    again = CliRunner().invoke(cli, [*args, victim.id])
    assert again.exit_code == 0 and "already retracted" in again.output
    missing = CliRunner().invoke(cli, [*args, "tag:khong-co,2018:x"])
    assert missing.exit_code == 1
    sample_app.store.refresh_categories()
    assert sample_app.store.get(victim.id) is None
    tomb = FeedState(sample_app.store).tombstone(victim.id)
    assert tomb is not None and tomb.reason == "Gỡ theo yêu cầu" and tomb.origin == "cli"


# -- 6. WebSub -----------------------------------------------------------------------------


class Hub:
    """A WebSub hub on 127.0.0.1 that records publish pings; ``fail`` answers 503
    that many times first."""

    def __init__(self) -> None:
        self.pings: list[dict[str, list[str]]] = []
        self.answers: list[int] = []
        self.fail = 0
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                n = int(self.headers.get("content-length") or 0)
                form = parse_qs(self.rfile.read(n).decode())
                assert self.headers["content-type"] == "application/x-www-form-urlencoded"
                hub.pings.append(form)
                status = 503 if hub.fail > 0 else 204
                hub.fail -= 1
                hub.answers.append(status)
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hub"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def topics(self) -> list[str]:
        return sorted(p["hub.url"][0] for p in self.pings)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hub() -> Iterator[Hub]:
    h = Hub()
    yield h
    h.close()


def test_websub_pings_exactly_the_changed_feeds(
    tmp_path: Path, clock: FixedClock, hub: Hub
) -> None:
    app = make_app(tmp_path, clock, feeds=f'hub = "{hub.url}"\nhub_backoff = 0.05')
    assert import_paths(app, [SAMPLES]).count("failed") == 0
    first = build_feeds(app)
    sent = asyncio.run(notify_hub(app))
    feeds = sorted(
        app.config.site.public_url + "/" + rel
        for rel in first.written_paths
        if rel.startswith("feeds/")
    )
    assert hub.topics() == feeds and len(sent.sent) == len(feeds)
    assert all(p["hub.mode"] == ["publish"] for p in hub.pings)

    # Nothing changed: no ping.
    hub.pings.clear()
    build_feeds(app)
    assert asyncio.run(notify_hub(app)).sent == [] and hub.pings == []

    # One new article in one category: its feed, its parent's and all, 3 formats each.
    clock.advance(60)
    art = back_dated(app, 6, days_ago=0)
    app.store.upsert([art], now=app.now())
    changed = build_feeds(app)
    hub.fail = 1  # the hub is briefly unavailable: the first ping is retried
    result = asyncio.run(notify_hub(app))
    base = app.config.site.public_url + "/feeds/"
    expected = sorted(
        base + key + "." + fmt
        for key in ("all", "thong-tin-tuyen-truyen", "thong-tin-tuyen-truyen/tin-tuc-hoat-dong")
        for fmt in ("rss", "atom", "json")
    )
    assert sorted(set(hub.topics())) == expected
    assert hub.answers.count(503) == 1 and result.retries == 1
    assert len(hub.pings) == len(expected) + 1  # one retry
    assert sorted(result.sent) == expected
    assert {"feeds/" + u[len(base) :] for u in expected} <= set(changed.written_paths)

    # Recorded, and shown by `tgfeed status`.
    out = CliRunner().invoke(cli, ["--config", str(tmp_path / "config.toml"), "status"])
    assert out.exit_code == 0, out.output
    assert f"websub {hub.url}: sent {len(feeds) + len(expected)}, pending 0, failed 0" in out.output


def test_websub_gives_up_after_the_retries_and_says_so(
    tmp_path: Path, clock: FixedClock, hub: Hub
) -> None:
    app = make_app(tmp_path, clock, feeds=f'hub = "{hub.url}"\nhub_backoff = 0.01\nhub_retries = 2')
    assert import_paths(app, [SAMPLES]).count("failed") == 0
    app.store.db.execute("DELETE FROM hub_notifications")
    build_feeds(app)
    hub.fail = 10**6
    result = asyncio.run(notify_hub(app))
    assert result.sent == [] and len(result.failed) == len(hub.pings) // 3
    counts = FeedState(app.store).notice_counts()
    assert counts["failed"] == len(result.failed) and counts["pending"] == 0
    assert all(
        n.last_error == "HTTP 503" and n.attempts == 3 for n in FeedState(app.store).notices()
    )


def test_a_page_gone_on_two_crawls_in_a_row_is_retracted(tmp_path: Path, clock: FixedClock) -> None:
    """404/410 twice (``retract_gone = 2``, the default) → a tombstone; once → nothing;
    a page that answers again between two 404s starts over."""
    gone_path = "/bai-viet/bai-bi-go-3700.aspx"
    flaky_path = "/bai-viet/bai-chap-chon-3701.aspx"
    with FixtureSite() as site:
        site.add("/robots.txt", "User-agent: *\nAllow: /\n")
        links = [(gone_path, "Bài sẽ bị gỡ"), (flaky_path, "Bài chập chờn")]
        site.add("/chuyen-muc/tin.aspx", listing_html("Tin tức", links))
        site.add(gone_path, article_html("Bài sẽ bị gỡ"))
        site.add(flaky_path, article_html("Bài chập chờn"))
        app = make_app(tmp_path, clock, site=f'url = "{site.url}"', extra=_crawl_toml(site))
        asyncio.run(crawl(app, "site"))
        gone_id = "tag:127.0.0.1,2018:bai-viet/3700"
        flaky_id = "tag:127.0.0.1,2018:bai-viet/3701"
        assert {a.id for a in app.store.latest(None, 10)} == {gone_id, flaky_id}
        state = FeedState(app.store)

        site.add(gone_path, Resource(b"khong con", status=410))
        site.add(flaky_path, Resource(b"khong thay", status=404))
        clock.advance(3600)
        asyncio.run(crawl(app, "site"))
        assert state.tombstone(gone_id) is None and app.store.get(gone_id) is not None

        site.add(flaky_path, article_html("Bài chập chờn"))  # back again
        clock.advance(3600)
        asyncio.run(crawl(app, "site"))
        tomb = state.tombstone(gone_id)
        assert tomb is not None and tomb.origin == "crawl" and "HTTP 410" in (tomb.reason or "")
        assert app.store.get(gone_id) is None
        assert state.tombstone(flaky_id) is None and app.store.get(flaky_id) is not None

        site.add(flaky_path, Resource(b"khong thay", status=404))
        clock.advance(3600)
        asyncio.run(crawl(app, "site"))
        assert state.tombstone(flaky_id) is None  # one 404 since it answered: not yet
        atom = build_feeds(app)
        assert not atom.failures
        built = (tmp_path / "public" / "feeds" / "all.atom").read_bytes()
        refs = [
            t.get("ref") for t in ET.fromstring(built).iter(f"{{{TOMBSTONES_NS}}}deleted-entry")
        ]
        assert refs == [gone_id]
        app.close()


def test_republishing_a_retracted_article_drops_its_tombstone(
    sample_app: App, clock: FixedClock
) -> None:
    victim = sample_app.store.latest(None, 1)[0]
    state = FeedState(sample_app.store)
    state.retract(victim.id, now=sample_app.now(), reason=None, origin="cli")
    pub = Publisher(sample_app)
    assert [d.ref for d in pub.deleted(ALL_FEED)] == [victim.id]
    clock.advance(60)
    sample_app.store.upsert([victim], now=sample_app.now())
    assert sample_app.store.get(victim.id) is not None
    assert pub.deleted(ALL_FEED) == ()
    # Retracting it again is a new retraction, with a new date.
    clock.advance(60)
    tomb, now = state.retract(victim.id, now=sample_app.now(), reason="lần hai", origin="cli")
    assert now and tomb is not None and tomb.retracted_at == sample_app.now()


def test_the_digest_archive_marks_a_retracted_article(
    sample_app: App, clock: FixedClock, live_server: Callable[[Any], Any]
) -> None:
    from tgfeed.jobs.digest import send_digest
    from tgfeed.store.mail import MailStore

    app = sample_app
    MailStore(app.store).add_subscriber("doc@example.vn", now=app.now(), status="active")
    result = asyncio.run(send_digest(app, week="2026-W48"))
    assert result.status == "sent"
    with live_server(create_app(app, scheduler=False)) as srv:
        before = httpx.get(f"{srv.url}/digests/2026-W48").text
        victim = next(a for a in app.store.latest(None, 60) if f'href="{a.url}"' in before)
        clock.advance(3600)
        FeedState(app.store).retract(
            victim.id, now=app.now(), reason="Thông tin chưa chính xác", origin="cli"
        )
        page = httpx.get(f"{srv.url}/digests/2026-W48")
        text = httpx.get(f"{srv.url}/digests/2026-W48.txt").text
    assert "Bài đã bị gỡ" not in before
    assert page.status_code == 200
    assert "Bài đã bị gỡ sau khi bản tin được gửi" in page.text
    import re

    marked = re.findall(r'<a class="tgfeed-retracted"[^>]*href="([^"]+)"', page.text)
    assert marked and set(marked) == {victim.url}  # its links, and only its links
    assert len(marked) == before.count(f'href="{victim.url}"')
    assert "Thông tin chưa chính xác" in page.text
    assert text.startswith("BÀI ĐÃ BỊ GỠ SAU KHI BẢN TIN ĐƯỢC GỬI:\n- " + victim.title)
