"""Serving feeds: the index page, every feed in three formats, search feeds, OPML.

Bodies come from the Publisher's in-memory cache (rendered once per store
version, gzip precomputed). Conditional GET: ``If-None-Match`` is checked first,
then ``If-Modified-Since``; both answer 304 without a body. A slug path from the
URL is matched against a strict pattern before any lookup, and nothing here
touches the filesystem.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ..feeds.cache import Rendered
from ..feeds.catalog import FORMATS, normalize_query, parse_feed_path
from ..feeds.pages import PAGE_HEADERS, search_results
from .common import error_page, get_app

if TYPE_CHECKING:
    from ..app import App

FEED_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    # A feed opened in a browser is a document that can run nothing.
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Access-Control-Allow-Origin": "*",
}
Line = tuple[bytes, bytes]


def encode_headers(headers: Mapping[str, str]) -> list[Line]:
    """Header lines as Starlette's ``Response`` encodes a header dict."""
    return [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


FEED_LINES = encode_headers(FEED_HEADERS)
PAGE_LINES = encode_headers(PAGE_HEADERS)


def _tags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak comparison: W/ ignored)."""
    tags = set()
    for part in header.split(","):
        tag = part.strip()
        if tag.startswith("W/"):
            tag = tag[2:]
        if tag:
            tags.add(tag)
    return tags


def not_modified(
    headers: Mapping[str, str], rendered: Rendered, now: Callable[[], datetime]
) -> bool:
    """RFC 9110 §13.2.2: If-None-Match decides when present (If-Modified-Since is then
    ignored); else If-Modified-Since, which must be a valid HTTP-date not later than
    ``now()`` (asked only then). Last-Modified is when the bytes last changed (never
    moving backwards), so "not changed since" is a fact about this representation."""
    inm = headers.get("if-none-match")
    if inm is not None:
        if inm == rendered.etag or inm == rendered.etag_gzip:
            return True  # the usual case: the one tag this server gave
        tags = _tags(inm)
        return "*" in tags or rendered.etag in tags or rendered.etag_gzip in tags
    ims = headers.get("if-modified-since")
    if ims:
        try:
            since = parsedate_to_datetime(ims)
        except (TypeError, ValueError, IndexError, OverflowError):
            return False
        if since.tzinfo is None or since > now():
            return False  # not a valid HTTP-date, or one in the future: ignore it
        return rendered.last_modified <= since
    return False


def accepts_gzip(headers: Mapping[str, str]) -> bool:
    for part in headers.get("accept-encoding", "").split(","):
        name, _, params = part.partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            q = 1.0
            for param in params.split(";"):
                key, _, value = param.partition("=")
                if key.strip().lower() == "q":
                    try:
                        q = float(value)
                    except ValueError:
                        q = 0.0
            return q > 0
    return False


def _q(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def wants_html(headers: Mapping[str, str], media_type: str) -> bool:
    """Content negotiation for a feed URL: a browser (``text/html`` preferred to the
    feed's own type and to any XML) gets the readable page; every feed reader —
    which asks for the feed's type, for XML, for ``*/*`` or for nothing — gets
    the feed's bytes."""
    accept = headers.get("accept")
    if not accept:
        return False
    own = media_type.split(";")[0]
    html = 0.0
    rival = 0.0
    for part in accept.split(","):
        name, _, params = part.partition(";")
        name = name.strip().lower()
        q = _q(params)
        if name == "text/html":
            html = max(html, q)
        elif name in (own, "application/xml", "text/xml", "application/json") or (
            name.endswith("+xml") and name != "application/xhtml+xml"
        ):
            rival = max(rival, q)
    return html > 0 and html > rival


class Prepared(Response):
    """A response whose header lines are already encoded, exactly as ``Response``
    encodes a header dict (names lower-cased, latin-1), in the order given."""

    def __init__(self, status_code: int, raw_headers: list[Line], body: bytes = b"") -> None:
        self.status_code = status_code
        self.body = body
        self.background = None
        self.raw_headers = raw_headers


def respond(
    headers: Mapping[str, str],
    method: str,
    app: App,
    rendered: Rendered,
    extra: Sequence[Line] = FEED_LINES,
    *,
    vary: str = "Accept-Encoding",
    gz: bool | None = None,
) -> Response:
    """``rendered`` with validators, caching headers, gzip when accepted, HEAD, 304:
    the one place a cached body becomes a response (the route and the fast path).
    ``gz``: whether the request accepts gzip, when the caller has parsed it already.
    Every media type a ``Rendered`` has names its charset (see ``feeds.catalog``)."""
    if gz is None:
        gz = accepts_gzip(headers)
    lines = [
        (b"etag", (rendered.etag_gzip if gz else rendered.etag).encode("latin-1")),
        (b"last-modified", rendered.http_date.encode("latin-1")),
        (b"cache-control", app.config.feeds.cache_control.encode("latin-1")),
        (b"vary", vary.encode("latin-1")),
        *extra,
    ]
    if not_modified(headers, rendered, app.now):
        return Prepared(304, lines)
    body = rendered.gzipped if gz else rendered.body
    if gz:
        lines.append((b"content-encoding", b"gzip"))
    lines.append((b"content-length", str(len(body)).encode("latin-1")))
    lines.append((b"content-type", rendered.media_type.encode("latin-1")))
    return Prepared(200, lines, b"" if method == "HEAD" else body)


def send(
    request: Request,
    rendered: Rendered,
    extra: Sequence[Line] = FEED_LINES,
    *,
    vary: str = "Accept-Encoding",
) -> Response:
    """``respond`` for a Starlette request."""
    return respond(request.headers, request.method, get_app(request), rendered, extra, vary=vary)


def feed_response(headers: Mapping[str, str], method: str, app: App, rest: str) -> Response | None:
    """``/feeds/<rest>`` (``rest`` like ``thong-tin/tin-tuc.rss``): the feed, or its
    page for a browser; None when there is no such feed (the caller answers 404)."""
    parsed = parse_feed_path(rest)
    if parsed is None:
        return None
    pub = app.publisher
    key, fmt = parsed
    # A browser gets the page, a reader the feed: one URL, so caches must key on Accept.
    vary = "Accept, Accept-Encoding"
    if wants_html(headers, FORMATS[fmt]):
        page = pub.feed_page(key, fmt)
        if page is None:
            return None
        return respond(headers, method, app, page, PAGE_LINES, vary=vary)
    gz = accepts_gzip(headers)
    rendered = pub.feed(key, fmt, plain=not gz)
    if rendered is None:
        return None
    return respond(headers, method, app, rendered, vary=vary, gz=gz)


def _not_found(request: Request) -> Response:
    return error_page(
        request,
        404,
        "Không tìm thấy nguồn tin",
        "Nguồn tin bạn mở không tồn tại hoặc chuyên mục đã bị xóa. "
        "Danh sách các nguồn tin có ở trang chủ.",
    )


async def index(request: Request) -> Response:
    return send(request, get_app(request).publisher.index(), PAGE_LINES)


async def opml(request: Request) -> Response:
    flat = request.query_params.get("flat") == "leaves"
    return send(request, get_app(request).publisher.opml(flat=flat))


async def feed(request: Request) -> Response:
    rest = request.path_params["rest"]
    response = feed_response(request.headers, request.method, get_app(request), rest)
    return response if response is not None else _not_found(request)


async def search_page(request: Request) -> Response:
    """``/search?q=``: the results as a page (``/feeds/search.*?q=`` is the feed)."""
    app = get_app(request)
    limit = app.config.feeds.search_max_query
    raw = request.query_params.get("q", "")
    query = normalize_query(raw[: limit * 4])
    message = None
    status = 200
    if len(query) > limit or len(raw) > limit * 4:
        message = f"Từ khóa tìm kiếm dài tối đa {limit} ký tự; hãy rút gọn rồi thử lại."
        query, status = query[:limit], 400
    body = search_results(app.publisher, query, message)
    return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)


async def search(request: Request) -> Response:
    fmt = request.path_params["fmt"]
    if fmt not in FORMATS:
        return _not_found(request)
    app = get_app(request)
    limit = app.config.feeds.search_max_query
    raw = request.query_params.get("q", "")
    query = normalize_query(raw[: limit * 4])
    if not query:
        return error_page(
            request,
            400,
            "Thiếu từ khóa",
            "Hãy thêm từ khóa vào địa chỉ, ví dụ /feeds/search.rss?q=hội+nghị.",
        )
    if len(query) > limit or len(raw) > limit * 4:
        return error_page(
            request,
            400,
            "Từ khóa quá dài",
            f"Từ khóa tìm kiếm dài tối đa {limit} ký tự; hãy rút gọn rồi thử lại.",
        )
    return send(request, app.publisher.search(query, fmt))


def routes() -> list[BaseRoute]:
    return [
        Route("/", index, methods=["GET", "HEAD"]),
        Route("/feeds.opml", opml, methods=["GET", "HEAD"]),
        Route("/search", search_page, methods=["GET", "HEAD"]),
        Route("/feeds/search.{fmt}", search, methods=["GET", "HEAD"]),
        Route("/feeds/{rest:path}", feed, methods=["GET", "HEAD"]),
    ]
