"""One write discipline: every public write method of the store waits for a
writer that holds the lock (busy_timeout), and past the timeout raises a
StoreError with a hint — never a raw sqlite3 exception; the CLI prints one line."""

from __future__ import annotations

import inspect
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tgfeed.app import App
from tgfeed.errors import StoreError
from tgfeed.model import Article, BatchResult, CacheEntry
from tgfeed.store import (
    ArticlesRepo,
    FeedsRepo,
    InboxRepo,
    JobsRepo,
    MailRepo,
    SourcesRepo,
    Store,
    UsersRepo,
    open_store,
)
from tgfeed.store.digest_states import Bodies
from tgfeed.store.inbox import LogEntry

NOW = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
ART = Article(
    id="tag:example.vn,2018:bai-viet/1",
    url="https://example.vn/bai-viet/1",
    title="Hội nghị",
    category=("Tin tức",),
    published_at=NOW,
    body_text="Nội dung.",
)


def _digest(s: Store) -> int:
    record, _ = s.mail.start_digest(
        "2026-W48",
        subject="s",
        article_count=1,
        mail_html="h",
        mail_text="t",
        web_html="h",
        web_text="t",
        now=NOW,
    )
    return record.id


def _sub(s: Store) -> int:
    sub, _ = s.mail.add_subscriber("a@example.vn", now=NOW, status="active")
    return sub.id


def _run(s: Store) -> int:
    return s.jobs.start_run("j", "cleanup", "manual", None, NOW, False)


