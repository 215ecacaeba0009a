"""What a feed is made of, before any format: the site-wide ``Options``, one feed's
``Channel``, and each article prepared as an ``Entry`` — ordered, dated in local
time, every string NFC and XML-legal, the HTML sanitised. Plus the fingerprint
of a feed's inputs, which tells a build whether a feed must be rendered again.

Pure: nothing here reads the clock or touches I/O.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from ..config import Config
from ..errors import RenderError
from ..model import Article, ArticleKey
from ..sanitize import Images, paragraphs_html, sanitize_html, settle_markup
from ..text import LOCAL_TZ, clean, clean_line, parse_iso_datetime

# Part of every fingerprint: bump it when the rendered shape changes, so a build
# after an upgrade re-renders feeds whose data did not change. ("3": the security
# fixes and the tombstones/readable pages, each of which had bumped it to "2".)
RENDER_VERSION = "3"

# The `updated` of a feed with no items: fixed, so empty feeds are deterministic too.
EMPTY_FEED_DATE = datetime(2000, 1, 1, tzinfo=UTC)
UNTITLED = "(Không có tiêu đề)"


@dataclass(frozen=True, slots=True)
class Options:
    """Everything site-wide a feed carries; built from the config once."""

    site_url: str
    site_title: str = ""
    language: str = "vi"
    rights: str = ""
    publisher: str = ""
    content: Literal["full", "summary"] = "full"
    items: int = 50
    hub: str | None = None
    icon: str | None = None
    logo: str | None = None
    tz: ZoneInfo = LOCAL_TZ
    category_scheme: str | None = None
    generator: str = "tgfeed"
    images: Images = "https-only"

    @classmethod
    def from_config(cls, config: Config) -> Options:
        site, feeds = config.site, config.feeds
        return cls(
            site_url=site.url,
            site_title=site.title,
            language=site.language,
            rights=site.attribution,
            publisher=site.publisher,
            content=feeds.content,
            items=feeds.items,
            hub=feeds.hub,
            icon=site.icon,
            logo=site.logo,
            tz=site.tz,
            category_scheme=site.public_url.rstrip("/") + "/feeds/",
            images=feeds.images,
        )

    def entry_key(self) -> str:
        """What one entry's bytes depend on besides its article (``entrycache``)."""
        return json.dumps(
            [
                RENDER_VERSION,
                self.site_url,
                self.language,
                self.content,
                self.tz.key,
                self.category_scheme,
                self.images,
            ],
            ensure_ascii=False,
        )

    def key(self) -> str:
        """A stable text form, for fingerprints."""
        return json.dumps(
            [
                RENDER_VERSION,
                self.site_url,
                self.site_title,
                self.language,
                self.rights,
                self.publisher,
                self.content,
                self.items,
                self.hub,
                self.icon,
                self.logo,
                self.tz.key,
                self.category_scheme,
                self.generator,
                self.images,
            ],
            ensure_ascii=False,
        )


@dataclass(frozen=True, slots=True)
class Deleted:
    """A retracted article, announced in Atom as an RFC 6721 ``at:deleted-entry``."""

    ref: str  # the id the entry had
    when: datetime  # aware
    url: str = ""
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Channel:
    """One feed's own values. ``base_url`` is the public URL without its extension
    (``https://…/feeds/all``); ``query`` is appended after it (search feeds).
    ``deleted``: tombstones the Atom format carries (RSS and JSON Feed drop them)."""

    id: str
    title: str
    description: str
    base_url: str
    home_url: str
    query: str = ""
    deleted: tuple[Deleted, ...] = ()

    def url(self, fmt: str) -> str:
        return f"{self.base_url}.{fmt}{self.query}"


@dataclass(frozen=True, slots=True)
class Entry:
    id: str
    url: str
    title: str
    summary: str
    content_html: str | None
    published: datetime
    updated: datetime
    author: str | None
    categories: tuple[tuple[str, str], ...]  # (term = slug path, label = name)


# -- shared preparation -----------------------------------------------------


def select(items: Iterable[Article], limit: int, *, newest_first: bool = True) -> list[Article]:
    """Newest first (ties by id, the store's order), at most ``limit``."""
    chosen = list(items)
    if newest_first:
        chosen.sort(key=lambda a: (a.published_at, a.id), reverse=True)
    return chosen[:limit]


def newest(items: Iterable[Article]) -> datetime:
    """The newest change among ``items`` (aware UTC, whole seconds); fixed when empty."""
    stamps = [max(a.published_at, a.updated_at or a.published_at) for a in items]
    return (max(stamps) if stamps else EMPTY_FEED_DATE).astimezone(UTC).replace(microsecond=0)


def newest_of_keys(keys: Iterable[ArticleKey]) -> datetime:
    """``newest`` of the articles these keys stand for (the store's UTC ISO strings
    sort as time does)."""
    stamps = [max(k.published, k.updated) for k in keys]
    if not stamps:
        return EMPTY_FEED_DATE
    return parse_iso_datetime(max(stamps)).replace(microsecond=0)


def local(value: datetime, tz: ZoneInfo) -> datetime:
    if value.tzinfo is None:
        raise RenderError("a feed date must be timezone-aware", hint="store dates in UTC")
    return value.astimezone(tz).replace(microsecond=0)


def _http_url(value: str, fallback: str) -> str:
    """``value`` if it is an absolute http(s) URL a feed can carry, else ``fallback``."""
    value = clean_line(value)
    if value.startswith(("http://", "https://")) and not _URL_BAD.search(value):
        host = value.split("/", 3)[2]
        if host:
            return value
    return fallback


