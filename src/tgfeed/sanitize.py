"""HTML sanitising (nh3 is imported here only): what survives is safe in a feed,
a web page and an email — no script, no ``on*=`` handler, no ``javascript:`` URL.

The order is fixed: XML-illegal characters are removed from the source, nh3
parses (decodes) and sanitises it, and each text node and each attribute value
is normalised (NFC) on its own as it is written out — never the markup around
it. A text node that starts with a combining mark gets it as a character
reference. So nothing can compose with a tag's ``>`` (``>`` + U+0338 is ``≯`` in
NFC: normalising markup would unclose the tag and turn text into attributes).
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Callable
from typing import Literal

import nh3

from .text import clean, clean_line, escape_marks, xml_legal

Images = Literal["keep", "drop", "https-only"]

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


# A tag as nh3 serialises it: attribute values always in double quotes (a ``"`` in a
# value is written ``&quot;``), ``<`` and ``>`` in text always as references.
_MARKUP = re.compile(r'<[^<>"]*(?:"[^"]*"[^<>"]*)*>')
_VALUE = re.compile(r'"([^"]*)"')


def allowed_tags() -> frozenset[str]:
    """The elements sanitised HTML may contain."""
    return frozenset(_TAGS)


def allowed_attributes(tag: str) -> frozenset[str]:
    """The attributes ``tag`` may carry in sanitised HTML (nh3 adds ``rel`` to links)."""
    return frozenset(_ATTRIBUTES.get(tag, set()) | ({"rel"} if tag == "a" else set()))


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def _https_images(base_url: str | None) -> Callable[[str, str, str], str | None]:
    """An nh3 attribute filter keeping an ``<img src>`` only when it is (or resolves
    against ``base_url`` to) an ``https:`` URL."""
    relative_ok = (base_url or "").startswith("https://")

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag != "img" or attribute != "src":
            return value
        value_s = value.strip()
        if value_s.lower().startswith("https://"):
            return value
        return value if relative_ok and not _SCHEME.match(value_s) else None

    return keep


def _clean(fragment: str, base_url: str | None, images: Images = "keep") -> str:
    tags = _TAGS - {"img"} if images == "drop" else _TAGS
    return nh3.clean(
        fragment,
        tags=tags,
        clean_content_tags=_DROP_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=_https_images(base_url) if images == "https-only" else None,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer",
        url_relative=("rewrite_with_base", base_url) if base_url else "deny",
        strip_comments=True,
    )


def sanitize_html(fragment: str, base_url: str | None = None, images: Images = "keep") -> str:
    """Sanitised, NFC, XML-clean HTML; relative links resolved against ``base_url``
    (dropped when nh3 cannot use the base, e.g. one with an invalid host).
    ``images``: keep every ``<img>``, drop them all, or keep only ``https:`` sources."""
    fragment = xml_legal(fragment)
    try:
        out = _clean(fragment, base_url, images)
    except ValueError:
        out = _clean(fragment, None, images)
    out = out.replace("\u00a0", " ").replace("&nbsp;", " ")
    return _EMPTY_P.sub("", settle_markup(out)).strip()


# The XML-illegal characters that are ASCII (nh3 writes ``&#1;`` out as U+0001).
_ASCII_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _settled(markup: str) -> bool:
    """True when `settle_markup` would leave ``markup`` as it is (checked fast)."""
    if markup.isascii():
        if _ASCII_ILLEGAL.search(markup):
            return False
    else:
        if not unicodedata.is_normalized("NFC", markup) or clean(markup) != markup:
            return False
        for part in markup.split(">"):  # the text after each tag, and before the first
            if part and unicodedata.category(part[0])[0] == "M":
                return False
    return "\r" not in markup


def _settle_text(text: str) -> str:
    return escape_marks(clean(text)) if text else text


def _settle_tag(tag: str) -> str:
    return _VALUE.sub(lambda m: '"' + clean(m[1]) + '"', tag) if '"' in tag else tag


def settle_markup(markup: str) -> str:
    """Serialised, sanitised HTML with each text node and attribute value normalised
    and XML-clean on its own (never across markup), and a leading combining mark of
    a text node written as a character reference. Its NFC is itself."""
    if _settled(markup):
        return markup
    parts: list[str] = []
    pos = 0
    for m in _MARKUP.finditer(markup):
        parts += (_settle_text(markup[pos : m.start()]), _settle_tag(m[0]))
        pos = m.end()
    parts.append(_settle_text(markup[pos:]))
    return "".join(parts)


def paragraphs_html(paragraphs: list[str]) -> str:
    """Plain paragraphs (already cleaned) as escaped ``<p>`` elements."""
    return "".join(f"<p>{escape_marks(html.escape(p, quote=False))}</p>" for p in paragraphs if p)


def text_of(fragment: str) -> str:
    """The plain text of sanitised HTML, paragraphs separated by a blank line."""
    text = re.sub(r"(?i)<br\s*/?>", "\n", fragment)
    text = re.sub(r"(?i)</(p|div|li|h[1-6]|blockquote|figcaption|tr|table)>", "\n\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    text = html.unescape(text)
    paras = [clean_line(p) for p in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paras if p)