# name -> (setup returning the call's arguments, the call)
WRITES: dict[str, Callable[[Store], Any]] = {
    "articles.upsert": lambda s: s.articles.upsert([ART], now=NOW),
    "articles.unpublish": lambda s: s.articles.unpublish(ART.id, now=NOW),
    "articles.set_meta": lambda s: s.articles.set_meta("text_pipeline", "2"),
    "articles.ensure_category": lambda s: s.articles.ensure_category(["Mới", "Con"]),
    "articles.record_run": lambda s: s.articles.record_run(
        "x", BatchResult(), started=NOW, finished=NOW
    ),
    "mail.add_subscriber": lambda s: s.mail.add_subscriber("b@example.vn", now=NOW),
    "mail.request_subscription": lambda s: s.mail.request_subscription("c@example.vn", now=NOW),
    "mail.confirmation_sent": lambda s: s.mail.confirmation_sent(1, now=NOW),
    "mail.confirm": lambda s: s.mail.confirm(1, now=NOW),
    "mail.unsubscribe": lambda s: s.mail.unsubscribe(1, now=NOW),
    "mail.set_status": lambda s: s.mail.set_status(1, "bounced", now=NOW),
    "mail.remove": lambda s: s.mail.remove("a@example.vn"),
    "mail.bulk_add": lambda s: s.mail.bulk_add(
        [("d@example.vn", None, None)], now=NOW, status="active", origin="t"
    ),
    "mail.start_digest": lambda s: s.mail.start_digest(
        "2026-W49",
        subject="s",
        article_count=1,
        mail_html="h",
        mail_text="t",
        web_html="h",
        web_text="t",
        now=NOW,
    ),
    "mail.skip_digest": lambda s: s.mail.skip_digest("2026-W50", subject="s", now=NOW),
    "mail.finish_digest": lambda s: s.mail.finish_digest(1, now=NOW),
    "mail.prepare_digest": lambda s: s.mail.prepare_digest(
        "2026-W51", "skipped", Bodies("s", 0), actor="t", reason="no articles", now=NOW
    ),
    "mail.transition": lambda s: s.mail.transition(
        "2026-W48", "sent", expect=("sending",), actor="t", reason="", now=NOW
    ),
    "mail.open_resend": lambda s: s.mail.open_resend("2026-W48", "failed", actor="t", now=NOW),
    "mail.record_manual_copy": lambda s: s.mail.record_manual_copy(
        "2026-W48", "x@example.vn", actor="t", reply="250", now=NOW
    ),
    "mail.mark_sent": lambda s: s.mail.mark_sent(1, 1, reply="250 ok", now=NOW),
    "mail.commit": lambda s: (
        s.mail.mark_sent(1, 1, reply="x", now=NOW, commit=False),
        s.mail.commit(),
    ),
    "mail.mark_retry": lambda s: s.mail.mark_retry(1, 1, error="421", now=NOW),
    "mail.mark_failed": lambda s: s.mail.mark_failed(
        1, 1, error="550", now=NOW, permanent=True, bounce_limit=1
    ),
    "mail.count_bounce": lambda s: s.mail.count_bounce(1, now=NOW, bounce_limit=3),
    "inbox.record": lambda s: s.inbox.record(
        "<m@x>",
        [LogEntry("other", "ignored")],
        mailbox="maildir:x",
        sender=None,
        subject="",
        now=NOW,
    ),
    "jobs.start_run": _run,
    "jobs.finish_run": lambda s: s.jobs.finish_run(1, "ok", NOW),
    "jobs.record_missed": lambda s: s.jobs.record_missed("j", "cleanup", NOW, NOW, "down"),
    "jobs.interrupted_runs": lambda s: s.jobs.interrupted_runs(NOW),
    "jobs.prune": lambda s: s.jobs.prune(NOW),
    "jobs.ensure_state": lambda s: s.jobs.ensure_state("k", NOW),
    "jobs.alert_due": lambda s: s.jobs.alert_due("j", NOW, timedelta(hours=1)),
    "jobs.acquire_lease": lambda s: s.jobs.acquire_lease(
        "l", "h:1", now=NOW, ttl=timedelta(seconds=9)
    ),
    "jobs.renew_lease": lambda s: s.jobs.renew_lease("l", "h:1", now=NOW, ttl=timedelta(seconds=9)),
    "jobs.release_lease": lambda s: s.jobs.release_lease("l", "h:1"),
    "sources.cache_put": lambda s: s.sources.cache_put(
        [CacheEntry(url="https://example.vn/", source="site", kind="listing", fetched_at=NOW)]
    ),
    "sources.record_state": lambda s: s.sources.record_state(
        "site", "site", now=NOW, error=None, counts={}
    ),
    "sources.remember_file": lambda s: s.sources.remember_file("d", "a.txt", 1, "00", now=NOW),
    "users.add_user": lambda s: s.users.add_user("u2", "viewer", "h", now=NOW, email=None),
    "users.update_user": lambda s: s.users.update_user("u1", now=NOW, role="editor"),
    "users.remove_user": lambda s: s.users.remove_user("u1"),
    "users.start_session": lambda s: s.users.start_session(1, "sid2", "c", now=NOW, client="x"),
    "users.touch_session": lambda s: s.users.touch_session("sid", now=NOW),
    "users.end_session": lambda s: s.users.end_session("sid"),
    "users.prune_sessions": lambda s: s.users.prune_sessions(seen_before=NOW, created_before=NOW),
    "users.login_failed": lambda s: s.users.login_failed("u1", "127.0.0.1", now=NOW),
    "users.clear_failures": lambda s: s.users.clear_failures("u1", before=NOW),
    "users.audit": lambda s: s.users.audit("login", now=NOW),
    "feeds.stamps": lambda s: s.feeds.stamps([("/feeds/all.atom", "e1")], now=NOW),
    "feeds.stamp": lambda s: s.feeds.stamp("/feeds/all.rss", "e2", now=NOW),
    "feeds.forget": lambda s: s.feeds.forget(["/feeds/gone.atom"]),
    "feeds.retract": lambda s: s.feeds.retract(ART.id, now=NOW, reason=None, origin="cli"),
    "feeds.record_gone": lambda s: s.feeds.record_gone(ART.url, ART.id, now=NOW),
    "feeds.clear_gone": lambda s: s.feeds.clear_gone([ART.url]),
    "feeds.record_attempt": lambda s: s.feeds.record_attempt(1, now=NOW, error=None, retry_at=None),
}
READS = {
    "articles": {
        "categories",
        "category",
        "refresh_categories",
        "get",
        "count",
        "latest",
        "latest_keys",
        "revisions",
        "between",
        "iter_all",
        "search",
        "recent_runs",
        "recent_failures",
        "version",
        "meta",
    },
    "mail": {
        "subscriber",
        "by_email",
        "subscribers",
        "count_subscribers",
        "digest",
        "digests",
        "mail_bodies",
        "web_copy",
        "delivery_counts",
        "pending",
        "is_pending",
        "deliveries",
        "events",
        "has_draft",
        "draft_web_html",
        "drafts",
        "delivery_status",
        "manual_copies",
        "search_subscribers",
        "delivery_history",
        "bounced_at",
    },
    "jobs": {"recent_runs", "last_run", "failures", "state", "lease_holder"},
    "sources": {"cache_get", "recent_articles", "cache_count", "state", "files"},
    "users": {
        "user",
        "user_by_id",
        "users",
        "password_hash",
        "count_admins",
        "session",
        "failures_since",
        "audit_log",
    },
    "feeds": {"tombstone", "tombstones", "tombstones_by_url", "due", "notices", "notice_counts"},
    "inbox": {"seen", "hard_bounces", "log", "counts"},
}
REPOS = {
    "articles": ArticlesRepo,
    "mail": MailRepo,
    "jobs": JobsRepo,
    "sources": SourcesRepo,
    "users": UsersRepo,
    "feeds": FeedsRepo,
    "inbox": InboxRepo,
}


