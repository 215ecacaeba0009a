"""Request bodies are limited for every route, in size and in time, while they are read.

Size: the push API (``/api/…``) enforces ``[web] max_body_bytes`` itself and
answers in JSON; every other route gets at most ``FORM_MAX_BYTES`` (a subscribe
form is a few hundred bytes). A declared ``Content-Length`` over the limit is
refused before a byte of the body is read; a body streamed without one is cut off
as soon as it passes the limit. Either way the answer is the 413 error page.

Time: the whole body must arrive within ``[web] body_timeout`` seconds of the
first read; a slower one is answered 408 (JSON on ``/api/…``, the error page
elsewhere) and the connection is closed, so a trickling client cannot hold a
worker.
"""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .common import error_page

FORM_MAX_BYTES = 64 * 1024
_SELF_LIMITED = ("/api/",)  # routes that read their body with their own limit
_MESSAGE = "Nội dung gửi lên quá lớn (tối đa {kb} KB)."
_SLOW = "Nội dung yêu cầu đến quá chậm (quá {s:g} giây); xin gửi lại."


class _SlowBody(Exception):
    """The body did not arrive within ``body_timeout``."""


def _body_timeout(scope: Scope) -> float:
    app: Any = scope.get("app")
    try:
        return float(app.state.tgfeed.current.config.web.body_timeout)
    except AttributeError:
        return 30.0


def _slow_response(scope: Scope, seconds: float) -> Response:
    if scope["path"].startswith(_SELF_LIMITED):
        response: Response = JSONResponse(
            {
                "error": f"the request body did not arrive within {seconds:g} seconds",
                "hint": "send the whole body at once, or raise [web] body_timeout",
            },
            status_code=408,
        )
    else:
        response = error_page(Request(scope), 408, "Hết thời gian chờ", _SLOW.format(s=seconds))
    response.headers["Connection"] = "close"
    return response


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413, and
    bodies slower than ``[web] body_timeout`` with 408."""

    def __init__(self, app: ASGIApp, limit: int = FORM_MAX_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sized = not scope["path"].startswith(_SELF_LIMITED)
        message = _MESSAGE.format(kb=self.limit // 1024)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if sized and declared.isdigit() and int(declared) > self.limit:
            response = error_page(Request(scope), 413, "Yêu cầu quá lớn", message)
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        seconds = _body_timeout(scope)
        received = 0
        deadline: float | None = None
        whole = started = False

        async def limited() -> Message:
            nonlocal received, deadline, whole
            if whole:  # after the body: waiting for a disconnect is not bounded
                return await receive()
            deadline = deadline or asyncio.get_running_loop().time() + seconds
            try:
                async with asyncio.timeout_at(deadline):
                    msg = await receive()
            except TimeoutError:
                raise _SlowBody from None
            if msg["type"] == "http.request":
                whole = not msg.get("more_body", False)
                received += len(msg.get("body", b""))
                if sized and received > self.limit:
                    raise HTTPException(413, message)
            return msg

        async def tracked(msg: Message) -> None:
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, limited, tracked)
        except _SlowBody:
            if started:
                raise
            await _slow_response(scope, seconds)(scope, receive, send)
