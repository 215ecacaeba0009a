"""The mail repository: subscribers, digests and the delivery ledger (migration
set "tgfeed.mail"). The ledger is what makes delivery exactly-once as far as SMTP
allows; see ``digests``."""

from __future__ import annotations

import sqlite3

from .db import Database, Db, Migrations, guarded
from .digest_states import DigestStatesMixin

migrations = Migrations("tgfeed.mail")


@migrations()
def m001_mail(db: Database) -> None:
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


_DIGESTS_V2 = """
CREATE TABLE digests_v2 (
    id INTEGER PRIMARY KEY,
    week TEXT NOT NULL UNIQUE,          -- 2026-W48: one row per week, its state below
    status TEXT NOT NULL CHECK (status IN
        ('draft', 'approved', 'sending', 'sent', 'skipped', 'held', 'rejected')),
    subject TEXT NOT NULL,
    article_count INTEGER NOT NULL,
    mail_html TEXT NOT NULL,
    mail_text TEXT NOT NULL,
    web_html TEXT NOT NULL,
    web_text TEXT NOT NULL,
    recipients INTEGER NOT NULL DEFAULT 0,
    sent INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    finished_at TEXT,
    lease_owner TEXT,
    lease_until TEXT,
    deadline_at TEXT,                   -- approval deadline (UTC), when approval is on
    approved_by TEXT,
    approved_at TEXT
)
"""
_OLD_COLS = (
    "id, week, status, subject, article_count, mail_html, mail_text, web_html, web_text, "
    "recipients, sent, failed, created_at, finished_at, lease_owner, lease_until"
)
_AUDIT = (
    # Append-only: every state change of a week, who made it, when and why.
    """CREATE TABLE digest_events (
        id INTEGER PRIMARY KEY,
        week TEXT NOT NULL,
        from_status TEXT,
        to_status TEXT NOT NULL,
        actor TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        at TEXT NOT NULL
    )""",
    "CREATE INDEX digest_events_week ON digest_events(week, id)",
    "CREATE TRIGGER digest_events_no_update BEFORE UPDATE ON digest_events "
    "BEGIN SELECT RAISE(ABORT, 'digest_events is append-only'); END",
    "CREATE TRIGGER digest_events_no_delete BEFORE DELETE ON digest_events "
    "BEGIN SELECT RAISE(ABORT, 'digest_events is append-only'); END",
    # Each resend of a week is a segment of its ledger (segment 0: the run itself).
    """CREATE TABLE digest_segments (
        digest_id INTEGER NOT NULL REFERENCES digests(id),
        number INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('failed', 'new-subscribers', 'to')),
        actor TEXT NOT NULL,
        address TEXT,                   -- --to: the one address
        rows INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (digest_id, number)
    )""",
    "ALTER TABLE deliveries ADD COLUMN segment INTEGER NOT NULL DEFAULT 0",
)


@migrations(transactional=False)
def m002_digest_lifecycle(db: Database) -> None:
    """The week's states (draft … rejected), the audit trail and resend segments.
    SQLite cannot change a CHECK constraint in place, so ``digests`` is rebuilt —
    with foreign keys off (``deliveries`` refers to it), inside one transaction."""
    conn = db.conn
    conn.execute("PRAGMA foreign_keys = OFF")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_DIGESTS_V2)
            conn.execute(f"INSERT INTO digests_v2 ({_OLD_COLS}) SELECT {_OLD_COLS} FROM digests")
            conn.execute("DROP TABLE digests")
            conn.execute("ALTER TABLE digests_v2 RENAME TO digests")
            for statement in _AUDIT:
                conn.execute(statement)
            conn.execute(
                "INSERT INTO digest_events (week, from_status, to_status, actor, reason, at) "
                "SELECT week, NULL, status, 'migration', 'recorded before the audit trail', "
                "coalesce(finished_at, created_at) FROM digests ORDER BY week"
            )
            if conn.execute("PRAGMA foreign_key_check").fetchall():
                raise sqlite3.IntegrityError("deliveries refer to a missing digest")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.execute("PRAGMA foreign_keys = ON")


@guarded
class MailRepo(DigestStatesMixin):
    """Subscribers, digests and deliveries over the store's one connection."""

    def __init__(self, db: Db) -> None:
        self._db = db
