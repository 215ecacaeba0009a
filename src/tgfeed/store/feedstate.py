"""What the feeds concern remembers: when each published file's bytes last changed
(its ``Last-Modified``), the tombstones of retracted articles and the article pages
found gone, the WebSub hub notifications still to send or sent, and (tables only;
see ``store.idmigration``) the ids rewritten by the id migration.

Its own migration set ("tgfeed.feedstate", applied by ``open_store``); reached as
``store.feeds``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from ..model import HubNotice, Tombstone
from ..text import parse_iso_datetime, utc_iso
from .articles import ArticlesRepo
from .db import Database, Db, Migrations, Row, guarded
from .subscribers import dt_or_none

migrations = Migrations("tgfeed.feedstate")

ONE_SECOND = timedelta(seconds=1)


@migrations()
def m001_feedstate(db: Database) -> None:
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


def _second(when: datetime) -> datetime:
    return when.replace(microsecond=0)


_TOMB_COLS = "article_id, url, title, category, retracted_at, reason, origin"
_HUB_COLS = "id, topic, hub, created_at, status, attempts, next_at, last_error, sent_at"
_LIVE = "NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = t.article_id AND a.deleted_at IS NULL)"


@guarded
class FeedsRepo:
    """The feeds' tables over the store's connection."""

    def __init__(self, db: Db, articles: ArticlesRepo) -> None:
        self._db = db
        self._articles = articles

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
        known = self._known(files)
        read = {path: self._when(known.get(path), etag, now) for path, etag in files}
        changed = [(p, e) for p, e in files if p not in known or known[p][0] != e]
        if dry_run or not changed:
            return read  # nothing changed: no write lock taken
        with self._db.write() as conn:
            known = self._known(changed)  # again, under the lock
            for path, etag in changed:
                when = read[path] = self._when(known.get(path), etag, now)
                conn.execute(
                    "INSERT OR REPLACE INTO feed_files (path, etag, changed_at) VALUES (?,?,?)",
                    (path, etag, utc_iso(when)),
                )
                topic = (topics or {}).get(path)
                if hub and topic:
                    self._enqueue(topic, hub, now)
        return read

    def _known(self, files: Sequence[tuple[str, str]]) -> dict[str, tuple[str, datetime]]:
        paths = [p for p, _ in files]
        out: dict[str, tuple[str, datetime]] = {}
        for i in range(0, len(paths), 500):
            chunk = paths[i : i + 500]
            rows = self._db.rows(
                "SELECT path, etag, changed_at FROM feed_files "
                f"WHERE path IN ({','.join('?' * len(chunk))})",
                chunk,
            )
            out.update({r["path"]: (r["etag"], parse_iso_datetime(r["changed_at"])) for r in rows})
        return out

    @staticmethod
    def _when(known: tuple[str, datetime] | None, etag: str, now: datetime) -> datetime:
        if known is not None and known[0] == etag:
            return known[1]
        when = _second(now)
        return max(when, known[1] + ONE_SECOND) if known is not None else when

    def stamp(self, path: str, etag: str, *, now: datetime, **kw: Any) -> datetime:
        return self.stamps([(path, etag)], now=now, **kw)[path]

    def forget(self, paths: Iterable[str]) -> None:
        """Feeds that are gone (their category vanished)."""
        rows = [(p,) for p in paths]
        if rows:
            with self._db.write() as conn:
                conn.executemany("DELETE FROM feed_files WHERE path = ?", rows)

    # -- tombstones ----------------------------------------------------------

    def retract(
        self, article_id: str, *, now: datetime, reason: str | None, origin: str
    ) -> tuple[Tombstone | None, bool]:
        """Take the article out of every feed and keep its tombstone. Returns
        (tombstone, True) when it was retracted now, (tombstone, False) when it
        already was (idempotent), (None, False) for an id the store never had."""
        with self._db.write() as conn:
            found = self.tombstone(article_id)
            article = self._articles.get(article_id)
            if article is None:  # already retracted, or never here
                return found, False
            self._articles.unpublish(article_id, now=now)
            conn.execute(
                f"INSERT OR REPLACE INTO tombstones ({_TOMB_COLS}) VALUES (?,?,?,?,?,?,?)",
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
        row = self._db.row(
            f"SELECT {_TOMB_COLS} FROM tombstones WHERE article_id = ?", (article_id,)
        )
        return _tombstone(row) if row else None

    def tombstones(self, category: str | None, since: datetime) -> list[Tombstone]:
        """Retracted at or after ``since``, in ``category`` or below it (None: all);
        newest first, ties by id. An article published again has no tombstone."""
        sql = f"SELECT {_TOMB_COLS} FROM tombstones t WHERE retracted_at >= ? AND {_LIVE}"
        args: list[Any] = [utc_iso(since)]
        if category is not None:
            sql += " AND (category = ? OR substr(category, 1, ?) = ?)"
            args += [category, len(category) + 1, category + "/"]
        sql += " ORDER BY retracted_at DESC, article_id DESC"
        return [_tombstone(r) for r in self._db.rows(sql, args)]

    def tombstones_by_url(self, urls: Iterable[str]) -> dict[str, Tombstone]:
        wanted = list(dict.fromkeys(urls))
        out: dict[str, Tombstone] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            rows = self._db.rows(
                f"SELECT {_TOMB_COLS} FROM tombstones t "
                f"WHERE url IN ({','.join('?' * len(chunk))}) AND {_LIVE}",
                chunk,
            )
            out.update({r["url"]: _tombstone(r) for r in rows})
        return out

    def record_gone(self, url: str, article_id: str, *, now: datetime) -> int:
        """One more crawl found ``url`` gone (404/410); returns how many in a row."""
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO gone_pages (url, article_id, times, first_at, last_at) "
                "VALUES (?, ?, 1, ?, ?) ON CONFLICT (url) DO UPDATE SET "
                "times = times + 1, last_at = excluded.last_at, article_id = excluded.article_id",
                (url, article_id, utc_iso(now), utc_iso(now)),
            )
            times = self._db.value("SELECT times FROM gone_pages WHERE url = ?", (url,))
        return int(times)

    def clear_gone(self, urls: Iterable[str]) -> None:
        """These pages answered again: their streak starts over."""
        rows = [(u,) for u in urls]
        if rows:
            with self._db.write() as conn:
                conn.executemany("DELETE FROM gone_pages WHERE url = ?", rows)

    # -- WebSub --------------------------------------------------------------

    def _enqueue(self, topic: str, hub: str, now: datetime) -> None:
        # One pending notice per topic: a second change before it is sent adds nothing.
        pending = self._db.value(
            "SELECT 1 FROM hub_notifications WHERE topic = ? AND hub = ? AND status = 'pending'",
            (topic, hub),
        )
        if pending is None:
            self._db.execute(
                "INSERT INTO hub_notifications (topic, hub, created_at, next_at) VALUES (?,?,?,?)",
                (topic, hub, utc_iso(now), utc_iso(now)),
            )

    def due(self, now: datetime, limit: int = 500) -> list[HubNotice]:
        rows = self._db.rows(
            f"SELECT {_HUB_COLS} FROM hub_notifications WHERE status = 'pending' "
            "AND next_at <= ? ORDER BY id LIMIT ?",
            (utc_iso(now), limit),
        )
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
        with self._db.write() as conn:
            conn.execute(
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
        rows = self._db.rows(
            f"SELECT {_HUB_COLS} FROM hub_notifications ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_notice(r) for r in rows]

    def notice_counts(self) -> dict[str, int]:
        rows = self._db.rows("SELECT status, count(*) AS n FROM hub_notifications GROUP BY status")
        counts = {"pending": 0, "sent": 0, "failed": 0}
        counts.update({r["status"]: int(r["n"]) for r in rows})
        return counts


def _tombstone(row: Row) -> Tombstone:
    return Tombstone(
        article_id=row["article_id"],
        url=row["url"],
        title=row["title"],
        category=row["category"],
        retracted_at=parse_iso_datetime(row["retracted_at"]),
        reason=row["reason"],
        origin=row["origin"],
    )


def _notice(row: Row) -> HubNotice:
    return HubNotice(
        id=int(row["id"]),
        topic=row["topic"],
        hub=row["hub"],
        created_at=parse_iso_datetime(row["created_at"]),
        status=row["status"],
        attempts=int(row["attempts"]),
        next_at=parse_iso_datetime(row["next_at"]),
        last_error=row["last_error"],
        sent_at=dt_or_none(row["sent_at"]),
    )
