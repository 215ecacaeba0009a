"""The site's article page — as page text (like the seed) or HTML — into an Article.

Pure: input text and where it came from in, an Article or an IngestError out.

Page text, line by line::

    Thứ Bảy, ngày 6 tháng 6 năm 2020 - 5:09:21 PM      when the page was rendered (ignored)
    Trang chủ » Thông tin - Tuyên truyền » Tin tức…    breadcrumb (category path)
    Đăng ngày: 09/08/2019 - 4:29:33 PM | Lượt xem: 503 | Lưu Tú
    <title>
    <body paragraphs>
    NT                                                  signature
    Bài viết khác:                                      related titles, one a line
    BAN TUYÊN GIÁO TỈNH ỦY HƯNG YÊN …                   footer (dropped)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit
from zoneinfo import ZoneInfo

from selectolax.lexbor import LexborHTMLParser, LexborNode

from .errors import IngestError
from .model import Article
from .sanitize import paragraphs_html, sanitize_html, text_of
from .text import (
    LOCAL_TZ,
    clean,
    clean_line,
    is_http_url,
    parse_site_datetime,
    slugify,
    summarize,
    xml_legal,
)

ID_DATE = "2018"  # the tag URI date: when the department held its domain
SUMMARY_LIMIT = 300

_BREADCRUMB_SPLIT = re.compile(r"\s*(?:»|›|>>)\s*")
_PUBLISHED = re.compile(r"^Đăng ngày\s*:?\s*(?P<date>.+?)(?:\s*\|\s*(?P<rest>.*))?$", re.I)
_VIEWS = re.compile(r"^Lượt xem\s*:?\s*(?P<n>[\d.,]+)$", re.I)
_RELATED = re.compile(r"^(Bài viết khác|Các bài viết khác|Tin liên quan|Tin khác)\s*:?$", re.I)
_FOOTER_START = re.compile(
    r"^(Giấy phép xuất bản|Địa chỉ\s*:|Điện thoại\s*:|Website\s*:|Ghi rõ nguồn|Bản quyền|©)",
    re.I,
)
_SIGNATURE = re.compile(r"^[A-ZĐÀ-Ỹ][\w.\-–/ ]{0,38}$")
_TRAILING_NUMBER = re.compile(r"-(\d+)(?:\.aspx|\.html?)?$", re.I)


@dataclass(frozen=True, slots=True)
class PageSource:
    """Where a page came from: its name for messages, and its URL if known."""

    name: str
    url: str | None = None
    site_url: str = "https://tuyengiaohungyen.vn"
    tz: ZoneInfo = LOCAL_TZ

    @property
    def authority(self) -> str:
        return urlsplit(self.site_url).hostname or "localhost"


def article_id(url: str, authority: str) -> str:
    """A stable tag URI from the page's URL (its numeric id if it has one), never the title."""
    path = urlsplit(url).path.strip("/")
    m = _TRAILING_NUMBER.search(path)
    if m and "/" in path:
        return f"tag:{authority},{ID_DATE}:{path.split('/')[0]}/{m[1]}"
    path = re.sub(r"\.(aspx|html?)$", "", path, flags=re.I)
    return f"tag:{authority},{ID_DATE}:{path or 'index'}"


def _is_footer_line(line: str) -> bool:
    letters = [c for c in line if c.isalpha()]
    shouting = len(letters) >= 8 and all(c.isupper() for c in letters)
    return shouting or bool(_FOOTER_START.match(line))


def _is_signature(line: str) -> bool:
    words = line.split()
    return (
        len(line) <= 40
        and len(words) <= 4
        and bool(_SIGNATURE.match(line))
        and not line.endswith((":", ",", ";"))
        and not (line.endswith(".") and len(words) > 2)
    )


@dataclass(slots=True)
class _Parts:
    category: list[str]
    published: str
    views: int
    author: str | None
    title: str
    paragraphs: list[str]
    signature: str | None
    related: list[str]


