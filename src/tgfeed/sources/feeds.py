"""Other sites' RSS/Atom feeds into articles (the only module importing feedparser).

Pure: the feed's bytes, the source and ``now`` in; per-entry Articles or
IngestErrors out. Ids are tag URIs scoped to the source and derived from the
entry's guid (``<guid>`` / ``<id>``, else its link) — never from the title —
so a re-read entry updates its article instead of duplicating it.
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import feedparser

from .. import ids
from ..config import SourceConfig
from ..errors import IngestError
from ..model import Article
from ..sanitize import paragraphs_html, sanitize_html, text_of
from ..text import clean_block, clean_line, is_http_url, summarize

Item = tuple[str, Article | IngestError]
Known = Callable[[str], Article | None]


def entry_id(source_name: str, guid: str, authority: str) -> str:
    """``tag:tuyengiaohungyen.vn,2018:feed/<source>/<hash of guid>``."""
    return ids.feed_entry_id(source_name, guid, authority)


def _when(value: Any) -> datetime | None:
    if isinstance(value, time.struct_time):
        try:
            return datetime.fromtimestamp(calendar.timegm(value), UTC)
        except (OverflowError, ValueError, OSError):
            return None
    return None


def _http(url: Any) -> str | None:
    # is_http_url also refuses what urllib cannot parse ("http://[::1"): one bad
    # entry, not a crashed source.
    if isinstance(url, str) and is_http_url(url.strip()):
        return url.strip()
    return None


def _plain(value: str) -> str:
    """A title that may carry markup (Atom type="html") as plain text."""
    return clean_line(text_of(sanitize_html(value)) if "<" in value else value)


def _body(entry: Any, base: str) -> str:
    for content in entry.get("content") or []:
        value = content.get("value") or ""
        if not value.strip():
            continue
        if (content.get("type") or "").startswith("text/plain"):
            return paragraphs_html([clean_line(p) for p in clean_block(value).split("\n\n")])
        return sanitize_html(value, base)
    summary = entry.get("summary") or ""
    return sanitize_html(summary, base) if summary.strip() else ""


def parse_feed(data: bytes, *, url: str, content_type: str | None = None) -> Any:
    """feedparser's result; IngestError when the document is not a feed at all."""
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(data, response_headers=headers, sanitize_html=False)
    if not parsed.get("version") and not parsed.entries:
        reason = parsed.get("bozo_exception")
        detail = f": {reason}" if reason else ""
        raise IngestError(
            f"{url}: not an RSS or Atom feed{detail}",
            hint="check the source's url; it should open as XML in a browser",
        )
    return parsed


def articles_from_feed(
    data: bytes,
    source: SourceConfig,
    *,
    url: str,
    site_url: str,
    now: datetime,
    content_type: str | None = None,
    known: Known = lambda _id: None,
) -> list[Item]:
    """Every entry of the feed as an Article (or the IngestError naming what is wrong).

    ``known`` looks an id up in the store: an entry without any date keeps the
    date it was first seen with, instead of moving to ``now`` on every read.
    """
    parsed = parse_feed(data, url=url, content_type=content_type)
    authority = ids.authority(site_url)
    feed_title = clean_line(parsed.feed.get("title") or "")
    category = tuple(source.category or [feed_title or source.name])
    items: list[Item] = []
    for n, entry in enumerate(parsed.entries, 1):
        label = f"{url}#{n}"
        try:
            items.append(_entry(entry, label, source, category, authority, now, known))
        except IngestError as exc:
            items.append((label, exc))
    return items


def _entry(
    entry: Any,
    label: str,
    source: SourceConfig,
    category: tuple[str, ...],
    authority: str,
    now: datetime,
    known: Known,
) -> Item:
    link = _http(entry.get("link"))
    guid = (entry.get("id") or "").strip() or link
    if not guid:
        raise IngestError(f"{label}: the entry has neither a guid/id nor a link")
    label = link or label
    url = link or _http(guid)
    if url is None:
        raise IngestError(f"{label}: the entry has no http(s) link")
    # A link to the site itself is that page of the site: the crawler's id for it.
    own = ids.authority(url) == authority and urlsplit(url).hostname is not None
    ident = ids.article_id(url, authority) if own else entry_id(source.name, guid, authority)
    title = _plain(entry.get("title") or "")
    if not title:
        raise IngestError(f"{label}: the entry has no title")
    body_html = _body(entry, url)
    body_text = text_of(body_html) if body_html else ""
    if not body_text:
        body_text = title
        body_html = body_html or paragraphs_html([title])
    summary_raw = entry.get("summary") or ""
    summary_text = text_of(sanitize_html(summary_raw)) if summary_raw.strip() else ""
    first = summary_text or body_text.split("\n\n", 1)[0]
    published = _when(entry.get("published_parsed"))
    # ``in`` first: feedparser's .get("updated_parsed") falls back to published, with a warning.
    updated = _when(entry["updated_parsed"]) if "updated_parsed" in entry else None
    if published is None:
        previous = known(ident)
        published = previous.published_at if previous else (updated or now)
    if updated is not None and updated < published:
        updated = None
    author = clean_line(entry.get("author") or "") or None
    return label, Article(
        id=ident,
        url=url,
        title=title,
        category=category,
        published_at=published,
        updated_at=updated,
        author=author,
        summary=summarize(first),
        body_text=body_text,
        body_html=body_html,
    )
