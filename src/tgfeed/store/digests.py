"""Digests and the per-recipient delivery ledger.

A digest run snapshots the active subscribers into ``deliveries`` in one
transaction, and a row becomes ``sent`` only after the server accepted its
message (committed before that connection carries another message).
Ledger statuses: ``pending`` → ``sent`` | ``failed`` | ``skipped`` (the
subscriber left before their turn).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import StoreError
from ..model import DeliveryRow, DigestRecord, Recipient
from ..text import parse_iso_datetime, utc_iso
from .db import Db, Row
from .digest_audit import AuditMixin, record_event
from .subscribers import SubscribersMixin, dt_or_none

_DIGEST_COLS = (
    "id, week, status, subject, article_count, recipients, sent, failed, created_at, "
    "finished_at, deadline_at, approved_by, approved_at"
)
# The states in which a week's digest went out (the archive shows those only).
OUT = "('sending', 'sent')"


def _digest(row: Row) -> DigestRecord:
    return DigestRecord(
        id=row["id"],
        week=row["week"],
        status=row["status"],
        subject=row["subject"],
        article_count=row["article_count"],
        recipients=row["recipients"],
        sent=row["sent"],
        failed=row["failed"],
        created_at=parse_iso_datetime(row["created_at"]),
        finished_at=dt_or_none(row["finished_at"]),
        deadline_at=dt_or_none(row["deadline_at"]),
        approved_by=row["approved_by"],
        approved_at=dt_or_none(row["approved_at"]),
    )


class DigestsMixin(AuditMixin, SubscribersMixin):
    _db: Db

    def digest(self, week: str) -> DigestRecord | None:
        row = self._db.row(f"SELECT {_DIGEST_COLS} FROM digests WHERE week = ?", (week,))
        return _digest(row) if row else None

    def digests(self, *, limit: int = 100, archived_only: bool = False) -> list[DigestRecord]:
        """Newest week first; ``archived_only``: those that went out (sent or sending)."""
        where = f"WHERE status IN {OUT}" if archived_only else ""
        rows = self._db.rows(
            f"SELECT {_DIGEST_COLS} FROM digests {where} ORDER BY week DESC LIMIT ?", (limit,)
        )
        return [_digest(r) for r in rows]

    def mail_bodies(self, digest_id: int) -> tuple[str, str]:
        row = self._db.row("SELECT mail_html, mail_text FROM digests WHERE id = ?", (digest_id,))
        if row is None:
            raise StoreError(f"digest {digest_id} not found")
        return row["mail_html"], row["mail_text"]

    def web_copy(self, week: str) -> tuple[DigestRecord, str, str] | None:
        """The archived (token-free) HTML and text of a digest that went out."""
        row = self._db.row(
            f"SELECT {_DIGEST_COLS}, web_html, web_text FROM digests "
            f"WHERE week = ? AND status IN {OUT}",
            (week,),
        )
        return (_digest(row), row["web_html"], row["web_text"]) if row else None

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
        actor: str = "tgfeed",
    ) -> tuple[DigestRecord, bool]:
        """Create the week's digest and snapshot the active subscribers into the
        ledger — one transaction. An existing digest is returned untouched: (row, created)."""
        now_s = utc_iso(now)
        with self._db.write():
            existing = self.digest(week)
            if existing is not None:
                return existing, False
            cur = self._db.execute(
                "INSERT INTO digests (week, status, subject, article_count, mail_html, mail_text, "
                "web_html, web_text, created_at) VALUES (?, 'sending', ?, ?, ?, ?, ?, ?, ?)",
                (week, subject, article_count, mail_html, mail_text, web_html, web_text, now_s),
            )
            digest_id = int(cur.lastrowid or 0)
            n = self._db.execute(
                "INSERT INTO deliveries (digest_id, subscriber_id, email, name, status, "
                "updated_at) SELECT ?, id, email, name, 'pending', ? FROM subscribers "
                "WHERE status = 'active' ORDER BY id",
                (digest_id, now_s),
            ).rowcount
            self._db.execute("UPDATE digests SET recipients = ? WHERE id = ?", (n, digest_id))
            record_event(
                self._db, week, None, "sending", actor=actor, reason=f"{n} recipients", now=now
            )
            created = self.digest(week)
        assert created is not None
        return created, True

    def skip_digest(
        self, week: str, *, subject: str, now: datetime, actor: str = "tgfeed"
    ) -> DigestRecord:
        """Record an empty week as skipped (not final: a later send re-evaluates it)."""
        now_s = utc_iso(now)
        with self._db.write() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO digests (week, status, subject, article_count, mail_html, "
                "mail_text, web_html, web_text, created_at, finished_at) "
                "VALUES (?, 'skipped', ?, 0, '', '', '', '', ?, ?)",
                (week, subject, now_s, now_s),
            )
            if cur.rowcount:
                record_event(
                    self._db, week, None, "skipped", actor=actor, reason="no articles", now=now
                )
        record = self.digest(week)
        assert record is not None
        return record

    def finish_digest(
        self, digest_id: int, *, now: datetime, actor: str = "tgfeed"
    ) -> dict[str, int]:
        """Store the totals; the digest becomes ``sent`` once nothing is pending."""
        counts = self.delivery_counts(digest_id)
        done = counts["pending"] == 0
        with self._db.write():
            row = self._db.row("SELECT week, status FROM digests WHERE id = ?", (digest_id,))
            if row is not None and done and row["status"] != "sent":
                reason = f"{counts['sent']} sent, {counts['failed']} failed"
                record_event(
                    self._db,
                    row["week"],
                    row["status"],
                    "sent",
                    actor=actor,
                    reason=reason,
                    now=now,
                )
            self._db.execute(
                "UPDATE digests SET sent = ?, failed = ?, status = CASE WHEN ? THEN 'sent' "
                "ELSE status END, finished_at = CASE WHEN ? THEN ? ELSE finished_at END "
                "WHERE id = ?",
                (counts["sent"], counts["failed"], done, done, utc_iso(now), digest_id),
            )
            # A delivered message ends a run of bounces.
            self._db.execute(
                "UPDATE subscribers SET bounce_count = 0 WHERE bounce_count != 0 AND id IN "
                "(SELECT subscriber_id FROM deliveries WHERE digest_id = ? AND status = 'sent')",
                (digest_id,),
            )
        return counts

    # -- the ledger --------------------------------------------------------

    def delivery_counts(self, digest_id: int) -> dict[str, int]:
        counts = {"pending": 0, "sent": 0, "failed": 0, "skipped": 0}
        for r in self._db.rows(
            "SELECT status, count(*) AS n FROM deliveries WHERE digest_id = ? GROUP BY status",
            (digest_id,),
        ):
            counts[r["status"]] = r["n"]
        return counts

    def pending(self, digest_id: int, *, after: int = 0, limit: int = 500) -> list[Recipient]:
        """The next pending rows in subscriber order (keyset paging)."""
        rows = self._db.rows(
            "SELECT subscriber_id, email, name, attempts FROM deliveries "
            "WHERE digest_id = ? AND status = 'pending' AND subscriber_id > ? "
            "ORDER BY subscriber_id LIMIT ?",
            (digest_id, after, limit),
        )
        return [Recipient(r["subscriber_id"], r["email"], r["name"], r["attempts"]) for r in rows]

    def is_pending(self, digest_id: int, subscriber_id: int) -> bool:
        return bool(
            self._db.value(
                "SELECT status = 'pending' FROM deliveries "
                "WHERE digest_id = ? AND subscriber_id = ?",
                (digest_id, subscriber_id),
            )
        )

    def mark_sent(
        self, digest_id: int, subscriber_id: int, *, reply: str, now: datetime, commit: bool = True
    ) -> None:
        """The server accepted the message. The caller must have it committed
        (``commit=True``, or a later ``commit()``) before reusing the connection:
        with ``commit=False`` the row joins the open group transaction."""
        now_s = utc_iso(now)
        self._db.begin()
        self._db.execute(
            "UPDATE deliveries SET status = 'sent', attempts = attempts + 1, server_reply = ?, "
            "sent_at = ?, updated_at = ? WHERE digest_id = ? AND subscriber_id = ?",
            (reply[:500], now_s, now_s, digest_id, subscriber_id),
        )
        if commit:
            self._db.commit()

    def commit(self) -> None:
        """Commit the group that ``mark_sent(commit=False)`` (and anything since) wrote."""
        self._db.commit()

    def mark_retry(
        self, digest_id: int, subscriber_id: int, *, error: str, now: datetime, count: bool = True
    ) -> int:
        """A temporary failure: the row stays pending; returns its attempts so far."""
        with self._db.write() as conn:
            conn.execute(
                "UPDATE deliveries SET attempts = attempts + ?, last_error = ?, updated_at = ? "
                "WHERE digest_id = ? AND subscriber_id = ?",
                (1 if count else 0, error[:500], utc_iso(now), digest_id, subscriber_id),
            )
        attempts = self._db.value(
            "SELECT attempts FROM deliveries WHERE digest_id = ? AND subscriber_id = ?",
            (digest_id, subscriber_id),
        )
        return int(attempts or 0)

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
        with self._db.write():
            self._db.execute(
                "UPDATE deliveries SET status = 'failed', attempts = attempts + ?, "
                "last_error = ?, updated_at = ? WHERE digest_id = ? AND subscriber_id = ?",
                (1 if permanent else 0, error[:500], now_s, digest_id, subscriber_id),
            )
            if not permanent:
                return False
            return self.count_bounce(subscriber_id, now=now, bounce_limit=bounce_limit)

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
        rows = self._db.rows(sql + " ORDER BY subscriber_id LIMIT ?", [*args, limit])
        return [
            DeliveryRow(
                subscriber_id=r["subscriber_id"],
                email=r["email"],
                status=r["status"],
                attempts=r["attempts"],
                last_error=r["last_error"],
                server_reply=r["server_reply"],
                sent_at=dt_or_none(r["sent_at"]),
            )
            for r in rows
        ]
