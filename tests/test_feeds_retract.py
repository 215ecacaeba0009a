"""Retractions reach readers (issue 13): RFC 6721 tombstones in Atom, RSS and JSON
Feed drop the item, the digest archive marks it; WebSub publish pings to a local
hub for exactly the changed feeds, with retries."""

from __future__ import annotations

import asyncio
import json
import threading
import xml.etree.ElementTree as StdET
from collections.abc import Callable, Iterator
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
from tgfeed.feeds.catalog import ALL_FEED
from tgfeed.feeds.publish import Publisher
from tgfeed.jobs.crawl import crawl
from tgfeed.jobs.feeds import build_feeds
from tgfeed.jobs.ingest import import_paths
from tgfeed.loader import loads
from tgfeed.web import create_app
from tgfeed.websub import notify_hub

from .conftest import SAMPLES, FixedClock
from .feeds_support import check_atom
from .fixture_site import FixtureSite, Resource, article_html, listing_html
from .freshness_support import TOKEN, back_dated, crawl_toml, make_app

TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"


# -- 4. retractions --------------------------------------------------------------------


def test_retraction_is_an_atom_tombstone_and_leaves_rss_and_json(
    sample_app: App,
    clock: FixedClock,
    tmp_path: Path,
    live_server: Callable[[Any], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = sample_app
    victim = app.store.articles.latest("thong-tin-tuyen-truyen", 1)[0]
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
    victim = sample_app.store.articles.latest(None, 1)[0]
    args = ["--config", str(tmp_path / "config.toml"), "articles", "retract"]
    run = CliRunner().invoke(cli, [*args, victim.id, "--reason", "Gỡ theo yêu cầu"])
    assert run.exit_code == 0, run.output
    assert f"retracted {victim.id}" in run.output
    again = CliRunner().invoke(cli, [*args, victim.id])
    assert again.exit_code == 0 and "already retracted" in again.output
    missing = CliRunner().invoke(cli, [*args, "tag:khong-co,2018:x"])
    assert missing.exit_code == 1
    sample_app.store.articles.refresh_categories()
    assert sample_app.store.articles.get(victim.id) is None
    tomb = sample_app.store.feeds.tombstone(victim.id)
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
    app.store.articles.upsert([art], now=app.now())
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
    counts = app.store.feeds.notice_counts()
    assert counts["failed"] == len(result.failed) and counts["pending"] == 0
    assert all(n.last_error == "HTTP 503" and n.attempts == 3 for n in app.store.feeds.notices())


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
        app = make_app(tmp_path, clock, site=f'url = "{site.url}"', extra=crawl_toml(site))
        asyncio.run(crawl(app, "site"))
        gone_id = "tag:127.0.0.1,2018:bai-viet/3700"
        flaky_id = "tag:127.0.0.1,2018:bai-viet/3701"
        assert {a.id for a in app.store.articles.latest(None, 10)} == {gone_id, flaky_id}
        state = app.store.feeds

        site.add(gone_path, Resource(b"khong con", status=410))
        site.add(flaky_path, Resource(b"khong thay", status=404))
        clock.advance(3600)
        asyncio.run(crawl(app, "site"))
        assert state.tombstone(gone_id) is None and app.store.articles.get(gone_id) is not None

        site.add(flaky_path, article_html("Bài chập chờn"))  # back again
        clock.advance(3600)
        asyncio.run(crawl(app, "site"))
        tomb = state.tombstone(gone_id)
        assert tomb is not None and tomb.origin == "crawl" and "HTTP 410" in (tomb.reason or "")
        assert app.store.articles.get(gone_id) is None
        assert state.tombstone(flaky_id) is None and app.store.articles.get(flaky_id) is not None

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
    victim = sample_app.store.articles.latest(None, 1)[0]
    state = sample_app.store.feeds
    state.retract(victim.id, now=sample_app.now(), reason=None, origin="cli")
    pub = Publisher(sample_app)
    assert [d.ref for d in pub.deleted(ALL_FEED)] == [victim.id]
    clock.advance(60)
    sample_app.store.articles.upsert([victim], now=sample_app.now())
    assert sample_app.store.articles.get(victim.id) is not None
    assert pub.deleted(ALL_FEED) == ()
    # Retracting it again is a new retraction, with a new date.
    clock.advance(60)
    tomb, now = state.retract(victim.id, now=sample_app.now(), reason="lần hai", origin="cli")
    assert now and tomb is not None and tomb.retracted_at == sample_app.now()


def test_the_digest_archive_marks_a_retracted_article(
    sample_app: App, clock: FixedClock, live_server: Callable[[Any], Any]
) -> None:
    from tgfeed.jobs.digest import send_digest

    app = sample_app
    app.store.mail.add_subscriber("doc@example.vn", now=app.now(), status="active")
    result = asyncio.run(send_digest(app, week="2026-W48"))
    assert result.status == "sent"
    with live_server(create_app(app, scheduler=False)) as srv:
        before = httpx.get(f"{srv.url}/digests/2026-W48").text
        victim = next(a for a in app.store.articles.latest(None, 60) if f'href="{a.url}"' in before)
        clock.advance(3600)
        app.store.feeds.retract(
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
