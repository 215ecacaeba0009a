"""Rendering a week's digest: subject, HTML (CSS inlined) and plain text (pure).

Rendered once per digest run. The mail variants carry the unsubscribe URL with
a placeholder token that `message` replaces per recipient; the web variants
(the archive's copy) carry nobody's token. This is the only module that imports
css_inline, and it inlines once per digest, never per recipient.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import css_inline
import jinja2

from ..config import SiteConfig
from ..errors import RenderError
from ..model import Article
from ..templating import render
from ..text import summarize
from .select import MOST_READ_TITLE, Selection

HTML_TEMPLATE = "digest.html.j2"
TEXT_TEMPLATE = "digest.txt.j2"
SUMMARY_CHARS = 260

_INLINER = css_inline.CSSInliner(keep_at_rules=True, minify_css=True, load_remote_stylesheets=False)


@dataclass(frozen=True, slots=True)
class Entry:
    """One article as the digest shows it."""

    title: str
    url: str
    published_at: datetime
    category: str
    summary: str
    views: int

    @staticmethod
    def of(article: Article) -> Entry:
        return Entry(
            title=article.title,
            url=article.url,
            published_at=article.published_at,
            category=article.category[-1] if article.category else "",
            summary=summarize(article.summary or article.body_text, SUMMARY_CHARS),
            views=article.views,
        )


@dataclass(frozen=True, slots=True)
class SectionView:
    title: str
    entries: tuple[Entry, ...]


@dataclass(frozen=True, slots=True)
class DigestView:
    """What the templates see as ``digest``."""

    week: str
    number: int
    year: int
    first_day: datetime  # local Monday 00:00
    last_day: datetime  # local Sunday 00:00
    dates: str  # "23/11 – 29/11/2026"
    count: int
    sections: tuple[SectionView, ...]
    most_read: tuple[Entry, ...]
    most_read_title: str
    topics: str  # "hội nghị, hoạt động"


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    subject: str
    preheader: str
    html: str  # mail: CSS inlined, unsubscribe URL with the placeholder token
    text: str
    web_html: str  # archive copy: no tokens
    web_text: str


def date_range(first: datetime, last: datetime) -> str:
    """``23/11 – 29/11/2026``; across a new year ``28/12/2026 – 3/1/2027``."""
    if first.year == last.year:
        return f"{first.day}/{first.month} – {last.day}/{last.month}/{last.year}"
    return f"{first.day}/{first.month}/{first.year} – {last.day}/{last.month}/{last.year}"


def view(selection: Selection, tz: ZoneInfo) -> DigestView:
    year, number = selection.week.split("-W")
    first = selection.start.astimezone(tz)
    last = selection.end.astimezone(tz) - timedelta(days=1)
    sections = tuple(
        SectionView(s.title, tuple(Entry.of(a) for a in s.articles)) for s in selection.sections
    )
    return DigestView(
        week=selection.week,
        number=int(number),
        year=int(year),
        first_day=first,
        last_day=last,
        dates=date_range(first, last),
        count=selection.count,
        sections=sections,
        most_read=tuple(Entry.of(a) for a in selection.most_read),
        most_read_title=MOST_READ_TITLE,
        topics=", ".join(s.title.lower() for s in sections),
    )


def make_subject(digest: DigestView) -> str:
    """``Bản tin tuần 48/2026 (23/11 – 29/11/2026): 7 tin hội nghị, hoạt động``."""
    head = f"Bản tin tuần {digest.number}/{digest.year} ({digest.dates})"
    if not digest.count:
        return f"{head}: không có tin mới"
    return f"{head}: {digest.count} tin {digest.topics}"


def make_preheader(digest: DigestView) -> str:
    """The line mail apps show after the subject: the first headlines."""
    titles = [e.title for s in digest.sections for e in s.entries][:3]
    if not titles:
        return f"Tuần {digest.number}/{digest.year} không có tin mới."
    return summarize(" · ".join(titles), 140)


def render_digest(
    env: jinja2.Environment,
    selection: Selection,
    *,
    site: SiteConfig,
    public_url: str,
    unsubscribe_url: str,
    tz: ZoneInfo,
) -> RenderedDigest:
    """Everything a digest run needs, rendered once."""
    digest = view(selection, tz)
    subject = make_subject(digest)
    preheader = make_preheader(digest)
    base = public_url.rstrip("/")
    context = {
        "site": site,
        "digest": digest,
        "subject": subject,
        "preheader": preheader,
        "web_url": f"{base}/digests/{selection.week}",
        "archive_url": f"{base}/digests/",
        "subscribe_url": f"{base}/subscribe",
    }
    variants: dict[str, str] = {}
    for mode in ("mail", "web"):
        unsub = unsubscribe_url if mode == "mail" else None
        ctx = {**context, "mode": mode, "unsubscribe_url": unsub}
        variants[f"{mode}_html"] = _inline(render(env, HTML_TEMPLATE, **ctx), mode)
        variants[f"{mode}_text"] = _tidy_text(render(env, TEXT_TEMPLATE, **ctx))
    return RenderedDigest(
        subject=subject,
        preheader=preheader,
        html=variants["mail_html"],
        text=variants["mail_text"],
        web_html=variants["web_html"],
        web_text=variants["web_text"],
    )


def _inline(html: str, mode: Literal["mail", "web"] | str) -> str:
    try:
        inlined: str = _INLINER.inline(html)
    except css_inline.InlineError as exc:
        raise RenderError(f"{HTML_TEMPLATE} ({mode}): CSS inlining failed: {exc}") from exc
    if not inlined.lstrip().lower().startswith("<!doctype"):
        inlined = "<!DOCTYPE html>\n" + inlined
    return inlined


def _tidy_text(text: str) -> str:
    """Trailing spaces off, at most two blank lines in a row, one final newline."""
    lines = [line.rstrip() for line in text.split("\n")]
    out: list[str] = []
    blanks = 0
    for line in lines:
        blanks = blanks + 1 if not line else 0
        if blanks <= 2:
            out.append(line)
    return "\n".join(out).strip("\n") + "\n"
