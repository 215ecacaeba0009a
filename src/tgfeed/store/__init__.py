"""The SQLite store: the only package that imports sqlite-utils (and sqlite3, besides
``nochange``, which reads the articles version read-only before a `tgfeed build`).

``open_store()`` applies every migration set once, at open, on one connection,
and returns one ``Store`` whose repositories share that connection and its one
write discipline (``BEGIN IMMEDIATE``, the busy timeout honoured):

- ``store.articles``: articles, categories, search, ingest runs;
- ``store.mail``: subscribers, digests, the delivery ledger;
- ``store.jobs``: job runs, catch-up state, named leases, alert throttling;
- ``store.sources``: the crawler's HTTP cache, per-source state, directory files;
- ``store.users``: the console's accounts, sessions, failed logins, ``admin_audit``.
- ``store.feeds``: each published file's Last-Modified, tombstones of retracted
  articles, pages found gone, WebSub notifications (and the id migration's record).
- ``store.inbox``: the log of the bounce/unsubscribe mailbox (idempotent processing).

Every public method raises ``StoreError`` (with a hint), never a raw ``sqlite3``
exception.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from . import articles_schema, feedstate, inbox, jobs, mail, sources, users
from .articles import ArticlesRepo, content_hash
from .db import Db, apply, connect
from .feedstate import FeedsRepo
from .inbox import InboxRepo
from .jobs import JobsRepo
from .leases import SCHEDULER_LEASE, LeaseGrant, digest_lease
from .lib import sqlite_utils
from .mail import MailRepo
from .sources import SourcesRepo
from .subscribers import email_key
from .users import UsersRepo

__all__ = [
    "SCHEDULER_LEASE",
    "ArticlesRepo",
    "FeedsRepo",
    "InboxRepo",
    "JobsRepo",
    "LeaseGrant",
    "MailRepo",
    "SourcesRepo",
    "Store",
    "UsersRepo",
    "content_hash",
    "digest_lease",
    "email_key",
    "open_store",
]

MIGRATIONS = (
    articles_schema.migrations,
    mail.migrations,
    jobs.migrations,
    sources.migrations,
    users.migrations,
    feedstate.migrations,
    inbox.migrations,
)


class Store:
    """One SQLite connection (one writer, one thread) and its repositories."""

    def __init__(self, db: Db) -> None:
        self._db = db
        self.path: Path | None = db.path
        self.articles = ArticlesRepo(db)
        self.mail = MailRepo(db)
        self.jobs = JobsRepo(db)
        self.sources = SourcesRepo(db)
        self.users = UsersRepo(db)
        self.feeds = FeedsRepo(db, self.articles)
        self.inbox = InboxRepo(db)

    @property
    def db(self) -> sqlite_utils.Database:
        """The sqlite-utils database, for tools and tests that look at the tables."""
        return self._db.db

    @contextlib.contextmanager
    def write(self) -> Iterator[None]:
        """One transaction around several repository calls (``BEGIN IMMEDIATE``)."""
        with self._db.write():
            yield

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(path: Path | str, *, busy_timeout_ms: int = 5000) -> Store:
    """Open the store at ``path`` and apply every pending migration of every set."""
    db = connect(path, busy_timeout_ms=busy_timeout_ms)
    try:
        apply(db, MIGRATIONS)
        return Store(db)
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            db.close()
        raise
