"""The articles concern's schema: articles, categories, the category index,
full-text search, ingest runs (migration set "tgfeed.core")."""

from __future__ import annotations

from .db import Database, Migrations

migrations = Migrations("tgfeed.core")


@migrations()
def m001_articles(db: Database) -> None:
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
def m002_category_counts(db: Database) -> None:
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


ARTICLE_COLUMNS = (
    "rowid, id, url, title, category_id, published_at, updated_at, author, views, summary, "
    "body_html, body_text, signature, related, deleted_at"
)


@migrations()
def m003_search_without_a_copy(db: Database) -> None:
    """Full-text search over the articles' own text: the FTS5 index becomes an
    external-content index of the published articles (the view ``article_text``),
    kept by triggers, instead of a table holding a folded copy of every article's
    title, summary and body. The index is rebuilt from the articles."""
    for sql in (
        "DROP TABLE articles_fts",
        """CREATE VIEW article_text AS
            SELECT rowid, title, summary, body_text FROM articles WHERE deleted_at IS NULL""",
        """CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, summary, body_text, content = 'article_text', content_rowid = 'rowid',
            columnsize = 0, tokenize = 'unicode61 remove_diacritics 2'
        )""",
        # A published article is indexed, an unpublished one is not. New articles are
        # indexed by the repository's batched insert (a trigger would make FTS5 flush
        # its pending terms for every row); changes and deletions by triggers, since
        # an external-content index must be told the old values to forget them.
        """CREATE TRIGGER articles_fts_update
        AFTER UPDATE OF title, summary, body_text, deleted_at ON articles BEGIN
            INSERT INTO articles_fts (articles_fts, rowid, title, summary, body_text)
            SELECT 'delete', OLD.rowid, OLD.title, OLD.summary, OLD.body_text
            WHERE OLD.deleted_at IS NULL;
            INSERT INTO articles_fts (rowid, title, summary, body_text)
            SELECT NEW.rowid, NEW.title, NEW.summary, NEW.body_text
            WHERE NEW.deleted_at IS NULL;
        END""",
        """CREATE TRIGGER articles_fts_delete AFTER DELETE ON articles
        WHEN OLD.deleted_at IS NULL BEGIN
            INSERT INTO articles_fts (articles_fts, rowid, title, summary, body_text)
            VALUES ('delete', OLD.rowid, OLD.title, OLD.summary, OLD.body_text);
        END""",
        "INSERT INTO articles_fts (articles_fts) VALUES ('rebuild')",
    ):
        db.conn.execute(sql)


@migrations()
def m004_category_revisions(db: Database) -> None:
    """A revision per category, kept by triggers: a fresh random number whenever
    anything a feed of that category lists could have changed (an index row added,
    removed or moved; an article's id, content, dates or publication changed). Equal
    revisions mean nothing changed since, so a build can keep a feed without reading
    its articles' keys. Random rather than counted: a store recreated or restored
    from a backup cannot come back to a revision a build recorded for other content.
    Views are not shown in feeds and do not change the revision."""
    bump = "UPDATE category_counts SET revision = random() WHERE category_id"
    indexed = "IN (SELECT category_id FROM article_categories WHERE article_rowid = {}.rowid)"
    for sql in (
        "ALTER TABLE category_counts ADD COLUMN revision INTEGER NOT NULL DEFAULT 0",
        "UPDATE category_counts SET revision = random()",
        "DROP TRIGGER article_categories_counted",
        "DROP TRIGGER article_categories_uncounted",
        """CREATE TRIGGER article_categories_counted AFTER INSERT ON article_categories
        BEGIN
            INSERT INTO category_counts (category_id, articles, revision)
            VALUES (NEW.category_id, 1, random())
            ON CONFLICT (category_id) DO UPDATE SET articles = articles + 1,
                revision = excluded.revision;
        END""",
        """CREATE TRIGGER article_categories_uncounted AFTER DELETE ON article_categories
        BEGIN
            UPDATE category_counts SET articles = articles - 1, revision = random()
            WHERE category_id = OLD.category_id;
        END""",
        f"""CREATE TRIGGER article_categories_moved AFTER UPDATE ON article_categories
        BEGIN
            {bump} IN (OLD.category_id, NEW.category_id);
        END""",
        f"""CREATE TRIGGER articles_revised
        AFTER UPDATE OF id, content_hash, published_at, updated_at, deleted_at ON articles
        WHEN OLD.id IS NOT NEW.id OR OLD.content_hash IS NOT NEW.content_hash
            OR OLD.published_at IS NOT NEW.published_at
            OR OLD.updated_at IS NOT NEW.updated_at OR OLD.deleted_at IS NOT NEW.deleted_at
        BEGIN
            {bump} {indexed.format("NEW")};
        END""",
        f"""CREATE TRIGGER articles_removed BEFORE DELETE ON articles
        BEGIN
            {bump} {indexed.format("OLD")};
        END""",
    ):
        db.conn.execute(sql)
