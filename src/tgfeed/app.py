"""The composition root: one function builds the application for the CLI, the
server and the tests — config, store, templates and the clock. Nothing reads a
global config."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from .config import Config
from .errors import StoreError
from .store import Store, open_store
from .templating import make_env

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class App:
    config: Config
    store: Store
    clock: Clock = system_clock
    # Per-concern singletons (mailer, feed cache, …) that other modules attach lazily.
    extras: dict[str, Any] = field(default_factory=dict)

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

    def templates(self) -> jinja2.Environment:
        """The template environment (``templates_dir`` in front of the packaged
        templates), built once and shared by pages, feeds and email; a config reload
        that changes ``templates_dir`` drops it."""
        env = self.extras.get("jinja")
        if not isinstance(env, jinja2.Environment):
            tdir = self.config.templates_dir
            env = make_env(self.path(tdir) if tdir else None, self.tz)
            self.extras["jinja"] = env
        return env

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> App:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_app(config: Config, *, clock: Clock = system_clock) -> App:
    """Open the store named by ``config`` and sync configured categories into it."""
    store = open_store(config.resolve(config.store.path), busy_timeout_ms=config.store.busy_timeout)
    try:
        with store.write():
            for cat in config.categories:
                slugs = None
                if cat.slug:
                    parent = store.ensure_category(cat.path[:-1]) if len(cat.path) > 1 else None
                    slugs = [*(parent.slug_path.split("/") if parent else []), cat.slug]
                store.ensure_category(cat.path, slugs, cat.description)
    except StoreError as exc:
        # Another process holds the store (a long import): reading commands and the
        # server still start; the configured categories are synced next time.
        store.refresh_categories()
        log.warning("configured categories not synced: %s", exc.message)
    _migrate_ids(store, clock)
    return App(config=config, store=store, clock=clock)


def _migrate_ids(store: Store, clock: Clock) -> None:
    """Article ids of an older shape → today's (once per store; see ``FeedState``)."""
    from .store.feedstate import FeedState
    from .store.idmigration import migrate_ids

    try:
        changes = migrate_ids(FeedState(store), now=clock())
    except StoreError as exc:
        log.warning("article ids not migrated yet: %s", exc.message)
        return
    merged = sum(1 for c in changes if c.outcome != "renamed")
    if changes:
        log.warning("article ids migrated: %d renamed, %d merged", len(changes) - merged, merged)
