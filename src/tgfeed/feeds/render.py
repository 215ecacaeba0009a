"""Rendering feeds: RSS 2.0 and Atom 1.0 with feedgen (the only module that imports
it), JSON Feed 1.1 written to https://www.jsonfeed.org/version/1.1/.

Pure: the same channel, items and options give the same bytes. Nothing here reads
the clock — feedgen's own ``datetime.now()`` defaults (lastBuildDate, updated) and
its generator tag are overwritten from the data; entries are appended in order.
The items are prepared (cleaned, sanitised, dated) by ``entries``.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from feedgen.ext.base import BaseEntryExtension, BaseExtension
from feedgen.feed import FeedGenerator

from ..errors import RenderError
from ..model import Article
from ..text import clean_line
from .entries import (
    EMPTY_FEED_DATE,
    RENDER_VERSION,
    UNTITLED,
    Channel,
    Deleted,
    Entry,
    Options,
    entry_updated,
    fingerprint,
    local,
    newest,
    prepare,
    select,
)
from .entrycache import EntryCache, entry_key

__all__ = [
    "EMPTY_FEED_DATE",
    "RENDER_VERSION",
    "Channel",
    "Deleted",
    "Options",
    "fingerprint",
    "newest",
    "render",
    "render_many",
]

ATOM_NS = "http://www.w3.org/2005/Atom"
DC_NS = "http://purl.org/dc/elements/1.1/"
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"  # RFC 6721
JSONFEED_VERSION = "https://jsonfeed.org/version/1.1"


# -- RSS 2.0 and Atom 1.0 (feedgen) -----------------------------------------


class _RssChannel(BaseExtension):  # type: ignore[misc]
    """RSS additions feedgen lacks: the WebSub hub link (feedgen writes it only in
    Atom), right after the self link, and the ``dc`` namespace for dc:creator."""

    href: str | None = None

    def extend_ns(self) -> dict[str, str]:
        return {"dc": DC_NS}

    def extend_rss(self, feed: Any) -> Any:
        if self.href:
            channel = feed[0]
            link = channel.makeelement(f"{{{ATOM_NS}}}link", {"href": self.href, "rel": "hub"})
            selfs = [el for el in channel if el.tag == f"{{{ATOM_NS}}}link"]
            if selfs:
                selfs[-1].addnext(link)
            else:
                channel.append(link)
        return feed


class _RssCreator(BaseEntryExtension):  # type: ignore[misc]
    """``<dc:creator>`` on an RSS item: RSS's own <author> must be an e-mail address.
    (feedgen's generic dc extension does the same, at several times the cost.)"""

    name: str | None = None

    def extend_rss(self, item: Any) -> Any:
        if self.name:
            el = item.makeelement(f"{{{DC_NS}}}creator", {})
            el.text = self.name
            item.append(el)
        return item


class _AtomTombstones(BaseExtension):  # type: ignore[misc]
    """RFC 6721 ``<at:deleted-entry ref when>`` (with ``at:comment`` for the reason
    and the article's link) after the entries of an Atom feed."""

    deleted: Sequence[Deleted] = ()
    tz: Any = None

    def extend_ns(self) -> dict[str, str]:
        return {"at": TOMBSTONES_NS} if self.deleted else {}

    def extend_atom(self, feed: Any) -> Any:
        for d in self.deleted:
            el = feed.makeelement(
                f"{{{TOMBSTONES_NS}}}deleted-entry",
                {"ref": clean_line(d.ref), "when": local(d.when, self.tz).isoformat()},
            )
            if d.reason and clean_line(d.reason):
                comment = el.makeelement(f"{{{TOMBSTONES_NS}}}comment", {})
                comment.text = clean_line(d.reason)
                el.append(comment)
            if d.url:
                el.append(el.makeelement(f"{{{ATOM_NS}}}link", {"rel": "alternate", "href": d.url}))
            feed.append(el)
        return feed


def _generator(
    channel: Channel,
    entries: Sequence[Entry],
    opts: Options,
    fmt: str,
    *,
    stamp: datetime | None = None,
) -> Any:
    """The feed's FeedGenerator; ``stamp``: its ``updated`` when ``entries`` are not
    all there (the cached path renders the channel alone)."""
    fg = FeedGenerator()
    fg.register_extension("tgfeed", _RssChannel, _RssCreator, atom=False, rss=True)
    fg.tgfeed.href = opts.hub
    if channel.deleted:
        fg.register_extension("tombstones", _AtomTombstones, atom=True, rss=False)
        fg.tombstones.deleted = channel.deleted
        fg.tombstones.tz = opts.tz
    fg.id(channel.id)
    fg.title(clean_line(channel.title) or UNTITLED)
    fg.description(clean_line(channel.description) or clean_line(channel.title) or UNTITLED)
    _links(fg, channel, opts, fmt)
    fg.language(opts.language)
    if opts.rights:
        fg.rights(clean_line(opts.rights))
    if opts.publisher:
        fg.author(name=clean_line(opts.publisher), uri=opts.site_url)
    fg.generator(opts.generator, uri=None, version=None)
    if opts.icon:
        fg.icon(opts.icon)
    if opts.logo:
        fg.logo(opts.logo)
    if stamp is None:
        stamp = max((e.updated for e in entries), default=local(EMPTY_FEED_DATE, opts.tz))
    fg.updated(stamp)
    for e in entries:
        _add_entry(fg, e, opts)
    return fg


def _add_entry(fg: Any, e: Entry, opts: Options) -> None:
    fe = fg.add_entry(order="append")
    fe.id(e.id)  # also the RSS guid, isPermaLink="false"
    fe.title(e.title)
    fe.link(href=e.url, rel="alternate", type="text/html")
    fe.published(e.published)
    fe.updated(e.updated)
    # Escaped text as HTML: RSS <description> is HTML, and a literal "<b>" in a
    # summary must show as text, not become markup.
    fe.summary(html.escape(e.summary or e.title, quote=False), type="html")
    if e.content_html:
        fe.content(e.content_html, type="html")
    if e.author:
        fe.author(name=e.author)
        fe.tgfeed.name = e.author
    if e.categories:
        scheme = {"scheme": opts.category_scheme} if opts.category_scheme else {}
        fe.category([{"term": term, "label": label, **scheme} for term, label in e.categories])


def _links(fg: Any, channel: Channel, opts: Options, fmt: str) -> None:
    """RSS puts the href of the LAST link added into <channel><link>: self first,
    alternate last. Called again (replacing) to switch the self link to Atom."""
    fg.link(href=channel.url(fmt), rel="self", type=_SELF_TYPES[fmt], replace=True)
    if opts.hub:
        fg.link(href=opts.hub, rel="hub")
    fg.link(href=channel.home_url, rel="alternate", type="text/html")


_SELF_TYPES = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}


