"""Run the configured sources: crawl the site, read foreign feeds, ingest the drop folder.

Every source run is recorded (``store.articles.record_run``: added / updated / unchanged /
failed with reasons) and updates the source's state (consecutive failures, last
error, fetch counters). A failure of one URL or one source never stops the others.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from ..app import App
from ..config import SourceConfig
from ..errors import IngestError, StoreError, TgfeedError
from ..model import Article, BatchResult, CacheEntry, ItemResult
from ..sources import directory
from ..sources.crawler import Fetcher
from ..sources.feeds import articles_from_feed
from ..sources.site import SiteCrawl
from ..store import SourcesRepo
from .ingest import record_ingest, store_batch
from .source_status import (
    SourcesFailing,
    SourceStatus,
    check_sources,
    failing_sources,
    select_sources,
    source_states,
)

log = logging.getLogger("tgfeed.crawl")

BATCH = 200


def sources_db(app: App) -> SourcesRepo:
    """The sources tables of ``app``'s store (migrated on first use)."""
    return app.store.sources


async def crawl(
    app: App, source_name: str | None = None, *, dry_run: bool = False
) -> dict[str, BatchResult]:
    """Run one source by name, or every enabled source; results by source name.

    Raises TgfeedError only for an unknown source name; everything else that
    goes wrong is a recorded failure of that URL or that source.
    """
    results: dict[str, BatchResult] = {}
    for source in select_sources(app, source_name):
        results[source.name] = await crawl_source(app, source, dry_run=dry_run)
    return results


@dataclass(slots=True)
class _Run:
    app: App
    source: SourceConfig
    dry_run: bool
    db: SourcesRepo
    now: datetime
    result: BatchResult = field(default_factory=BatchResult)
    pending: list[tuple[str, Article, CacheEntry | None]] = field(default_factory=list)
    cache: list[CacheEntry] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)

    def failed(self, label: str, error: IngestError | str) -> None:
        reason = error.message if isinstance(error, IngestError) else error
        self.result.add(ItemResult(label, "failed", None, reason))

    def unchanged(self, label: str, article_id: str | None, reason: str) -> None:
        self.result.add(ItemResult(label, "unchanged", article_id, reason))

    def article(self, label: str, article: Article, cache: CacheEntry | None = None) -> None:
        self.pending.append((label, article, cache))
        if len(self.pending) >= BATCH:
            self.flush()

    def items(self, items: list[tuple[str, Article | IngestError]]) -> None:
        for label, item in items:
            if isinstance(item, IngestError):
                self.failed(label, item)
            else:
                self.article(label, item)

    def flush(self) -> bool:
        """Store the pending articles, then what to remember about their URLs.

        The HTTP cache is written only after the articles are safely stored, so a
        failed write means the pages are fetched again next time. False on failure.
        """
        pending, self.pending = self.pending, []
        cache, self.cache = self.cache, []
        ok = store_batch(
            self.app, [(label, art) for label, art, _ in pending], self.result, dry_run=self.dry_run
        )
        if self.dry_run:
            return True
        entries = [c for _, _, c in pending if c is not None] if ok else []
        entries += cache
        if entries:
            try:
                self.db.cache_put(entries)
            except Exception as exc:  # the articles are stored; only the cache is stale
                log.warning("%s: cannot update the HTTP cache: %s", self.source.name, exc)
        return ok


async def crawl_source(app: App, source: SourceConfig, *, dry_run: bool = False) -> BatchResult:
    """One source's run, recorded; never raises for what the source returns."""
    db = sources_db(app)
    started = app.now()
    run = _Run(app, source, dry_run, db, started)
    error: str | None
    try:
        if source.kind == "site":
            error = await _site(run)
        elif source.kind == "feed":
            error = await _feed(run)
        else:
            error = _directory(run)
        run.flush()
        error = error or _all_failed(run)
    except TgfeedError as exc:
        error = exc.message
        run.flush()
        run.failed(source.name, exc.message)
    except Exception as exc:  # a bug must not stop the other sources
        log.exception("source %s crashed", source.name)
        error = f"{source.name}: internal error: {type(exc).__name__}: {exc}"
        try:
            run.flush()  # keep what was fetched before the crash
        except Exception:
            log.exception("source %s: cannot store what was fetched", source.name)
        run.failed(source.name, error)
    counts = {**run.result.counts, **run.counters}
    if not dry_run:
        record_ingest(app, f"source:{source.name}", run.result, started=started)
        try:
            db.record_state(source.name, source.kind, now=app.now(), error=error, counts=counts)
        except StoreError as exc:
            log.error("%s: cannot record the source's state: %s", source.name, exc.message)
    c = run.result.counts
    log.info(
        "%s%s: %d added, %d updated, %d unchanged, %d failed%s",
        "dry run: " if dry_run else "",
        source.name,
        c["added"],
        c["updated"],
        c["unchanged"],
        c["failed"],
        f" ({error})" if error else "",
    )
    return run.result


