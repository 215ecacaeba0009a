"""The feed requests a reader polls, answered before Starlette's routing.

``GET``/``HEAD /feeds/<key>.<fmt>`` is nearly every request a feed service gets,
and nearly every answer is a 304 or the cached bytes. ``FeedFastPath`` answers it
with the same function as the ``/feeds/{rest:path}`` route (``feeds.feed_response``,
so the status, headers and body are the route's), skipping the router and the
middleware that cannot change such an answer: the proxy headers (a feed does not
depend on who asks) and the body limits (a request declaring a body goes the
normal way, so an oversized one is still refused). Anything else — another path,
a method, an unknown feed (its 404 page), a ``root_path`` — goes on to Starlette
untouched.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from ..app import LiveApp
from .feeds import feed_response

PREFIX = "/feeds/"
_METHODS = ("GET", "HEAD")


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers as ``Request.headers.get`` reads them (the first of a
    repeated name wins), in one pass."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}


class FeedFastPath:
    """ASGI middleware: cached feeds straight from the Publisher, the App pinned
    for the request as ``PinApp`` does."""

    def __init__(self, asgi: ASGIApp, live: LiveApp) -> None:
        self.asgi = asgi
        self.live = live

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in _METHODS
            or not scope["path"].startswith(PREFIX)
            or scope.get("root_path")
        ):
            await self.asgi(scope, receive, send)
            return
        headers = request_headers(scope)
        if "content-length" in headers:  # BodyLimit's to judge
            await self.asgi(scope, receive, send)
            return
        app = self.live.acquire()
        try:
            scope["tgfeed.app"] = app  # for the 500 page, as under PinApp
            response = feed_response(headers, scope["method"], app, scope["path"][len(PREFIX) :])
            if response is not None:
                await response(scope, receive, send)
                return
        finally:
            self.live.release(app)
        await self.asgi(scope, receive, send)  # no such feed: the route's 404 page
