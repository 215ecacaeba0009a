"""The full-text index holds no copy of the articles' text, follows every write, and
a store made before this design is migrated (its index rebuilt from the articles)."""

from __future__ import annotations

import dataclasses
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tgfeed.model import Article
from tgfeed.store import open_store
from tgfeed.store.search import _spellings
from tgfeed.text import fold_d

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def art(n: int, **kw: object) -> Article:
    base = Article(
        id=f"tag:example.org,2025:bai/{n}",
        url=f"https://example.org/bai/{n}.aspx",
        title=f"Hội nghị Đảng ủy số {n}",
        category=("Thông tin", "Tin tức"),
        published_at=T0 + timedelta(hours=n),
        body_text=f"Đoàn kết xây dựng quê hương, bài {n}.",
        body_html=f"<p>Đoàn kết xây dựng quê hương, bài {n}.</p>",
        summary=f"Tóm tắt bài {n}.",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def ids(store: object, query: str) -> set[str]:
    return {h.article.id for h in store.articles.search(query, 100)}  # type: ignore[attr-defined]


def integrity(conn: sqlite3.Connection) -> None:
    """FTS5 compares its index with the content it indexes; raises on any difference."""
    conn.execute("INSERT INTO articles_fts (articles_fts, rank) VALUES ('integrity-check', 1)")


def test_the_index_keeps_no_copy_of_the_text(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    store.articles.upsert([art(1)], now=T0)
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
    assert "articles_fts" in tables and "articles_fts_content" not in tables
    assert "articles_fts_docsize" not in tables
    store.close()


def test_the_index_follows_inserts_updates_unpublishing_and_republishing(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    store.articles.upsert([art(1), art(2), art(3)], now=T0)
    assert ids(store, "dang uy") == {art(1).id, art(2).id, art(3).id}
    # an update forgets the old words and learns the new
    store.articles.upsert([art(2, title="Khai giảng năm học", summary="Mới.")], now=T0)
    assert art(2).id not in ids(store, "hoi nghi")
    assert ids(store, "khai giang") == {art(2).id}
    assert store.articles.unpublish(art(3).id, now=T0)
    assert art(3).id not in ids(store, "doan ket")
    integrity(store.db.conn)
    store.articles.upsert([art(3)], now=T0 + timedelta(days=1))  # republished
    assert art(3).id in ids(store, "doan ket")
    # a views-only change touches nothing indexed
    store.articles.upsert([art(1, views=99)], now=T0)
    integrity(store.db.conn)
    store.close()


def test_a_store_with_the_folded_copy_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    store = open_store(path)
    store.articles.upsert([art(n) for n in range(1, 6)], now=T0)
    store.articles.unpublish(art(5).id, now=T0)
    conn = store.db.conn
    # Put the store back as the first design left it: a folded copy in FTS5.
    conn.executescript(
        """
        DROP TRIGGER articles_fts_update;
        DROP TRIGGER articles_fts_delete; DROP TABLE articles_fts; DROP VIEW article_text;
        CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, summary, body, tokenize = 'unicode61 remove_diacritics 2');
        DELETE FROM _sqlite_migrations WHERE name = 'm003_search_without_a_copy';
        """
    )
    rows = conn.execute(
        "SELECT rowid, title, summary, body_text FROM articles WHERE deleted_at IS NULL"
    ).fetchall()
    conn.executemany(
        "INSERT INTO articles_fts (rowid, title, summary, body) VALUES (?, ?, ?, ?)",
        [(r, fold_d(t), fold_d(s), fold_d(b)) for r, t, s, b in rows],
    )
    store.close()

    store = open_store(path)
    assert ids(store, "dang uy") == {art(n).id for n in range(1, 5)}  # not the unpublished
    assert ids(store, "Đoàn kết") == {art(n).id for n in range(1, 5)}
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
    assert "articles_fts_content" not in tables
    integrity(store.db.conn)
    store.close()


def test_each_d_of_a_query_word_matches_d_and_d_with_stroke() -> None:
    assert _spellings("hoi") == ["hoi"]
    assert sorted(_spellings("dang")) == ["dang", "đang"]
    assert sorted(_spellings("dad")) == ["dad", "dađ", "đad", "đađ"]
    # past four, the further d are matched as written
    five = _spellings("ddddd")
    assert len(five) == 16 and all(w.endswith("d") and len(w) == 5 for w in five)