def test_every_public_method_is_classified_as_a_read_or_a_write() -> None:
    """A new write method must join WRITES (and so this test's lock check)."""
    for name, cls in REPOS.items():
        public = {n for n, _ in inspect.getmembers(cls) if not n.startswith("_")} - {"alive"}
        writes = {w.split(".", 1)[1] for w in WRITES if w.startswith(name + ".")}
        assert public == writes | READS[name], name


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "store.db"
    with open_store(path) as s:  # the rows each write method acts on
        _sub(s)
        _digest(s)
        _run(s)
        s.articles.upsert([ART], now=NOW)
        s.users.add_user("u1", "admin", "h", now=NOW, email=None)
        s.users.start_session(1, "sid", "c", now=NOW, client="x")
    return path


class Holder:
    """Another connection holding the write lock (BEGIN IMMEDIATE) until released."""

    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.conn.execute("BEGIN IMMEDIATE")

    def release_after(self, seconds: float) -> threading.Thread:
        def later() -> None:
            time.sleep(seconds)
            self.release()

        thread = threading.Thread(target=later)
        thread.start()
        return thread

    def release(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("COMMIT")
        self.conn.close()


@pytest.mark.parametrize("method", sorted(WRITES))
def test_a_write_waits_for_a_writer_holding_the_lock(store_path: Path, method: str) -> None:
    with open_store(store_path, busy_timeout_ms=5000) as s:
        holder = Holder(store_path)
        thread = holder.release_after(0.5)
        started = time.monotonic()
        WRITES[method](s)  # no exception: it waited
        waited = time.monotonic() - started
        thread.join()
    assert waited >= 0.4, f"{method} did not wait for the lock ({waited:.2f}s)"


@pytest.mark.parametrize("method", sorted(WRITES))
def test_a_write_past_the_busy_timeout_is_a_store_error(store_path: Path, method: str) -> None:
    with open_store(store_path, busy_timeout_ms=200) as s:
        holder = Holder(store_path)
        try:
            with pytest.raises(StoreError) as caught:
                WRITES[method](s)
        finally:
            holder.release()
    assert "locked" in caught.value.message
    assert caught.value.hint and "busy_timeout" in caught.value.hint


def test_the_cli_prints_one_line_when_the_store_stays_locked(app: App, tmp_path: Path) -> None:
    config = app.config.source_path
    assert config is not None
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            '[store]\npath = "data/tgfeed.db"\n',
            '[store]\npath = "data/tgfeed.db"\nbusy_timeout = 200\n',
        ),
        encoding="utf-8",
    )
    assert app.store.path is not None
    holder = Holder(app.store.path)
    try:
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "tgfeed",
                "--config",
                str(config),
                "subscribers",
                "add",
                "x@example.vn",
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.release()
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2, out.stderr  # error: … / hint: …
    assert lines[0].startswith("error:") and "locked" in lines[0]
    assert lines[1].startswith("hint:") and "busy_timeout" in lines[1]
    assert "Traceback" not in out.stderr
