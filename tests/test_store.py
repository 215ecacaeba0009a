from __future__ import annotations

import dataclasses
import sqlite3
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tgfeed.app import App
from tgfeed.model import Article
from tgfeed.store import open_store

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=timezone.utc)


def art(n: int, **kw: object) -> Article:
    base = Article(
        id=f"tag:tuyengiaohungyen.vn,2018:bai-viet/{n}",
        url=f"https://tuyengiaohungyen.vn/bai-viet/bai-{n}.aspx",
        title=f"Hội nghị số {n}",
        category=("Thông tin - Tuyên truyền", "Tin tức hoạt động"),
        published_at=T0 + timedelta(hours=n),
        body_text=f"Nội dung bài {n}.",
        body_html=f"<p>Nội dung bài {n}.</p>",
        summary=f"Nội dung bài {n}.",
        views=n,
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def test_wal_and_migrations(app: App) -> None:
    assert app.store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = {r[0] for r in app.store.db.execute("SELECT name FROM _sqlite_migrations")}
    assert "m001_articles" in names


def test_upsert_is_idempotent_and_updates_only_on_change(app: App) -> None:
    now = T0 + timedelta(days=3)
    assert [r.outcome for r in app.store.articles.upsert([art(1), art(2)], now=now)] == [
        "added"
    ] * 2
    assert [r.outcome for r in app.store.articles.upsert([art(1)], now=now)] == ["unchanged"]
    # A new view count is not a content change: stored, but updated_at stays.
    assert [r.outcome for r in app.store.articles.upsert([art(1, views=999)], now=now)] == [
        "unchanged"
    ]
    got = app.store.articles.get(art(1).id)
    assert got is not None and got.views == 999 and got.updated_at == art(1).published_at
    later = now + timedelta(hours=1)
    assert [r.outcome for r in app.store.articles.upsert([art(1, title="Sửa")], now=later)] == [
        "updated"
    ]
    got = app.store.articles.get(art(1).id)
    assert got is not None and got.title == "Sửa" and got.updated_at == later
    assert app.store.articles.count() == 2


def test_category_change_keeps_identity(app: App) -> None:
    now = T0 + timedelta(days=3)
    app.store.articles.upsert([art(1)], now=now)
    moved = art(1, category=("Chính trị - Xã hội", "Tin tức trong tỉnh"))
    assert app.store.articles.upsert([moved], now=now)[0].outcome == "updated"
    assert app.store.articles.count() == 1
    assert app.store.articles.latest("thong-tin-tuyen-truyen") == []
    assert [a.id for a in app.store.articles.latest("chinh-tri-xa-hoi")] == [art(1).id]


def test_latest_includes_descendants_newest_first(app: App) -> None:
    now = T0 + timedelta(days=3)
    other = ("Thông tin - Tuyên truyền", "Hội nghị - Hội thảo")
    app.store.articles.upsert(
        [art(1), art(2, category=other), art(3), art(4, category=("Thông báo",))], now=now
    )
    parent = [a.id for a in app.store.articles.latest("thong-tin-tuyen-truyen", 10)]
    assert parent == [art(3).id, art(2).id, art(1).id]
    child = [
        a.id for a in app.store.articles.latest("thong-tin-tuyen-truyen/hoi-nghi-hoi-thao", 10)
    ]
    assert child == [art(2).id]
    assert [a.id for a in app.store.articles.latest(None, 2)] == [art(4).id, art(3).id]
    assert app.store.articles.latest("khong-co") == []


def test_ties_broken_by_id(app: App) -> None:
    now = T0 + timedelta(days=3)
    same = T0 + timedelta(hours=5)
    app.store.articles.upsert([art(7, published_at=same), art(8, published_at=same)], now=now)
    assert [a.id for a in app.store.articles.latest(None, 2)] == sorted(
        [art(7).id, art(8).id], reverse=True
    )


def test_latest_uses_the_category_index(app: App) -> None:
    plan = app.store.db.execute(
        "EXPLAIN QUERY PLAN SELECT a.id FROM article_categories ac JOIN articles a "
        "ON a.rowid = ac.article_rowid WHERE ac.category_id = 1 "
        "ORDER BY ac.published_at DESC, ac.article_id DESC LIMIT 50"
    ).fetchall()
    text = " ".join(str(r[-1]) for r in plan)
    assert "USING PRIMARY KEY" in text and "TEMP B-TREE" not in text


def test_search_folds_diacritics_and_ranks_exact_tone_first(app: App) -> None:
    now = T0 + timedelta(days=3)
    app.store.articles.upsert(
        [
            art(1, title="Hội nghị Ban Chấp hành Đảng bộ tỉnh", body_text="Đảng ủy khối họp."),
            art(2, title="Hồi nghỉ của cán bộ hưu trí", body_text="Nghỉ hưu."),
            art(3, title="Khai giảng năm học mới", body_text="Không liên quan."),
        ],
        now=now,
    )
    ids = [h.article.id for h in app.store.articles.search("hoi nghi")]
    assert set(ids) == {art(1).id, art(2).id}
    assert [h.article.id for h in app.store.articles.search("dang uy")] == [art(1).id]
    exact = app.store.articles.search("Hồi nghỉ")
    assert exact[0].article.id == art(2).id and exact[0].exact
    assert app.store.articles.search('"; DROP TABLE articles; --') == []
    assert app.store.articles.search("") == []


def test_unpublish_leaves_every_listing(app: App) -> None:
    now = T0 + timedelta(days=3)
    app.store.articles.upsert([art(1), art(2)], now=now)
    v = app.store.articles.version
    assert app.store.articles.unpublish(art(1).id, now=now)
    assert app.store.articles.version != v
    assert art(1).id not in [a.id for a in app.store.articles.latest(None)]
    assert art(1).id not in [a.id for a in app.store.articles.latest("thong-tin-tuyen-truyen")]
    assert app.store.articles.search("hoi nghi so 1") == [] or all(
        h.article.id != art(1).id for h in app.store.articles.search("hoi nghi so 1")
    )
    assert not app.store.articles.unpublish(art(1).id, now=now)


def test_failed_write_leaves_no_half_batch(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    bad = art(2, category=())
    try:
        store.articles.upsert([art(1), bad], now=T0)
    except Exception:
        pass
    assert store.articles.count() == 0
    store.close()


def test_busy_store_waits_for_the_lock(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db", busy_timeout_ms=3000)
    other = sqlite3.connect(tmp_path / "s.db", timeout=0, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    import threading

    threading.Timer(0.3, other.commit).start()
    assert store.articles.upsert([art(1)], now=T0)[0].outcome == "added"
    other.close()
    store.close()


_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), min_size=1, max_size=60)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(title=_text, body=_text, author=st.none() | _text, views=st.integers(0, 10**9))
def test_store_round_trip(app: App, title: str, body: str, author: str | None, views: int) -> None:
    from tgfeed.text import clean_block, clean_line

    t, b = clean_line(title) or "T", clean_block(body) or "B"
    a = art(100, title=t, body_text=b, author=author and (clean_line(author) or None), views=views)
    app.store.articles.upsert([a], now=T0)
    got = app.store.articles.get(a.id)
    assert got is not None
    assert (got.title, got.body_text, got.author, got.views) == (t, b, a.author, views)
    assert got.published_at == a.published_at
    assert unicodedata.is_normalized("NFC", got.title)
