"""The mail repository: subscribers, digests and the delivery ledger (migration
set "tgfeed.mail"). The ledger is what makes delivery exactly-once as far as SMTP
allows; see ``digests``."""

from __future__ import annotations

from .db import Database, Db, Migrations, guarded
from .digests import DigestsMixin
from .lookup import LookupMixin

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


@guarded
class MailRepo(DigestsMixin, LookupMixin):
    """Subscribers, digests and deliveries over the store's one connection."""

    def __init__(self, db: Db) -> None:
        self._db = db
