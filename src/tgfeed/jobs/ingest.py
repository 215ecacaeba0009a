"""The one ingest path, and `tgfeed import` / `export` on it.

Every way articles arrive — files (`tgfeed import`), sources (crawl), the push API —
stores them with ``store_batch`` (one upsert per batch, a per-item outcome, a store
failure marks the batch failed instead of raising; a dry run predicts the outcome) and
records the run with ``record_ingest``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import TextIO

from ..app import App
from ..errors import IngestError, StoreError
from ..importers import expand, export_line, read_path
from ..model import Article, BatchResult, ItemResult, Outcome
from ..store.articles import content_hash

log = logging.getLogger(__name__)

BATCH = 500
OnItem = Callable[[ItemResult], None]


def _batched(
    items: Iterable[tuple[str, Article | IngestError]], n: int
) -> Iterator[list[tuple[str, Article | IngestError]]]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


def store_batch(
    app: App,
    batch: Sequence[tuple[str, Article]],
    result: BatchResult,
    *,
    dry_run: bool = False,
    on_item: OnItem | None = None,
) -> bool:
    """Upsert one batch of labelled articles in one transaction and add each item's
    outcome to ``result``. A dry run stores nothing and predicts each outcome. False
    when the store refused the batch (its items are then failed with the reason)."""
    if dry_run:
        for label, art in batch:
            _add(result, ItemResult(label, _predict(app, art), art.id, "dry run"), on_item)
        return True
    if not batch:
        return True
    # Within one batch the last version of an id wins, as with separate batches.
    try:
        outcomes = app.store.articles.upsert([a for _, a in batch], now=app.now())
    except StoreError as exc:
        for label, art in batch:
            _add(result, ItemResult(label, "failed", art.id, exc.message), on_item)
        return False
    for (label, _), res in zip(batch, outcomes, strict=True):
        _add(result, ItemResult(label, res.outcome, res.article_id), on_item)
    return True


def record_ingest(app: App, source: str, result: BatchResult, *, started: datetime) -> None:
    """Record an ingest run; the items are stored (or failed) already, so a store error
    here is logged, never raised."""
    try:
        app.store.articles.record_run(source, result, started=started, finished=app.now())
    except StoreError as exc:
        log.warning("the %s run was not recorded: %s", source, exc.message)


def _predict(app: App, art: Article) -> Outcome:
    old = app.store.articles.get(art.id)
    if old is None:
        return "added"
    return "unchanged" if content_hash(old) == content_hash(art) else "updated"


def ingest_items(
    app: App,
    items: Iterable[tuple[str, Article | IngestError]],
    *,
    source: str,
    on_item: OnItem | None = None,
    dry_run: bool = False,
) -> BatchResult:
    """Store parsed items in batches; failures are recorded, never raised."""
    result = BatchResult()
    started = app.now()
    for chunk in _batched(items, BATCH):
        good: list[tuple[str, Article]] = []
        for label, item in chunk:
            if isinstance(item, IngestError):
                _add(result, ItemResult(label, "failed", None, item.message), on_item)
            else:
                good.append((label, item))
        store_batch(app, good, result, dry_run=dry_run, on_item=on_item)
    if not dry_run:
        record_ingest(app, source, result, started=started)
    return result


def _add(result: BatchResult, item: ItemResult, on_item: OnItem | None) -> None:
    result.add(item)
    if on_item:
        on_item(item)


def import_paths(
    app: App, paths: Iterable[Path], *, on_item: OnItem | None = None, dry_run: bool = False
) -> BatchResult:
    """`tgfeed import`: page files, .jsonl and .csv, files or folders."""
    site = app.config.site.url
    items = (item for path in expand(paths) for item in read_path(path, site, app.tz))
    return ingest_items(app, items, source="import", on_item=on_item, dry_run=dry_run)


def export_jsonl(app: App, out: TextIO) -> int:
    """Every published article as JSON Lines, oldest first; returns the count."""
    n = 0
    for article in app.store.articles.iter_all():
        out.write(export_line(article, app.tz))
        out.write("\n")
        n += 1
    return n
