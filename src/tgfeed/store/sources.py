"""What the sources concern remembers between runs: the HTTP cache per URL
(ETag, Last-Modified, content hash, status), each source's state (last run,
consecutive failures, last error) and the files a directory source has ingested.

Its own migration set, applied on first use over the store's connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime

from ..model import CacheEntry, SourceState
from ..text import parse_iso_datetime, utc_iso
from .db import Database, Db, Migrations, Row, guarded
from .subscribers import dt_or_none

migrations = Migrations("tgfeed.sources")


@migrations()
def m001_sources(db: Database) -> None:
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


_CACHE_COLS = (
    "url, source, kind, fetched_at, etag, last_modified, content_hash, status, "
    "article_id, published_at, links"
)


def _entry(row: Row) -> CacheEntry:
    return CacheEntry(
        url=row["url"],
        source=row["source"],
        kind=row["kind"],
        fetched_at=parse_iso_datetime(row["fetched_at"]),
        etag=row["etag"],
        last_modified=row["last_modified"],
        content_hash=row["content_hash"],
        status=row["status"],
        article_id=row["article_id"],
        published_at=dt_or_none(row["published_at"]),
        links=tuple(json.loads(row["links"])) if row["links"] else (),
    )


@guarded
class SourcesRepo:
    """HTTP cache, per-source state and directory files over the store's connection."""

    def __init__(self, db: Db) -> None:
        self._db = db

    # -- HTTP cache --------------------------------------------------------

    def cache_get(self, url: str) -> CacheEntry | None:
        row = self._db.row(f"SELECT {_CACHE_COLS} FROM source_http_cache WHERE url = ?", (url,))
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
        with self._db.write() as conn:
            conn.executemany(
                f"INSERT OR REPLACE INTO source_http_cache ({_CACHE_COLS}) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                rows,
            )

    def recent_articles(self, source: str, since: datetime, limit: int = 500) -> list[CacheEntry]:
        """Cached article pages of ``source`` published at or after ``since``, newest first."""
        rows = self._db.rows(
            f"SELECT {_CACHE_COLS} FROM source_http_cache WHERE source = ? AND kind = 'article' "
            "AND published_at >= ? ORDER BY published_at DESC LIMIT ?",
            (source, utc_iso(since), limit),
        )
        return [_entry(r) for r in rows]

    def cache_count(self, source: str) -> int:
        return int(
            self._db.value("SELECT count(*) FROM source_http_cache WHERE source = ?", (source,))
        )

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
        with self._db.write() as conn:
            row = self._db.row(
                "SELECT consecutive_failures, last_ok_at FROM source_state WHERE name = ?",
                (name,),
            )
            streak = int(row["consecutive_failures"]) if row else 0
            last_ok = row["last_ok_at"] if row else None
            if error is None:
                streak, last_ok = 0, now_s
            else:
                streak += 1
            conn.execute(
                "INSERT OR REPLACE INTO source_state (name, kind, last_run_at, last_ok_at, "
                "consecutive_failures, last_error, last_counts) VALUES (?,?,?,?,?,?,?)",
                (name, kind, now_s, last_ok, streak, error, json.dumps(counts, sort_keys=True)),
            )
        state = self.state(name)
        assert state is not None
        return state

    def state(self, name: str) -> SourceState | None:
        row = self._db.row(
            "SELECT name, kind, last_run_at, last_ok_at, consecutive_failures, last_error, "
            "last_counts FROM source_state WHERE name = ?",
            (name,),
        )
        if row is None:
            return None
        return SourceState(
            name=row["name"],
            kind=row["kind"],
            last_run_at=dt_or_none(row["last_run_at"]),
            last_ok_at=dt_or_none(row["last_ok_at"]),
            consecutive_failures=int(row["consecutive_failures"]),
            last_error=row["last_error"],
            last_counts=json.loads(row["last_counts"]) if row["last_counts"] else None,
        )

    # -- directory sources -------------------------------------------------

    def files(self, source: str) -> dict[str, tuple[int, str]]:
        """Ingested files of a directory source: path → (size, sha256)."""
        rows = self._db.rows(
            "SELECT path, size, sha256 FROM source_files WHERE source = ?", (source,)
        )
        return {r["path"]: (int(r["size"]), r["sha256"]) for r in rows}

    def remember_file(
        self, source: str, path: str, size: int, sha256: str, *, now: datetime
    ) -> None:
        with self._db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO source_files (source, path, size, sha256, ingested_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (source, path, size, sha256, utc_iso(now)),
            )
