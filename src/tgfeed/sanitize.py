"""HTML sanitising (nh3 is imported here only): what survives is safe in a feed,
a web page and an email — no script, no ``on*=`` handler, no ``javascript:`` URL."""

from __future__ import annotations

import html
import re

import nh3

from .text import clean, clean_line

_TAGS = {
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
    "a",
    "img",
    "figure",
    "figcaption",
    "blockquote",
    "ul",
    "ol",
    "li",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "caption",
    "hr",
    "pre",
    "code",
    "span",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
}
_DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "noscript", "template"}
_EMPTY_P = re.compile(r"<p>(?:\s|&nbsp;|<br>)*</p>")


def _clean(fragment: str, base_url: str | None) -> str:
    return nh3.clean(
        fragment,
        tags=_TAGS,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        url_relative=("rewrite_with_base", base_url) if base_url else "deny",
        strip_comments=True,
    )


def sanitize_html(fragment: str, base_url: str | None = None) -> str:
    """Sanitised, NFC, XML-clean HTML; relative links resolved against ``base_url``
    (dropped when nh3 cannot use the base, e.g. one with an invalid host)."""
    fragment = clean(fragment)
    try:
        out = _clean(fragment, base_url)
    except ValueError:
        out = _clean(fragment, None)
    out = out.replace("\u00a0", " ").replace("&nbsp;", " ")
    out = _EMPTY_P.sub("", out)
    return clean(out).strip()


def paragraphs_html(paragraphs: list[str]) -> str:
    """Plain paragraphs as escaped ``<p>`` elements."""
    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs if p)


def text_of(fragment: str) -> str:
    """The plain text of sanitised HTML, paragraphs separated by a blank line."""
    text = re.sub(r"(?i)<br\s*/?>", "\n", fragment)
    text = re.sub(r"(?i)</(p|div|li|h[1-6]|blockquote|figcaption|tr|table)>", "\n\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    paras = [clean_line(p) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paras if p)
