"""Run the configured sources: crawl the site, read foreign feeds, ingest the drop folder.

Every source run is recorded (``store.articles.record_run``: added / updated / unchanged /
failed with reasons) and updates the source's state (consecutive failures, last
error, fetch counters). A failure of one URL or one source never stops the others.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
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


def select_sources(app: App, name: str | None) -> list[SourceConfig]:
    sources = app.config.sources
    if name is None:
        return [s for s in sources if s.enabled]
    for source in sources:
        if source.name == name:
            return [source]
    known = ", ".join(s.name for s in sources) or "none configured"
    raise TgfeedError(
        f"no source named {name!r} (sources: {known})",
        hint="add it under [[sources]] in the config, or use one of the names above",
    )


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
    async with Fetcher(source, app.config.user_agent) as fetcher:
        site = SiteCrawl(source, fetcher, run.db, app.config.site.url, app.tz, run.now)
        try:
            async for page in site.run():
                if isinstance(page.item, IngestError):
                    run.failed(page.url, page.item)
                elif page.item is not None:
                    run.article(page.url, page.item, page.cache)
                else:
                    if page.kind == "article":
                        article_id = page.cache.article_id if page.cache else None
                        run.unchanged(page.url, article_id, page.reason or "unchanged")
                    if page.cache is not None:
                        run.cache.append(page.cache)
        finally:
            run.counters = fetcher.stats.as_dict()
    if site.listing_ok == 0:
        first = next((f.reason for f in run.result.failures), "no listing page")
        return f"every listing page failed; first: {first}"
    if site.article_links == 0:
        return "no link on the listing pages matched article_pattern (has the site changed?)"
    return None


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


# -- status -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A configured source and its state, for `tgfeed sources`, the status page and alerts."""

    name: str
    kind: str
    enabled: bool
    target: str
    alert_after: int
    last_run_at: datetime | None = None
    last_ok_at: datetime | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    last_counts: dict[str, int] | None = None
    failing: bool = False  # failed ``alert_after`` runs in a row: the alert's trigger


def _target(source: SourceConfig) -> str:
    if source.kind == "site":
        more = len(source.listing_urls) - 1
        return source.listing_urls[0] + (f" (+{more})" if more > 0 else "")
    if source.kind == "feed":
        return source.url or ""
    return str(source.path)


def source_states(app: App) -> list[SourceStatus]:
    """Every configured source with its last run, failure streak and last error."""
    db = sources_db(app)
    out = []
    for source in app.config.sources:
        state = db.state(source.name)
        out.append(
            SourceStatus(
                name=source.name,
                kind=source.kind,
                enabled=source.enabled,
                target=_target(source),
                alert_after=source.alert_after,
                last_run_at=state.last_run_at if state else None,
                last_ok_at=state.last_ok_at if state else None,
                consecutive_failures=state.consecutive_failures if state else 0,
                last_error=state.last_error if state else None,
                last_counts=state.last_counts if state else None,
                failing=bool(state and state.consecutive_failures >= source.alert_after),
            )
        )
    return out


def failing_sources(app: App) -> list[SourceStatus]:
    """Enabled sources that failed ``alert_after`` runs in a row."""
    return [s for s in source_states(app) if s.enabled and s.failing]


class SourcesFailing(TgfeedError):
    """Raised after a crawl by the scheduler's job so that its alert fires."""


def check_sources(app: App, names: Iterable[str]) -> None:
    """Raise SourcesFailing when any of ``names`` has failed ``alert_after`` runs in a row.

    The crawl itself never raises for a source's failure (the others must run);
    a scheduled crawl job calls this afterwards so a source that keeps failing
    makes the job fail, which records it and emails ``admin.alert_to``.
    """
    wanted = set(names)
    bad = [s for s in failing_sources(app) if s.name in wanted]
    if bad:
        detail = "; ".join(
            f"{s.name}: {s.consecutive_failures} failed runs in a row, last: {s.last_error}"
            for s in bad
        )
        raise SourcesFailing(
            f"source(s) failing: {detail}",
            hint="see `tgfeed sources`; fix the source or its config, then `tgfeed crawl NAME`",
        )


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