def _split_lines(lines: list[str], name: str) -> _Parts:
    """The structural parse shared by text and HTML pages."""
    lines = [clean_line(line) for line in lines]
    try:
        pub_i = next(i for i, line in enumerate(lines) if _PUBLISHED.match(line))
    except StopIteration:
        raise IngestError(
            f"{name}: no 'Đăng ngày: dd/mm/yyyy - h:mm:ss AM' line (publication date)",
            hint="is this an article page of the site?",
        ) from None
    crumbs = [
        line
        for line in lines[:pub_i]
        if line.startswith("Trang chủ") and _BREADCRUMB_SPLIT.search(line)
    ]
    if not crumbs:
        raise IngestError(
            f"{name}: no breadcrumb line 'Trang chủ » …' before the date line (category)",
            hint="is this an article page of the site?",
        )
    category = [c for c in _BREADCRUMB_SPLIT.split(crumbs[-1])[1:] if c]
    if not category:
        raise IngestError(f"{name}: the breadcrumb names no category after 'Trang chủ'")
    m = _PUBLISHED.match(lines[pub_i])
    assert m is not None
    views, author = 0, None
    for part in (p.strip() for p in (m["rest"] or "").split("|")):
        vm = _VIEWS.match(part)
        if vm:
            views = int(re.sub(r"[.,]", "", vm["n"]))
        elif part:
            author = part
    rest = lines[pub_i + 1 :]
    try:
        title_i = next(i for i, line in enumerate(rest) if line)
    except StopIteration:
        raise IngestError(f"{name}: no title after the date line") from None
    title = rest[title_i]
    body: list[str] = []
    related: list[str] = []
    in_related = False
    for line in rest[title_i + 1 :]:
        if not line:
            continue
        if _RELATED.match(line):
            in_related = True
            continue
        if _is_footer_line(line) and (in_related or body):
            break
        (related if in_related else body).append(line)
    signature = None
    if len(body) >= 2 and _is_signature(body[-1]):
        signature = body.pop()
    if not body:
        raise IngestError(f"{name}: the article '{title[:60]}' has no body paragraphs")
    return _Parts(category, m["date"], views, author, title, body, signature, related)


def _build(parts: _Parts, source: PageSource, body_html: str, url: str | None) -> Article:
    try:
        published_at = parse_site_datetime(parts.published, source.tz)
    except ValueError as exc:
        raise IngestError(f"{source.name}: bad publication date: {exc}") from None
    if url is None:
        stem = re.sub(r"\.[A-Za-z0-9]+$", "", source.name.replace("\\", "/").rsplit("/", 1)[-1])
        ident = f"tag:{source.authority},{ID_DATE}:page/{slugify(stem) or 'page'}"
        url = f"{source.site_url}/bai-viet/{slugify(parts.title)}.aspx"
    else:
        ident = article_id(url, source.authority)
    lead = next((p for p in parts.paragraphs if len(p) >= 60), parts.paragraphs[0])
    return Article(
        id=ident,
        url=url,
        title=parts.title,
        category=tuple(parts.category),
        published_at=published_at,
        author=parts.author,
        views=parts.views,
        summary=summarize(lead, SUMMARY_LIMIT),
        body_text="\n\n".join(parts.paragraphs),
        body_html=body_html,
        signature=parts.signature,
        related=tuple(parts.related),
    )


def parse_text(text: str, source: PageSource) -> Article:
    """An article from the page's text (the format of ``shared/seed``)."""
    parts = _split_lines(clean(text).split("\n"), source.name)
    return _build(parts, source, paragraphs_html(parts.paragraphs), source.url)


# -- HTML ---------------------------------------------------------------------

_BLOCK = {
    "p",
    "div",
    "br",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "li",
    "ul",
    "ol",
    "tr",
    "table",
    "section",
    "article",
    "header",
    "footer",
    "form",
    "blockquote",
    "figure",
    "figcaption",
    "dd",
    "dt",
    "hr",
    "nav",
    "main",
    "aside",
    "td",
    "th",
}
_SKIP = {
    "script",
    "style",
    "noscript",
    "head",
    "input",
    "select",
    "textarea",
    "template",
    "button",
    "iframe",
    "svg",
}
_CONTENT_SELECTORS = (
    "[id$=divNoiDung]",
    ".news-content",
    ".detail-content",
    ".article-content",
    "#content-detail",
    ".noidung",
)


