"""Feeds that real readers never get wrong (issue 13): Last-Modified is when the
bytes last changed (served and built), one id per article whatever path brought it
in. Retractions and WebSub are in ``test_feeds_retract``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tgfeed.app import App
from tgfeed.cli import cli
from tgfeed.ids import is_valid_tag
from tgfeed.importers import article_from_record
from tgfeed.jobs.crawl import crawl
from tgfeed.jobs.feeds import build_feeds
from tgfeed.store.idmigration import id_changes
from tgfeed.web import create_app

from .conftest import FixedClock
from .fixture_site import FixtureSite, article_html, listing_html
from .freshness_support import IDENTITY, TOKEN, back_dated, crawl_toml, make_app
from .test_deploy_nginx import NGINX, Stack, stack  # noqa: F401  (the nginx fixture)

TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"
ATOM_NS = "http://www.w3.org/2005/Atom"


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
        app.store.articles.upsert([art], now=app.now())
        r = c.get("/feeds/all.rss", headers={"if-modified-since": lm1})
        assert r.status_code == 200 and art.id.encode() in r.content
        lm2 = r.headers["last-modified"]
        assert parsedate_to_datetime(lm2) == app.now().replace(microsecond=0)
        assert parsedate_to_datetime(lm2) > parsedate_to_datetime(lm1)

        # Unpublishing the newest article: the date moves forward, never back.
        newest = app.store.articles.latest(None, 1)[0]
        clock.advance(60)
        assert app.store.articles.unpublish(newest.id, now=app.now())
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
    sample_app.store.articles.upsert(
        [back_dated(sample_app, 2, days_ago=400)], now=sample_app.now()
    )
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
        sample_app.store.articles.upsert([art], now=sample_app.now())
        build_feeds(sample_app)
        r = c.get("/feeds/all.rss", headers={"if-modified-since": lm1})
        assert r.status_code == 200 and art.id.encode() in r.content
        lm2 = r.headers["last-modified"]
        assert parsedate_to_datetime(lm2) > parsedate_to_datetime(lm1)

        newest = sample_app.store.articles.latest(None, 1)[0]
        clock.advance(300)
        sample_app.store.articles.unpublish(newest.id, now=sample_app.now())
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
            tmp_path, clock, site=f'url = "http://LocalHost:{port}"', extra=crawl_toml(site)
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
        assert app.store.articles.count() == 1
        assert [a.id for a in app.store.articles.latest(None, 10)] == [pushed]
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
    app.store.articles.upsert([older, lonely], now=app.now())
    clock.advance(60)
    app.store.articles.upsert([dataclasses.replace(base, title="Mới")], now=app.now())
    # An existing store from before: forget that its ids were already checked.
    app.store.db.execute("DELETE FROM feedstate_meta")
    app.close()

    app = make_app(tmp_path, clock, site='url = "http://127.0.0.1:45395"')
    ids = sorted(a.id for a in app.store.articles.latest(None, 10))
    assert ids == [new_id, "tag:127.0.0.1,2018:bai-viet/7005"]
    kept = app.store.articles.get(new_id)
    assert kept is not None and kept.title == "Mới"  # the newest content won
    outcomes = {(c.old_id, c.outcome) for c in id_changes(app.store)}
    assert outcomes == {
        ("tag:127.0.0.1:45395,2018:bai-viet/7004", "merged-dropped"),
        ("tag:127.0.0.1:45395,2018:bai-viet/7005", "renamed"),
    }
    out = CliRunner().invoke(
        cli, ["--config", str(tmp_path / "config.toml"), "articles", "migrate-ids"]
    )
    assert out.exit_code == 0 and "merged-dropped: tag:127.0.0.1:45395" in out.output
    # The search index follows: the dropped copy is gone from it, the index is sound.
    app.store.db.conn.execute(
        "INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)"
    )
    hits = [h.article.id for h in app.store.articles.search("Cũ")]
    assert len(hits) == len(set(hits)) and "tag:127.0.0.1:45395,2018:bai-viet/7004" not in hits
    app.close()
