"""A build keeps a category feed without reading its articles' keys when the
category's revision (kept by triggers) and its channel are the ones it recorded;
anything a feed lists changing gives the category a new revision. A store
recreated or restored from a backup never looks unchanged to a build."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tgfeed.app import App, build_app
from tgfeed.jobs.feeds import build_feeds
from tgfeed.jobs.ingest import import_paths
from tgfeed.model import Article
from tgfeed.store.articles import ArticlesRepo

from .conftest import SAMPLES, FixedClock, make_config
from .test_feeds_entrycache import built, scratch


def _pick(app: App) -> tuple[str, str, str]:
    """A leaf category, its parent, and a category in another top-level one."""
    cats = [c.slug_path for c in app.store.articles.categories(only_used=True)]
    leaf = next(c for c in cats if "/" in c)
    other = next(c for c in cats if c.split("/")[0] != leaf.split("/")[0])
    return leaf, leaf.split("/")[0], other


def _new(app: App, category: str, n: int, **changes: Any) -> Article:
    newest = app.store.articles.latest(category, 1)[0]
    return dataclasses.replace(
        newest,
        id=f"tag:tuyengiaohungyen.vn,2018:bai-viet/moi-{n}",
        url=f"https://tuyengiaohungyen.vn/bai-viet/moi-{n}.aspx",
        title=f"Tin mới số {n}",
        published_at=newest.published_at + timedelta(days=n),
        **changes,
    )


def _above(slug_path: str) -> set[str | None]:
    """A category's slug path and its ancestors'."""
    parts = slug_path.split("/")
    return {"/".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _changed(before: dict[str, int], after: dict[str, int]) -> set[str]:
    return {c for c in before.keys() | after.keys() if before.get(c) != after.get(c)}


def test_a_categorys_revision_changes_with_what_its_feed_lists(sample_app: App) -> None:
    app = sample_app
    arts = app.store.articles
    leaf, parent, other = _pick(app)
    ours = {leaf, parent}

    def step(change: Callable[[], object]) -> set[str]:
        before = arts.revisions()
        change()
        return _changed(before, arts.revisions())

    fresh = _new(app, leaf, 1)
    assert step(lambda: arts.upsert([fresh], now=app.now())) == ours
    # The same article again with other views: views are not in any feed.
    again = dataclasses.replace(fresh, views=fresh.views + 7)
    assert step(lambda: arts.upsert([again], now=app.now())) == set()
    edited = dataclasses.replace(fresh, title="Tiêu đề đã sửa")
    assert step(lambda: arts.upsert([edited], now=app.now())) == ours
    assert step(lambda: arts.unpublish(fresh.id, now=app.now())) == ours
    assert step(lambda: arts.upsert([edited], now=app.now())) == ours  # republished

    # Moved to another category: both sides change.
    cat = arts.category(other)
    assert cat is not None
    moved = dataclasses.replace(edited, category=cat.names, category_slugs=tuple(other.split("/")))
    assert step(lambda: arts.upsert([moved], now=app.now())) == ours | {
        "/".join(other.split("/")[:i]) for i in range(1, other.count("/") + 2)
    }

    # Writes that bypass the repository are seen too (the triggers are the guard).
    rowid = arts._db.value("SELECT rowid FROM articles WHERE id = ?", (moved.id,))
    theirs = {"/".join(other.split("/")[:i]) for i in range(1, other.count("/") + 2)}

    def sql(statement: str) -> Callable[[], None]:
        def run() -> None:
            with app.store.write():
                app.store.db.conn.execute(statement, (rowid,))

        return run

    assert step(sql("UPDATE articles SET views = views + 1 WHERE rowid = ?")) == set()
    assert step(sql("UPDATE articles SET updated_at = '2030-01-01T00:00:00Z' WHERE rowid = ?")) == (
        theirs
    )
    assert (
        step(sql("UPDATE article_categories SET article_id = 'x' WHERE article_rowid = ?"))
        == theirs
    )
    assert step(sql("DELETE FROM articles WHERE rowid = ?")) == theirs


def test_a_build_reads_the_keys_of_changed_categories_only(
    sample_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = sample_app
    leaf, parent, other = _pick(app)
    out = build_feeds(app).output_dir
    asked: list[str | None] = []
    real = ArticlesRepo.latest_keys

    def spy(self: ArticlesRepo, category: str | None = None, limit: int = 50) -> Any:
        asked.append(category)
        return real(self, category, limit)

    monkeypatch.setattr(ArticlesRepo, "latest_keys", spy)

    app.store.articles.upsert([_new(app, leaf, 1)], now=app.now())
    result = build_feeds(app)
    assert set(asked) == {None, leaf, parent} and len(asked) == 3
    assert result.rendered == 3
    assert built(out) == scratch(app)

    # A retraction changes the channel (its tombstones), whatever the revision says;
    # only its category and those above it are asked again (the feeds this build
    # kept are recorded as kept: the next build keeps them again).
    asked.clear()
    victim = app.store.articles.latest(other, 1)[0]
    app.store.feeds.retract(victim.id, now=app.now(), reason=None, origin="cli")
    build_feeds(app)
    assert set(asked) == {None} | _above(other) and len(asked) == len(set(asked))
    assert built(out) == scratch(app)

    # A kept feed whose file went missing is read and written again.
    asked.clear()
    app.store.articles.upsert([_new(app, other, 2)], now=app.now())
    gone = out / "feeds" / f"{leaf}.atom"
    gone.unlink()
    build_feeds(app)
    assert leaf in asked and gone.exists()
    assert built(out) == scratch(app)


def _make(tmp_path: Path, clock: FixedClock, *, samples: bool = True) -> App:
    app = build_app(make_config(tmp_path), clock=clock)
    if samples:
        assert import_paths(app, [SAMPLES]).count("failed") == 0
    return app


def _store_path(app: App) -> Path:
    assert app.store.path is not None
    return app.store.path


def _remove(db: Path) -> None:
    for p in db.parent.glob(db.name + "*"):
        p.unlink()


def test_a_recreated_store_is_never_taken_for_the_built_one(
    tmp_path: Path, clock: FixedClock
) -> None:
    first = _make(tmp_path, clock)
    a = first.store.articles.latest(None, 1)[0]
    first.store.articles.upsert([dataclasses.replace(a, title="Tiêu đề cũ")], now=first.now())
    out = build_feeds(first).output_dir
    db = _store_path(first)
    first.close()
    _remove(db)

    # The same import into a new store, then the same article changed otherwise: as
    # many writes as the built store had seen, other content.
    second = _make(tmp_path, clock)
    second.store.articles.upsert([dataclasses.replace(a, title="Tiêu đề khác")], now=second.now())
    assert build_feeds(second).rendered > 0
    assert built(out) == scratch(second)
    second.close()


def test_a_store_restored_from_a_backup_is_never_taken_for_the_built_one(
    tmp_path: Path, clock: FixedClock
) -> None:
    app = _make(tmp_path, clock)
    leaf, _, _ = _pick(app)
    db = _store_path(app)
    backup = tmp_path / "backup.db"
    with sqlite3.connect(backup) as copy:
        app.store.db.conn.backup(copy)
    app.store.articles.upsert([_new(app, leaf, 1)], now=app.now())
    out = build_feeds(app).output_dir
    app.close()

    _remove(db)
    shutil.copyfile(backup, db)
    restored = _make(tmp_path, clock, samples=False)
    # Another article than the one the built feeds list, in the same category: as
    # many writes since the backup as the built store had seen.
    restored.store.articles.upsert([_new(restored, leaf, 2)], now=restored.now())
    build_feeds(restored)
    assert built(out) == scratch(restored)
    restored.close()


def test_a_kept_empty_feed_stays_listed_as_empty(
    app_factory: Callable[..., App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A category the config names stays listed when it has no article left (its
    feed empty); kept by its mark, it is still listed, still as empty."""
    probe = app_factory(samples=True)
    leaf, _, other = _pick(probe)
    cat = probe.store.articles.category(leaf)
    assert cat is not None
    names = ", ".join(f'"{n}"' for n in cat.names)
    app = app_factory(f"[[categories]]\npath = [{names}]\n")
    for a in app.store.articles.latest(leaf, 1000):
        app.store.articles.unpublish(a.id, now=app.now())
    progress: list[tuple[int, int]] = []
    first = build_feeds(app, progress=lambda done, total: progress.append((done, total)))
    total = 1 + len(app.store.articles.categories())  # the all-feed and each category's
    assert progress == [(i, total) for i in range(total)]  # before each feed
    assert first.feeds <= total

    app.store.articles.upsert([_new(app, other, 1)], now=app.now())
    result = build_feeds(app)
    index = (result.output_dir / "index.html").read_text(encoding="utf-8")
    row = index.split(f'id="feed-{leaf.replace("/", "--")}"', 1)[1].split("</li>", 1)[0]
    assert "chưa có tin bài" in row
    assert built(result.output_dir) == scratch(app)


def test_a_category_feeds_tombstone_goes_when_it_expires(
    sample_app: App, clock: FixedClock
) -> None:
    """A retracted article's tombstone stays in its category's Atom feed for
    ``tombstone_days``; the first build after that drops it, though the store did
    not change: a feed's mark holds its tombstones, not only its revision."""
    app = sample_app
    leaf, parent, _ = _pick(app)
    victim = app.store.articles.latest(leaf, 1)[0]
    app.store.feeds.retract(victim.id, now=app.now(), reason="Sai", origin="test")
    out = build_feeds(app).output_dir
    feeds = [out / "feeds" / f"{key}.atom" for key in (leaf, parent)]
    assert all(b"deleted-entry" in f.read_bytes() for f in feeds)
    revisions = app.store.articles.revisions()

    clock.advance((app.config.feeds.tombstone_days + 1) * 86400)
    result = build_feeds(app)
    assert app.store.articles.revisions() == revisions  # nothing changed in the store
    assert not any(b"deleted-entry" in f.read_bytes() for f in feeds)
    assert {f"feeds/{key}.atom" for key in (leaf, parent)} <= set(result.written_paths)
    assert built(out) == scratch(app)
