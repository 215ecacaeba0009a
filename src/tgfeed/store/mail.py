"""Subscribers, digests and the per-recipient delivery ledger.

Its own migration set ("tgfeed.mail"), applied on first use over the store's
connection. The ledger is what makes delivery exactly-once as far as SMTP
allows: a digest run snapshots the active subscribers into ``deliveries`` in one
transaction, and a row becomes ``sent`` only after the server accepted its
message (committed before that connection carries another message).

Ledger statuses: ``pending`` → ``sent`` | ``failed`` | ``skipped`` (the
subscriber left before their turn).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from ..errors import StoreError, SubscriberError
from ..text import parse_iso_datetime, utc_iso
from . import db as dbmod
from .core import Store

migrations = dbmod.Migrations("tgfeed.mail")

Status = Literal["pending", "active", "unsubscribed", "bounced"]
STATUSES: tuple[Status, ...] = ("pending", "active", "unsubscribed", "bounced")
DigestStatus = Literal["sending", "sent", "skipped"]


@migrations()
def m001_mail(db: dbmod.Database) -> None:
    db.executescript(
        """
        CREATE TABLE subscribers (
            id INTEGER PRIMARY KEY,
            email TEXT NOT NULL,
            email_key TEXT NOT NULL UNIQUE,     -- lower-cased: one row per mailbox
            name TEXT,
            unit TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('pending', 'active', 'unsubscribed', 'bounced')),
            origin TEXT NOT NULL,               -- web | cli | import:<file> | demo
            created_at TEXT NOT NULL,           -- UTC ISO 8601
            updated_at TEXT NOT NULL,
            confirmed_at TEXT,
            unsubscribed_at TEXT,
            bounced_at TEXT,
            confirm_sent_at TEXT,
            bounce_count INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX subscribers_status ON subscribers(status, id);
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            week TEXT NOT NULL UNIQUE,          -- 2026-W48: one run per week, ever
            status TEXT NOT NULL CHECK (status IN ('sending', 'sent', 'skipped')),
            subject TEXT NOT NULL,
            article_count INTEGER NOT NULL,
            mail_html TEXT NOT NULL,            -- with the token placeholder, so a
            mail_text TEXT NOT NULL,            -- resumed run sends the same bytes
            web_html TEXT NOT NULL,             -- the archive's copy, nobody's tokens
            web_text TEXT NOT NULL,
            recipients INTEGER NOT NULL DEFAULT 0,
            sent INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            finished_at TEXT,
            lease_owner TEXT,                   -- host:pid of the process sending it
            lease_until TEXT
        );
        CREATE TABLE deliveries (
            digest_id INTEGER NOT NULL REFERENCES digests(id),
            subscriber_id INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
            email TEXT NOT NULL,                -- snapshot at the start of the run
            name TEXT,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            server_reply TEXT,
            sent_at TEXT,
            updated_at TEXT,
            PRIMARY KEY (digest_id, subscriber_id)
        ) WITHOUT ROWID;
        -- No index on status: marking a row sent then rewrites one page, not two;
        -- pending rows are found by keyset paging over the primary key.
        CREATE INDEX deliveries_subscriber ON deliveries(subscriber_id);
        """
    )


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: int
    email: str
    name: str | None
    unit: str | None
    status: Status
    origin: str
    created_at: datetime
    confirmed_at: datetime | None = None
    unsubscribed_at: datetime | None = None
    bounce_count: int = 0
    confirm_sent_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DigestRecord:
    id: int
    week: str
    status: DigestStatus
    subject: str
    article_count: int
    recipients: int
    sent: int
    failed: int
    created_at: datetime
    finished_at: datetime | None
    lease_owner: str | None = None


@dataclass(frozen=True, slots=True)
class Recipient:
    """One pending ledger row."""

    subscriber_id: int
    email: str
    name: str | None
    attempts: int


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    subscriber_id: int
    email: str
    status: str
    attempts: int
    last_error: str | None
    server_reply: str | None
    sent_at: datetime | None


_SUB_COLS = (
    "id, email, name, unit, status, origin, created_at, confirmed_at, unsubscribed_at, "
    "bounce_count, confirm_sent_at"
)
_DIGEST_COLS = (
    "id, week, status, subject, article_count, recipients, sent, failed, created_at, "
    "finished_at, lease_owner"
)


def _dt(value: str | None) -> datetime | None:
    return parse_iso_datetime(value) if value else None


def _subscriber(row: Any) -> Subscriber:
    return Subscriber(
        id=row[0],
        email=row[1],
        name=row[2],
        unit=row[3],
        status=row[4],
        origin=row[5],
        created_at=parse_iso_datetime(row[6]),
        confirmed_at=_dt(row[7]),
        unsubscribed_at=_dt(row[8]),
        bounce_count=row[9],
        confirm_sent_at=_dt(row[10]),
    )


def _digest(row: Any) -> DigestRecord:
    return DigestRecord(
        id=row[0],
        week=row[1],
        status=row[2],
        subject=row[3],
        article_count=row[4],
        recipients=row[5],
        sent=row[6],
        failed=row[7],
        created_at=parse_iso_datetime(row[8]),
        finished_at=_dt(row[9]),
        lease_owner=row[10],
    )


def email_key(email: str) -> str:
    return email.strip().lower()


class MailStore:
    """The mail concern's tables over the article store's connection."""

    def __init__(self, store: Store) -> None:
        self.db = store.db
        self.conn: sqlite3.Connection = store.db.conn
        dbmod.apply(self.db, migrations)

    # -- subscribers -------------------------------------------------------

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        row = self.conn.execute(
            f"SELECT {_SUB_COLS} FROM subscribers WHERE id = ?", (subscriber_id,)
        ).fetchone()
        return _subscriber(row) if row else None

    def by_email(self, email: str) -> Subscriber | None:
        row = self.conn.execute(
            f"SELECT {_SUB_COLS} FROM subscribers WHERE email_key = ?", (email_key(email),)
        ).fetchone()
        return _subscriber(row) if row else None

    def subscribers(self, status: Status | None = None) -> Iterator[Subscriber]:
        """Subscribers in id order (streamed), optionally of one status."""
        last = 0
        while True:
            sql = f"SELECT {_SUB_COLS} FROM subscribers WHERE id > ?"
            args: list[Any] = [last]
            if status:
                sql += " AND status = ?"
                args.append(status)
            rows = self.conn.execute(sql + " ORDER BY id LIMIT 1000", args).fetchall()
            if not rows:
                return
            for row in rows:
                yield _subscriber(row)
            last = rows[-1][0]

    def count_subscribers(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for status, n in self.conn.execute(
            "SELECT status, count(*) FROM subscribers GROUP BY status"
        ):
            counts[status] = n
        return counts

    def add_subscriber(
        self,
        email: str,
        *,
        now: datetime,
        name: str | None = None,
        unit: str | None = None,
        status: Status = "pending",
        origin: str = "cli",
    ) -> tuple[Subscriber, bool]:
        """Insert, or update name/unit (and status when activating); (row, created)."""
        now_s = utc_iso(now)
        with self.db.atomic():
            found = self.by_email(email)
            if found is None:
                cur = self.conn.execute(
                    "INSERT INTO subscribers (email, email_key, name, unit, status, origin, "
                    "created_at, updated_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        email,
                        email_key(email),
                        name,
                        unit,
                        status,
                        origin,
                        now_s,
                        now_s,
                        now_s if status == "active" else None,
                    ),
                )
                created = self.subscriber(int(cur.lastrowid or 0))
                assert created is not None
                return created, True
            self.conn.execute(
                "UPDATE subscribers SET name = coalesce(?, name), unit = coalesce(?, unit), "
                "updated_at = ? WHERE id = ?",
                (name, unit, now_s, found.id),
            )
            if status == "active" and found.status != "active":
                self._activate(found.id, now_s)
            updated = self.subscriber(found.id)
        assert updated is not None
        return updated, False

    def request_subscription(
        self,
        email: str,
        *,
        now: datetime,
        name: str | None = None,
        unit: str | None = None,
        origin: str = "web",
        resend_after: int = 600,
    ) -> tuple[Subscriber, bool]:
        """A subscription request (web form): (row, whether to send a confirmation).

        A new, unsubscribed or bounced address becomes ``pending``; an active
        one is left alone. A confirmation is not re-sent within ``resend_after``
        seconds, so the form cannot be used to flood a mailbox.
        """
        now_s = utc_iso(now)
        with self.db.atomic():
            found = self.by_email(email)
            if found is None:
                sub, _ = self.add_subscriber(
                    email, now=now, name=name, unit=unit, status="pending", origin=origin
                )
                return sub, True
            if found.status == "active":
                return found, False
            self.conn.execute(
                "UPDATE subscribers SET status = 'pending', name = coalesce(?, name), "
                "unit = coalesce(?, unit), updated_at = ? WHERE id = ?",
                (name, unit, now_s, found.id),
            )
            sent_at = found.confirm_sent_at
            recent = sent_at is not None and now - sent_at < timedelta(seconds=resend_after)
            updated = self.subscriber(found.id)
        assert updated is not None
        return updated, not recent

    def confirmation_sent(self, subscriber_id: int, *, now: datetime) -> None:
        self.db.execute(
            "UPDATE subscribers SET confirm_sent_at = ? WHERE id = ?",
            (utc_iso(now), subscriber_id),
        )

    def _activate(self, subscriber_id: int, now_s: str) -> None:
        self.conn.execute(
            "UPDATE subscribers SET status = 'active', confirmed_at = ?, updated_at = ?, "
            "unsubscribed_at = NULL, bounced_at = NULL, bounce_count = 0 WHERE id = ?",
            (now_s, now_s, subscriber_id),
        )

    def confirm(self, subscriber_id: int, *, now: datetime) -> Subscriber | None:
        """pending → active (idempotent); other statuses are left as they are."""
        with self.db.atomic():
            sub = self.subscriber(subscriber_id)
            if sub is None or sub.status != "pending":
                return sub
            self._activate(subscriber_id, utc_iso(now))
            return self.subscriber(subscriber_id)

    def unsubscribe(self, subscriber_id: int, *, now: datetime) -> Subscriber | None:
        """→ unsubscribed (idempotent); their pending deliveries are skipped at once."""
        now_s = utc_iso(now)
        with self.db.atomic():
            sub = self.subscriber(subscriber_id)
            if sub is None or sub.status == "unsubscribed":
                return sub
            self.conn.execute(
                "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?, "
                "updated_at = ? WHERE id = ?",
                (now_s, now_s, subscriber_id),
            )
            self._skip_pending(subscriber_id, now_s, "unsubscribed before delivery")
            return self.subscriber(subscriber_id)

    def _skip_pending(self, subscriber_id: int, now_s: str, reason: str) -> None:
        self.conn.execute(
            "UPDATE deliveries SET status = 'skipped', last_error = ?, updated_at = ? "
            "WHERE subscriber_id = ? AND status = 'pending'",
            (reason, now_s, subscriber_id),
        )

    def set_status(self, subscriber_id: int, status: Status, *, now: datetime) -> None:
        if status == "active":
            with self.db.atomic():
                self._activate(subscriber_id, utc_iso(now))
        elif status == "unsubscribed":
            self.unsubscribe(subscriber_id, now=now)
        else:
            self.db.execute(
                "UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?",
                (status, utc_iso(now), subscriber_id),
            )

    def remove(self, email: str) -> bool:
        """Delete a subscriber and their ledger rows (digest totals are kept)."""
        with self.db.atomic():
            sub = self.by_email(email)
            if sub is None:
                return False
            self.conn.execute("DELETE FROM deliveries WHERE subscriber_id = ?", (sub.id,))
            self.conn.execute("DELETE FROM subscribers WHERE id = ?", (sub.id,))
        return True

    def bulk_add(
        self,
        rows: Iterable[tuple[str, str | None, str | None]],
        *,
        now: datetime,
        status: Status,
        origin: str,
    ) -> int:
        """Insert many new subscribers at once (benchmarks, large imports); existing are kept."""
        now_s = utc_iso(now)
        confirmed = now_s if status == "active" else None
        with self.db.atomic():
            cur = self.conn.executemany(
                "INSERT OR IGNORE INTO subscribers (email, email_key, name, unit, status, origin, "
                "created_at, updated_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (e, email_key(e), n, u, status, origin, now_s, now_s, confirmed)
                    for e, n, u in rows
                ),
            )
        return cur.rowcount

    # -- digests -----------------------------------------------------------

    def digest(self, week: str) -> DigestRecord | None:
        row = self.conn.execute(
            f"SELECT {_DIGEST_COLS} FROM digests WHERE week = ?", (week,)
        ).fetchone()
        return _digest(row) if row else None

    def digests(self, *, limit: int = 100, archived_only: bool = False) -> list[DigestRecord]:
        """Newest week first; ``archived_only``: those that went out (sent or sending)."""
        where = "WHERE status != 'skipped'" if archived_only else ""
        rows = self.conn.execute(
            f"SELECT {_DIGEST_COLS} FROM digests {where} ORDER BY week DESC LIMIT ?", (limit,)
        ).fetchall()
        return [_digest(r) for r in rows]

    def mail_bodies(self, digest_id: int) -> tuple[str, str]:
        row = self.conn.execute(
            "SELECT mail_html, mail_text FROM digests WHERE id = ?", (digest_id,)
        ).fetchone()
        if row is None:
            raise StoreError(f"digest {digest_id} not found")
        return row[0], row[1]

    def web_copy(self, week: str) -> tuple[DigestRecord, str, str] | None:
        """The archived (token-free) HTML and text of a digest that went out."""
        row = self.conn.execute(
            f"SELECT {_DIGEST_COLS}, web_html, web_text FROM digests "
            "WHERE week = ? AND status != 'skipped'",
            (week,),
        ).fetchone()
        return (_digest(row), row[11], row[12]) if row else None

    def start_digest(
        self,
        week: str,
        *,
        subject: str,
        article_count: int,
        mail_html: str,
        mail_text: str,
        web_html: str,
        web_text: str,
        now: datetime,
    ) -> tuple[DigestRecord, bool]:
        """Create the week's digest and snapshot the active subscribers into the
        ledger — one transaction. An existing digest is returned untouched: (row, created)."""
        now_s = utc_iso(now)
        with self.db.atomic():
            existing = self.digest(week)
            if existing is not None:
                return existing, False
            cur = self.conn.execute(
                "INSERT INTO digests (week, status, subject, article_count, mail_html, mail_text, "
                "web_html, web_text, created_at) VALUES (?, 'sending', ?, ?, ?, ?, ?, ?, ?)",
                (week, subject, article_count, mail_html, mail_text, web_html, web_text, now_s),
            )
            digest_id = int(cur.lastrowid or 0)
            n = self.conn.execute(
                "INSERT INTO deliveries (digest_id, subscriber_id, email, name, status, "
                "updated_at) SELECT ?, id, email, name, 'pending', ? FROM subscribers "
                "WHERE status = 'active' ORDER BY id",
                (digest_id, now_s),
            ).rowcount
            self.conn.execute("UPDATE digests SET recipients = ? WHERE id = ?", (n, digest_id))
            created = self.digest(week)
        assert created is not None
        return created, True

    def skip_digest(self, week: str, *, subject: str, now: datetime) -> DigestRecord:
        """Record an empty week as skipped (it counts as the week's run)."""
        now_s = utc_iso(now)
        self.db.execute(
            "INSERT OR IGNORE INTO digests (week, status, subject, article_count, mail_html, "
            "mail_text, web_html, web_text, created_at, finished_at) "
            "VALUES (?, 'skipped', ?, 0, '', '', '', '', ?, ?)",
            (week, subject, now_s, now_s),
        )
        record = self.digest(week)
        assert record is not None
        return record

    def finish_digest(self, digest_id: int, *, now: datetime) -> dict[str, int]:
        """Store the totals; the digest becomes ``sent`` once nothing is pending."""
        counts = self.delivery_counts(digest_id)
        done = counts["pending"] == 0
        with self.db.atomic():
            self.conn.execute(
                "UPDATE digests SET sent = ?, failed = ?, status = CASE WHEN ? THEN 'sent' "
                "ELSE status END, finished_at = CASE WHEN ? THEN ? ELSE finished_at END "
                "WHERE id = ?",
                (counts["sent"], counts["failed"], done, done, utc_iso(now), digest_id),
            )
            # A delivered message ends a run of bounces.
            self.conn.execute(
                "UPDATE subscribers SET bounce_count = 0 WHERE bounce_count != 0 AND id IN "
                "(SELECT subscriber_id FROM deliveries WHERE digest_id = ? AND status = 'sent')",
                (digest_id,),
            )
        return counts

    # -- the ledger --------------------------------------------------------

    def delivery_counts(self, digest_id: int) -> dict[str, int]:
        counts = {"pending": 0, "sent": 0, "failed": 0, "skipped": 0}
        for status, n in self.conn.execute(
            "SELECT status, count(*) FROM deliveries WHERE digest_id = ? GROUP BY status",
            (digest_id,),
        ):
            counts[status] = n
        return counts

    def pending(self, digest_id: int, *, after: int = 0, limit: int = 500) -> list[Recipient]:
        """The next pending rows in subscriber order (keyset paging)."""
        rows = self.conn.execute(
            "SELECT subscriber_id, email, name, attempts FROM deliveries "
            "WHERE digest_id = ? AND status = 'pending' AND subscriber_id > ? "
            "ORDER BY subscriber_id LIMIT ?",
            (digest_id, after, limit),
        ).fetchall()
        return [Recipient(r[0], r[1], r[2], r[3]) for r in rows]

    def is_pending(self, digest_id: int, subscriber_id: int) -> bool:
        row = self.conn.execute(
            "SELECT status = 'pending' FROM deliveries WHERE digest_id = ? AND subscriber_id = ?",
            (digest_id, subscriber_id),
        ).fetchone()
        return bool(row and row[0])

    def mark_sent(
        self, digest_id: int, subscriber_id: int, *, reply: str, now: datetime, commit: bool = True
    ) -> None:
        """The server accepted the message. The caller must have it committed
        (``commit=True``, or a later ``commit()``) before reusing the connection."""
        now_s = utc_iso(now)
        self.conn.execute(
            "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, server_reply = ?, "
            "sent_at = ?, updated_at = ? WHERE digest_id = ? AND subscriber_id = ?",
            (reply[:500], now_s, now_s, digest_id, subscriber_id),
        )
        if commit:
            self.conn.commit()

    def commit(self) -> None:
        """Commit what ``mark_sent(commit=False)`` (and anything since) wrote."""
        if self.conn.in_transaction:
            try:
                self.conn.commit()
            except sqlite3.Error as exc:
                raise StoreError(
                    f"cannot record deliveries in the store: {exc}",
                    hint="check the disk (space, permissions) of [store] path",
                ) from exc

    def mark_retry(
        self, digest_id: int, subscriber_id: int, *, error: str, now: datetime, count: bool = True
    ) -> int:
        """A temporary failure: the row stays pending; returns its attempts so far."""
        self.db.execute(
            "UPDATE deliveries SET attempts = attempts + ?, last_error = ?, updated_at = ? "
            "WHERE digest_id = ? AND subscriber_id = ?",
            (1 if count else 0, error[:500], utc_iso(now), digest_id, subscriber_id),
        )
        row = self.conn.execute(
            "SELECT attempts FROM deliveries WHERE digest_id = ? AND subscriber_id = ?",
            (digest_id, subscriber_id),
        ).fetchone()
        return int(row[0]) if row else 0

    def mark_failed(
        self,
        digest_id: int,
        subscriber_id: int,
        *,
        error: str,
        now: datetime,
        permanent: bool,
        bounce_limit: int,
    ) -> bool:
        """Give up on one row; a permanent failure counts toward ``bounce_limit``.
        Returns True when the subscriber has just become ``bounced``."""
        now_s = utc_iso(now)
        with self.db.atomic():
            self.conn.execute(
                "UPDATE deliveries SET status = 'failed', attempts = attempts + ?, "
                "last_error = ?, updated_at = ? WHERE digest_id = ? AND subscriber_id = ?",
                (1 if permanent else 0, error[:500], now_s, digest_id, subscriber_id),
            )
            if not permanent:
                return False
            self.conn.execute(
                "UPDATE subscribers SET bounce_count = bounce_count + 1, updated_at = ? "
                "WHERE id = ?",
                (now_s, subscriber_id),
            )
            cur = self.conn.execute(
                "UPDATE subscribers SET status = 'bounced', bounced_at = ? "
                "WHERE id = ? AND status = 'active' AND bounce_count >= ?",
                (now_s, subscriber_id, bounce_limit),
            )
            if cur.rowcount:
                self._skip_pending(subscriber_id, now_s, "address bounced")
                return True
        return False

    def deliveries(
        self, digest_id: int, *, status: str | None = None, limit: int = 50
    ) -> list[DeliveryRow]:
        sql = (
            "SELECT subscriber_id, email, status, attempts, last_error, server_reply, sent_at "
            "FROM deliveries WHERE digest_id = ?"
        )
        args: list[Any] = [digest_id]
        if status:
            sql += " AND status = ?"
            args.append(status)
        rows = self.conn.execute(sql + " ORDER BY subscriber_id LIMIT ?", [*args, limit])
        return [DeliveryRow(r[0], r[1], r[2], r[3], r[4], r[5], _dt(r[6])) for r in rows]

    # -- the sending lease -------------------------------------------------

    def acquire_lease(
        self, digest_id: int, owner: str, *, now: datetime, seconds: int, owner_alive: Any
    ) -> str | None:
        """Take the right to send this digest; None if taken, else the previous holder
        (``owner_alive(holder) -> bool`` says whether a holder still runs)."""
        with self.db.atomic():
            row = self.conn.execute(
                "SELECT lease_owner, lease_until FROM digests WHERE id = ?", (digest_id,)
            ).fetchone()
            if row is None:
                raise StoreError(f"digest {digest_id} not found")
            holder, until = row
            if (
                holder
                and holder != owner
                and until
                and parse_iso_datetime(until) > now
                and owner_alive(holder)
            ):
                return None
            self.conn.execute(
                "UPDATE digests SET lease_owner = ?, lease_until = ? WHERE id = ?",
                (owner, utc_iso(now + timedelta(seconds=seconds)), digest_id),
            )
        return holder or ""

    def renew_lease(self, digest_id: int, owner: str, *, now: datetime, seconds: int) -> None:
        self.db.execute(
            "UPDATE digests SET lease_until = ? WHERE id = ? AND lease_owner = ?",
            (utc_iso(now + timedelta(seconds=seconds)), digest_id, owner),
        )

    def release_lease(self, digest_id: int, owner: str) -> None:
        self.db.execute(
            "UPDATE digests SET lease_owner = NULL, lease_until = NULL "
            "WHERE id = ? AND lease_owner = ?",
            (digest_id, owner),
        )


def mail_store(store: Store) -> MailStore:
    """A MailStore over ``store`` (migrations applied)."""
    return MailStore(store)


def require_subscriber(ms: MailStore, email: str) -> Subscriber:
    sub = ms.by_email(email)
    if sub is None:
        raise SubscriberError(
            f"{email}: no such subscriber", hint="`tgfeed subscribers list` shows them"
        )
    return sub