def _xml(
    formats: Sequence[str],
    channel: Channel,
    entries: Sequence[Entry],
    opts: Options,
    *,
    stamp: datetime | None = None,
) -> dict[str, bytes]:
    """RSS and/or Atom from ONE FeedGenerator (the entries are set up once)."""
    wanted = [f for f in ("rss", "atom") if f in formats]
    if not wanted:
        return {}
    fg = _generator(channel, entries, opts, wanted[0], stamp=stamp)
    out: dict[str, bytes] = {}
    for fmt in wanted:
        if fmt == "rss":
            out["rss"] = fg.rss_str(pretty=True)
        else:
            if wanted[0] != "atom":
                _links(fg, channel, opts, "atom")
            if channel.deleted:  # a retraction is a change of the Atom feed
                fg.updated(max(fg.updated(), *(local(d.when, opts.tz) for d in channel.deleted)))
            out["atom"] = fg.atom_str(pretty=True)
    return out


# Where the entries sit in feedgen's pretty-printed output: each RSS item and Atom
# entry starts a line at its depth, and the list ends where the parent closes.
_OPEN = {"rss": b"\n    <item>", "atom": b"\n  <entry>"}
_CLOSE = {"rss": b"  </channel>\n", "atom": b"</feed>\n"}
_DUMMY = Channel(id="urn:x", title="x", description="x", base_url="urn:x", home_url="urn:x")


def entry_bytes(
    formats: Sequence[str], entries: Sequence[Entry], opts: Options
) -> dict[str, list[bytes]]:
    """Each entry's bytes exactly as feedgen writes it inside a feed of each format
    (rss, atom; json: its JSON object); RSS and Atom from one FeedGenerator."""
    out: dict[str, list[bytes]] = {}
    if "json" in formats:
        out["json"] = [
            json.dumps(_json_item(e, opts), ensure_ascii=False).encode() for e in entries
        ]
    xml = [f for f in formats if f != "json"]
    docs = _xml(xml, _DUMMY, entries, opts) if entries and xml else {}
    for fmt in xml:
        out[fmt] = _split(fmt, docs[fmt], len(entries)) if entries else []
    return out


def _split(fmt: str, doc: bytes, n: int) -> list[bytes]:
    start = doc.index(_OPEN[fmt]) + 1
    end = doc.rindex(_CLOSE[fmt])
    pieces = doc[start:end].split(_OPEN[fmt])
    last = len(pieces) - 1
    out = [
        (_OPEN[fmt][1:] if i else b"") + p + (b"\n" if i < last else b"")
        for i, p in enumerate(pieces)
    ]
    if len(out) != n:
        raise RenderError(f"{fmt}: {n} entries rendered as {len(out)}")
    return out


def assemble(
    formats: Sequence[str],
    channel: Channel,
    parts: dict[str, list[bytes]],
    stamp: datetime,
    opts: Options,
) -> dict[str, bytes]:
    """Each format's feed from its channel (rendered once, without entries, RSS and
    Atom from one FeedGenerator) and its entries' bytes."""
    out: dict[str, bytes] = {}
    xml = [f for f in formats if f != "json"]
    docs = _xml(xml, channel, (), opts, stamp=stamp) if xml else {}
    for fmt in formats:
        if fmt == "json":
            head = _json(channel, (), opts)
            tail = b'"items": []}\n'
            assert head.endswith(tail)
            out[fmt] = head[: -len(tail)] + b'"items": [' + b", ".join(parts[fmt]) + b"]}\n"
        else:
            doc = docs[fmt]
            at = doc.rindex(_CLOSE[fmt])
            out[fmt] = doc[:at] + b"".join(parts[fmt]) + doc[at:]
    return out


