"""A fixture copy of the department's site: a real threaded HTTP server on 127.0.0.1
serving pages in the site's ASP.NET structure, with switchable misbehaviour
(500s, slow and trickling answers, truncated bodies, redirects, huge pages) and
a log of every request (status, body bytes, bytes on the wire)."""

from __future__ import annotations

import hashlib
import html
import socket
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FOOTER = (
    '<div id="footer"><p><strong>BAN TUYÊN GIÁO TỈNH ỦY HƯNG YÊN</strong></p>'
    "<p>Giấy phép xuất bản số: 23/GP-TTĐT cấp ngày 26 tháng 3 năm 2018 của Sở Thông tin "
    "và Truyền thông</p><p>Website: www.tuyengiaohungyen.vn</p>"
    '<p>Ghi rõ nguồn "tuyengiaohungyen.vn" khi bạn phát hành lại thông tin từ website này.'
    "</p></div>"
)


def article_html(
    title: str,
    *,
    category: tuple[str, ...] = ("Thông tin - Tuyên truyền", "Tin tức hoạt động"),
    published: str = "24/11/2026 - 2:15:40 PM",
    views: int = 86,
    author: str | None = "Nguyễn Hải",
    paragraphs: tuple[str, ...] = (
        "Chiều 24/11, Ban Tuyên giáo Tỉnh ủy tổ chức hội nghị tập huấn nghiệp vụ công tác "
        "tuyên giáo cơ sở năm 2026 cho hơn 200 học viên là cán bộ làm công tác tuyên giáo.",
        "Tại hội nghị, các học viên được nghe báo cáo viên truyền đạt các chuyên đề về kỹ năng "
        "nắm bắt, tổng hợp dư luận xã hội.",
    ),
    signature: str | None = "NT",
    related: tuple[tuple[str, str], ...] = (),
    charset: str = "utf-8",
) -> str:
    """An article page as the site's CMS renders it."""
    crumbs = " » ".join(
        ['<a href="/">Trang chủ</a>', *(f'<a href="/chuyen-muc/x.aspx">{c}</a>' for c in category)]
    )
    info = f"Đăng ngày: {published} | Lượt xem: {views}"
    if author:
        info += f' | <span class="author">{html.escape(author)}</span>'
    body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    if signature:
        body += f'<p style="text-align: right;"><strong>{signature}</strong></p>'
    others = "".join(f'<li><a href="{href}">{html.escape(t)}</a></li>' for href, t in related)
    return (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head>'
        f'<meta http-equiv="Content-Type" content="text/html; charset={charset}" />'
        f"<title>{html.escape(title)} - Ban Tuyên giáo Tỉnh ủy Hưng Yên</title></head>\n"
        '<body><form name="aspnetForm" method="post" id="aspnetForm">'
        '<input type="hidden" name="__VIEWSTATE" value="/wEPDwUKLTY0NzU3MjE1Mg9k" />\n'
        '<div id="header"><span class="date-now">Chủ Nhật, ngày 29 tháng 11 năm 2026 - '
        "9:05:11 AM</span></div>\n"
        f'<div class="breadcrumb">{crumbs}</div>\n'
        f'<div class="news-detail"><div class="news-info">{info}</div>\n'
        f'<h1 class="news-title">{html.escape(title)}</h1>\n'
        f'<div id="ctl00_ContentPlaceHolder1_divNoiDung" class="news-content">{body}</div></div>\n'
        f'<div class="other-news"><h3>Bài viết khác:</h3><ul>{others}</ul></div>\n'
        f"{FOOTER}</form></body></html>\n"
    )


def listing_html(title: str, links: list[tuple[str, str]], pages: tuple[str, ...] = ()) -> str:
    """A category listing page: article links, then the pager."""
    items = "".join(
        f'<div class="news-item"><a href="{href}"><img src="/Upload/x.jpg" /></a>'
        f'<h3><a href="{href}">{html.escape(t)}</a></h3></div>'
        for href, t in links
    )
    pager = "".join(f'<a href="{href}">{n}</a> ' for n, href in enumerate(pages, 2))
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8" />'
        f"<title>{html.escape(title)}</title></head><body>"
        '<ul class="menu"><li><a href="/">Trang chủ</a></li>'
        '<li><a href="/lien-he.aspx">Liên hệ</a></li>'
        "<li><a href=\"javascript:__doPostBack('x','')\">Tìm</a></li>"
        '<li><a href="mailto:tuyengiao@hungyen.dcs.vn">Thư</a></li></ul>'
        f'<div class="list-news">{items}</div><div class="pager">{pager}</div>'
        f"{FOOTER}</body></html>"
    )


