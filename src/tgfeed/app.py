"""The composition root: one function builds the application for the CLI, the
server and the tests — config, store, templates, the feed publisher, the
signing key, the DKIM key, the mailer factory and the clock. Nothing reads a
global config.

An ``App`` is immutable: a config reload builds a **new** App from the new config
and swaps it in (``LiveApp``) for the web, the scheduler and the jobs; the old one
is closed when the work that started on it ends. So nothing can keep serving
from a stale copy of the config.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import jinja2

from .config import Config
from .errors import StoreError
from .store import Store, open_store
from .templating import make_env
from .tokens import Signer, load_key

if TYPE_CHECKING:
    from .feeds.publish import Publisher
    from .mail import DkimKey, Mailer

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


class StatusSource(Protocol):
    """What the running scheduler tells the status view (``SchedulerService``)."""

    def status(self) -> dict[str, Any]: ...


class Runtime:
    """What outlives a config reload, one per process: the stop signal the jobs
    watch, the running scheduler (for the status view) and the subscribe form's
    rate-limit buckets."""

    def __init__(self) -> None:
        # Set by the running service (an asyncio.Event belongs to one event loop):
        # None in a CLI command, where nothing stops a job halfway.
        self.stopping: asyncio.Event | None = None
        self.scheduler: StatusSource | None = None
        self.subscribe_hits: dict[str, deque[datetime]] = {}
        self._websub_lock: asyncio.Lock | None = None

    @property
    def websub_lock(self) -> asyncio.Lock:
        """One WebSub sender at a time in this process (``websub.notify_hub``)."""
        if self._websub_lock is None:
            self._websub_lock = asyncio.Lock()
        return self._websub_lock


@dataclass(frozen=True, eq=False)
class App:
    config: Config
    store: Store
    templates: jinja2.Environment
    clock: Clock = system_clock
    runtime: Runtime = field(default_factory=Runtime)

    def now(self) -> datetime:
        value = self.clock()
        if value.tzinfo is None:
            raise ValueError("the clock must return aware datetimes")
        return value.astimezone(UTC)

    @property
    def tz(self) -> ZoneInfo:
        return self.config.site.tz

    def path(self, p: Path) -> Path:
        return self.config.resolve(p)

    # Parts with a side effect (a key file read or created) or a cost are made on
    # first use — once per App, so a reload's new App makes them anew. The modules
    # of the publisher (feedgen) and of mail (aiosmtplib, dkimpy) load then too: a
    # command that serves no feed and sends no mail never imports them (the
    # deferred imports are listed in tests/test_layers.py).

    @functools.cached_property
    def publisher(self) -> Publisher:
        """Feeds, the index and OPML as the web serves them (cached per store version)."""
        from .feeds.publish import Publisher

        return Publisher(self)

    @functools.cached_property
    def signer(self) -> Signer:
        """Signs and checks confirmation and unsubscribe tokens."""
        return Signer(load_key(self.config))

    @functools.cached_property
    def dkim(self) -> DkimKey | None:
        """The DKIM signing key when ``[mail.dkim]`` is configured."""
        from .mail import load_dkim_key

        return load_dkim_key(self.config)

    def mailer(self) -> Mailer:
        """A new mailer for the configured backend (close it with ``aclose``)."""
        from .mail import make_mailer

        return make_mailer(self.config)

    def with_config(self, config: Config) -> App:
        """The same store and runtime under another config (tests, previews)."""
        return App(
            config=config,
            store=self.store,
            templates=_templates(config),
            clock=self.clock,
            runtime=self.runtime,
        )

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _templates(config: Config) -> jinja2.Environment:
    tdir = config.templates_dir
    return make_env(config.resolve(tdir) if tdir else None, config.site.tz)


def _sync_categories(config: Config, store: Store) -> None:
    """Create the configured categories (with their slugs and descriptions)."""
    arts = store.articles
    if not config.categories:
        return
    try:
        with store.write():
            for cat in config.categories:
                slugs = None
                if cat.slug:
                    parent = arts.ensure_category(cat.path[:-1]) if len(cat.path) > 1 else None
                    slugs = [*(parent.slug_path.split("/") if parent else []), cat.slug]
                arts.ensure_category(cat.path, slugs, cat.description)
    except StoreError as exc:
        # Another process holds the store (a long import): reading commands and the
        # server still start; the configured categories are synced next time.
        log.warning("configured categories not synced: %s", exc.message)


def build_app(
    config: Config, *, clock: Clock = system_clock, runtime: Runtime | None = None
) -> App:
    """Open the store named by ``config``, sync configured categories into it, and
    assemble the App. ``runtime`` is shared with the App this one replaces."""
    templates = _templates(config)
    store = open_store(config.resolve(config.store.path), busy_timeout_ms=config.store.busy_timeout)
    _sync_categories(config, store)
    from .jobs.resanitize import upgrade_text

    upgrade_text(store, now=clock())
    _migrate_ids(store, clock)
    return App(
        config=config,
        store=store,
        templates=templates,
        clock=clock,
        runtime=runtime if runtime is not None else Runtime(),
    )


def _migrate_ids(store: Store, clock: Clock) -> None:
    """Article ids of an older shape → today's (once per store; ``store.idmigration``)."""
    from .store.idmigration import migrate_ids

    try:
        changes = migrate_ids(store, now=clock())
    except StoreError as exc:
        log.warning("article ids not migrated yet: %s", exc.message)
        return
    merged = sum(1 for c in changes if c.outcome != "renamed")
    if changes:
        log.warning("article ids migrated: %d renamed, %d merged", len(changes) - merged, merged)


class LiveApp:
    """The current App of a running service. ``use()`` pins the App a request or a
    job started with; ``swap()`` installs a reloaded one, and the old App is
    closed once nothing uses it any more."""

    def __init__(self, app: App) -> None:
        self._current = app
        self._users: dict[int, int] = {}
        self._retired: dict[int, App] = {}
        self._lock = threading.Lock()

    @property
    def current(self) -> App:
        return self._current

    @contextlib.contextmanager
    def use(self) -> Iterator[App]:
        app = self.acquire()
        try:
            yield app
        finally:
            self.release(app)

    def acquire(self) -> App:
        """``use()`` without the context manager: the caller must ``release`` it."""
        with self._lock:
            app = self._current
            key = id(app)
            self._users[key] = self._users.get(key, 0) + 1
        return app

    def release(self, app: App) -> None:
        key = id(app)
        with self._lock:
            left = self._users[key] = self._users[key] - 1
            done = left == 0 and key in self._retired
            if done:
                del self._retired[key], self._users[key]
        if done and app.store is not self._current.store:
            app.close()

    def swap(self, new: App) -> App:
        """Make ``new`` current; returns the App it replaced."""
        with self._lock:
            old, self._current = self._current, new
            idle = self._users.get(id(old), 0) == 0
            if not idle:
                self._retired[id(old)] = old
        if idle and old.store is not new.store:
            old.close()
        return old

    def close(self) -> None:
        self._current.close()


__all__ = ["App", "Clock", "LiveApp", "Runtime", "StatusSource", "build_app", "system_clock"]