def _all_failed(run: _Run) -> str | None:
    failed, total = run.result.count("failed"), run.result.total
    if failed and failed == total:
        first = run.result.failures[0].reason if run.result.failures else "?"
        return f"all {failed} item(s) failed; first: {first}"
    return None


async def _site(run: _Run) -> str | None:
    source, app = run.source, run.app
    gone: list[CacheEntry] = []
    answered: list[str] = []
    async with Fetcher(source, app.config.user_agent) as fetcher:
        site = SiteCrawl(source, fetcher, run.db, app.config.site.url, app.tz, run.now)
        try:
            async for page in site.run():
                if isinstance(page.item, IngestError):
                    run.failed(page.url, page.item)
                    if page.cache is not None and page.cache.article_id:  # gone: 404/410
                        gone.append(page.cache)
                    continue
                if page.kind == "article":
                    answered.append(page.url)
                if page.item is not None:
                    run.article(page.url, page.item, page.cache)
                else:
                    if page.kind == "article":
                        article_id = page.cache.article_id if page.cache else None
                        run.unchanged(page.url, article_id, page.reason or "unchanged")
                    if page.cache is not None:
                        run.cache.append(page.cache)
        finally:
            run.counters = fetcher.stats.as_dict()
    if not run.dry_run:
        run.counters["retracted"] = _retract_gone(run, gone, answered)
    if site.listing_ok == 0:
        first = next((f.reason for f in run.result.failures), "no listing page")
        return f"every listing page failed; first: {first}"
    if site.article_links == 0:
        return "no link on the listing pages matched article_pattern (has the site changed?)"
    return None


def _retract_gone(run: _Run, gone: list[CacheEntry], answered: list[str]) -> int:
    """Count each gone article page; one gone ``retract_gone`` crawls in a row is
    retracted (its tombstone reaches Atom readers). A page that answers again starts
    over. Returns how many were retracted."""
    state = run.app.store.feeds
    state.clear_gone(answered)
    policy = run.source.retract_gone
    retracted = 0
    for entry in gone:
        assert entry.article_id is not None
        n = state.record_gone(entry.url, entry.article_id, now=run.now)
        if policy and n >= policy:
            reason = f"Trang gốc không còn trên website (HTTP {entry.status})"
            tomb, now = state.retract(entry.article_id, now=run.now, reason=reason, origin="crawl")
            if tomb is not None and now:
                log.info("%s: retracted %s (%s)", run.source.name, entry.article_id, reason)
                retracted += 1
    return retracted


async def _feed(run: _Run) -> str | None:
    source, app = run.source, run.app
    assert source.url is not None
    entry = run.db.cache_get(source.url)
    async with Fetcher(source, app.config.user_agent) as fetcher:
        try:
            page = await fetcher.get(
                source.url,
                etag=entry.etag if entry else None,
                last_modified=entry.last_modified if entry else None,
            )
        finally:
            run.counters = fetcher.stats.as_dict()
    digest = hashlib.blake2b(page.body, digest_size=16).hexdigest() if page.body else None
    if page.not_modified or (entry is not None and digest == entry.content_hash):
        return None
    items = articles_from_feed(
        page.body,
        source,
        url=source.url,
        site_url=app.config.site.url,
        now=run.now,
        content_type=page.content_type,
        known=app.store.articles.get,
    )
    run.items(items)
    if run.flush() and not _all_failed(run):  # a feed that failed entirely is read again
        run.cache.append(
            CacheEntry(
                source.url,
                source.name,
                "feed",
                run.now,
                page.etag,
                page.last_modified,
                digest,
                page.status,
            )
        )
    return None


def _directory(run: _Run) -> str | None:
    source, app = run.source, run.app
    assert source.path is not None
    folder = app.path(source.path)
    files = directory.scan(folder, run.db.files(source.name))
    run.counters = {"files": len(files)}
    for dropped in files:
        run.items(directory.read_file(dropped, source, app.config.site.url, app.tz))
        if run.flush() and not run.dry_run:
            run.db.remember_file(
                source.name, dropped.key, dropped.size, dropped.sha256, now=app.now()
            )
    return None


__all__ = [
    "SourceStatus",
    "SourcesFailing",
    "check_sources",
    "crawl",
    "crawl_source",
    "failing_sources",
    "select_sources",
    "source_states",
]
