"""The lifecycle migration on a store made before it: every digest and ledger row
kept, the history backfilled, foreign keys still enforced, the audit table
append-only."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tgfeed.errors import StoreError
from tgfeed.store import MIGRATIONS, open_store
from tgfeed.store.db import connect

NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)


def _old_store(path: Path) -> None:
    """A store as the release before the lifecycle left it, with a sent week."""
    db = connect(path)
    for mig in MIGRATIONS:
        mig.apply(db.db, stop_before="m002_digest_lifecycle")
    conn = db.conn
    conn.execute(
        "INSERT INTO subscribers (email, email_key, status, origin, created_at, updated_at) "
        "VALUES ('a@example.vn', 'a@example.vn', 'active', 'cli', '2026-11-01', '2026-11-01')"
    )
    conn.execute(
        "INSERT INTO digests (week, status, subject, article_count, mail_html, mail_text, "
        "web_html, web_text, recipients, sent, created_at, finished_at) VALUES "
        "('2026-W47', 'sent', 'Bản tin [47]', 3, 'h', 't', 'wh', 'wt', 1, 1, "
        "'2026-11-23T00:00:00+00:00', '2026-11-23T00:05:00+00:00')"
    )
    conn.execute(
        "INSERT INTO deliveries (digest_id, subscriber_id, email, status) "
        "VALUES (1, 1, 'a@example.vn', 'sent')"
    )
    db.close()


def test_an_old_store_keeps_its_weeks_and_gains_their_history(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _old_store(path)
    with open_store(path) as store:
        ms = store.mail
        record = ms.digest("2026-W47")
        assert record is not None and record.status == "sent" and record.subject == "Bản tin [47]"
        assert ms.delivery_counts(record.id)["sent"] == 1
        ((event),) = ms.events("2026-W47")
        assert (event.from_status, event.to_status, event.actor) == (None, "sent", "migration")
        assert ms.web_copy("2026-W47") is not None
        with pytest.raises(sqlite3.IntegrityError):  # deliveries still refer to digests
            store.db.execute(
                "INSERT INTO deliveries (digest_id, subscriber_id, email) VALUES (99, 1, 'x')"
            )
        for sql in ("UPDATE digest_events SET reason = 'x'", "DELETE FROM digest_events"):
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                store.db.execute(sql)


def test_a_state_outside_the_lifecycle_is_refused(tmp_path: Path) -> None:
    with (
        open_store(tmp_path / "new.db") as store,
        pytest.raises((sqlite3.IntegrityError, StoreError)),
    ):
        store.db.execute(
            "INSERT INTO digests (week, status, subject, article_count, mail_html, "
            "mail_text, web_html, web_text, created_at) "
            "VALUES ('2026-W01', 'lost', '', 0, '', '', '', '', '2026-01-05')"
        )
