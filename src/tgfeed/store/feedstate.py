"""What the feeds concern remembers: when each published file's bytes last changed
(its ``Last-Modified``), the tombstones of retracted articles and the article pages
found gone, the WebSub hub notifications still to send or sent, and (tables only;
see ``store.idmigration``) the ids rewritten by the id migration.

Its own migration set, applied on first use over the store's connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..text import parse_iso_datetime, utc_iso
from . import db as dbmod
from .core import Store

migrations = dbmod.Migrations("tgfeed.feedstate")

ONE_SECOND = timedelta(seconds=1)


@migrations()
def m001_feedstate(db: dbmod.Database) -> None:
    db.executescript(
        """
        CREATE TABLE feed_files (
            path TEXT PRIMARY KEY,          -- URL path: /feeds/all.rss, /feeds.opml, /
            etag TEXT NOT NULL,             -- hash of the bytes (no quotes)
            changed_at TEXT NOT NULL        -- UTC, whole seconds: the Last-Modified
        );
        CREATE TABLE tombstones (
            article_id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            title TEXT NOT NULL,
            category TEXT NOT NULL,         -- slug path of the article's category
            retracted_at TEXT NOT NULL,
            reason TEXT,
            origin TEXT NOT NULL            -- 'api' | 'cli' | 'crawl'
        );
        CREATE INDEX tombstones_when ON tombstones(retracted_at);
        CREATE TABLE hub_notifications (
            id INTEGER PRIMARY KEY,
            topic TEXT NOT NULL,            -- the feed URL sent as hub.url
            hub TEXT NOT NULL,
            created_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at TEXT NOT NULL,
            last_error TEXT,
            sent_at TEXT
        );
        CREATE INDEX hub_notifications_due ON hub_notifications(status, next_at);
        CREATE TABLE id_merges (
            id INTEGER PRIMARY KEY,
            old_id TEXT NOT NULL,
            new_id TEXT NOT NULL,
            outcome TEXT NOT NULL,          -- 'renamed' | 'merged-kept' | 'merged-dropped'
            at TEXT NOT NULL
        );
        CREATE TABLE feedstate_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE gone_pages (
            url TEXT PRIMARY KEY,           -- an article page that answered 404/410
            article_id TEXT NOT NULL,
            times INTEGER NOT NULL,         -- crawls in a row
            first_at TEXT NOT NULL,
            last_at TEXT NOT NULL
        );
        """
    )


@dataclass(frozen=True, slots=True)
class Tombstone:
    article_id: str
    url: str
    title: str
    category: str
    retracted_at: datetime
    reason: str | None
    origin: str


@dataclass(frozen=True, slots=True)
class HubNotice:
    id: int
    topic: str
    hub: str
    created_at: datetime
    status: str
    attempts: int
    next_at: datetime
    last_error: str | None
    sent_at: datetime | None


def _second(when: datetime) -> datetime:
    return when.replace(microsecond=0)


class FeedState:
    """The feeds' tables over the article store's connection."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.db = store.db
        dbmod.apply(self.db, migrations)

    # -- Last-Modified -------------------------------------------------------

    def stamps(
        self,
        files: Sequence[tuple[str, str]],
        *,
        now: datetime,
        topics: dict[str, str] | None = None,
        hub: str | None = None,
        dry_run: bool = False,
    ) -> dict[str, datetime]:
        """``files``: (URL path, hash of its bytes). Returns each path's Last-Modified:
        unchanged bytes keep their instant; changed bytes get ``now`` — never earlier
        than a second after the previous instant, so a client holding the old date
        always sees a newer one. A changed path listed in ``topics`` queues a
        notification to ``hub`` for its feed URL (exactly the changed feeds)."""
        if not files:
            return {}
        read = self._stamps(files, now, None, None, write=False)
        if dry_run or all(self._known(path, etag) for path, etag in files):
            return read  # nothing changed: no write lock taken
        with self.store.write():
            return self._stamps(files, now, topics, hub, write=True)

    def _known(self, path: str, etag: str) -> bool:
        row = self.db.execute("SELECT etag FROM feed_files WHERE path = ?", (path,)).fetchone()
        return row is not None and row[0] == etag

    def _stamps(
        self,
        files: Sequence[tuple[str, str]],
        now: datetime,
        topics: dict[str, str] | None,
        hub: str | None,
        *,
        write: bool,
    ) -> dict[str, datetime]:
        out: dict[str, datetime] = {}
        for path, etag in files:
            row = self.db.conn.execute(
                "SELECT etag, changed_at FROM feed_files WHERE path = ?", (path,)
            ).fetchone()
            if row is not None and row[0] == etag:
                out[path] = parse_iso_datetime(row[1])
                continue
            when = _second(now)
            if row is not None:
                when = max(when, parse_iso_datetime(row[1]) + ONE_SECOND)
            out[path] = when
            if not write:
                continue
            self.db.conn.execute(
                "INSERT OR REPLACE INTO feed_files (path, etag, changed_at) VALUES (?,?,?)",
                (path, etag, utc_iso(when)),
            )
            topic = (topics or {}).get(path)
            if hub and topic:
                self._enqueue(topic, hub, now)
        return out

    def stamp(self, path: str, etag: str, *, now: datetime, **kw: Any) -> datetime:
        return self.stamps([(path, etag)], now=now, **kw)[path]

    def forget(self, paths: Iterable[str]) -> None:
        """Feeds that are gone (their category vanished)."""
        rows = [(p,) for p in paths]
        if rows:
            with self.store.write():
                self.db.conn.executemany("DELETE FROM feed_files WHERE path = ?", rows)

    # -- tombstones ----------------------------------------------------------

    def retract(
        self, article_id: str, *, now: datetime, reason: str | None, origin: str
    ) -> tuple[Tombstone | None, bool]:
        """Take the article out of every feed and keep its tombstone. Returns
        (tombstone, True) when it was retracted now, (tombstone, False) when it
        already was (idempotent), (None, False) for an id the store never had."""
        with self.store.write():
            found = self.tombstone(article_id)
            article = self.store.get(article_id)
            if article is None:  # already retracted, or never here
                return found, False
            self.store.unpublish(article_id, now=now)
            self.db.conn.execute(
                "INSERT OR REPLACE INTO tombstones (article_id, url, title, category, "
                "retracted_at, reason, origin) VALUES (?,?,?,?,?,?,?)",
                (
                    article.id,
                    article.url,
                    article.title,
                    article.category_slug,
                    utc_iso(now),
                    reason or None,
                    origin,
                ),
            )
        found = self.tombstone(article_id)
        assert found is not None
        return found, True

    def tombstone(self, article_id: str) -> Tombstone | None:
        row = self.db.execute(
            "SELECT article_id, url, title, category, retracted_at, reason, origin "
            "FROM tombstones WHERE article_id = ?",
            (article_id,),
        ).fetchone()
        return _tombstone(row) if row else None

    def tombstones(self, category: str | None, since: datetime) -> list[Tombstone]:
        """Retracted at or after ``since``, in ``category`` or below it (None: all);
        newest first, ties by id."""
        sql = (
            "SELECT article_id, url, title, category, retracted_at, reason, origin "
            "FROM tombstones t WHERE retracted_at >= ? AND NOT EXISTS (SELECT 1 FROM articles a "
            "WHERE a.id = t.article_id AND a.deleted_at IS NULL)"  # not published again
        )
        args: list[Any] = [utc_iso(since)]
        if category is not None:
            sql += " AND (category = ? OR substr(category, 1, ?) = ?)"
            args += [category, len(category) + 1, category + "/"]
        sql += " ORDER BY retracted_at DESC, article_id DESC"
        return [_tombstone(r) for r in self.db.execute(sql, args).fetchall()]

    def tombstones_by_url(self, urls: Iterable[str]) -> dict[str, Tombstone]:
        wanted = list(dict.fromkeys(urls))
        out: dict[str, Tombstone] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            rows = self.db.execute(
                "SELECT article_id, url, title, category, retracted_at, reason, origin "
                f"FROM tombstones t WHERE url IN ({','.join('?' * len(chunk))}) "
                "AND NOT EXISTS (SELECT 1 FROM articles a "
                "WHERE a.id = t.article_id AND a.deleted_at IS NULL)",
                chunk,
            ).fetchall()
            out.update({r[1]: _tombstone(r) for r in rows})
        return out

    def record_gone(self, url: str, article_id: str, *, now: datetime) -> int:
        """One more crawl found ``url`` gone (404/410); returns how many in a row."""
        with self.store.write():
            self.db.conn.execute(
                "INSERT INTO gone_pages (url, article_id, times, first_at, last_at) "
                "VALUES (?, ?, 1, ?, ?) ON CONFLICT (url) DO UPDATE SET "
                "times = times + 1, last_at = excluded.last_at, article_id = excluded.article_id",
                (url, article_id, utc_iso(now), utc_iso(now)),
            )
            row = self.db.conn.execute(
                "SELECT times FROM gone_pages WHERE url = ?", (url,)
            ).fetchone()
        return int(row[0])

    def clear_gone(self, urls: Iterable[str]) -> None:
        """These pages answered again: their streak starts over."""
        rows = [(u,) for u in urls]
        if rows:
            with self.store.write():
                self.db.conn.executemany("DELETE FROM gone_pages WHERE url = ?", rows)

    # -- WebSub --------------------------------------------------------------

    def _enqueue(self, topic: str, hub: str, now: datetime) -> None:
        # One pending notice per topic: a second change before it is sent adds nothing.
        pending = self.db.conn.execute(
            "SELECT 1 FROM hub_notifications WHERE topic = ? AND hub = ? AND status = 'pending'",
            (topic, hub),
        ).fetchone()
        if pending is None:
            self.db.conn.execute(
                "INSERT INTO hub_notifications (topic, hub, created_at, next_at) VALUES (?,?,?,?)",
                (topic, hub, utc_iso(now), utc_iso(now)),
            )

    def due(self, now: datetime, limit: int = 500) -> list[HubNotice]:
        rows = self.db.execute(
            f"SELECT {_HUB_COLS} FROM hub_notifications WHERE status = 'pending' "
            "AND next_at <= ? ORDER BY id LIMIT ?",
            (utc_iso(now), limit),
        ).fetchall()
        return [_notice(r) for r in rows]

    def record_attempt(
        self,
        notice_id: int,
        *,
        now: datetime,
        error: str | None,
        retry_at: datetime | None,
    ) -> None:
        """One POST to the hub: sent (error None), to retry at ``retry_at``, or failed."""
        status = "sent" if error is None else ("pending" if retry_at else "failed")
        with self.store.write():
            self.db.conn.execute(
                "UPDATE hub_notifications SET attempts = attempts + 1, status = ?, "
                "last_error = ?, next_at = ?, sent_at = ? WHERE id = ?",
                (
                    status,
                    error,
                    utc_iso(retry_at or now),
                    utc_iso(now) if error is None else None,
                    notice_id,
                ),
            )

    def notices(self, limit: int = 20) -> list[HubNotice]:
        rows = self.db.execute(
            f"SELECT {_HUB_COLS} FROM hub_notifications ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [_notice(r) for r in rows]

    def notice_counts(self) -> dict[str, int]:
        rows = self.db.execute(
            "SELECT status, count(*) FROM hub_notifications GROUP BY status"
        ).fetchall()
        counts = {"pending": 0, "sent": 0, "failed": 0}
        counts.update({r[0]: int(r[1]) for r in rows})
        return counts


_HUB_COLS = "id, topic, hub, created_at, status, attempts, next_at, last_error, sent_at"


def _tombstone(row: Sequence[Any]) -> Tombstone:
    return Tombstone(
        article_id=row[0],
        url=row[1],
        title=row[2],
        category=row[3],
        retracted_at=parse_iso_datetime(row[4]),
        reason=row[5],
        origin=row[6],
    )


def _notice(row: Sequence[Any]) -> HubNotice:
    return HubNotice(
        id=int(row[0]),
        topic=row[1],
        hub=row[2],
        created_at=parse_iso_datetime(row[3]),
        status=row[4],
        attempts=int(row[5]),
        next_at=parse_iso_datetime(row[6]),
        last_error=row[7],
        sent_at=parse_iso_datetime(row[8]) if row[8] else None,
    )


def feed_state(store: Store, cache: dict[str, Any]) -> FeedState:
    """The FeedState of ``store``, created (and migrated) once per ``cache`` dict."""
    found = cache.get("feed_state")
    if isinstance(found, FeedState) and found.db is store.db:
        return found
    made = FeedState(store)
    cache["feed_state"] = made
    return made