def _lines(node: LexborNode) -> list[str]:
    out: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            out.append("".join(buf))
            buf.clear()

    def walk(n: LexborNode) -> None:
        for child in n.iter(include_text=True):
            tag = child.tag or ""
            if tag == "-text":
                buf.append(child.text(deep=False) or "")
            elif tag in _SKIP or tag.startswith("-"):
                continue
            elif tag in _BLOCK:
                flush()
                walk(child)
                flush()
            else:
                walk(child)

    walk(node)
    flush()
    return out


def _holder(content: LexborNode, line: str) -> LexborNode | None:
    """The outermost element inside ``content`` that holds nothing but ``line``
    (no other text, no image), the last one there is: a signature can sit in a
    ``<p>``, in a ``<div>`` of its own, or in a wrapper around the whole body."""

    def only(node: LexborNode) -> bool:
        return clean_line(node.text()) == line and node.css_first("img") is None

    last = None
    for node in content.css("*"):
        if only(node):
            last = node
    if last is None:
        return None
    while (parent := last.parent) is not None and parent.mem_id != content.mem_id and only(parent):
        last = parent
    return last


def parse_html(html: str, source: PageSource) -> Article:
    """An article from the site's HTML page (ASP.NET CMS markup)."""
    tree = LexborHTMLParser(xml_legal(html))  # text is normalised node by node
    root = tree.body or tree.root
    if root is None:
        raise IngestError(f"{source.name}: empty HTML document")
    url = source.url
    canonical = tree.css_first("link[rel=canonical]") or tree.css_first("meta[property='og:url']")
    if url is None and canonical is not None:
        href = canonical.attributes.get("href") or canonical.attributes.get("content")
        if href:
            try:
                url = urljoin(source.site_url + "/", href.strip())
            except ValueError:
                url = None
            if url is not None and not is_http_url(url):
                url = None  # a malformed canonical link: as if there were none
    content = next((n for s in _CONTENT_SELECTORS if (n := tree.css_first(s)) is not None), None)
    lines = _lines(root)
    parts = _split_lines(lines, source.name)
    if content is None:
        return _build(parts, source, paragraphs_html(parts.paragraphs), url)
    # The content element is authoritative for the body: its paragraphs and markup.
    for bad in content.css("script, style, noscript, iframe"):
        bad.decompose()
    paragraphs = [p for p in (clean_line(line) for line in _lines(content)) if p]
    signature = None
    if len(paragraphs) >= 2 and _is_signature(paragraphs[-1]):
        signature = paragraphs.pop()
        holder = _holder(content, signature)
        if holder is not None:
            holder.decompose()
    base = url or source.site_url + "/"
    body_html = sanitize_html(content.inner_html or "", base)
    if not paragraphs:
        images = text_of(body_html)
        if not images and "<img" not in body_html:
            raise IngestError(f"{source.name}: the article '{parts.title[:60]}' has no body")
        paragraphs = [images] if images else []
    heading = tree.css_first("h1")
    title = (
        clean_line(heading.text())
        if heading is not None and heading.text().strip()
        else parts.title
    )
    parts = _Parts(
        parts.category,
        parts.published,
        parts.views,
        parts.author,
        title,
        paragraphs or [title],
        signature or parts.signature,
        parts.related,
    )
    return _build(parts, source, body_html, url)


def parse_page(data: bytes | str, source: PageSource) -> Article:
    """Dispatch on content: HTML markup or page text. Bytes are decoded as UTF-8
    (or the charset the page declares)."""
    text = data if isinstance(data, str) else decode(data)
    head = text.lstrip()[:500].lower()
    if head.startswith(("<!doctype", "<html", "<?xml")) or "<body" in text[:5000].lower():
        return parse_html(text, source)
    return parse_text(text, source)


_CHARSET = re.compile(rb"""charset\s*=\s*["']?([A-Za-z0-9_\-]+)""", re.I)


def decode(data: bytes, declared: str | None = None) -> str:
    """Bytes to text: BOM, then a declared charset, then UTF-8, then windows-1258."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    candidates = []
    if declared:
        candidates.append(declared)
    m = _CHARSET.search(data[:4096])
    if m:
        candidates.append(m[1].decode("ascii"))
    candidates += ["utf-8", "cp1258"]
    for enc in candidates:
        try:
            return data.decode(enc)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")
