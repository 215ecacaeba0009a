"""What keeps the store's cost flat as the archive grows: counts kept by triggers
(no scan for /healthz, status, `tgfeed categories`), search candidates taken from
the newest matches (no bm25 over every match), and query plans without scans."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tgfeed.app import App
from tgfeed.errors import StoreError
from tgfeed.model import Article
from tgfeed.store import open_store

T0 = datetime(2026, 1, 5, 1, 0, tzinfo=timezone.utc)
LEAF = ("Thông tin - Tuyên truyền", "Tin tức hoạt động")
OTHER = ("Chính trị - Xã hội", "Tin trong tỉnh")


def art(n: int, **kw: object) -> Article:
    base = Article(
        id=f"tag:tuyengiaohungyen.vn,2018:bai-viet/{n}",
        url=f"https://tuyengiaohungyen.vn/bai-viet/bai-{n}.aspx",
        title=f"Hoạt động số {n}",
        category=LEAF,
        published_at=T0 + timedelta(hours=n),
        body_text=f"Nội dung bài {n}.",
        body_html=f"<p>Nội dung bài {n}.</p>",
        summary=f"Tóm tắt bài {n}.",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def scanned_counts(app: App) -> dict[str, int]:
    rows = app.store.db.execute(
        "SELECT c.slug_path, count(ac.article_id) FROM categories c "
        "LEFT JOIN article_categories ac ON ac.category_id = c.id GROUP BY c.id"
    ).fetchall()
    return dict(rows)


def kept_counts(app: App) -> dict[str, int]:
    return {c.slug_path: c.article_count for c in app.store.articles.categories(with_counts=True)}


def published(app: App) -> int:
    return int(
        app.store.db.execute("SELECT count(*) FROM articles WHERE deleted_at IS NULL").fetchone()[0]
    )


def test_counts_follow_every_change(app: App) -> None:
    now = T0 + timedelta(days=30)
    store = app.store
    store.articles.upsert([art(n) for n in range(1, 6)] + [art(6, category=OTHER)], now=now)
    assert store.articles.count() == published(app) == 6
    assert kept_counts(app) == scanned_counts(app)
    assert kept_counts(app)["thong-tin-tuyen-truyen"] == 5
    assert kept_counts(app)["thong-tin-tuyen-truyen/tin-tuc-hoat-dong"] == 5

    # a category move, a plain update, an unchanged re-import, the same id twice in a batch
    store.articles.upsert([art(1, category=OTHER), art(2, title="Sửa tiêu đề"), art(3)], now=now)
    store.articles.upsert([art(4, title="Lần một"), art(4, title="Lần hai")], now=now)
    assert kept_counts(app) == scanned_counts(app)
    assert kept_counts(app)["chinh-tri-xa-hoi"] == 2

    # unpublish, unpublish again, republish unchanged, republish changed
    assert store.articles.unpublish(art(5).id, now=now)
    assert not store.articles.unpublish(art(5).id, now=now)
    assert store.articles.unpublish(art(6).id, now=now)
    assert store.articles.count() == published(app) == 4
    assert kept_counts(app) == scanned_counts(app)
    store.articles.upsert([art(5), art(6, category=OTHER, title="Đăng lại")], now=now)
    assert store.articles.count() == published(app) == 6
    assert kept_counts(app) == scanned_counts(app)
    assert [c.slug_path for c in store.articles.categories(only_used=True)] == sorted(
        s for s, n in scanned_counts(app).items() if n
    )


def test_a_failed_batch_leaves_the_counts_alone(app: App) -> None:
    now = T0 + timedelta(days=30)
    app.store.articles.upsert([art(1), art(2)], now=now)
    before = kept_counts(app)
    app.store.db.conn.execute(
        "CREATE TRIGGER boom BEFORE INSERT ON articles WHEN NEW.title = 'nổ' "
        "BEGIN SELECT RAISE(ABORT, 'boom'); END"
    )
    with pytest.raises(StoreError, match="boom"):
        app.store.articles.upsert([art(3), art(4, title="nổ")], now=now)
    assert kept_counts(app) == before == scanned_counts(app)
    assert app.store.articles.count() == 2


def test_counts_are_built_for_a_store_made_before_them(tmp_path: Path) -> None:
    """An existing store gets its counts from the migration, once."""
    path = tmp_path / "old.db"
    store = open_store(path)
    store.articles.upsert([art(n) for n in range(1, 4)] + [art(9, category=OTHER)], now=T0)
    store.close()
    conn = sqlite3.connect(path)
    conn.executescript(
        "DROP TRIGGER article_categories_counted; DROP TRIGGER article_categories_uncounted;"
        "DROP TABLE category_counts;"
        "DELETE FROM _sqlite_migrations WHERE name = 'm002_category_counts';"
    )
    conn.close()
    store = open_store(path)
    try:
        counts = {c.slug_path: c.article_count for c in store.articles.categories(with_counts=True)}
        assert counts["thong-tin-tuyen-truyen"] == 3 and counts["chinh-tri-xa-hoi"] == 1
        assert store.articles.count() == 4
    finally:
        store.close()


def test_counting_reads_no_article(app: App) -> None:
    for sql in (
        "SELECT coalesce(sum(cc.articles), 0) FROM category_counts cc "
        "JOIN categories c ON c.id = cc.category_id WHERE c.parent_id IS NULL",
        "SELECT category_id, articles FROM category_counts",
    ):
        plan = " ".join(str(r[-1]) for r in app.store.db.execute("EXPLAIN QUERY PLAN " + sql))
        assert (
            "articles " not in plan.replace("category_counts", "")
            and "article_categories" not in plan
        )


def test_search_ranks_the_newest_matches_when_there_are_many(app: App) -> None:
    now = T0 + timedelta(days=400)
    many = [art(n, title=f"Hội nghị giao ban số {n}") for n in range(1, 61)]
    app.store.articles.upsert(many, now=now)
    hits = app.store.articles.search("hoi nghi", limit=5, candidates=20)
    # only the 20 most recently stored matches are candidates
    assert {h.article.id for h in hits} <= {a.id for a in many[-20:]}
    assert len(hits) == 5
    # with fewer matches than candidates, every match is ranked
    assert {h.article.id for h in app.store.articles.search("giao ban so 7", limit=50)} == {
        art(7).id
    }


def test_search_prefers_title_matches_then_the_newest(app: App) -> None:
    now = T0 + timedelta(days=400)
    app.store.articles.upsert(
        [
            art(1, title="Hội nghị tổng kết", summary="Tổng kết năm."),
            art(2, title="Tin khác", summary="Có hội nghị ở huyện."),
            art(3, title="Tin khác nữa", summary="Không.", body_text="Một hội nghị nhỏ."),
            art(4, title="Hội nghị sơ kết", summary="Sơ kết."),
        ],
        now=now,
    )
    ids = [h.article.id for h in app.store.articles.search("hoi nghi")]
    # title matches (newest first), then summary, then body only
    assert ids == [art(4).id, art(1).id, art(2).id, art(3).id]
    exact = app.store.articles.search("hội nghị")
    assert all(h.exact for h in exact) and [h.article.id for h in exact] == ids
    scores = [h.score for h in app.store.articles.search("hoi nghi")]
    assert scores == sorted(scores)  # lower is better, as with bm25
