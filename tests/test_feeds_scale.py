"""A rebuild costs what changed: feeds are compared by their articles' keys (id,
content hash, dates — no text read) and only the changed feeds' articles are read."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tgfeed.app import App
from tgfeed.feeds.cache import FeedCache, Rendered
from tgfeed.feeds.catalog import FORMATS
from tgfeed.feeds.entries import fingerprint_keys, newest, newest_of_keys
from tgfeed.feeds.publish import Publisher
from tgfeed.jobs.feeds import build_feeds
from tgfeed.model import Article


def fresh(app: App, n: int, **kw: Any) -> Article:
    newest_one = app.store.articles.latest(None, 1)[0]
    base = dataclasses.replace(
        newest_one,
        id=f"{newest_one.id}-scale-{n}",
        url=newest_one.url.replace(".aspx", f"-scale-{n}.aspx"),
        title=f"Bài mới số {n}",
        published_at=newest_one.published_at + timedelta(hours=n),
        updated_at=None,
    )
    return dataclasses.replace(base, **kw)


def test_a_rebuild_reads_only_the_changed_feeds(
    sample_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_feeds(sample_app)
    added = fresh(sample_app, 1)
    sample_app.store.articles.upsert([added], now=sample_app.now())
    read: list[str | None] = []
    real = sample_app.store.articles.latest

    def counting(category: str | None = None, limit: int = 50, **kw: Any) -> list[Article]:
        read.append(category)
        return real(category, limit, **kw)

    monkeypatch.setattr(sample_app.store.articles, "latest", counting)
    result = build_feeds(sample_app)
    leaf = added.category_slug
    parent = leaf.split("/")[0]
    assert result.rendered == 3
    assert sorted(read, key=str) == sorted([None, parent, leaf], key=str)
    body = (sample_app.path(sample_app.config.feeds.output_dir) / "feeds/all.rss").read_text()
    assert added.title in body


def test_an_edit_that_keeps_the_updated_time_is_still_seen(sample_app: App) -> None:
    """Two edits in the same second leave ``updated_at`` alone; the content hash
    in the key still changes, so the feed is rendered again."""
    out = sample_app.path(sample_app.config.feeds.output_dir)
    when = sample_app.store.articles.latest(None, 1)[0].published_at + timedelta(hours=2)
    first = fresh(sample_app, 2, updated_at=when)
    sample_app.store.articles.upsert([first], now=when)
    build_feeds(sample_app)
    edited = dataclasses.replace(first, title="Tiêu đề đã sửa trong cùng giây")
    sample_app.store.articles.upsert([edited], now=when)
    assert sample_app.store.articles.get(first.id).updated_at == when  # type: ignore[union-attr]
    result = build_feeds(sample_app)
    assert result.rendered == 3
    assert edited.title in (out / "feeds/all.rss").read_text()


def test_keys_stand_for_the_articles(sample_app: App) -> None:
    store, pub = sample_app.store, Publisher(sample_app)
    for cat in [None, *(c.slug_path for c in store.articles.categories(only_used=True))]:
        items = store.articles.latest(cat, 50)
        keys = store.articles.latest_keys(cat, 50)
        assert [k.id for k in keys] == [a.id for a in items]
        assert newest_of_keys(keys) == newest(items)
    channel = pub.channel(pub.listing()[0].spec)
    keys = store.articles.latest_keys(None, 50)
    assert fingerprint_keys(channel, keys, pub.opts) == fingerprint_keys(channel, keys, pub.opts)
    assert fingerprint_keys(channel, keys, pub.opts) != fingerprint_keys(
        channel, keys[1:], pub.opts
    )
    listed = {e.spec.key: e.newest for e in pub.listing()}
    for key, when in listed.items():
        items = store.articles.latest(None if key == "all" else key, 50)
        assert when == (newest(items) if items else None)


def _rendered(i: int) -> Rendered:
    body = ("<p>" + f"Hội nghị giao ban số {i}. " * 400 + "</p>").encode()
    return Rendered.make(body, "application/rss+xml", datetime(2026, 11, 1, tzinfo=UTC), str(i))


def test_a_cache_over_budget_drops_plain_copies_before_entries() -> None:
    made = [_rendered(i) for i in range(10)]
    plain, gz = len(made[0].body), len(made[0].gzipped)
    assert gz * 4 < plain
    cache = FeedCache(max_bytes=10 * (gz + 256) + 3 * plain)
    for i, r in enumerate(made):
        cache.put(f"/feeds/{i}.rss", 1, r)
    assert cache.bytes <= cache.max_bytes and len(cache) == 10
    for _ in range(2):  # a reader polling every feed in turn: every request a hit
        for i, r in enumerate(made):
            got = cache.get(f"/feeds/{i}.rss", 1)
            assert got is not None and got.etag == r.etag and got.body == r.body
    assert cache.peek("/feeds/9.rss").plain is not None  # type: ignore[union-attr]
    assert cache.peek("/feeds/0.rss").plain is None  # type: ignore[union-attr]
    # A plain request for a slimmed entry gets its plain copy back, once.
    again = cache.get("/feeds/0.rss", 1, plain=True)
    assert again is not None and again.plain == made[0].body
    assert cache.peek("/feeds/0.rss").plain is not None  # type: ignore[union-attr]
    assert cache.bytes <= cache.max_bytes and len(cache) == 10
    # Past what even the gzipped copies fit in, the least recently used go.
    small = FeedCache(max_bytes=4 * (gz + 256) + plain)
    for i, r in enumerate(made):
        small.put(f"/feeds/{i}.rss", 1, r)
    assert small.bytes <= small.max_bytes
    assert small.get("/feeds/0.rss", 1) is None and small.get("/feeds/9.rss", 1) is not None


def test_polling_every_feed_renders_each_once(sample_app: App) -> None:
    pub = Publisher(sample_app)
    keys = ["all", *(c.slug_path for c in sample_app.store.articles.categories(only_used=True))]
    made = [r for r in (pub.feed(k, f) for k in keys for f in FORMATS) if r is not None]
    total_gz = sum(len(r.gzipped) + 256 for r in made)
    total_plain = sum(len(r.body) for r in made)
    # A cache that holds every gzipped copy but only a third of the plain ones.
    pub = Publisher(sample_app, FeedCache(max_bytes=total_gz + total_plain // 3))
    for _ in range(3):
        for k in keys:
            for f in FORMATS:
                assert pub.feed(k, f) is not None
    assert pub.cache.renders == len(keys) * len(FORMATS)