# -- JSON Feed 1.1 ------------------------------------------------------------


def _json(channel: Channel, entries: Sequence[Entry], opts: Options) -> bytes:
    feed: dict[str, Any] = {
        "version": JSONFEED_VERSION,
        "title": clean_line(channel.title) or UNTITLED,
        "home_page_url": channel.home_url,
        "feed_url": channel.url("json"),
        "description": clean_line(channel.description),
        "language": opts.language,
    }
    if opts.icon or opts.logo:
        feed["icon"] = opts.logo or opts.icon
    if opts.icon:
        feed["favicon"] = opts.icon
    if opts.publisher:
        feed["authors"] = [{"name": clean_line(opts.publisher), "url": opts.site_url}]
    if opts.hub:
        feed["hubs"] = [{"type": "WebSub", "url": opts.hub}]
    if opts.rights:
        # JSON Feed has no rights field; extensions are keys starting with "_".
        feed["_rights"] = {"text": clean_line(opts.rights)}
    feed["items"] = [_json_item(e, opts) for e in entries]
    # No indent: the C encoder is ~10× faster than the indenting pure-Python one.
    return (json.dumps(feed, ensure_ascii=False) + "\n").encode("utf-8")


def _json_item(e: Entry, opts: Options) -> dict[str, Any]:
    item: dict[str, Any] = {"id": e.id, "url": e.url, "title": e.title}
    if e.content_html:
        item["content_html"] = e.content_html
    else:
        item["content_text"] = e.summary or e.title
    if e.summary:
        item["summary"] = e.summary
    item["date_published"] = e.published.isoformat()
    item["date_modified"] = e.updated.isoformat()
    if e.author:
        item["authors"] = [{"name": e.author}]
    if e.categories:
        item["tags"] = [label for _, label in e.categories]
    item["language"] = opts.language
    return item


# -- public API ---------------------------------------------------------------


def render(
    fmt: str,
    channel: Channel,
    items: Sequence[Article],
    opts: Options,
    *,
    newest_first: bool = True,
    cache: EntryCache | None = None,
    stored: bool = False,
) -> bytes:
    """One feed in one format (``rss``, ``atom`` or ``json``)."""
    return render_many(
        (fmt,), channel, items, opts, newest_first=newest_first, cache=cache, stored=stored
    )[fmt]


def render_many(
    formats: Iterable[str],
    channel: Channel,
    items: Sequence[Article],
    opts: Options,
    *,
    newest_first: bool = True,
    cache: EntryCache | None = None,
    stored: bool = False,
) -> dict[str, bytes]:
    """Several formats of one feed, preparing (cleaning) the items once. With
    ``cache``: each entry comes from it or is rendered once and kept there; the
    feed is its channel plus the entries — the same bytes either way. ``stored``:
    the items were read from the store, their HTML sanitised at ingest already
    (``entries.prepare``)."""
    formats = list(formats)
    unknown = [f for f in formats if f not in ("rss", "atom", "json")]
    if unknown:
        raise RenderError(f"unknown feed format {unknown[0]!r}", hint="use rss, atom or json")
    chosen = select(items, opts.items, newest_first=newest_first)
    try:
        if cache is not None:
            return _cached(formats, channel, chosen, opts, cache, stored)
        entries = prepare(chosen, opts, stored=stored)
        out = _xml(formats, channel, entries, opts)
        if "json" in formats:
            out["json"] = _json(channel, entries, opts)
    except (ValueError, TypeError) as exc:  # feedgen's and lxml's complaints
        raise RenderError(f"feed {channel.id}: cannot render: {exc}") from exc
    return {fmt: out[fmt] for fmt in formats}


def _cached(
    formats: Sequence[str],
    channel: Channel,
    chosen: Sequence[Article],
    opts: Options,
    cache: EntryCache,
    stored: bool,
) -> dict[str, bytes]:
    keys = [entry_key(a, opts) for a in chosen]
    found = cache.get_many(f"{fmt}:{k}" for k in keys for fmt in formats)
    need = [i for i, k in enumerate(keys) if any(f"{fmt}:{k}" not in found for fmt in formats)]
    made = entry_bytes(formats, prepare([chosen[i] for i in need], opts, stored=stored), opts)
    for fmt in formats:
        for i, body in zip(need, made[fmt], strict=True):
            found[f"{fmt}:{keys[i]}"] = body
            cache.put(f"{fmt}:{keys[i]}", body)
    stamp = max((entry_updated(a, opts) for a in chosen), default=local(EMPTY_FEED_DATE, opts.tz))
    parts = {fmt: [found[f"{fmt}:{k}"] for k in keys] for fmt in formats}
    return assemble(formats, channel, parts, stamp, opts)
