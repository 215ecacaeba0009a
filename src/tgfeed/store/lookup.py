"""Subscriber look-ups for the console (part of ``store.mail``): search by
address, name or unit with a status filter and keyset-free paging, and one
subscriber's history (confirmation, deliveries per week, bounces)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..model import Status, Subscriber
from .db import Db
from .subscribers import _SUB_COLS, _subscriber, dt_or_none


@dataclass(frozen=True, slots=True)
class DeliveryEvent:
    week: str
    status: str
    attempts: int
    sent_at: datetime | None
    last_error: str | None


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class LookupMixin:
    _db: Db

    def search_subscribers(
        self, query: str = "", status: Status | None = None, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Subscriber], int]:
        """One page of subscribers matching ``query`` (in address, name or unit) and
        ``status``, newest first; and how many match in all."""
        where = "WHERE 1 = 1"
        args: list[Any] = []
        if query.strip():
            pattern = _like(query.strip())
            where += (
                " AND (email LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\' "
                "OR unit LIKE ? ESCAPE '\\')"
            )
            args += [pattern, pattern, pattern]
        if status:
            where += " AND status = ?"
            args.append(status)
        total = int(self._db.value(f"SELECT count(*) FROM subscribers {where}", args) or 0)
        rows = self._db.rows(
            f"SELECT {_SUB_COLS} FROM subscribers {where} ORDER BY id DESC LIMIT ? OFFSET ?",
            [*args, limit, offset],
        )
        return [_subscriber(r) for r in rows], total

    def delivery_history(self, subscriber_id: int, *, limit: int = 104) -> list[DeliveryEvent]:
        rows = self._db.rows(
            "SELECT d.week, l.status, l.attempts, l.sent_at, l.last_error "
            "FROM deliveries l JOIN digests d ON d.id = l.digest_id "
            "WHERE l.subscriber_id = ? ORDER BY d.week DESC LIMIT ?",
            (subscriber_id, limit),
        )
        return [
            DeliveryEvent(
                week=r["week"],
                status=r["status"],
                attempts=r["attempts"],
                sent_at=dt_or_none(r["sent_at"]),
                last_error=r["last_error"],
            )
            for r in rows
        ]

    def bounced_at(self, subscriber_id: int) -> datetime | None:
        value = self._db.value("SELECT bounced_at FROM subscribers WHERE id = ?", (subscriber_id,))
        return dt_or_none(value)
