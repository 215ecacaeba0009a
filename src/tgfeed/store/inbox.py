"""The inbox log (migration set "tgfeed.inbox"): every message read from the
bounce/unsubscribe mailbox, what it was and what was done about it. A message
key (its Message-ID, or a digest of its bytes) present here is never acted on
again, which makes processing the mailbox idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..text import parse_iso_datetime, utc_iso
from .db import Database, Db, Migrations, Row, guarded

migrations = Migrations("tgfeed.inbox")

KINDS = ("unsubscribe", "bounce-hard", "bounce-soft", "report", "other", "invalid")


@migrations()
def m001_inbox_log(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE inbox_log (
            id INTEGER PRIMARY KEY,
            message_key TEXT NOT NULL,          -- Message-ID, or sha256:<hex of the bytes>
            part INTEGER NOT NULL DEFAULT 0,    -- a DSN naming n recipients has n rows
            mailbox TEXT NOT NULL,              -- maildir:<path> | imap://user@host/folder
            kind TEXT NOT NULL CHECK (kind IN
                ('unsubscribe', 'bounce-hard', 'bounce-soft', 'report', 'other', 'invalid')),
            subscriber_id INTEGER,              -- no foreign key: the log outlives a removal
            email TEXT,                         -- the address acted on
            outcome TEXT NOT NULL,
            detail TEXT,                        -- DSN status and diagnostic, or why
            sender TEXT,
            subject TEXT,
            processed_at TEXT NOT NULL,         -- UTC ISO 8601
            UNIQUE (message_key, part)
        );
        CREATE INDEX inbox_log_subscriber ON inbox_log(subscriber_id, kind);
        CREATE INDEX inbox_log_processed ON inbox_log(processed_at);
        """
    )


@dataclass(frozen=True, slots=True)
class LogEntry:
    kind: str
    outcome: str
    subscriber_id: int | None = None
    email: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class LogRow:
    id: int
    message_key: str
    mailbox: str
    kind: str
    subscriber_id: int | None
    email: str | None
    outcome: str
    detail: str
    sender: str | None
    subject: str
    processed_at: datetime


def _row(r: Row) -> LogRow:
    return LogRow(
        id=r["id"],
        message_key=r["message_key"],
        mailbox=r["mailbox"],
        kind=r["kind"],
        subscriber_id=r["subscriber_id"],
        email=r["email"],
        outcome=r["outcome"],
        detail=r["detail"] or "",
        sender=r["sender"],
        subject=r["subject"] or "",
        processed_at=parse_iso_datetime(r["processed_at"]),
    )


@guarded
class InboxRepo:
    """The inbox log over the store's one connection."""

    def __init__(self, db: Db) -> None:
        self._db = db

    def seen(self, message_key: str) -> bool:
        """Whether a message with this key was processed already."""
        return bool(
            self._db.value("SELECT count(*) FROM inbox_log WHERE message_key = ?", (message_key,))
        )

    def record(
        self,
        message_key: str,
        entries: Sequence[LogEntry],
        *,
        mailbox: str,
        sender: str | None,
        subject: str,
        now: datetime,
    ) -> None:
        """Log what was done about one message (one row per entry, at least one)."""
        with self._db.write() as conn:
            conn.executemany(
                "INSERT INTO inbox_log (message_key, part, mailbox, kind, subscriber_id, email, "
                "outcome, detail, sender, subject, processed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        message_key,
                        i,
                        mailbox,
                        e.kind,
                        e.subscriber_id,
                        e.email,
                        e.outcome[:300],
                        e.detail[:500],
                        sender,
                        subject[:300],
                        utc_iso(now),
                    )
                    for i, e in enumerate(entries)
                ],
            )

    def hard_bounces(self, subscriber_id: int, *, since: datetime | None) -> int:
        """Hard bounces reported for a subscriber by DSN (since ``since``, e.g. their
        confirmation)."""
        sql = "SELECT count(*) FROM inbox_log WHERE subscriber_id = ? AND kind = 'bounce-hard'"
        args: list[object] = [subscriber_id]
        if since is not None:
            sql += " AND processed_at >= ?"
            args.append(utc_iso(since))
        return int(self._db.value(sql, args))

    def log(self, *, limit: int = 50, kind: str | None = None) -> list[LogRow]:
        """The newest entries first."""
        sql = "SELECT * FROM inbox_log"
        args: list[object] = []
        if kind:
            sql += " WHERE kind = ?"
            args.append(kind)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        return [_row(r) for r in self._db.rows(sql, args)]

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(KINDS, 0)
        for r in self._db.rows("SELECT kind, count(*) AS n FROM inbox_log GROUP BY kind"):
            counts[r["kind"]] = r["n"]
        return counts
