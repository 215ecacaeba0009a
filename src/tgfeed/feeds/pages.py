"""The human side of the feeds: a feed opened in a browser as a readable page, and
the search results page. Both are rendered from the same channel and articles as
the feed itself, through templates an administrator may override (``feed.html.j2``,
``search.html.j2``), with one small script: the "copy the feed address" button.

The script is inline and allowed by its hash (``COPY_CSP``), so the pages keep a
``default-src 'none'`` policy.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import jinja2
from markupsafe import Markup

from ..model import Article, SearchHit
from ..templating import render
from . import catalog
from .catalog import FORMAT_NAMES, FORMATS
from .entries import Channel, Options, local, prepare, select

if TYPE_CHECKING:
    from ..app import App
    from .publish import Listed, Publisher

FEED_TEMPLATE = "feed.html.j2"
INDEX_TEMPLATE = "index.html.j2"
SEARCH_TEMPLATE = "search.html.j2"

# Copies data-copy of the pressed button; the Clipboard API where the page is a
# secure context, else a hidden textarea and execCommand (older phones, plain http).
COPY_JS = """document.addEventListener("click", function (e) {
  var b = e.target.closest ? e.target.closest("button[data-copy]") : null;
  if (!b) return;
  var text = b.getAttribute("data-copy"), label = b.textContent;
  function done() {
    b.textContent = "Đã sao chép";
    setTimeout(function () { b.textContent = label; }, 2000);
  }
  function fallback() {
    var t = document.createElement("textarea");
    t.value = text;
    t.setAttribute("readonly", "");
    t.style.position = "absolute";
    t.style.left = "-9999px";
    document.body.appendChild(t);
    t.select();
    try { document.execCommand("copy"); done(); }
    catch (err) { window.prompt("Sao chép địa chỉ:", text); }
    document.body.removeChild(t);
  }
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, fallback);
  } else { fallback(); }
});"""
_DIGEST = base64.b64encode(hashlib.sha256(COPY_JS.encode("utf-8")).digest()).decode("ascii")
COPY_CSP = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
    f"script-src 'sha256-{_DIGEST}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": COPY_CSP,
}


def copy_script() -> Markup:
    # A constant of this module, not input: nothing to escape.
    return Markup(f"<script>{COPY_JS}</script>")  # noqa: S704


def _items(entries: Sequence[Any]) -> list[dict[str, Any]]:
    return [
        {
            "title": e.title,
            "url": e.url,
            "published": e.published,
            "summary": e.summary,
            "author": e.author,
            "categories": [label for _, label in e.categories],
        }
        for e in entries
    ]


@dataclass(frozen=True, slots=True)
class IndexRow:
    """One feed of the index page (``index.html.j2``'s ``feeds``): attributes, so
    the template reads each with one lookup."""

    key: str
    label: str
    name: str
    depth: int
    description: str | None
    newest: datetime | None
    links: dict[str, str]
    anchor: str  # the row's id: ``feed-`` + this (the key, ``/`` as ``--``)
    copy_url: str  # the RSS address the copy button copies (public URL + path)


def index_page(pub: Publisher, listed: Sequence[Listed], *, dynamic: bool) -> bytes:
    """The index page (``index.html.j2``): every listed feed with its links, and
    the autodiscovery links; ``dynamic``: the server's, with the search form."""
    prefix = catalog.public_prefix(pub.config)
    public_url = pub.config.site.public_url.rstrip("/")
    feeds: list[IndexRow] = []
    discovery: list[dict[str, str]] = []
    site_title = pub.config.site.title
    for entry in listed:
        spec = entry.spec
        links = {fmt: prefix + spec.path(fmt) for fmt in FORMATS}
        label = catalog.spec_label(spec)
        feeds.append(
            IndexRow(
                key=spec.key,
                label=label,
                name=spec.names[-1] if spec.names else "Tất cả tin bài",
                depth=spec.depth,
                description=spec.description,
                newest=entry.newest,
                links=links,
                anchor=spec.key.replace("/", "--"),
                copy_url=public_url + spec.path("rss"),
            )
        )
        discovery += _discovery(spec.depth, label, links, site_title)
    body = render(
        pub.app.templates,
        INDEX_TEMPLATE,
        site=pub.config.site,
        feeds=feeds,
        discovery=discovery,
        formats=FORMAT_NAMES,
        prefix=prefix,
        opml_url=prefix + "/feeds.opml",
        public_url=public_url,
        search_url=prefix + "/search" if dynamic else None,
        copy_script=copy_script(),
        search_max_query=pub.config.feeds.search_max_query,
    )
    return body.encode("utf-8")


def _discovery(
    depth: int, label: str, links: dict[str, str], site_title: str
) -> list[dict[str, str]]:
    """Autodiscovery links: the all-feed in every format, top-level categories in RSS."""
    if depth == 0:
        return [
            {
                "type": catalog.mime(fmt),
                "title": f"{site_title} ({FORMAT_NAMES[fmt]})",
                "href": links[fmt],
            }
            for fmt in FORMATS
        ]
    if depth == 1:
        title = f"{label} · {site_title} (RSS)"
        return [{"type": catalog.mime("rss"), "title": title, "href": links["rss"]}]
    return []


def feed_page(
    env: jinja2.Environment,
    channel: Channel,
    items: Sequence[Article],
    opts: Options,
    *,
    fmt: str,
    prefix: str,
    **context: Any,
) -> bytes:
    """A feed as a page: its title, description, articles, and how to follow it."""
    entries = prepare(select(items, opts.items), opts)
    body = render(
        env,
        FEED_TEMPLATE,
        channel=channel,
        feed_url=channel.url(fmt),
        formats={f: channel.url(f) for f in ("rss", "atom", "json")},
        fmt=fmt,
        items=_items(entries),
        prefix=prefix,
        copy_script=copy_script(),
        **context,
    )
    return body.encode("utf-8")


def search_page(
    env: jinja2.Environment,
    query: str,
    hits: Sequence[SearchHit],
    opts: Options,
    *,
    feed_url: str | None,
    prefix: str,
    **context: Any,
) -> bytes:
    entries = prepare([h.article for h in hits], opts)
    body = render(
        env,
        SEARCH_TEMPLATE,
        query=query,
        feed_url=feed_url,
        items=_items(entries),
        prefix=prefix,
        copy_script=copy_script(),
        **context,
    )
    return body.encode("utf-8")


def search_results(pub: Publisher, query: str, message: str | None = None) -> bytes:
    """``/search?q=``: the results as a page, with the search feed to follow.
    ``message``: what is wrong with the query (then nothing is searched)."""
    config = pub.config
    hits = (
        pub.app.store.articles.search(query, limit=config.feeds.search_max_results)
        if query and not message
        else []
    )
    qs = catalog.search_query_string(query) if query else ""
    return search_page(
        pub.app.templates,
        query,
        hits,
        pub.search_opts,
        feed_url=catalog.feed_url(config, "/feeds/search.rss" + qs) if query else None,
        prefix=catalog.public_prefix(config),
        message=message,
        search_max_query=config.feeds.search_max_query,
        site=config.site,
    )


__all__ = [
    "COPY_CSP",
    "PAGE_HEADERS",
    "copy_script",
    "feed_page",
    "local",
    "mark_retracted",
    "mark_retracted_text",
    "retracted_in",
    "search_page",
    "search_results",
    "templates_key",
]


def mark_retracted(page: str, retracted: dict[str, tuple[str, str | None]]) -> str:
    """An archived digest (HTML) with each retracted article marked: its links
    struck through and labelled, and a notice at the top listing them.
    ``retracted``: article URL → (title, reason). Pure."""
    if not retracted:
        return page
    found = {}
    for url, (title, reason) in retracted.items():
        attr = f'href="{html.escape(url, quote=True)}"'
        tag = re.compile(r"<a\b(?=[^>]*\s" + re.escape(attr) + ")")
        page, n = tag.subn('<a class="tgfeed-retracted" title="Bài đã bị gỡ"', page)
        if n:
            found[url] = (title, reason)
    if not found:
        return page
    items = "".join(
        f"<li><s>{html.escape(title)}</s>"
        + (f" — {html.escape(reason)}" if reason else "")
        + "</li>"
        for title, reason in found.values()
    )
    notice = (
        '<div class="tgfeed-retracted-notice" style="border:2px solid #a50e0e;'
        'padding:.5rem 1rem;margin:1rem auto;max-width:600px;font-family:sans-serif">'
        f"<strong>Bài đã bị gỡ sau khi bản tin được gửi:</strong><ul>{items}</ul></div>"
        "<style>a.tgfeed-retracted{text-decoration:line-through}"
        'a.tgfeed-retracted::after{content:" (đã gỡ)"}</style>'
    )
    m = re.search(r"<body[^>]*>", page, re.I)
    at = m.end() if m else 0
    return page[:at] + notice + page[at:]


def mark_retracted_text(text: str, retracted: dict[str, tuple[str, str | None]]) -> str:
    """The plain-text archive copy with the same notice at the top."""
    found = [(t, r) for url, (t, r) in retracted.items() if url in text]
    if not found:
        return text
    lines = ["BÀI ĐÃ BỊ GỠ SAU KHI BẢN TIN ĐƯỢC GỬI:"]
    lines += [f"- {t}" + (f" — {r}" if r else "") for t, r in found]
    return "\n".join(lines) + "\n\n" + text


def retracted_in(app: App, page: str) -> dict[str, tuple[str, str | None]]:
    """The retracted articles a page links to: URL → (title, reason)."""
    urls = set(re.findall(r'href="([^"]+)"', page))
    found = app.store.feeds.tombstones_by_url({html.unescape(u) for u in urls})
    return {url: (t.title, t.reason) for url, t in found.items()}


def templates_key(app: App) -> str:
    """A hash of the index page's templates (an administrator may override them)."""
    env = app.templates
    h = hashlib.blake2b(digest_size=16)
    for name in (INDEX_TEMPLATE, "base.html.j2"):
        assert env.loader is not None
        source, _, _ = env.loader.get_source(env, name)
        h.update(source.encode("utf-8"))
    return h.hexdigest()
