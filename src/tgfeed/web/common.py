"""What every web module shares: the App on the request, HTML responses with
security headers, token checks, the Vietnamese error page."""

from __future__ import annotations

import hmac
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..app import App, LiveApp
from ..templating import render

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' https: data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}


def get_app(request: Request) -> App:
    """The App this request started with (pinned by ``PinApp``: a reload during
    the request does not change or close it)."""
    app: App = request.scope["tgfeed.app"]
    return app


class PinApp:
    """ASGI middleware: each HTTP request uses the App current when it arrived."""

    def __init__(self, asgi: ASGIApp, live: LiveApp) -> None:
        self.asgi = asgi
        self.live = live

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.asgi(scope, receive, send)
            return
        with self.live.use() as app:
            scope["tgfeed.app"] = app
            await self.asgi(scope, receive, send)


def page(
    request: Request, template: str, /, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A rendered HTML page with the security headers. ``request`` and ``template``
    are positional-only, so a context variable may be called ``name``."""
    app = get_app(request)
    body = render(app.templates, template, site=app.config.site, **context)
    return HTMLResponse(body, status_code=status_code, headers=SECURITY_HEADERS)


def error_page(request: Request, status_code: int, title: str, message: str) -> Response:
    return page(request, "error.html.j2", status_code=status_code, title=title, message=message)


def token_ok(request: Request, expected: str | None) -> bool:
    """``Authorization: Bearer …`` compared in constant time; no token configured → refuse."""
    if not expected:
        return False
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())
