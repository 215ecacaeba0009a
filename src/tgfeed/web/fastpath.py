"""The feed requests a reader polls, answered before Starlette.

``GET``/``HEAD /feeds/<key>.<fmt>`` is nearly every request a feed service gets,
and nearly every answer is a 304 or the cached bytes. ``FeedFastPath`` answers it
with the same function as the ``/feeds/{rest:path}`` route (``feeds.feed_response``,
so the status, headers and body are the route's), ahead of Starlette's middleware
and router: none of them can change such an answer — the proxy headers (a feed
does not depend on who asks), the body limits (a request declaring a body goes the
normal way, so an oversized one is still refused) — and the App is pinned for the
request as ``PinApp`` pins it. Anything else goes on to Starlette untouched:
another path or method, an unknown feed (the route's 404 page), a ``root_path``,
and an error while the answer is made (the route meets it again and answers it
as any route's error is answered: the 500 page, the traceback in the log).
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from ..app import LiveApp
from .feeds import feed_response

PREFIX = "/feeds/"
_REST = len(PREFIX)
_METHODS = ("GET", "HEAD")


def request_headers(scope: Scope) -> dict[str, str]:
    """The request's headers as ``Request.headers.get`` reads them (the first of a
    repeated name wins), in one pass."""
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(scope["headers"])}


class FeedFastPath:
    """Cached feeds straight from the Publisher of the current App."""

    def __init__(self, live: LiveApp) -> None:
        self.live = live

    async def answer(self, scope: Scope, receive: Receive, send: Send) -> bool:
        """Answer the request if it is a feed's; False leaves it to Starlette."""
        if (
            scope["type"] != "http"
            or scope["method"] not in _METHODS
            or not scope["path"].startswith(PREFIX)
            or scope.get("root_path")
        ):
            return False
        headers = request_headers(scope)
        if "content-length" in headers:  # BodyLimit's to judge
            return False
        app = self.live.acquire()
        try:
            try:
                response = feed_response(headers, scope["method"], app, scope["path"][_REST:])
            except Exception:  # the route meets it again and answers it (see above)
                return False
            if response is None:
                return False
            await response(scope, receive, send)
            return True
        finally:
            self.live.release(app)
