"""Feeds from the store: which feeds are published, their channels, and the
cached ``Rendered`` responses the web serves. The build job (``jobs.feeds``)
uses the same channels and page renderers, so a served feed and a built file
are the same bytes."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from ..errors import StoreError
from ..model import Article, Tombstone
from ..staticdir import content_digest
from ..store import FeedsRepo
from . import catalog, pages
from .cache import FeedCache, Rendered
from .catalog import ALL_FEED, FORMATS, HTML_TYPE, OPML_TYPE, FeedSpec
from .entries import newest_of_keys
from .entrycache import EntryCache
from .opml import Folder, Outline, import_groups, render_opml
from .render import EMPTY_FEED_DATE, Channel, Deleted, Options, fingerprint, render

if TYPE_CHECKING:
    from ..app import App

log = logging.getLogger(__name__)

# Another process's change reaches the server within this many seconds.
VERSION_TTL = 0.1


@dataclass(frozen=True, slots=True)
class Listed:
    """A published feed with the date of its newest article (None when empty)."""

    spec: FeedSpec
    newest: datetime | None


class Publisher:
    """Renders what the web serves, once per store version, through a FeedCache."""

    def __init__(self, app: App, cache: FeedCache | None = None) -> None:
        self.app = app
        self.config = app.config
        self.opts = Options.from_config(app.config)
        self.search_opts = dataclasses.replace(self.opts, items=app.config.feeds.search_max_results)
        self.cache = cache if cache is not None else FeedCache()  # an empty cache is falsy
        self._listing: tuple[int, list[Listed]] | None = None
        self._version: tuple[int, int, float] | None = None  # (version, local writes, when)
        self._tombs: tuple[int, datetime, list[Tombstone]] | None = None
        self.state: FeedsRepo = app.store.feeds
        self.entries = EntryCache()  # each entry rendered once, for every feed

    def version(self) -> int:
        """The store version, asked of SQLite at most every ``VERSION_TTL`` seconds —
        and at once after a change made through this App's own store."""
        arts = self.app.store.articles
        now = time.monotonic()
        seen = self._version
        if seen is not None and seen[1] == arts.local_writes and now - seen[2] < VERSION_TTL:
            return seen[0]
        version = arts.version
        self._version = (version, arts.local_writes, now)
        return version

    # -- Last-Modified: when the bytes last changed ----------------------------

    def stamps(
        self, files: Sequence[tuple[str, bytes]], *, dry_run: bool = False
    ) -> dict[str, datetime]:
        """Each URL path's Last-Modified for these bytes (persisted per path; see
        ``store.feeds.stamps``). A changed feed queues a WebSub notification when
        ``[feeds] hub`` is set."""
        return self.stamps_of(
            [(path, content_digest(body)) for path, body in files], dry_run=dry_run
        )

    def stamps_of(
        self, hashed: Sequence[tuple[str, str]], *, dry_run: bool = False
    ) -> dict[str, datetime]:
        """``stamps`` from (URL path, ``content_digest`` of the bytes)."""
        topics = {
            path: catalog.feed_url(self.config, path)
            for path, _ in hashed
            if path.startswith("/feeds/")
        }
        kw: dict[str, Any] = {"now": self.app.now(), "topics": topics, "hub": self.config.feeds.hub}
        try:
            return self.state.stamps(hashed, dry_run=dry_run, **kw)
        except StoreError as exc:
            # Another process holds the store: the instants are right, just not kept;
            # the next render after it lets go records them.
            log.warning("Last-Modified not recorded: %s", exc.message)
            return self.state.stamps(hashed, dry_run=True, **kw)

    def deleted(self, spec: FeedSpec) -> tuple[Deleted, ...]:
        """The tombstones a feed carries: articles of its category (or below) retracted
        within ``[feeds] tombstone_days``. The store is asked once per store version
        (every feed's channel needs them), not once per feed."""
        days = self.config.feeds.tombstone_days
        if days <= 0:
            return ()
        since = self.app.now() - timedelta(days=days)
        cat = spec.category
        return tuple(
            Deleted(ref=t.article_id, when=t.retracted_at, url=t.url, reason=t.reason)
            for t in self._tombstones(since)
            if t.retracted_at >= since
            and (cat is None or t.category == cat or t.category.startswith(cat + "/"))
        )

    def _tombstones(self, since: datetime) -> list[Tombstone]:
        """Every live tombstone retracted at or after ``since``, newest first; a list
        read for an earlier ``since`` at the same store version serves as well."""
        version = self.version()
        seen = self._tombs
        if seen is None or seen[0] != version or since < seen[1]:
            seen = self._tombs = (version, since, self.state.tombstones(None, since))
        return seen[2]

    # -- channels ------------------------------------------------------------

    def channel(self, spec: FeedSpec, deleted: tuple[Deleted, ...] | None = None) -> Channel:
        """``deleted``: ``self.deleted(spec)``, if the caller has it already."""
        desc = spec.description or (
            f"Tin bài mục {catalog.spec_label(spec)} của {self.config.site.title}"
            if spec.names
            else self.config.site.description
        )
        return Channel(
            id=catalog.feed_id(self.config, spec.key),
            title=catalog.spec_title(spec, self.config.site.title),
            description=desc,
            base_url=catalog.feed_url(self.config, f"/feeds/{spec.key}"),
            home_url=self.config.site.url,
            deleted=self.deleted(spec) if deleted is None else deleted,
        )

    def search_channel(self, query: str) -> Channel:
        qs = catalog.search_query_string(query)
        return Channel(
            id=catalog.feed_id(self.config, catalog.SEARCH + qs),
            title=f"Tìm kiếm “{query}” · {self.config.site.title}",
            description=f"Tin bài có “{query}” trên {self.config.site.title}",
            base_url=catalog.feed_url(self.config, "/feeds/search"),
            home_url=self.config.site.url,
            query=qs,
        )

    # -- what is published ---------------------------------------------------

    def configured(self) -> set[str]:
        return catalog.configured_slugs(self.config, self.app.store.articles.categories())

    def items(self, spec: FeedSpec) -> list[Article]:
        """The feed's articles, with only the fields a feed shows read."""
        return self.app.store.articles.latest(spec.category, self.opts.items, shown=True)

    def listing(self) -> list[Listed]:
        """Every published feed (all-feed first), computed once per store version."""
        version = self.version()
        if self._listing is not None and self._listing[0] == version:
            return self._listing[1]
        store = self.app.store
        cats = store.articles.categories()
        configured = self.configured()
        newest_of: dict[str, datetime | None] = {}
        for cat in cats:
            top = store.articles.latest_keys(cat.slug_path, 1)
            newest_of[cat.slug_path] = newest_of_keys(top) if top else None
        published = {k for k, v in newest_of.items() if v is not None} | configured
        all_top = store.articles.latest_keys(None, 1)
        listed = [Listed(ALL_FEED, newest_of_keys(all_top) if all_top else None)]
        listed += [
            Listed(s, newest_of.get(s.key))
            for s in catalog.feed_specs(cats, published)
            if s.key != catalog.ALL
        ]
        self._listing = (version, listed)
        return listed

    # -- pages -------------------------------------------------------------

    def index_html(self, listed: Sequence[Listed], *, dynamic: bool) -> bytes:
        return pages.index_page(self, listed, dynamic=dynamic)

    def opml_bytes(self, listed: Sequence[Listed], *, flat: bool = False) -> bytes:
        """The feeds to import without overlap (``opml.import_groups``), in a folder
        per top-level category — or, ``flat``, one outline per feed. The all-feed
        and the parents' feeds are on the index page for readers who want one."""
        site = self.config.site
        counts = {
            c.slug_path: c.article_count
            for c in self.app.store.articles.categories(with_counts=True)
        }

        def outline(spec: FeedSpec) -> Outline:
            return Outline(
                text=catalog.spec_label(spec),
                xml_url=catalog.feed_url(self.config, spec.path("rss")),
                html_url=site.url,
                description=spec.description,
            )

        items: list[Outline | Folder] = []
        for folder, specs in import_groups([e.spec for e in listed], counts):
            if folder is None or flat:
                items += [outline(s) for s in specs]
            else:
                items.append(Folder(folder, [outline(s) for s in specs]))
        return render_opml(
            f"Nguồn tin {site.title}",
            items,
            modified=newest_of_listing(listed),
            owner=site.publisher,
            language=site.language,
        )

    # -- cached responses ----------------------------------------------------

    def feed(self, key: str, fmt: str, *, plain: bool = False) -> Rendered | None:
        """The feed at ``/feeds/<key>.<fmt>``; None when no such feed is published.
        ``plain``: the body will be sent uncompressed (see ``FeedCache.get``)."""
        if fmt not in FORMATS or not catalog.is_slug_path(key) or key == catalog.SEARCH:
            return None
        path = f"/feeds/{key}.{fmt}"
        version = self.version()
        hit = self.cache.get(path, version, plain=plain)
        if hit is not None:
            return hit
        if key == catalog.ALL:
            spec = ALL_FEED
        else:
            cat = self.app.store.articles.category(key)
            if cat is None:
                return None
            spec = catalog.category_spec(cat)
        items = self.items(spec)
        if not items and spec.key != catalog.ALL and spec.key not in self.configured():
            return None
        channel = self.channel(spec)
        return self._render(path, version, fmt, channel, items, self.opts, newest_first=True)

    def refresh(self) -> int:
        """Render every published feed that changed since it was last rendered, so
        its Last-Modified moves and the hub hears of it without waiting for a
        reader's poll. Returns how many feeds (× formats) were rendered."""
        before = self.cache.renders
        for entry in self.listing():
            for fmt in FORMATS:
                self.feed(entry.spec.key, fmt)
        return self.cache.renders - before

    def search(self, query: str, fmt: str) -> Rendered:
        """The search feed for an already normalised, length-checked query."""
        qs = catalog.search_query_string(query)
        path = f"/feeds/search.{fmt}{qs}"
        version = self.version()
        hit = self.cache.get(path, version)
        if hit is not None:
            return hit
        hits = self.app.store.articles.search(query, limit=self.config.feeds.search_max_results)
        items = [h.article for h in hits]
        channel = self.search_channel(query)
        return self._render(
            path, version, fmt, channel, items, self.search_opts, newest_first=False, search=True
        )

    def _render(
        self,
        path: str,
        version: int,
        fmt: str,
        channel: Channel,
        items: list[Article],
        opts: Options,
        *,
        newest_first: bool,
        search: bool = False,
    ) -> Rendered:
        fp = fingerprint(channel, items, opts, newest_first=newest_first)
        old = self.cache.peek(path)
        if old is not None and old.fingerprint == fp:
            self.cache.put(path, version, old)
            return old
        body = render(
            fmt, channel, items, opts, newest_first=newest_first, cache=self.entries, stored=True
        )
        if search:
            # Search feeds are not persisted (any query): in memory, never backwards.
            same = old is not None and old.etag == f'"{content_digest(body)}"'
            changed = old.last_modified if old is not None and same else self.app.now()
        else:
            changed = self.stamps([(path, body)])[path]
        rendered = Rendered.make(body, FORMATS[fmt], changed, fp)
        self.cache.renders += 1
        self.cache.put(path, version, rendered)
        return rendered

    def _page(self, path: str, media_type: str, make: Any) -> Rendered:
        version = self.version()
        hit = self.cache.get(path, version)
        if hit is not None:
            return hit
        listed = self.listing()
        body: bytes = make(listed)
        rendered = Rendered.make(body, media_type, self.stamps([(path, body)])[path])
        old = self.cache.peek(path)
        if old is not None and old.etag == rendered.etag:
            rendered = old
        self.cache.put(path, version, rendered)
        return rendered

    # -- pages for people ----------------------------------------------------

    def feed_page(self, key: str, fmt: str) -> Rendered | None:
        """``/feeds/<key>.<fmt>`` for a browser: the same feed as a readable page."""
        feed = self.feed(key, fmt)
        if feed is None:
            return None
        path = f"/feeds/{key}.{fmt}@html"
        version = self.version()
        hit = self.cache.get(path, version)
        if hit is not None:
            return hit
        cat = self.app.store.articles.category(key)
        spec = catalog.category_spec(cat) if cat is not None else ALL_FEED
        body = pages.feed_page(
            self.app.templates,
            self.channel(spec),
            self.items(spec),
            self.opts,
            fmt=fmt,
            prefix=catalog.public_prefix(self.config),
            site=self.config.site,
        )
        rendered = Rendered.make(body, HTML_TYPE, feed.last_modified)
        self.cache.put(path, version, rendered)
        return rendered

    def opml(self, *, flat: bool = False) -> Rendered:
        path = "/feeds.opml?flat=leaves" if flat else "/feeds.opml"
        return self._page(path, OPML_TYPE, lambda listed: self.opml_bytes(listed, flat=flat))

    def index(self) -> Rendered:
        return self._page("/", HTML_TYPE, lambda listed: self.index_html(listed, dynamic=True))


def newest_of_listing(listed: Sequence[Listed]) -> datetime:
    stamps = [e.newest for e in listed if e.newest is not None]
    return max(stamps) if stamps else EMPTY_FEED_DATE