_URL_BAD = re.compile(r'[\s<>"\\^`{|}]')


# Markup that cannot carry code: these exact tags, and well-formed entities.
_PLAIN_TAGS = frozenset(
    f"<{c}{t}>"
    for t in (
        "p",
        "br",
        "strong",
        "b",
        "em",
        "i",
        "u",
        "s",
        "sub",
        "sup",
        "blockquote",
        "ul",
        "ol",
        "li",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "figcaption",
        "hr",
    )
    for c in ("", "/")
) | {"<br/>", "<br />", "<hr/>", "<hr />"}
_TAG = re.compile(r"<[^<>]*>?")
_BAD_AMP = re.compile(r"&(?!(?:[a-zA-Z][a-zA-Z0-9]{1,30}|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});)")


@lru_cache(maxsize=2048)
def _safe_html(fragment: str, base: str, images: Images = "keep") -> str:
    """Sanitised HTML. The store's HTML was sanitised at ingest; what is already plain
    paragraphs (no attribute, no other tag) skips nh3 — everything else goes through it.
    Either way nothing is normalised across markup (see `sanitize.settle_markup`)."""
    if all(tag in _PLAIN_TAGS for tag in _TAG.findall(fragment)) and not _BAD_AMP.search(fragment):
        return settle_markup(fragment).strip()
    return sanitize_html(fragment, base, images)


@lru_cache(maxsize=4096)
def _categories(names: tuple[str, ...], slug_path: str) -> tuple[tuple[str, str], ...]:
    """An entry's categories: (slug path, clean name) per level, the empty ones left
    out. Every article of a category has the same: worked out once per category."""
    slugs = slug_path.split("/")
    cleaned = [clean_line(name) for name in names[: len(slugs)]]
    return tuple(("/".join(slugs[: i + 1]), name) for i, name in enumerate(cleaned) if name)


def _stored_html(fragment: str, base: str, images: Images) -> str:
    """The store's HTML as a feed shows it. It is in the form ingest's sanitiser wrote
    (the one guard; ``upgrade_text`` brings older stores to it at open), so it is used
    as it is — unless the feed's image policy has ``<img>`` elements to drop."""
    if images == "keep" or "<img" not in fragment:
        return fragment
    return _safe_html(fragment, base, images)


def entry_updated(a: Article, opts: Options) -> datetime:
    """The ``updated`` of ``a``'s entry (local time, never before it was published)."""
    published = local(a.published_at, opts.tz)
    return max(published, local(a.updated_at or a.published_at, opts.tz))


def _entry(a: Article, opts: Options, stored: bool) -> Entry:
    url = _http_url(a.url, opts.site_url)
    published = local(a.published_at, opts.tz)
    updated = entry_updated(a, opts)
    cats = _categories(a.category, a.category_slug)
    content = None
    if opts.content == "full":
        html = _stored_html if stored else _safe_html
        content = html(a.body_html, url, opts.images) if a.body_html else None
        if not content and a.body_text:
            content = paragraphs_html([clean_line(x) for x in clean(a.body_text).split("\n")])
    author = clean_line(a.author) if a.author else None
    return Entry(
        id=clean_line(a.id) or url,
        url=url,
        title=clean_line(a.title) or UNTITLED,
        summary=clean_line(a.summary),
        content_html=content or None,
        published=published,
        updated=updated,
        author=author or None,
        categories=cats,
    )


def prepare(items: Sequence[Article], opts: Options, *, stored: bool = False) -> list[Entry]:
    """The items as entries. ``stored``: they were read from the store, whose HTML is
    already sanitised (not sanitised again); any other article's HTML is."""
    return [_entry(a, opts, stored) for a in items]


@lru_cache(maxsize=16)
def _options_key(opts: Options) -> bytes:
    """``opts.key()`` encoded, once per Options (every feed's fingerprint has it)."""
    return opts.key().encode("utf-8")


def fingerprint(
    channel: Channel, items: Sequence[Article], opts: Options, *, newest_first: bool = True
) -> str:
    """A hash of everything a feed's bytes depend on: equal fingerprints, equal bytes."""
    h = hashlib.blake2b(digest_size=16)
    h.update(_options_key(opts))
    h.update(repr(channel).encode("utf-8", "surrogatepass"))
    for a in select(items, opts.items, newest_first=newest_first):
        h.update(article_key(a).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


def fingerprint_keys(channel: Channel, keys: Sequence[ArticleKey], opts: Options) -> str:
    """The fingerprint of a feed of the store's newest articles, from their keys
    (``Store.latest_keys``, newest first) instead of the articles: the same test —
    equal fingerprints, equal bytes — without reading a single article's text."""
    h = hashlib.blake2b(digest_size=16)
    h.update(b"keys\x00")
    h.update(_options_key(opts))
    h.update(repr(channel).encode("utf-8", "surrogatepass"))
    for k in keys[: opts.items]:
        h.update(f"\x01{k.id}\x00{k.content_hash}\x00{k.published}\x00{k.updated}".encode())
    return h.hexdigest()


def article_key(a: Article) -> str:
    """Every field of ``a`` that a feed shows, as one string (cheaper than repr)."""
    return "\x00".join(
        (
            "\x01",
            a.id,
            a.url,
            a.title,
            "\x02".join(a.category),
            a.category_slug,
            a.published_at.isoformat(),
            a.updated_at.isoformat() if a.updated_at else "",
            a.author or "\x03",
            a.summary,
            a.body_html,
            # The text is shown only when there is no HTML (as its fallback).
            "" if a.body_html else a.body_text,
        )
    )
