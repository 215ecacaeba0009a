"""Articles, hierarchical categories, diacritic-folded search, ingest runs."""

from __future__ import annotations

import contextlib
import hashlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..errors import StoreError
from ..model import Article, ArticleKey, BatchResult, Category, ItemResult, Outcome, SearchHit
from ..text import fold, fold_d, parse_iso_datetime, slugify, utc_iso
from . import db as dbmod

migrations = dbmod.Migrations("tgfeed.core")


@migrations()
def m001_articles(db: dbmod.Database) -> None:
    db.executescript(
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE categories (
            id INTEGER PRIMARY KEY,
            slug_path TEXT NOT NULL UNIQUE,
            name TEXT NOT NULL,
            names TEXT NOT NULL,            -- JSON list: the path of names
            parent_id INTEGER REFERENCES categories(id),
            description TEXT
        );
        CREATE TABLE articles (
            rowid INTEGER PRIMARY KEY,
            id TEXT NOT NULL UNIQUE,        -- stable tag URI, never from the title
            url TEXT NOT NULL,
            title TEXT NOT NULL,
            category_id INTEGER NOT NULL REFERENCES categories(id),
            published_at TEXT NOT NULL,     -- UTC ISO 8601
            updated_at TEXT NOT NULL,
            author TEXT,
            views INTEGER NOT NULL DEFAULT 0,
            summary TEXT NOT NULL,
            body_html TEXT NOT NULL,
            body_text TEXT NOT NULL,
            signature TEXT,
            related TEXT NOT NULL,          -- JSON list of titles
            content_hash TEXT NOT NULL,
            first_seen_at TEXT NOT NULL,
            deleted_at TEXT
        );
        CREATE INDEX articles_latest ON articles(published_at, id) WHERE deleted_at IS NULL;
        CREATE INDEX articles_url ON articles(url);
        -- One row per (article, category and each of its ancestors): "latest N of a
        -- category with its descendants" is one ordered range scan of this index.
        CREATE TABLE article_categories (
            category_id INTEGER NOT NULL,
            published_at TEXT NOT NULL,
            article_id TEXT NOT NULL,
            article_rowid INTEGER NOT NULL,
            PRIMARY KEY (category_id, published_at, article_id)
        ) WITHOUT ROWID;
        CREATE INDEX article_categories_article ON article_categories(article_rowid);
        CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, summary, body, tokenize = 'unicode61 remove_diacritics 2'
        );
        CREATE TABLE ingest_runs (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            added INTEGER NOT NULL DEFAULT 0,
            updated INTEGER NOT NULL DEFAULT 0,
            unchanged INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE ingest_failures (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES ingest_runs(id),
            item TEXT NOT NULL,
            reason TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX ingest_failures_run ON ingest_failures(run_id);
        INSERT INTO meta VALUES ('articles_version', '0');
        """
    )


@migrations()
def m002_category_counts(db: dbmod.Database) -> None:
    """Articles per category, kept by triggers on the category index, so counting
    (``/healthz``, ``tgfeed status``, ``tgfeed categories``) never scans the archive.
    A published article has one index row per category on its path and none once
    unpublished, so the counts of the top-level categories add up to ``count()``."""
    for sql in (
        """CREATE TABLE category_counts (
            category_id INTEGER PRIMARY KEY,
            articles INTEGER NOT NULL DEFAULT 0
        )""",
        """INSERT INTO category_counts (category_id, articles)
            SELECT category_id, count(*) FROM article_categories GROUP BY category_id""",
        """CREATE TRIGGER article_categories_counted AFTER INSERT ON article_categories
        BEGIN
            INSERT INTO category_counts (category_id, articles) VALUES (NEW.category_id, 1)
            ON CONFLICT (category_id) DO UPDATE SET articles = articles + 1;
        END""",
        """CREATE TRIGGER article_categories_uncounted AFTER DELETE ON article_categories
        BEGIN
            UPDATE category_counts SET articles = articles - 1
            WHERE category_id = OLD.category_id;
        END""",
    ):
        db.conn.execute(sql)


_COLUMNS = (
    "rowid, id, url, title, category_id, published_at, updated_at, author, views, summary, "
    "body_html, body_text, signature, related, deleted_at"
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


def _fts_query(query: str) -> str | None:
    tokens = "".join(c if c.isalnum() else " " for c in fold(query)).split()
    if not tokens:
        return None
    return " ".join(f'"{t}"' for t in tokens[:16])


def _relevance(words: int, title: str, summary: str) -> float:
    """How well a candidate matches, from FTS5's highlight() of its title and
    summary (each matched word instance opens with \x01): instances in the title
    count ×10, in the summary ×4, repeats saturating as in bm25."""
    score = 0.0
    for weight, text in ((10.0, title), (4.0, summary)):
        n = min(text.count("\x01"), 2 * words)
        score += weight * n * 2.2 / (n + 1.2)
    return score


class Store:
    """Articles and categories over one SQLite connection (one writer, one thread)."""

    def __init__(self, db: dbmod.Database, path: Path | None = None) -> None:
        self.db = db
        self.path = path
        self._categories: dict[str, Category] = {}
        self._by_id: dict[int, Category] = {}
        self._load_categories()

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def version(self) -> int:
        """Grows whenever articles change; caches compare it to know they are stale."""
        row = self.db.execute("SELECT value FROM meta WHERE key = 'articles_version'").fetchone()
        return int(row[0])

    def _bump(self) -> None:
        self.db.conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'articles_version'"
        )

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """A write transaction taken with BEGIN IMMEDIATE, so a busy database is waited
        for (busy_timeout) instead of failing on a read-to-write upgrade; nested calls
        become savepoints."""
        conn = self.db.conn
        if conn.in_transaction:
            with self.db.atomic():
                yield
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # still locked after busy_timeout
            raise StoreError(
                f"{self.path or 'store'}: cannot write: {exc}",
                hint="another process is writing to the store; try again, "
                "or raise [store] busy_timeout",
            ) from exc
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # -- categories --------------------------------------------------------

    def _load_categories(self) -> None:
        self._categories = {}
        for row in self.db.execute(
            "SELECT id, slug_path, name, names, parent_id, description FROM categories"
        ):
            cat = Category(row[0], row[1], row[2], tuple(json.loads(row[3])), row[4], row[5])
            self._categories[cat.slug_path] = cat

    def ensure_category(
        self,
        names: Sequence[str],
        slugs: Sequence[str] | None = None,
        description: str | None = None,
    ) -> Category:
        """The category at this path, creating it and its ancestors as needed."""
        if not names:
            raise StoreError("an article needs at least one category")
        slugs = list(slugs) if slugs else [slugify(n) or "khac" for n in names]
        parent: Category | None = None
        for depth in range(1, len(names) + 1):
            slug_path = "/".join(slugs[:depth])
            cat = self._categories.get(slug_path)
            is_leaf = depth == len(names)
            if cat is None:
                cur = self.db.conn.execute(
                    "INSERT INTO categories (slug_path, name, names, parent_id, description) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        slug_path,
                        names[depth - 1],
                        json.dumps(list(names[:depth]), ensure_ascii=False),
                        parent.id if parent else None,
                        description if is_leaf else None,
                    ),
                )
                cat = Category(
                    int(cur.lastrowid or 0),
                    slug_path,
                    names[depth - 1],
                    tuple(names[:depth]),
                    parent.id if parent else None,
                    description if is_leaf else None,
                )
                self._categories[slug_path] = cat
            elif is_leaf and description and cat.description != description:
                self.db.conn.execute(
                    "UPDATE categories SET description = ? WHERE id = ?", (description, cat.id)
                )
                cat = Category(
                    cat.id, cat.slug_path, cat.name, cat.names, cat.parent_id, description
                )
                self._categories[slug_path] = cat
            parent = cat
        assert parent is not None
        return parent

    def categories(self, *, with_counts: bool = False, only_used: bool = False) -> list[Category]:
        """All categories, parents before children, in slug order."""
        stored = self.db.execute("SELECT count(*) FROM categories").fetchone()[0]
        if stored != len(self._categories):
            self.refresh_categories()
        counts: dict[int, int] = {}
        if with_counts or only_used:
            counts = dict(
                self.db.execute("SELECT category_id, articles FROM category_counts").fetchall()
            )
        cats = sorted(self._categories.values(), key=lambda c: c.slug_path.split("/"))
        out = [
            Category(
                c.id, c.slug_path, c.name, c.names, c.parent_id, c.description, counts.get(c.id, 0)
            )
            for c in cats
        ]
        return [c for c in out if c.article_count] if only_used else out

    def category(self, slug_path: str) -> Category | None:
        cat = self._categories.get(slug_path)
        if cat is None:  # another process (an import, a crawl) may have added it
            stored = self.db.execute("SELECT count(*) FROM categories").fetchone()[0]
            if stored != len(self._categories):
                self.refresh_categories()
                cat = self._categories.get(slug_path)
        return cat

    def _ancestors(self, cat: Category) -> list[int]:
        parts = cat.slug_path.split("/")
        return [self._categories["/".join(parts[:i])].id for i in range(1, len(parts) + 1)]

    # -- writing -----------------------------------------------------------

    def upsert(self, articles: Iterable[Article], *, now: datetime) -> list[ItemResult]:
        """Insert or update articles in one transaction; per-article outcomes, in order.

        The same article again changes nothing (views are refreshed silently);
        changed content updates it and its ``updated_at``; nothing is duplicated.
        New articles are written with one statement per table for the whole batch.
        """
        now_s = utc_iso(now)
        conn = self.db.conn
        results: list[ItemResult] = []
        try:
            with self.write():
                for segment in _unique_segments(list(articles)):
                    results += self._upsert_segment(conn, segment, now_s)
                if any(r.outcome != "unchanged" for r in results):
                    self._bump()
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path or 'store'}: write failed: {exc}") from exc
        return results

    def _upsert_segment(
        self, conn: sqlite3.Connection, arts: list[Article], now_s: str
    ) -> list[ItemResult]:
        """Articles with distinct ids: look them all up at once, bulk-insert the new."""
        existing: dict[str, tuple[Any, ...]] = {}
        for start in range(0, len(arts), 500):
            chunk = [a.id for a in arts[start : start + 500]]
            for row in conn.execute(
                "SELECT id, rowid, content_hash, views, deleted_at, updated_at FROM articles "
                f"WHERE id IN ({','.join('?' * len(chunk))})",
                chunk,
            ):
                existing[row[0]] = row[1:]
        next_rowid = int(conn.execute("SELECT coalesce(max(rowid), 0) FROM articles").fetchone()[0])
        new_rows: list[tuple[Any, ...]] = []
        cat_rows: list[tuple[Any, ...]] = []
        fts_rows: list[tuple[Any, ...]] = []
        outcomes: list[ItemResult] = []
        for a in arts:
            h = content_hash(a)
            row = existing.get(a.id)
            outcome: Outcome
            if row is not None and row[1] == h and row[3] is None:
                if row[2] != a.views:
                    conn.execute("UPDATE articles SET views = ? WHERE rowid = ?", (a.views, row[0]))
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
                fts_rows.append(
                    (next_rowid, fold_d(a.title), fold_d(a.summary), fold_d(a.body_text))
                )
                outcome = "added"
            outcomes.append(ItemResult(a.url or a.id, outcome, a.id))
        if new_rows:
            conn.executemany(
                "INSERT INTO articles (rowid, id, url, title, category_id, published_at, author, "
                "views, summary, body_html, body_text, signature, related, content_hash, "
                "updated_at, first_seen_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                new_rows,
            )
            self._index(conn, cat_rows, fts_rows)
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
    def _index(
        conn: sqlite3.Connection, cat_rows: list[tuple[Any, ...]], fts_rows: list[tuple[Any, ...]]
    ) -> None:
        conn.executemany(
            "INSERT INTO article_categories (category_id, published_at, article_id, "
            "article_rowid) VALUES (?, ?, ?, ?)",
            cat_rows,
        )
        conn.executemany(
            "INSERT INTO articles_fts (rowid, title, summary, body) VALUES (?, ?, ?, ?)", fts_rows
        )

    def _update_one(
        self, conn: sqlite3.Connection, a: Article, h: str, row: tuple[Any, ...], now_s: str
    ) -> None:
        rowid, old_hash, _, _, old_updated = row
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
        conn.execute("DELETE FROM articles_fts WHERE rowid = ?", (rowid,))
        self._index(
            conn,
            [(cid, published, a.id, rowid) for cid in self._ancestors(cat)],
            [(rowid, fold_d(a.title), fold_d(a.summary), fold_d(a.body_text))],
        )

    def unpublish(self, article_id: str, *, now: datetime) -> bool:
        """Take an article out of every feed; True if it was published."""
        with self.write():
            row = self.db.conn.execute(
                "SELECT rowid FROM articles WHERE id = ? AND deleted_at IS NULL", (article_id,)
            ).fetchone()
            if row is None:
                return False
            self.db.conn.execute(
                "UPDATE articles SET deleted_at = ? WHERE rowid = ?", (utc_iso(now), row[0])
            )
            self.db.conn.execute(
                "DELETE FROM article_categories WHERE article_rowid = ?", (row[0],)
            )
            self.db.conn.execute("DELETE FROM articles_fts WHERE rowid = ?", (row[0],))
            self._bump()
        return True

    # -- reading -----------------------------------------------------------

    def _article(self, row: Sequence[Any]) -> Article:
        cat = self._category_by_id(row[4])
        return Article(
            id=row[1],
            url=row[2],
            title=row[3],
            category=cat.names,
            category_slugs=tuple(cat.slug_path.split("/")),
            published_at=parse_iso_datetime(row[5]),
            updated_at=parse_iso_datetime(row[6]),
            author=row[7],
            views=row[8],
            summary=row[9],
            body_html=row[10],
            body_text=row[11],
            signature=row[12],
            related=tuple(json.loads(row[13])),
        )

    def _by_id_cache(self) -> dict[int, Category]:
        if len(self._by_id) != len(self._categories):
            self._by_id = {c.id: c for c in self._categories.values()}
        return self._by_id

    def _category_by_id(self, category_id: int) -> Category:
        """A category by id; another process may have added it since we loaded them."""
        cat = self._by_id_cache().get(category_id)
        if cat is None:
            self._load_categories()
            self._by_id = {}
            cat = self._by_id_cache()[category_id]
        return cat

    def refresh_categories(self) -> None:
        """Re-read categories (another process may have added some)."""
        self._load_categories()
        self._by_id = {}

    def get(self, article_id: str) -> Article | None:
        row = self.db.execute(
            f"SELECT {_COLUMNS} FROM articles WHERE id = ? AND deleted_at IS NULL", (article_id,)
        ).fetchone()
        return self._article(row) if row else None

    def count(self) -> int:
        """Published articles: the sum of the top-level categories' counts (no scan)."""
        return int(
            self.db.execute(
                "SELECT coalesce(sum(cc.articles), 0) FROM category_counts cc "
                "JOIN categories c ON c.id = cc.category_id WHERE c.parent_id IS NULL"
            ).fetchone()[0]
        )

    def latest(self, category: str | None = None, limit: int = 50) -> list[Article]:
        """Newest first (ties by id, descending): all articles, or a category with descendants."""
        if category is None:
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM articles WHERE deleted_at IS NULL "
                "ORDER BY published_at DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        else:
            cat = self.category(category)
            if cat is None:
                return []
            cols = ", ".join(f"a.{c.strip()}" for c in _COLUMNS.split(","))
            rows = self.db.execute(
                f"SELECT {cols} FROM article_categories ac "
                "JOIN articles a ON a.rowid = ac.article_rowid WHERE ac.category_id = ? "
                "ORDER BY ac.published_at DESC, ac.article_id DESC LIMIT ?",
                (cat.id, limit),
            ).fetchall()
        return [self._article(r) for r in rows]

    def latest_keys(self, category: str | None = None, limit: int = 50) -> list[ArticleKey]:
        """The keys of what ``latest`` returns, in the same order, without reading any
        article's text: enough to tell whether a feed changed (a few µs per article)."""
        if category is None:
            rows = self.db.execute(
                "SELECT id, content_hash, published_at, updated_at FROM articles "
                "WHERE deleted_at IS NULL ORDER BY published_at DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        else:
            cat = self.category(category)
            if cat is None:
                return []
            rows = self.db.execute(
                "SELECT ac.article_id, a.content_hash, ac.published_at, a.updated_at "
                "FROM article_categories ac JOIN articles a ON a.rowid = ac.article_rowid "
                "WHERE ac.category_id = ? "
                "ORDER BY ac.published_at DESC, ac.article_id DESC LIMIT ?",
                (cat.id, limit),
            ).fetchall()
        return [ArticleKey(*row) for row in rows]

    def between(self, start: datetime, end: datetime) -> list[Article]:
        """Articles published in [start, end), newest first."""
        rows = self.db.execute(
            f"SELECT {_COLUMNS} FROM articles WHERE deleted_at IS NULL "
            "AND published_at >= ? AND published_at < ? ORDER BY published_at DESC, id DESC",
            (utc_iso(start), utc_iso(end)),
        ).fetchall()
        return [self._article(r) for r in rows]

    def iter_all(self, batch: int = 1000) -> Iterator[Article]:
        """Every published article, oldest first (ties by id), streamed."""
        last: tuple[str, str] = ("", "")
        while True:
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM articles WHERE deleted_at IS NULL "
                "AND (published_at, id) > (?, ?) ORDER BY published_at, id LIMIT ?",
                (*last, batch),
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield self._article(row)
            last = (rows[-1][5], rows[-1][1])

    def search(self, query: str, limit: int = 20, *, candidates: int = 400) -> list[SearchHit]:
        """Diacritic-insensitive full-text search; exact-tone matches rank first.

        ``hoi nghi`` finds ``Hội nghị``; ``dang uy`` finds ``Đảng ủy``.

        The cost does not grow with the archive. The candidates are the
        ``candidates`` most recently stored matches (FTS5 walks its index
        backwards by rowid and stops there), ranked here: exact tone first, then
        the query's words in the title (×10) and the summary (×4), then the
        newest. When fewer articles match, every match is ranked. (FTS5's bm25()
        would score every match, after counting every row that holds each query
        word: most of the index for a word as common as ``hội nghị``.)
        """
        match = _fts_query(query)
        if match is None:
            return []
        try:
            found = self.db.execute(
                "SELECT rowid, highlight(articles_fts, 0, char(1), ''), "
                "highlight(articles_fts, 1, char(1), '') FROM articles_fts "
                "WHERE articles_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
                (match, candidates),
            ).fetchall()
        except sqlite3.OperationalError:
            return []
        if not found:
            return []
        words = match.count('"') // 2  # the query's words, each quoted once
        relevance = {r[0]: _relevance(words, r[1], r[2]) for r in found}
        marks = ",".join("?" * len(relevance))
        rows = self.db.execute(
            "SELECT rowid, id, published_at, title, summary, body_text FROM articles "
            f"WHERE rowid IN ({marks}) AND deleted_at IS NULL",
            list(relevance),
        ).fetchall()
        needle = " ".join(query.split()).casefold()
        exact = {
            r[0]: needle in r[3].casefold()
            or needle in r[4].casefold()
            or needle in r[5].casefold()
            for r in rows
        }
        rows.sort(key=lambda r: (r[2], r[1]), reverse=True)  # newest first, then ...
        rows.sort(key=lambda r: (not exact[r[0]], -relevance[r[0]]))  # ... by rank
        top = [r[0] for r in rows[:limit]]
        if not top:
            return []
        full = {
            row[0]: row
            for row in self.db.execute(
                f"SELECT {_COLUMNS} FROM articles WHERE rowid IN ({','.join('?' * len(top))})",
                top,
            )
        }
        return [
            SearchHit(self._article(full[rowid]), -relevance[rowid], exact[rowid])
            for rowid in top
            if rowid in full
        ]

    # -- ingest runs -------------------------------------------------------

    def record_run(
        self, source: str, result: BatchResult, *, started: datetime, finished: datetime
    ) -> int:
        """Store a finished ingest run with its per-item failures; returns its id."""
        c = result.counts
        with self.write():
            cur = self.db.conn.execute(
                "INSERT INTO ingest_runs (source, started_at, finished_at, added, updated, "
                "unchanged, failed) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    source,
                    utc_iso(started),
                    utc_iso(finished),
                    c["added"],
                    c["updated"],
                    c["unchanged"],
                    c["failed"],
                ),
            )
            run_id = int(cur.lastrowid or 0)
            self.db.conn.executemany(
                "INSERT INTO ingest_failures (run_id, item, reason, at) VALUES (?, ?, ?, ?)",
                [(run_id, f.item, f.reason or "", utc_iso(finished)) for f in result.failures],
            )
        return run_id

    def recent_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT id, source, started_at, finished_at, added, updated, unchanged, failed "
            "FROM ingest_runs ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        keys = (
            "id",
            "source",
            "started_at",
            "finished_at",
            "added",
            "updated",
            "unchanged",
            "failed",
        )
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def recent_failures(self, limit: int = 20) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT f.run_id, r.source, f.item, f.reason, f.at FROM ingest_failures f "
            "JOIN ingest_runs r ON r.id = f.run_id ORDER BY f.id DESC LIMIT ?",
            (limit,),
        ).fetchall()
        keys = ("run_id", "source", "item", "reason", "at")
        return [dict(zip(keys, r, strict=True)) for r in rows]


def open_store(path: Path | str, *, busy_timeout_ms: int = 5000) -> Store:
    """Open the store at ``path``, applying pending migrations."""
    db = dbmod.connect(path, busy_timeout_ms=busy_timeout_ms)
    dbmod.apply(db, migrations)
    return Store(db, Path(path) if str(path) != ":memory:" else None)
