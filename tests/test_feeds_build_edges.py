"""Two edges of a build: a feed that cannot be rendered fails alone (its three
files named with the reason, the others built, the failed one tried again next
time), and a category whose slug is a reserved feed name (``all``, ``search``)
gets no feed of its own (it would take the place of the all-feed or the search
feed); its articles are in the all-feed."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

import pytest

from tgfeed.app import App
from tgfeed.errors import RenderError
from tgfeed.feeds.catalog import FORMATS
from tgfeed.jobs import feeds as jobs_feeds
from tgfeed.jobs.feeds import build_feeds


def test_a_feed_that_cannot_be_rendered_fails_alone(
    sample_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sample_app
    leaf = next(
        c.slug_path for c in app.store.articles.categories(only_used=True) if "/" in c.slug_path
    )
    real = jobs_feeds.render_many

    def failing(formats: Any, channel: Any, *args: Any, **kwargs: Any) -> Any:
        if channel.base_url.endswith(f"/feeds/{leaf}"):
            raise RenderError("a date is not timezone-aware", hint="x")
        return real(formats, channel, *args, **kwargs)

    monkeypatch.setattr(jobs_feeds, "render_many", failing)
    result = build_feeds(app)
    rels = [f"feeds/{leaf}.{fmt}" for fmt in FORMATS]
    assert sorted(result.failures) == sorted((rel, "a date is not timezone-aware") for rel in rels)
    out = result.output_dir
    assert not any((out / rel).exists() for rel in rels)
    assert (out / "feeds" / "all.rss").exists() and result.rendered == result.feeds
    index = (out / "index.html").read_text(encoding="utf-8")
    assert f'id="feed-{leaf.replace("/", "--")}"' not in index  # no link to a 404

    monkeypatch.setattr(jobs_feeds, "render_many", real)
    again = build_feeds(app)
    assert again.failures == () and all((out / rel).exists() for rel in rels)


def test_a_category_with_a_reserved_slug_gets_no_feed_of_its_own(sample_app: App) -> None:
    app = sample_app
    newest = app.store.articles.latest(None, 1)[0]
    odd = dataclasses.replace(
        newest,
        id="tag:tuyengiaohungyen.vn,2018:bai-viet/tim-kiem-1",
        url="https://tuyengiaohungyen.vn/bai-viet/tim-kiem-1.aspx",
        title="Bài trong chuyên mục tên “search”",
        category=("Tìm kiếm",),
        category_slugs=("search",),
        published_at=newest.published_at + timedelta(hours=1),
    )
    app.store.articles.upsert([odd], now=app.now())
    assert app.store.articles.category("search") is not None
    out = build_feeds(app).output_dir
    assert not any((out / "feeds" / f"search.{fmt}").exists() for fmt in FORMATS)
    assert odd.id.encode() in (out / "feeds" / "all.atom").read_bytes()
