"""Re-sanitise the stored articles with the current text pipeline.

Before 0.x the ingest sanitiser normalised (NFC) *after* it had serialised the
HTML, so a text node starting with U+0338 composed with the tag's ``>`` into
``≯``: rows such as ``<p≯ onmouseover=… x=</p>`` are in older stores (and in
``tgfeed export``). This job rewrites each published article's ``body_html``
as today's ingest would write it, and stores the rows that change (their
``updated`` moves to now, so feed readers fetch the repaired entry).

It uses only the store's public reads and ``upsert``. ``upgrade_text`` runs it once
per store, automatically, when the store was written by an older text pipeline (the
``text_pipeline`` meta key); ``tgfeed resanitize`` runs it by hand.
"""

from __future__ import annotations

import dataclasses
import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from ..model import Article
from ..sanitize import paragraphs_html, sanitize_html
from ..store import Store

log = logging.getLogger("tgfeed.store")

# The version of the form ingest stores text in. Raise it when the pipeline changes
# what it writes: every store re-sanitises its rows once, at its next open.
TEXT_PIPELINE = "2"


@dataclass(frozen=True, slots=True)
class ResanitizeResult:
    checked: int
    changed: tuple[str, ...]  # the ids of the rows rewritten (or to be, in a dry run)


def resanitized(a: Article) -> Article:
    """``a`` with ``body_html`` as the current pipeline makes it. HTML that was built
    from the plain text (its paragraphs, normalised after the fact) is built again
    from that text — sanitising the broken form would drop the text it swallowed."""
    paragraphs = [p for p in a.body_text.split("\n\n") if p]
    from_text = paragraphs_html(paragraphs)
    nfc = unicodedata.normalize
    if a.body_html == from_text or nfc("NFC", a.body_html) == nfc("NFC", _old(paragraphs)):
        html = from_text
    else:
        html = sanitize_html(a.body_html, a.url)
    return a if html == a.body_html else dataclasses.replace(a, body_html=html)


def _old(paragraphs: list[str]) -> str:
    """The body the old pipeline built from ``paragraphs`` (before its NFC pass)."""
    import html

    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs)


def resanitize(
    store: Store, *, now: datetime, dry_run: bool = False, batch: int = 500
) -> ResanitizeResult:
    """Check every published article; store those whose HTML changes (in batches)."""
    checked = 0
    changed: list[Article] = []
    for a in store.articles.iter_all():
        checked += 1
        fixed = resanitized(a)
        if fixed is not a:
            changed.append(fixed)
    if not dry_run:
        for start in range(0, len(changed), batch):
            store.articles.upsert(changed[start : start + batch], now=now)
    return ResanitizeResult(checked, tuple(a.id for a in changed))


def upgrade_text(store: Store, *, now: datetime) -> None:
    """Re-sanitise a store written by an older text pipeline, once (under the write
    lock, checked again there: a second process finds it done) and log how many rows
    changed. A current store costs one read."""
    if store.articles.meta("text_pipeline") == TEXT_PIPELINE:
        return
    with store.write():
        if store.articles.meta("text_pipeline") == TEXT_PIPELINE:
            return
        result = resanitize(store, now=now)
        store.articles.set_meta("text_pipeline", TEXT_PIPELINE)
    if result.changed:
        log.warning(
            "re-sanitised the stored HTML of %d of %d articles (text pipeline %s)",
            len(result.changed),
            result.checked,
            TEXT_PIPELINE,
        )
