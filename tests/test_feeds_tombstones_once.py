"""Every feed's channel carries the tombstones of its category (or below): the store
is asked for them once per store version, not once per feed, and each feed still
gets exactly its own, until ``tombstone_days`` have passed."""

from __future__ import annotations

from typing import Any

import pytest

from tgfeed.app import App
from tgfeed.feeds.catalog import ALL_FEED, category_spec
from tgfeed.feeds.publish import Publisher

from .conftest import FixedClock


def test_each_feed_gets_its_categorys_tombstones_from_one_read(
    sample_app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sample_app
    cats = [c for c in app.store.articles.categories(only_used=True) if "/" in c.slug_path]
    a, b = (
        cats[0],
        next(c for c in cats if c.slug_path.split("/")[0] != cats[0].slug_path.split("/")[0]),
    )
    va = app.store.articles.latest(a.slug_path, 1)[0]
    vb = app.store.articles.latest(b.slug_path, 1)[0]
    app.store.feeds.retract(va.id, now=app.now(), reason=None, origin="cli")
    app.store.feeds.retract(vb.id, now=app.now(), reason=None, origin="cli")

    pub = Publisher(app)
    reads: list[Any] = []
    real = pub.state.tombstones
    monkeypatch.setattr(pub.state, "tombstones", lambda *args: reads.append(args) or real(*args))
    cat_a = app.store.articles.category(a.slug_path)
    parent_a = app.store.articles.category(a.slug_path.split("/")[0])
    assert cat_a is not None and parent_a is not None

    def refs(spec: Any) -> set[str]:
        return {d.ref for d in pub.deleted(spec)}

    assert refs(ALL_FEED) == {va.id, vb.id}
    assert refs(category_spec(cat_a)) == {va.id}
    assert refs(category_spec(parent_a)) == {va.id}  # a parent carries its children's
    for c in app.store.articles.categories():
        pub.channel(category_spec(c))
    assert len(reads) == 1

    # Past tombstone_days they are gone, without the store being asked again.
    clock.advance(app.config.feeds.tombstone_days * 86400 + 1)
    assert refs(ALL_FEED) == set() and len(reads) == 1

    # A change of the store (a new retraction) is read.
    vc = app.store.articles.latest(b.slug_path, 1)[0]
    app.store.feeds.retract(vc.id, now=app.now(), reason=None, origin="cli")
    assert refs(ALL_FEED) == {vc.id} and len(reads) == 2
