"""The incremental crawl of a ``site`` source, on top of the guarded Fetcher.

Listing pages (with pagination) → article links → each article fetched
conditionally; a 304 or an identical body is "unchanged" and never parsed; a
new or changed page is parsed by ``parser.parse_page``. Recent articles
(``refresh_days``) that fell off the listing pages are re-checked so their view
counts stay fresh; older known articles from a server without ETag or
Last-Modified are not asked for again.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from ..config import SourceConfig
from ..errors import IngestError
from ..model import Article, CacheEntry
from ..parser import PageSource, parse_page
from ..store import SourcesRepo
from .crawler import Fetcher, FetchError
from .links import extract_links, follows, host_of

GONE = (404, 410)  # an article page answering these is gone, perhaps for good


@dataclass(frozen=True, slots=True)
class PageResult:
    """One URL of a crawl: a listing page, or an article (new, changed, unchanged, failed).

    ``item`` is the parsed Article, the error, or None when unchanged; ``cache``
    is what to remember about the URL once the article is safely stored.
    """

    url: str
    kind: str  # "listing" | "article"
    item: Article | IngestError | None
    cache: CacheEntry | None = None
    reason: str | None = None


@dataclass(slots=True)
class SiteCrawl:
    """One crawl of a ``site`` source."""

    source: SourceConfig
    fetcher: Fetcher
    cache: SourcesRepo
    site_url: str
    tz: ZoneInfo
    now: datetime
    article_links: int = 0
    listing_ok: int = 0
    listing_failed: int = 0
    _hosts: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self._hosts = {host_of(u) for u in self.source.listing_urls}
        self._hosts |= {host_of(f"http://{h}") for h in self.source.allowed_hosts}

    async def run(self) -> AsyncIterator[PageResult]:
        """Listing pages first (in order), then the articles as their fetches complete."""
        articles: dict[str, None] = {}
        for listing in self.source.listing_urls:
            async for result in self._listing(listing, articles):
                yield result
        self.article_links = len(articles)
        if self.source.refresh_days:
            since = self.now - timedelta(days=self.source.refresh_days)
            for entry in self.cache.recent_articles(self.source.name, since):
                articles.setdefault(entry.url, None)
        tasks = [asyncio.ensure_future(self._article(url)) for url in articles]
        try:
            for next_done in asyncio.as_completed(tasks):
                yield await next_done
        finally:
            for task in tasks:
                task.cancel()

    def _settled(self, entry: CacheEntry) -> bool:
        """A stored article older than ``refresh_days`` from a server that sends neither
        ETag nor Last-Modified: asking again would cost its whole body, so it is not."""
        if entry.etag or entry.last_modified or not entry.article_id:
            return False
        since = self.now - timedelta(days=self.source.refresh_days)
        return entry.published_at is not None and entry.published_at < since

    async def _listing(self, start: str, articles: dict[str, None]) -> AsyncIterator[PageResult]:
        article_re = re.compile(self.source.article_pattern)
        page_re = re.compile(self.source.pagination_pattern or r"(?!)")
        queue: list[str] = [start]
        visited: set[str] = set()
        while queue and len(visited) < self.source.max_pages:
            url = queue.pop(0)
            if url in visited:
                continue
            visited.add(url)
            entry = self.cache.cache_get(url)
            try:
                page = await self.fetcher.get(
                    url,
                    etag=entry.etag if entry else None,
                    last_modified=entry.last_modified if entry else None,
                )
            except Exception as exc:  # FetchError, or a surprise: this page only
                self.listing_failed += 1
                error = exc if isinstance(exc, IngestError) else IngestError(f"{url}: {exc!r}")
                yield PageResult(url, "listing", error)
                continue
            self.listing_ok += 1
            if page.not_modified and entry is not None:
                links = list(entry.links)
            else:  # every link on our hosts: a changed pattern applies at once
                links = [
                    u
                    for u in extract_links(page.text(), page.final_url)
                    if host_of(u) in self._hosts
                ]
            for link in links:
                if follows(link, article_re, self._hosts):
                    articles.setdefault(link, None)
                elif follows(link, page_re, self._hosts) and link not in visited:
                    queue.append(link)
            cache = CacheEntry(
                url,
                self.source.name,
                "listing",
                self.now,
                page.etag,
                page.last_modified,
                status=page.status,
                links=tuple(links),
            )
            yield PageResult(url, "listing", None, cache)

    async def _article(self, url: str) -> PageResult:
        try:
            return await self._fetch_article(url)
        except Exception as exc:  # one URL's surprise never stops the crawl
            return PageResult(url, "article", IngestError(f"{url}: {type(exc).__name__}: {exc}"))

    async def _fetch_article(self, url: str) -> PageResult:
        entry = self.cache.cache_get(url)
        if entry is not None and self._settled(entry):
            return PageResult(url, "article", None, None, "known, no validator, not recent")
        try:
            page = await self.fetcher.get(
                url,
                etag=entry.etag if entry else None,
                last_modified=entry.last_modified if entry else None,
            )
        except FetchError as exc:
            if exc.status in GONE and entry is not None and entry.article_id:
                # A stored article's page is gone: remembered, so the crawl job can
                # retract it per the source's policy (``retract_gone``).
                gone = replace(entry, fetched_at=self.now, status=exc.status)
                return PageResult(url, "article", exc, gone, f"gone (HTTP {exc.status})")
            return PageResult(url, "article", exc)
        if page.not_modified and entry is not None:
            cache = replace(entry, fetched_at=self.now, status=304, etag=page.etag)
            return PageResult(url, "article", None, cache, "not modified (304)")
        digest = hashlib.blake2b(page.body, digest_size=16).hexdigest()
        if entry is not None and entry.content_hash == digest and entry.article_id:
            cache = replace(
                entry,
                fetched_at=self.now,
                status=200,
                etag=page.etag,
                last_modified=page.last_modified,
            )
            return PageResult(url, "article", None, cache, "same content")
        try:
            source = PageSource(url, page.final_url, self.site_url, self.tz)
            article = parse_page(page.text(), source)
        except IngestError as exc:
            return PageResult(url, "article", exc)
        if self.source.category:
            article = replace(article, category=tuple(self.source.category), category_slugs=None)
        cache = CacheEntry(
            url,
            self.source.name,
            "article",
            self.now,
            page.etag,
            page.last_modified,
            digest,
            200,
            article.id,
            article.published_at,
        )
        return PageResult(url, "article", article, cache)
