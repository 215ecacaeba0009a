"""Subscribers: double opt-in requests, confirmation, unsubscribing, bounces."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any

from ..model import STATUSES, Status, Subscriber
from ..text import parse_iso_datetime, utc_iso
from .db import Db, Row

_SUB_COLS = (
    "id, email, name, unit, status, origin, created_at, confirmed_at, unsubscribed_at, "
    "bounce_count, confirm_sent_at"
)


def dt_or_none(value: str | None) -> datetime | None:
    return parse_iso_datetime(value) if value else None


def _subscriber(row: Row) -> Subscriber:
    return Subscriber(
        id=row["id"],
        email=row["email"],
        name=row["name"],
        unit=row["unit"],
        status=row["status"],
        origin=row["origin"],
        created_at=parse_iso_datetime(row["created_at"]),
        confirmed_at=dt_or_none(row["confirmed_at"]),
        unsubscribed_at=dt_or_none(row["unsubscribed_at"]),
        bounce_count=row["bounce_count"],
        confirm_sent_at=dt_or_none(row["confirm_sent_at"]),
    )


def email_key(email: str) -> str:
    return email.strip().lower()


class SubscribersMixin:
    _db: Db

    def subscriber(self, subscriber_id: int) -> Subscriber | None:
        row = self._db.row(f"SELECT {_SUB_COLS} FROM subscribers WHERE id = ?", (subscriber_id,))
        return _subscriber(row) if row else None

    def by_email(self, email: str) -> Subscriber | None:
        row = self._db.row(
            f"SELECT {_SUB_COLS} FROM subscribers WHERE email_key = ?", (email_key(email),)
        )
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
            rows = self._db.rows(sql + " ORDER BY id LIMIT 1000", args)
            if not rows:
                return
            for row in rows:
                yield _subscriber(row)
            last = rows[-1]["id"]

    def count_subscribers(self) -> dict[str, int]:
        counts: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for r in self._db.rows("SELECT status, count(*) AS n FROM subscribers GROUP BY status"):
            counts[r["status"]] = r["n"]
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
        with self._db.write():
            found = self.by_email(email)
            if found is None:
                cur = self._db.execute(
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
            self._db.execute(
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
        with self._db.write():
            found = self.by_email(email)
            if found is None:
                sub, _ = self.add_subscriber(
                    email, now=now, name=name, unit=unit, status="pending", origin=origin
                )
                return sub, True
            if found.status == "active":
                return found, False
            self._db.execute(
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
        with self._db.write() as conn:
            conn.execute(
                "UPDATE subscribers SET confirm_sent_at = ? WHERE id = ?",
                (utc_iso(now), subscriber_id),
            )

    def _activate(self, subscriber_id: int, now_s: str) -> None:
        self._db.execute(
            "UPDATE subscribers SET status = 'active', confirmed_at = ?, updated_at = ?, "
            "unsubscribed_at = NULL, bounced_at = NULL, bounce_count = 0 WHERE id = ?",
            (now_s, now_s, subscriber_id),
        )

    def confirm(self, subscriber_id: int, *, now: datetime) -> Subscriber | None:
        """pending → active (idempotent); other statuses are left as they are."""
        with self._db.write():
            sub = self.subscriber(subscriber_id)
            if sub is None or sub.status != "pending":
                return sub
            self._activate(subscriber_id, utc_iso(now))
            return self.subscriber(subscriber_id)

    def unsubscribe(self, subscriber_id: int, *, now: datetime) -> Subscriber | None:
        """→ unsubscribed (idempotent); their pending deliveries are skipped at once."""
        now_s = utc_iso(now)
        with self._db.write():
            sub = self.subscriber(subscriber_id)
            if sub is None or sub.status == "unsubscribed":
                return sub
            self._db.execute(
                "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?, "
                "updated_at = ? WHERE id = ?",
                (now_s, now_s, subscriber_id),
            )
            self._skip_pending(subscriber_id, now_s, "unsubscribed before delivery")
            return self.subscriber(subscriber_id)

    def count_bounce(
        self, subscriber_id: int, *, now: datetime, bounce_limit: int, give_up: bool = False
    ) -> bool:
        """One more permanent failure reported later (a DSN): counts toward
        ``bounce_limit``; an active subscriber becomes ``bounced`` at the limit, or at
        once with ``give_up``. True when they have just become ``bounced``."""
        now_s = utc_iso(now)
        with self._db.write():
            self._db.execute(
                "UPDATE subscribers SET bounce_count = bounce_count + 1, updated_at = ? "
                "WHERE id = ?",
                (now_s, subscriber_id),
            )
            cur = self._db.execute(
                "UPDATE subscribers SET status = 'bounced', bounced_at = ? "
                "WHERE id = ? AND status = 'active' AND (? OR bounce_count >= ?)",
                (now_s, subscriber_id, give_up, bounce_limit),
            )
            if cur.rowcount:
                self._skip_pending(subscriber_id, now_s, "address bounced")
                return True
        return False

    def _skip_pending(self, subscriber_id: int, now_s: str, reason: str) -> None:
        self._db.execute(
            "UPDATE deliveries SET status = 'skipped', last_error = ?, updated_at = ? "
            "WHERE subscriber_id = ? AND status = 'pending'",
            (reason, now_s, subscriber_id),
        )

    def set_status(self, subscriber_id: int, status: Status, *, now: datetime) -> None:
        if status == "active":
            with self._db.write():
                self._activate(subscriber_id, utc_iso(now))
        elif status == "unsubscribed":
            self.unsubscribe(subscriber_id, now=now)
        else:
            with self._db.write() as conn:
                conn.execute(
                    "UPDATE subscribers SET status = ?, updated_at = ? WHERE id = ?",
                    (status, utc_iso(now), subscriber_id),
                )

    def remove(self, email: str) -> bool:
        """Delete a subscriber and their ledger rows (digest totals are kept)."""
        with self._db.write():
            sub = self.by_email(email)
            if sub is None:
                return False
            self._db.execute("DELETE FROM deliveries WHERE subscriber_id = ?", (sub.id,))
            self._db.execute("DELETE FROM subscribers WHERE id = ?", (sub.id,))
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
        with self._db.write() as conn:
            cur = conn.executemany(
                "INSERT OR IGNORE INTO subscribers (email, email_key, name, unit, status, origin, "
                "created_at, updated_at, confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (e, email_key(e), n, u, status, origin, now_s, now_s, confirmed)
                    for e, n, u in rows
                ),
            )
        return cur.rowcount