_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """Vietnamese text as Windows-1258 writes it: base letters with their shape marks
    precomposed (â ê ô ơ ư ă), tone marks as separate combining characters."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        parts = unicodedata.normalize("NFD", ch)
        tones = "".join(c for c in parts if c in _TONES)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in _TONES))
        try:
            (base + tones).encode("cp1258")
            out.append(base + tones)
        except UnicodeEncodeError:
            out.append(unicodedata.normalize("NFC", ch))
    return "".join(out).encode("cp1258")


@dataclass
class Resource:
    """One URL of the fixture site and how it behaves."""

    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    etag: bool = True  # send an ETag and answer If-None-Match with 304
    last_modified: float | None = None  # epoch seconds: send Last-Modified, honour IMS
    location: str | None = None
    fail_times: int = 0  # answer 500 this many times first
    delay: float = 0.0  # sleep before answering
    trickle: float = 0.0  # seconds between single bytes of the body
    truncate: bool = False  # declare the full length, send half, close
    undeclared_size: int = 0  # stream this many bytes without Content-Length, then close
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Hit:
    path: str
    status: int
    body_bytes: int
    wire_bytes: int
    headers: dict[str, str]
    at: float


class _Counting:
    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return int(self.raw.write(data) or len(data))

    def flush(self) -> None:
        self.raw.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


class FixtureSite:
    """``with FixtureSite() as site: site.add("/x", Resource(...)); site.url + "/x"``."""

    def __init__(self) -> None:
        self.routes: dict[str, Resource] = {}
        self._hits: list[Hit] = []  # when answered
        self.arrivals: list[str] = []  # when asked (a slow answer is asked long before)
        self.arrived_at: list[tuple[str, float]] = []
        self.lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "Microsoft-IIS/8.5"
            sys_version = ""

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in separate writes: without NODELAY, Nagle and
                # delayed ACKs add ~40 ms to every keep-alive response.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.wfile = _Counting(self.wfile)  # type: ignore[assignment]

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                site._serve(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FixtureSite:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- content -----------------------------------------------------------

    def add(self, path: str, resource: Resource | str | bytes) -> Resource:
        if isinstance(resource, str):
            resource = Resource(resource.encode("utf-8"))
        elif isinstance(resource, bytes):
            resource = Resource(resource)
        with self.lock:
            self.routes[path] = resource
        return resource

    @property
    def hits(self) -> list[Hit]:
        """Every answered request, in the order answered (after waiting for stragglers)."""
        self.settle()
        with self.lock:
            return list(self._hits)

    def hits_for(self, path: str) -> list[Hit]:
        self.settle()
        with self.lock:
            return [h for h in self._hits if h.path == path]

    def settle(self, timeout: float = 5.0) -> None:
        """Wait until every request that arrived has been answered (or given up on)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self._hits) >= len(self.arrivals):
                    return
            time.sleep(0.01)

    def requested(self, path: str) -> int:
        with self.lock:
            return self.arrivals.count(path)

    def clear_log(self) -> None:
        with self.lock:
            self._hits.clear()
            self.arrivals.clear()
            self.arrived_at.clear()

    # -- serving -----------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        start = h.wfile.count  # type: ignore[attr-defined]
        with self.lock:
            self.arrivals.append(h.path)
            self.arrived_at.append((h.path, time.monotonic()))
            res = self.routes.get(h.path)
            failing = res is not None and res.fail_times > 0
            if failing:
                assert res is not None
                res.fail_times -= 1
        try:
            status, body_sent = self._respond(h, res, failing)
        except OSError:  # the client hung up (too large, too slow): that is its right
            status, body_sent = 0, 0
            h.close_connection = True
        wire = h.wfile.count - start  # type: ignore[attr-defined]
        with self.lock:
            self._hits.append(
                Hit(h.path, status, body_sent, wire, dict(h.headers.items()), time.monotonic())
            )

    def _respond(
        self, h: BaseHTTPRequestHandler, res: Resource | None, failing: bool
    ) -> tuple[int, int]:
        if res is None:
            return self._plain(h, 404, b"Not Found")
        if res.delay:
            time.sleep(res.delay)
        if failing:
            return self._plain(h, 500, b"<h1>Server Error in '/' Application.</h1>")
        if res.location is not None:
            h.send_response(res.status if 300 <= res.status < 400 else 302)
            h.send_header("Location", res.location)
            h.send_header("Content-Length", "0")
            h.end_headers()
            return res.status, 0
        if res.status != 200:
            return self._plain(h, res.status, res.body or b"error")
        tag = '"' + hashlib.sha1(res.body).hexdigest()[:16] + '"'
        if res.etag and h.headers.get("If-None-Match") == tag:
            return self._not_modified(h, tag)
        ims = h.headers.get("If-Modified-Since")
        if res.last_modified is not None and ims and not res.etag:
            try:
                if parsedate_to_datetime(ims).timestamp() >= int(res.last_modified):
                    return self._not_modified(h, None)
            except (TypeError, ValueError):
                pass
        h.send_response(200)
        h.send_header("Content-Type", res.content_type)
        if res.etag:
            h.send_header("ETag", tag)
        if res.last_modified is not None:
            h.send_header("Last-Modified", formatdate(res.last_modified, usegmt=True))
        for k, v in res.headers.items():
            h.send_header(k, v)
        if res.undeclared_size:
            h.send_header("Connection", "close")
            h.end_headers()
            h.close_connection = True
            chunk = b"<p>" + b"x" * 65_530 + b"</p>"
            sent = 0
            try:
                while sent < res.undeclared_size:
                    h.wfile.write(chunk)
                    sent += len(chunk)
            except OSError:
                pass
            return 200, sent
        h.send_header("Content-Length", str(len(res.body)))
        if res.truncate:
            h.send_header("Connection", "close")
        h.end_headers()
        if res.truncate:
            h.wfile.write(res.body[: len(res.body) // 2])
            h.close_connection = True
            return 200, len(res.body) // 2
        if res.trickle:
            sent = 0
            try:
                for i in range(len(res.body)):
                    h.wfile.write(res.body[i : i + 1])
                    h.wfile.flush()
                    sent += 1
                    time.sleep(res.trickle)
            except OSError:
                h.close_connection = True
            return 200, sent
        h.wfile.write(res.body)
        return 200, len(res.body)

    @staticmethod
    def _plain(h: BaseHTTPRequestHandler, status: int, body: bytes) -> tuple[int, int]:
        h.send_response(status)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        return status, len(body)

    @staticmethod
    def _not_modified(h: BaseHTTPRequestHandler, tag: str | None) -> tuple[int, int]:
        h.send_response(304)
        if tag:
            h.send_header("ETag", tag)
        h.end_headers()
        return 304, 0
