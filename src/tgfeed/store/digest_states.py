"""A digest week's states and resend segments (docs/digest.md "States").

``draft → approved → sending → sent``; ``skipped`` (nothing to send, or nobody to
send it to), ``held`` (stale sources, or an approval deadline with
``on_deadline = "hold"``) and ``rejected`` are not final: a later send
re-evaluates the week. Every change is one compare-and-set on ``digests.status``
plus one audit row, in one transaction: two processes cannot both move a week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ..model import DigestRecord, DigestStatus
from ..text import utc_iso
from .digest_audit import record_event
from .digests import DigestsMixin

# States a send re-evaluates: their row is reused, nothing of theirs was delivered.
REEVALUATE: tuple[DigestStatus, ...] = ("skipped", "held", "rejected")
ResendKind = Literal["failed", "new-subscribers", "to"]


@dataclass(frozen=True, slots=True)
class Bodies:
    """A rendered week: the mail (with the token placeholder) and the web copy."""

    subject: str
    article_count: int
    mail_html: str = ""
    mail_text: str = ""
    web_html: str = ""
    web_text: str = ""


class DigestStatesMixin(DigestsMixin):
    def prepare_digest(
        self,
        week: str,
        status: DigestStatus,
        bodies: Bodies,
        *,
        actor: str,
        reason: str,
        now: datetime,
        snapshot: bool = False,
        deadline_at: datetime | None = None,
    ) -> DigestRecord | None:
        """Create the week's row in ``status``, or reuse a row in a re-evaluable
        state (its content replaced). ``snapshot``: the active subscribers become the
        ledger, in the same transaction. None when the week is in another state
        (another process moved it meanwhile). Staying in the same state for the
        same reason writes no audit row (a held week retried every 15 minutes)."""
        now_s = utc_iso(now)
        done = status in REEVALUATE
        values = (
            status,
            bodies.subject,
            bodies.article_count,
            bodies.mail_html,
            bodies.mail_text,
            bodies.web_html,
            bodies.web_text,
            now_s,
            now_s if done else None,
            utc_iso(deadline_at) if deadline_at else None,
        )
        with self._db.write():
            existing = self.digest(week)
            if existing is not None and existing.status not in REEVALUATE:
                return None
            if existing is None:
                cur = self._db.execute(
                    "INSERT INTO digests (status, subject, article_count, mail_html, mail_text, "
                    "web_html, web_text, created_at, finished_at, deadline_at, week) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, week),
                )
                digest_id = int(cur.lastrowid or 0)
            else:
                digest_id = existing.id
                self._db.execute(
                    "UPDATE digests SET status = ?, subject = ?, article_count = ?, "
                    "mail_html = ?, mail_text = ?, web_html = ?, web_text = ?, created_at = ?, "
                    "finished_at = ?, deadline_at = ?, approved_by = NULL, approved_at = NULL "
                    "WHERE id = ?",
                    (*values, digest_id),
                )
            if snapshot:
                n = self._snapshot(digest_id, now_s)
                reason = reason or f"{n} recipients"
            before = existing.status if existing else None
            if before != status or self._last_reason(week) != reason:
                record_event(self._db, week, before, status, actor=actor, reason=reason, now=now)
        return self.digest(week)

    def _last_reason(self, week: str) -> str | None:
        value = self._db.value(
            "SELECT reason FROM digest_events WHERE week = ? ORDER BY id DESC LIMIT 1", (week,)
        )
        return str(value) if value is not None else None

    def _snapshot(self, digest_id: int, now_s: str) -> int:
        n = self._db.execute(
            "INSERT OR IGNORE INTO deliveries (digest_id, subscriber_id, email, name, status, "
            "updated_at) SELECT ?, id, email, name, 'pending', ? FROM subscribers "
            "WHERE status = 'active' ORDER BY id",
            (digest_id, now_s),
        ).rowcount
        self._db.execute(
            "UPDATE digests SET recipients = (SELECT count(*) FROM deliveries "
            "WHERE digest_id = ?) WHERE id = ?",
            (digest_id, digest_id),
        )
        return int(n)

    def transition(
        self,
        week: str,
        to: DigestStatus,
        *,
        expect: tuple[DigestStatus, ...],
        actor: str,
        reason: str,
        now: datetime,
        approve: bool = False,
        snapshot: bool = False,
    ) -> DigestRecord | None:
        """Move the week from one of ``expect`` to ``to`` (None if it is not in one
        of them). ``approve``: record ``actor`` as its approver; ``snapshot``: the
        active subscribers become the ledger (at approval time)."""
        now_s = utc_iso(now)
        with self._db.write():
            record = self.digest(week)
            if record is None or record.status not in expect:
                return None
            if approve:
                self._db.execute(
                    "UPDATE digests SET approved_by = ?, approved_at = ? WHERE id = ?",
                    (actor, now_s, record.id),
                )
            if snapshot:
                n = self._snapshot(record.id, now_s)
                reason = f"{reason}; {n} recipients" if reason else f"{n} recipients"
            self._db.execute(
                "UPDATE digests SET status = ?, finished_at = CASE WHEN ? THEN ? ELSE NULL END "
                "WHERE id = ?",
                (to, to in REEVALUATE, now_s, record.id),
            )
            record_event(self._db, week, record.status, to, actor=actor, reason=reason, now=now)
        return self.digest(week)

    def has_draft(self, digest_id: int) -> bool:
        """Whether the row holds a rendered draft (a week held at its approval
        deadline does; one held for stale sources does not)."""
        return bool(
            self._db.value("SELECT mail_html != '' FROM digests WHERE id = ?", (digest_id,))
        )

    def draft_web_html(self, digest_id: int) -> str:
        """The web form of a week's draft, for the approver's preview."""
        return str(self._db.value("SELECT web_html FROM digests WHERE id = ?", (digest_id,)) or "")

    def drafts(self) -> list[DigestRecord]:
        """Weeks waiting for approval, for the scheduler's deadline timers."""
        return [d for d in self.digests(limit=20) if d.status == "draft"]

    # -- resends: new segments of a sent week's ledger ---------------------

    def open_resend(
        self,
        week: str,
        kind: ResendKind,
        *,
        actor: str,
        now: datetime,
        subscriber_id: int | None = None,
    ) -> tuple[int, int]:
        """Make a sent week's rows pending again as a new ledger segment:
        ``failed`` rows of active subscribers, ``new-subscribers`` (active, not in
        the ledger) or ``to`` one subscriber (not if they already got it). The week
        becomes ``sending``. Returns (segment number, rows); (0, 0) when there is
        nobody to send to (nothing changes)."""
        now_s = utc_iso(now)
        with self._db.write():
            record = self.digest(week)
            if record is None or record.status != "sent":
                return 0, 0
            number = 1 + int(
                self._db.value(
                    "SELECT coalesce(max(number), 0) FROM digest_segments WHERE digest_id = ?",
                    (record.id,),
                )
            )
            rows = self._reopen(record.id, kind, number, now_s, subscriber_id)
            if rows == 0:
                return 0, 0
            self._add_segment(record.id, number, kind, actor, None, rows, now_s)
            self._db.execute(
                "UPDATE digests SET status = 'sending', finished_at = NULL, recipients = "
                "(SELECT count(*) FROM deliveries WHERE digest_id = ?) WHERE id = ?",
                (record.id, record.id),
            )
            reason = f"resend #{number} --{kind}: {rows} recipient(s)"
            record_event(self._db, week, "sent", "sending", actor=actor, reason=reason, now=now)
        return number, rows

    def _reopen(
        self, digest_id: int, kind: ResendKind, number: int, now_s: str, sid: int | None
    ) -> int:
        active = "SELECT id FROM subscribers WHERE status = 'active'"
        if kind == "failed":
            sql = (
                "UPDATE deliveries SET status = 'pending', attempts = 0, segment = ?, "
                f"updated_at = ? WHERE digest_id = ? AND status = 'failed' AND subscriber_id IN "
                f"({active})"
            )
            return int(self._db.execute(sql, (number, now_s, digest_id)).rowcount)
        if kind == "new-subscribers":
            sql = (
                "INSERT INTO deliveries (digest_id, subscriber_id, email, name, status, segment, "
                "updated_at) SELECT ?, id, email, name, 'pending', ?, ? FROM subscribers "
                "WHERE status = 'active' AND id NOT IN "
                "(SELECT subscriber_id FROM deliveries WHERE digest_id = ?) ORDER BY id"
            )
            return int(self._db.execute(sql, (digest_id, number, now_s, digest_id)).rowcount)
        sql = (
            "INSERT INTO deliveries (digest_id, subscriber_id, email, name, status, segment, "
            "updated_at) SELECT ?, id, email, name, 'pending', ?, ? FROM subscribers WHERE id = ? "
            "ON CONFLICT (digest_id, subscriber_id) DO UPDATE SET status = 'pending', "
            "attempts = 0, segment = excluded.segment, updated_at = excluded.updated_at "
            "WHERE deliveries.status != 'sent'"
        )
        return int(self._db.execute(sql, (digest_id, number, now_s, sid)).rowcount)

    def _add_segment(
        self,
        digest_id: int,
        number: int,
        kind: str,
        actor: str,
        address: str | None,
        rows: int,
        now_s: str,
    ) -> None:
        self._db.execute(
            "INSERT INTO digest_segments (digest_id, number, kind, actor, address, rows, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (digest_id, number, kind, actor, address, rows, now_s),
        )

    def delivery_status(self, digest_id: int, subscriber_id: int) -> str | None:
        """One subscriber's ledger row status for the digest (None: not in it)."""
        value = self._db.value(
            "SELECT status FROM deliveries WHERE digest_id = ? AND subscriber_id = ?",
            (digest_id, subscriber_id),
        )
        return str(value) if value is not None else None

    def manual_copies(self, digest_id: int) -> list[str]:
        """Addresses that got a ``resend --to`` copy outside the ledger."""
        rows = self._db.rows(
            "SELECT address FROM digest_segments WHERE digest_id = ? AND kind = 'to' "
            "AND address IS NOT NULL ORDER BY number",
            (digest_id,),
        )
        return [r["address"] for r in rows]

    def record_manual_copy(
        self, week: str, address: str, *, actor: str, reply: str, now: datetime
    ) -> int:
        """One ``resend --to`` copy to an address outside the ledger went out."""
        now_s = utc_iso(now)
        with self._db.write():
            record = self.digest(week)
            assert record is not None
            number = 1 + int(
                self._db.value(
                    "SELECT coalesce(max(number), 0) FROM digest_segments WHERE digest_id = ?",
                    (record.id,),
                )
            )
            self._add_segment(record.id, number, "to", actor, address, 1, now_s)
            reason = f"resend #{number} --to {address}: {reply[:200]}"
            record_event(
                self._db, week, record.status, record.status, actor=actor, reason=reason, now=now
            )
        return number
