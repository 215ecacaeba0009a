"""Each entry rendered once (issue 14): a feed assembled from its channel and cached
entries is byte for byte the feed rendered from scratch, for every feed; an article
listed by several feeds is rendered once per format; a changed article or an option
an entry depends on gets a new key, so nothing stale is reused."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from pathlib import Path

from tgfeed.app import App
from tgfeed.feeds.catalog import ALL_FEED, FORMATS
from tgfeed.feeds.entrycache import EntryCache
from tgfeed.feeds.publish import Publisher
from tgfeed.feeds.render import render_many
from tgfeed.jobs.feeds import build_feeds


def scratch(app: App) -> dict[str, bytes]:
    """Every published feed rendered from scratch (no entry cache): path → bytes."""
    pub = Publisher(app)
    out: dict[str, bytes] = {}
    for listed in pub.listing():
        spec = listed.spec
        bodies = render_many(FORMATS, pub.channel(spec), pub.items(spec), pub.opts)
        out.update({spec.path(fmt).lstrip("/"): body for fmt, body in bodies.items()})
    return out


def built(out: Path) -> dict[str, bytes]:
    return {
        p.relative_to(out).as_posix(): p.read_bytes()
        for p in (out / "feeds").rglob("*")
        if p.is_file() and p.suffix in (".rss", ".atom", ".json")
    }


def listed_articles(pub: Publisher) -> set[str]:
    return {a.id for listed in pub.listing() for a in pub.items(listed.spec)}


def render_all(pub: Publisher, cache: EntryCache) -> None:
    for listed in pub.listing():
        spec = listed.spec
        render_many(FORMATS, pub.channel(spec), pub.items(spec), pub.opts, cache=cache)


def test_cached_build_equals_scratch_build_for_every_feed(sample_app: App) -> None:
    app = sample_app
    out = build_feeds(app).output_dir
    assert built(out) == scratch(app)

    pub = Publisher(app)
    cache = EntryCache()
    render_all(pub, cache)
    # Each listed article once per format, however many feeds list it.
    assert cache.rendered == len(FORMATS) * len(listed_articles(pub))

    # One new article and one edited article: only their entries are rendered again.
    newest = app.store.articles.latest("thong-bao", 1)[0]
    fresh = dataclasses.replace(
        newest,
        id="tag:tuyengiaohungyen.vn,2018:bai-viet/9998",
        url="https://tuyengiaohungyen.vn/bai-viet/thong-bao-moi-9998.aspx",
        title="Thông báo mới",
        published_at=newest.published_at + timedelta(days=1),
    )
    edited = dataclasses.replace(
        app.store.articles.latest(None, 3)[2], title="Tiêu đề đã sửa", updated_at=app.now()
    )
    app.store.articles.upsert([fresh, edited], now=app.now())
    before = cache.rendered
    render_all(Publisher(app), cache)
    assert cache.rendered - before == 2 * len(FORMATS)
    build_feeds(app)
    assert built(out) == scratch(app)

    # The service's builds assemble from the App's cache: the same files again.
    rebuild = app.path(app.config.feeds.output_dir) / ".tgfeed-build.json"
    rebuild.unlink()  # every feed rendered (assembled) again
    build_feeds(app, reuse_entries=True)
    assert len(app.publisher.entries) == len(FORMATS) * len(listed_articles(pub))
    assert built(out) == scratch(app)


def test_served_feeds_use_the_cache_and_equal_scratch(sample_app: App) -> None:
    pub = Publisher(sample_app)
    for path, body in scratch(sample_app).items():
        key, fmt = path.removeprefix("feeds/").rsplit(".", 1)
        served = pub.feed(key, fmt)
        assert served is not None and served.body == body, path
    assert pub.entries.rendered == len(FORMATS) * len(listed_articles(pub))


def test_an_option_an_entry_depends_on_changes_its_key(sample_app: App) -> None:
    pub = Publisher(sample_app)
    cache = EntryCache()
    spec = ALL_FEED
    render_many(FORMATS, pub.channel(spec), pub.items(spec), pub.opts, cache=cache)
    n = len(pub.items(spec))
    assert cache.rendered == len(FORMATS) * n
    for change in ({"images": "drop"}, {"content": "summary"}):
        feeds = sample_app.config.feeds.model_copy(update=change)
        other = Publisher(
            sample_app.with_config(sample_app.config.model_copy(update={"feeds": feeds}))
        )
        before = cache.rendered
        got = render_many(FORMATS, other.channel(spec), other.items(spec), other.opts, cache=cache)
        assert cache.rendered - before == len(FORMATS) * n, change  # nothing old reused
        assert got == render_many(FORMATS, other.channel(spec), other.items(spec), other.opts)
    # The channel alone is not part of an entry's key: a new site title reuses them all.
    site = sample_app.config.site.model_copy(update={"title": "Tên mới"})
    other = Publisher(sample_app.with_config(sample_app.config.model_copy(update={"site": site})))
    before = cache.rendered
    got = render_many(FORMATS, other.channel(spec), other.items(spec), other.opts, cache=cache)
    assert cache.rendered == before
    assert got == render_many(FORMATS, other.channel(spec), other.items(spec), other.opts)
