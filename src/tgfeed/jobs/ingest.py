"""Import files into the store; export the store as JSON Lines."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import TextIO

from ..app import App
from ..errors import IngestError, StoreError
from ..importers import expand, export_line, read_path
from ..model import Article, BatchResult, ItemResult

log = logging.getLogger(__name__)

BATCH = 500
OnItem = Callable[[ItemResult], None]


def _batched(
    items: Iterable[tuple[str, Article | IngestError]], n: int
) -> Iterator[list[tuple[str, Article | IngestError]]]:
    it = iter(items)
    while chunk := list(islice(it, n)):
        yield chunk


def ingest_items(
    app: App,
    items: Iterable[tuple[str, Article | IngestError]],
    *,
    source: str,
    on_item: OnItem | None = None,
    dry_run: bool = False,
) -> BatchResult:
    """Upsert parsed items in batches; failures are recorded, never raised."""
    result = BatchResult()
    started = app.now()
    for chunk in _batched(items, BATCH):
        good: list[tuple[str, Article]] = []
        for label, item in chunk:
            if isinstance(item, IngestError):
                _add(result, ItemResult(label, "failed", None, item.message), on_item)
            else:
                good.append((label, item))
        if dry_run:
            for label, art in good:
                _add(result, ItemResult(label, "unchanged", art.id, "dry run"), on_item)
            continue
        # Within one batch the last version of an id wins, as with separate batches.
        try:
            outcomes = app.store.articles.upsert([a for _, a in good], now=app.now())
        except StoreError as exc:
            for label, art in good:
                _add(result, ItemResult(label, "failed", art.id, exc.message), on_item)
            continue
        for (label, _), res in zip(good, outcomes, strict=True):
            _add(result, ItemResult(label, res.outcome, res.article_id), on_item)
    if not dry_run:
        try:
            app.store.articles.record_run(source, result, started=started, finished=app.now())
        except StoreError as exc:  # the items are stored (or failed); the record is a nicety
            log.warning("the %s run was not recorded: %s", source, exc.message)
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
