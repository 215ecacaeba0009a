"""The articles repository: idempotent batched upserts, unpublishing, and the
reads feeds, digests and exports make (categories, search and ingest runs come
from their mixins)."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ..model import Article, ArticleKey, Category, ItemResult, Outcome
from ..text import utc_iso
from .articles_schema import ARTICLE_COLUMNS as _COLUMNS
from .db import Db, Row, guarded
from .runs import IngestRunsMixin
from .search import SearchMixin


def _shown(t: str) -> str:
    """What a feed shows of an article (``t``: the table's alias), under the names
    ``_article`` reads: no views, signature or related, and the text only where there
    is no HTML (it is the HTML's fallback)."""
    cols = "id, url, title, category_id, published_at, updated_at, author, summary, body_html"
    return (
        ", ".join(f"{t}.{c}" for c in cols.split(", "))
        + f", CASE WHEN {t}.body_html = '' THEN {t}.body_text ELSE '' END AS body_text"
        + ", 0 AS views, NULL AS signature, '[]' AS related"
    )


def content_hash(a: Article) -> str:
    """Hash of everything that makes an article's content (not views, not updated)."""
    payload = "\x1f".join(
        (
            a.url,
            a.title,
            "\x1e".join(a.category),
            a.category_slug,
            utc_iso(a.published_at),
            a.author or "\x00",
            a.summary,
            a.body_html,
            a.body_text,
            a.signature or "\x00",
            "\x1e".join(a.related),
        )
    )
    return hashlib.blake2b(payload.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _unique_segments(arts: list[Article]) -> Iterator[list[Article]]:
    """Split a batch where an id repeats, so each segment has distinct ids and a later
    version of an article is applied after the earlier one."""
    seen: set[str] = set()
    segment: list[Article] = []
    for a in arts:
        if a.id in seen:
            yield segment
            seen, segment = set(), []
        seen.add(a.id)
        segment.append(a)
    if segment:
        yield segment


@guarded
class ArticlesRepo(SearchMixin, IngestRunsMixin):
    """Articles over the store's one connection (one writer, one thread)."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self._categories: dict[str, Category] = {}
        self._by_id: dict[int, Category] = {}
        # Changes made through this connection: a cached ``version`` known to be
        # stale without asking SQLite (``feeds.publish`` checks at most every 100 ms).
        self.local_writes = 0
        self._load_categories()

    @property
    def version(self) -> int:
        """Changes whenever articles change; caches (and the build's manifest) compare
        it to know they are stale. A fresh random number rather than a count, so a
        store recreated or restored from a backup never comes back to a version that
        was recorded for other content."""
        return int(self._db.value("SELECT value FROM meta WHERE key = 'articles_version'"))

    def meta(self, key: str) -> str | None:
        """A value of the store's ``meta`` table (versions of stored forms)."""
        value = self._db.value("SELECT value FROM meta WHERE key = ?", (key,))
        return None if value is None else str(value)

    def set_meta(self, key: str, value: str) -> None:
        with self._db.write():
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def _bump(self) -> None:
        self._db.execute(
            "UPDATE meta SET value = CAST(random() & 9223372036854775807 AS TEXT) "
            "WHERE key = 'articles_version'"
        )
        self.local_writes += 1

    def upsert(self, articles: Iterable[Article], *, now: datetime) -> list[ItemResult]:
        """Insert or update articles in one transaction; per-article outcomes, in order.

        The same article again changes nothing (views are refreshed silently);
        changed content updates it and its ``updated_at``; nothing is duplicated.
        New articles are written with one statement per table for the whole batch.
        """
        now_s = utc_iso(now)
        results: list[ItemResult] = []
        try:
            with self._db.write() as conn:
                for segment in _unique_segments(list(articles)):
                    results += self._upsert_segment(conn, segment, now_s)
                if any(r.outcome != "unchanged" for r in results):
                    self._bump()
        except BaseException:
            self.refresh_categories()  # categories made in the rolled-back batch are gone
            raise
        return results

    def _existing(self, arts: list[Article]) -> dict[str, Row]:
        """The stored rows of these articles' ids, by id (in chunks of 500 ids)."""
        existing: dict[str, Row] = {}
        for start in range(0, len(arts), 500):
            chunk = [a.id for a in arts[start : start + 500]]
            for found in self._db.rows(
                "SELECT id, rowid, content_hash, views, deleted_at, updated_at FROM articles "
                f"WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            ):
                existing[found["id"]] = found
        return existing

    def _upsert_segment(
        self, conn: sqlite3.Connection, arts: list[Article], now_s: str
    ) -> list[ItemResult]:
        """Articles with distinct ids: look them all up at once, bulk-insert the new."""
        existing = self._existing(arts)
        next_rowid = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM articles").fetchone()[0])
        new_rows: list[tuple[Any, ...]] = []
        cat_rows: list[tuple[Any, ...]] = []
        fts_rows: list[tuple[Any, ...]] = []
        outcomes: list[ItemResult] = []
        for a in arts:
            h = content_hash(a)
            row = existing.get(a.id)
            outcome: Outcome
            if row is not None and row["content_hash"] == h and row["deleted_at"] is None:
                if row["views"] != a.views:
                    conn.execute(
                        "UPDATE articles SET views = ? WHERE rowid = ?", (a.views, row["rowid"])
                    )
                outcome = "unchanged"
            elif row is not None:
                self._update_one(conn, a, h, row, now_s)
                outcome = "updated"
            else:
                next_rowid += 1
                cat = self.ensure_category(a.category, a.category_slugs)
                published = utc_iso(a.published_at)
                new_rows.append(
                    (
                        next_rowid,
                        a.id,
                        *self._values(a, cat.id, published, h),
                        utc_iso(a.updated_at or a.published_at),
                        now_s,
                    )
                )
                cat_rows += [(cid, published, a.id, next_rowid) for cid in self._ancestors(cat)]
                fts_rows.append((next_rowid, a.title, a.summary, a.body_text))
                outcome = "added"
            outcomes.append(ItemResult(a.url or a.id, outcome, a.id))
        if new_rows:
            conn.executemany(
                "INSERT INTO articles (rowid, id, url, title, category_id, published_at, author, "
                "views, summary, body_html, body_text, signature, related, content_hash, "
                "updated_at, first_seen_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                new_rows,
            )
            self._index(conn, cat_rows)
            conn.executemany(
                "INSERT INTO articles_fts (rowid, title, summary, body_text) VALUES (?, ?, ?, ?)",
                fts_rows,
            )
        return outcomes

    @staticmethod
    def _values(a: Article, category_id: int, published: str, h: str) -> tuple[Any, ...]:
        related = json.dumps(list(a.related), ensure_ascii=False)
        return (
            a.url,
            a.title,
            category_id,
            published,
            a.author,
            a.views,
            a.summary,
            a.body_html,
            a.body_text,
            a.signature,
            related,
            h,
        )

    @staticmethod
    def _index(conn: sqlite3.Connection, cat_rows: list[tuple[Any, ...]]) -> None:
        """The category index (the full-text index follows updates by triggers)."""
        conn.executemany(
            "INSERT INTO article_categories (category_id, published_at, article_id, "
            "article_rowid) VALUES (?, ?, ?, ?)",
            cat_rows,
        )

    def _update_one(
        self, conn: sqlite3.Connection, a: Article, h: str, row: Row, now_s: str
    ) -> None:
        rowid, old_hash, old_updated = row["rowid"], row["content_hash"], row["updated_at"]
        if old_hash == h:  # was unpublished; republished unchanged
            updated = old_updated
        elif a.updated_at is not None and utc_iso(a.updated_at) > old_updated:
            updated = utc_iso(a.updated_at)
        else:
            updated = now_s
        cat = self.ensure_category(a.category, a.category_slugs)
        published = utc_iso(a.published_at)
        conn.execute(
            "UPDATE articles SET url=?, title=?, category_id=?, published_at=?, author=?, "
            "views=?, summary=?, body_html=?, body_text=?, signature=?, related=?, "
            "content_hash=?, updated_at=?, deleted_at=NULL WHERE rowid=?",
            (*self._values(a, cat.id, published, h), updated, rowid),
        )
        conn.execute("DELETE FROM article_categories WHERE article_rowid = ?", (rowid,))
        self._index(conn, [(cid, published, a.id, rowid) for cid in self._ancestors(cat)])

    def unpublish(self, article_id: str, *, now: datetime) -> bool:
        """Take an article out of every feed; True if it was published."""
        with self._db.write() as conn:
            rowid = self._db.value(
                "SELECT rowid FROM articles WHERE id = ? AND deleted_at IS NULL", (article_id,)
            )
            if rowid is None:
                return False
            conn.execute(
                "UPDATE articles SET deleted_at = ? WHERE rowid = ?", (utc_iso(now), rowid)
            )
            conn.execute("DELETE FROM article_categories WHERE article_rowid = ?", (rowid,))
            self._bump()
        return True

    # -- reading -----------------------------------------------------------

    def get(self, article_id: str) -> Article | None:
        row = self._db.row(
            f"SELECT {_COLUMNS} FROM articles WHERE id = ? AND deleted_at IS NULL", (article_id,)
        )
        return self._article(row) if row else None

    def count(self) -> int:
        """Published articles: the sum of the top-level categories' counts (no scan)."""
        return int(
            self._db.value(
                "SELECT coalesce(sum(cc.articles), 0) FROM category_counts cc "
                "JOIN categories c ON c.id = cc.category_id WHERE c.parent_id IS NULL"
            )
        )

    def latest(
        self, category: str | None = None, limit: int = 50, *, shown: bool = False
    ) -> list[Article]:
        """Newest first (ties by id, descending): all articles, or a category with
        descendants. ``shown``: only what a feed shows is read (``_shown``)."""
        if category is None:
            cols = _shown("articles") if shown else _COLUMNS
            rows = self._db.rows(
                f"SELECT {cols} FROM articles WHERE deleted_at IS NULL "
                "ORDER BY published_at DESC, id DESC LIMIT ?",
                (limit,),
            )
        else:
            cat = self.category(category)
            if cat is None:
                return []
            cols = (
                _shown("a") if shown else ", ".join(f"a.{c.strip()}" for c in _COLUMNS.split(","))
            )
            rows = self._db.rows(
                f"SELECT {cols} FROM article_categories ac "
                "JOIN articles a ON a.rowid = ac.article_rowid WHERE ac.category_id = ? "
                "ORDER BY ac.published_at DESC, ac.article_id DESC LIMIT ?",
                (cat.id, limit),
            )
        return [self._article(r) for r in rows]

    def latest_keys(self, category: str | None = None, limit: int = 50) -> list[ArticleKey]:
        """The keys of what ``latest`` returns, in the same order, without reading any
        article's text: enough to tell whether a feed changed (a few µs per article).
        Read as tuples (a build asks this of every feed)."""
        if category is None:
            sql = (
                "SELECT id, content_hash, published_at, updated_at FROM articles "
                "WHERE deleted_at IS NULL ORDER BY published_at DESC, id DESC LIMIT ?"
            )
            args: tuple[Any, ...] = (limit,)
        else:
            cat = self.category(category)
            if cat is None:
                return []
            sql = (
                "SELECT ac.article_id, a.content_hash, ac.published_at, a.updated_at "
                "FROM article_categories ac JOIN articles a ON a.rowid = ac.article_rowid "
                "WHERE ac.category_id = ? "
                "ORDER BY ac.published_at DESC, ac.article_id DESC LIMIT ?"
            )
            args = (cat.id, limit)
        return [ArticleKey(*r) for r in self._db.conn.execute(sql, args).fetchall()]

    def between(self, start: datetime, end: datetime) -> list[Article]:
        """Articles published in [start, end), newest first."""
        rows = self._db.rows(
            f"SELECT {_COLUMNS} FROM articles WHERE deleted_at IS NULL "
            "AND published_at >= ? AND published_at < ? ORDER BY published_at DESC, id DESC",
            (utc_iso(start), utc_iso(end)),
        )
        return [self._article(r) for r in rows]

    def iter_all(self, batch: int = 1000) -> Iterator[Article]:
        """Every published article, oldest first (ties by id), streamed."""
        last: tuple[str, str] = ("", "")
        while True:
            rows = self._db.rows(
                f"SELECT {_COLUMNS} FROM articles WHERE deleted_at IS NULL "
                "AND (published_at, id) > (?, ?) ORDER BY published_at, id LIMIT ?",
                (*last, batch),
            )
            if not rows:
                return
            for row in rows:
                yield self._article(row)
            last = (rows[-1]["published_at"], rows[-1]["id"])
