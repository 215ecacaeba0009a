"""A digest week's audit trail: the append-only ``digest_events`` table.

Every change of a week's state is one row — from, to, who (``scheduler``,
``cli:<user>``, an approver's address), when (UTC) and why — written in the same
transaction as the change itself. Triggers refuse UPDATE and DELETE on the table.
"""

from __future__ import annotations

from datetime import datetime

from ..model import DigestEvent
from ..text import parse_iso_datetime, utc_iso
from .db import Db


def record_event(
    db: Db,
    week: str,
    from_status: str | None,
    to_status: str,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    """Append one row; the caller holds the write transaction of the change."""
    db.execute(
        "INSERT INTO digest_events (week, from_status, to_status, actor, reason, at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (week, from_status, to_status, actor[:200], reason[:1000], utc_iso(now)),
    )


class AuditMixin:
    _db: Db

    def events(self, week: str) -> list[DigestEvent]:
        """The week's audit trail, oldest first."""
        rows = self._db.rows(
            "SELECT id, week, from_status, to_status, actor, reason, at FROM digest_events "
            "WHERE week = ? ORDER BY id",
            (week,),
        )
        return [
            DigestEvent(
                id=r["id"],
                week=r["week"],
                from_status=r["from_status"],
                to_status=r["to_status"],
                actor=r["actor"],
                reason=r["reason"],
                at=parse_iso_datetime(r["at"]),
            )
            for r in rows
        ]
