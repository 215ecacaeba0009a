"""What the sources concern remembers between runs: the HTTP cache per URL
(ETag, Last-Modified, content hash, status), each source's state (last run,
consecutive failures, last error) and the files a directory source has ingested.

Its own migration set, applied on first use over the store's connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..text import parse_iso_datetime, utc_iso
from . import db as dbmod
from .core import Store

migrations = dbmod.Migrations("tgfeed.sources")


@migrations()
def m001_sources(db: dbmod.Database) -> None:
    db.executescript(
        """
        CREATE TABLE source_http_cache (
            url TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            kind TEXT NOT NULL,             -- 'listing' | 'article' | 'feed'
            etag TEXT,
            last_modified TEXT,
            content_hash TEXT,
            status INTEGER,
            fetched_at TEXT NOT NULL,       -- UTC ISO 8601
            article_id TEXT,
            published_at TEXT,              -- UTC ISO 8601, articles only
            links TEXT                      -- JSON list, listing pages only
        );
        CREATE INDEX source_http_cache_recent
            ON source_http_cache(source, kind, published_at);
        CREATE TABLE source_state (
            name TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            last_run_at TEXT,
            last_ok_at TEXT,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            last_counts TEXT                -- JSON object
        );
        CREATE TABLE source_files (
            source TEXT NOT NULL,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            ingested_at TEXT NOT NULL,
            PRIMARY KEY (source, path)
        );
        """
    )


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """What was last fetched from one URL."""

    url: str
    source: str
    kind: str
    fetched_at: datetime
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    status: int | None = None
    article_id: str | None = None
    published_at: datetime | None = None
    links: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's health for the status page and the alert."""

    name: str
    kind: str
    last_run_at: datetime | None = None
    last_ok_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_counts: dict[str, int] | None = None


_CACHE_COLS = (
    "url, source, kind, fetched_at, etag, last_modified, content_hash, status, "
    "article_id, published_at, links"
)


def _when(value: str | None) -> datetime | None:
    return parse_iso_datetime(value) if value else None


def _entry(row: Sequence[Any]) -> CacheEntry:
    return CacheEntry(
        url=row[0],
        source=row[1],
        kind=row[2],
        fetched_at=parse_iso_datetime(row[3]),
        etag=row[4],
        last_modified=row[5],
        content_hash=row[6],
        status=row[7],
        article_id=row[8],
        published_at=_when(row[9]),
        links=tuple(json.loads(row[10])) if row[10] else (),
    )


class SourcesStore:
    """The sources tables over the article store's connection."""

    def __init__(self, store: Store) -> None:
        self.db = store.db
        dbmod.apply(self.db, migrations)

    # -- HTTP cache --------------------------------------------------------

    def cache_get(self, url: str) -> CacheEntry | None:
        row = self.db.execute(
            f"SELECT {_CACHE_COLS} FROM source_http_cache WHERE url = ?", (url,)
        ).fetchone()
        return _entry(row) if row else None

    def cache_put(self, entries: Iterable[CacheEntry]) -> None:
        rows = [
            (
                e.url,
                e.source,
                e.kind,
                utc_iso(e.fetched_at),
                e.etag,
                e.last_modified,
                e.content_hash,
                e.status,
                e.article_id,
                utc_iso(e.published_at) if e.published_at else None,
                json.dumps(list(e.links), ensure_ascii=False) if e.links else None,
            )
            for e in entries
        ]
        if not rows:
            return
        with self.db.atomic():
            self.db.conn.executemany(
                f"INSERT OR REPLACE INTO source_http_cache ({_CACHE_COLS}) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )

    def recent_articles(self, source: str, since: datetime, limit: int = 500) -> list[CacheEntry]:
        """Cached article pages of ``source`` published at or after ``since``, newest first."""
        rows = self.db.execute(
            f"SELECT {_CACHE_COLS} FROM source_http_cache WHERE source = ? AND kind = 'article' "
            "AND published_at >= ? ORDER BY published_at DESC LIMIT ?",
            (source, utc_iso(since), limit),
        ).fetchall()
        return [_entry(r) for r in rows]

    def cache_count(self, source: str) -> int:
        row = self.db.execute(
            "SELECT count(*) FROM source_http_cache WHERE source = ?", (source,)
        ).fetchone()
        return int(row[0])

    # -- per-source state --------------------------------------------------

    def record_state(
        self,
        name: str,
        kind: str,
        *,
        now: datetime,
        error: str | None,
        counts: dict[str, int],
    ) -> SourceState:
        """One finished run of ``name``: a failure grows the streak, success resets it."""
        now_s = utc_iso(now)
        with self.db.atomic():
            row = self.db.conn.execute(
                "SELECT consecutive_failures, last_ok_at FROM source_state WHERE name = ?",
                (name,),
            ).fetchone()
            streak = int(row[0]) if row else 0
            last_ok = row[1] if row else None
            if error is None:
                streak, last_ok = 0, now_s
            else:
                streak += 1
            self.db.conn.execute(
                "INSERT OR REPLACE INTO source_state (name, kind, last_run_at, last_ok_at, "
                "consecutive_failures, last_error, last_counts) VALUES (?,?,?,?,?,?,?)",
                (name, kind, now_s, last_ok, streak, error, json.dumps(counts, sort_keys=True)),
            )
        state = self.state(name)
        assert state is not None
        return state

    def state(self, name: str) -> SourceState | None:
        row = self.db.execute(
            "SELECT name, kind, last_run_at, last_ok_at, consecutive_failures, last_error, "
            "last_counts FROM source_state WHERE name = ?",
            (name,),
        ).fetchone()
        if row is None:
            return None
        return SourceState(
            name=row[0],
            kind=row[1],
            last_run_at=_when(row[2]),
            last_ok_at=_when(row[3]),
            consecutive_failures=int(row[4]),
            last_error=row[5],
            last_counts=json.loads(row[6]) if row[6] else None,
        )

    # -- directory sources -------------------------------------------------

    def files(self, source: str) -> dict[str, tuple[int, str]]:
        """Ingested files of a directory source: path → (size, sha256)."""
        rows = self.db.execute(
            "SELECT path, size, sha256 FROM source_files WHERE source = ?", (source,)
        ).fetchall()
        return {r[0]: (int(r[1]), r[2]) for r in rows}

    def remember_file(
        self, source: str, path: str, size: int, sha256: str, *, now: datetime
    ) -> None:
        with self.db.atomic():
            self.db.conn.execute(
                "INSERT OR REPLACE INTO source_files (source, path, size, sha256, ingested_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (source, path, size, sha256, utc_iso(now)),
            )


def sources_store(store: Store, cache: dict[str, Any]) -> SourcesStore:
    """The SourcesStore of ``store``, created (and migrated) once per ``cache`` dict."""
    found = cache.get("sources_store")
    if isinstance(found, SourcesStore) and found.db is store.db:
        return found
    made = SourcesStore(store)
    cache["sources_store"] = made
    return made
