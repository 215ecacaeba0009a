"""The feed fast path (``web.fastpath``) answers exactly as the ``/feeds/{rest:path}``
route does — status, every header in order, body — for 200, 304, HEAD, gzip and
identity, the browser page and If-Modified-Since alone; hands everything else to
Starlette; and follows a live reload."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from starlette.applications import Starlette

from tgfeed.app import App, LiveApp
from tgfeed.errors import StoreError
from tgfeed.web.server import Web, create_app

from .conftest import FixedClock
from .freshness_support import back_dated

CATEGORY = "chinh-tri-xa-hoi/tin-tuc-trong-tinh"
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]


def call(
    asgi: Any,
    method: str,
    path: str,
    headers: dict[str, str],
    on_start: Callable[[], None] | None = None,
) -> Answer:
    """One request straight through an ASGI app: (status, raw headers, body);
    ``on_start`` runs when the response starts."""
    sent: list[dict[str, Any]] = []
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)
        if on_start is not None and message["type"] == "http.response.start":
            on_start()

    try:
        asyncio.run(asgi(scope, receive, send))
    except RuntimeError as exc:  # re-raised by Starlette after its 500 page
        assert sent and "boom" in str(exc), exc
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return sent[0]["status"], list(sent[0]["headers"]), body


class Paths:
    """The app as served, and the same app with the fast path stepped over."""

    def __init__(self, web: Starlette) -> None:
        assert isinstance(web, Web)
        self.web = web
        self.passed_on = 0
        answer = web.fast.answer

        async def counted(scope: Any, receive: Any, send: Any) -> bool:
            answered = await answer(scope, receive, send)
            self.passed_on += not answered
            return answered

        web.fast.answer = counted  # type: ignore[method-assign]

    def fast(self, method: str, path: str, headers: dict[str, str]) -> Answer:
        before = self.passed_on
        answer = call(self.web, method, path, headers)
        assert self.passed_on == before, f"{method} {path} {headers}: not the fast path"
        return answer

    def route(self, method: str, path: str, headers: dict[str, str]) -> Answer:
        """Starlette alone: its middleware, the router, the route."""

        async def routed(scope: Any, receive: Any, send: Any) -> None:
            await Starlette.__call__(self.web, scope, receive, send)

        return call(routed, method, path, headers)


def test_the_fast_path_answers_byte_for_byte_as_the_route(sample_app: App) -> None:
    paths = Paths(create_app(sample_app, scheduler=False))
    plain = paths.route("GET", "/feeds/all.rss", {"accept-encoding": "identity"})
    etag = dict(plain[1])[b"etag"].decode()
    modified = dict(plain[1])[b"last-modified"].decode()
    gz_etag = etag[:-1] + '-gz"'
    cases: list[dict[str, str]] = [
        {},
        {"accept-encoding": "identity"},
        {"accept-encoding": "gzip, deflate, br"},
        {"accept-encoding": "gzip;q=0"},
        {"if-none-match": etag},
        {"if-none-match": f"W/{etag}"},
        {"if-none-match": f'"other", {gz_etag}', "accept-encoding": "gzip"},
        {"if-none-match": "*"},
        {"if-none-match": '"stale"', "if-modified-since": modified},
        {"if-modified-since": modified},
        {"if-modified-since": modified, "accept-encoding": "gzip"},
        {"if-modified-since": "Mon, 01 Jan 2001 00:00:00 GMT"},
        {"if-modified-since": "Fri, 01 Jan 2100 00:00:00 GMT"},
        {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
        {"accept": "text/html", "accept-encoding": "gzip", "if-none-match": "*"},
        {"accept": "application/rss+xml, text/html;q=0.5"},
    ]
    statuses = set()
    for path in ("/feeds/all.rss", f"/feeds/{CATEGORY}.atom", "/feeds/all.json"):
        for method in ("GET", "HEAD"):
            for headers in cases:
                route = paths.route(method, path, headers)
                assert paths.fast(method, path, headers) == route, (method, path, headers)
                statuses.add((route[0], dict(route[1]).get(b"content-encoding")))
    # The matrix did cover fresh and not-modified answers, compressed and not.
    assert statuses == {(200, None), (200, b"gzip"), (304, None)}


def test_exact_headers_of_a_304_and_a_gzip_head(sample_app: App) -> None:
    paths = Paths(create_app(sample_app, scheduler=False))
    rendered = sample_app.publisher.feed("all", "rss")
    assert rendered is not None
    common = [
        (b"last-modified", rendered.http_date.encode()),
        (b"cache-control", b"public, max-age=300"),
        (b"vary", b"Accept, Accept-Encoding"),
        (b"x-content-type-options", b"nosniff"),
        (b"content-security-policy", b"default-src 'none'; sandbox"),
        (b"access-control-allow-origin", b"*"),
    ]
    status, headers, body = paths.fast("GET", "/feeds/all.rss", {"if-none-match": rendered.etag})
    assert (status, headers, body) == (304, [(b"etag", rendered.etag.encode()), *common], b"")
    status, headers, body = paths.fast("HEAD", "/feeds/all.rss", {"accept-encoding": "gzip"})
    assert status == 200 and body == b""
    assert headers == [
        (b"etag", rendered.etag_gzip.encode()),
        *common,
        (b"content-encoding", b"gzip"),
        (b"content-length", str(len(rendered.gzipped)).encode()),
        (b"content-type", b"application/rss+xml; charset=utf-8"),
    ]


def test_if_modified_since_alone_and_a_back_dated_article(
    sample_app: App, clock: FixedClock
) -> None:
    paths = Paths(create_app(sample_app, scheduler=False))
    first = paths.fast("GET", "/feeds/all.rss", {"accept-encoding": "identity"})
    since = {"if-modified-since": dict(first[1])[b"last-modified"].decode()}
    assert paths.fast("GET", "/feeds/all.rss", since)[0] == 304
    clock.advance(120)
    art = back_dated(sample_app, 1)
    sample_app.store.articles.upsert([art], now=sample_app.now())
    fresh = paths.fast("GET", "/feeds/all.rss", {**since, "accept-encoding": "identity"})
    assert fresh[0] == 200 and art.id.encode() in fresh[2]


@pytest.mark.parametrize(
    ("method", "path", "headers", "status"),
    [
        ("GET", "/feeds/khong-co-chuyen-muc-nay.rss", {}, 404),  # the route's 404 page
        ("GET", "/feeds/ALL.rss", {}, 404),
        ("GET", "/feeds/search.rss", {}, 400),  # the search route: no query
        ("POST", "/feeds/all.rss", {}, 405),
        ("GET", "/feeds/all.rss", {"content-length": "999999999"}, 413),  # BodyLimit
        ("GET", "/feeds.opml", {}, 200),
    ],
)
def test_everything_else_goes_on_to_starlette(
    sample_app: App, method: str, path: str, headers: dict[str, str], status: int
) -> None:
    paths = Paths(create_app(sample_app, scheduler=False))
    answer = call(paths.web, method, path, headers)
    assert paths.passed_on == 1
    assert answer == paths.route(method, path, headers)
    assert answer[0] == status


def test_a_live_reload_is_served_by_the_fast_path(
    sample_app: App, app_factory: Callable[..., App]
) -> None:
    live = LiveApp(sample_app)
    paths = Paths(create_app(live, scheduler=False))
    before = paths.fast("GET", "/feeds/all.rss", {"accept-encoding": "identity"})
    assert b"max-age=300" in dict(before[1])[b"cache-control"]
    config = sample_app.config
    reloaded = sample_app.with_config(
        config.model_copy(
            update={
                "site": config.site.model_copy(update={"title": "Tên mới sau khi nạp lại"}),
                "feeds": config.feeds.model_copy(update={"cache_control": "public, max-age=60"}),
            }
        )
    )
    live.swap(reloaded)
    after = paths.fast("GET", "/feeds/all.rss", {"accept-encoding": "identity"})
    assert dict(after[1])[b"cache-control"] == b"public, max-age=60"
    assert "Tên mới sau khi nạp lại".encode() in after[2]
    assert after == paths.route("GET", "/feeds/all.rss", {"accept-encoding": "identity"})


def test_the_app_stays_pinned_until_the_answer_is_sent(
    sample_app: App, app_factory: Callable[..., App]
) -> None:
    """As under PinApp: a reload while a feed is being sent closes the old App (its
    own store) only once the request is done."""
    live = LiveApp(sample_app)
    paths = Paths(create_app(live, scheduler=False))
    successor = app_factory()
    counts: list[int] = []

    def reload_now() -> None:
        live.swap(successor)
        counts.append(sample_app.store.articles.count())  # still open

    before = paths.passed_on
    status, _, _ = call(paths.web, "GET", "/feeds/all.rss", {}, on_start=reload_now)
    assert paths.passed_on == before and status == 200 and counts[0] > 0
    with pytest.raises(StoreError):
        sample_app.store.articles.count()  # closed once the request let go


def test_an_error_in_the_fast_path_is_answered_as_the_route_answers_it(
    sample_app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = Paths(create_app(sample_app, scheduler=False))

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(sample_app.publisher, "feed", broken)
    status, headers, body = call(paths.web, "GET", "/feeds/all.rss", {})
    assert paths.passed_on == 1  # handed on, and the route met the same error
    assert status == 500 and "Lỗi máy chủ".encode() in body
    assert (b"x-frame-options", b"DENY") in headers
