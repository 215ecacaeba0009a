"""Request bodies are size-limited for every route, while they are read.

The push API (``/api/…``) enforces ``[web] max_body_bytes`` itself and answers in
JSON; every other route gets at most ``FORM_MAX_BYTES`` (a subscribe form is a
few hundred bytes). A declared ``Content-Length`` over the limit is refused before
a byte of the body is read; a body streamed without one is cut off as soon as it
passes the limit. Either way the answer is the 413 error page.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .common import error_page

FORM_MAX_BYTES = 64 * 1024
_SELF_LIMITED = ("/api/",)  # routes that read their body with their own limit
_MESSAGE = "Nội dung gửi lên quá lớn (tối đa {kb} KB)."


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with 413."""

    def __init__(self, app: ASGIApp, limit: int = FORM_MAX_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_SELF_LIMITED):
            await self.app(scope, receive, send)
            return
        message = _MESSAGE.format(kb=self.limit // 1024)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            response = error_page(Request(scope), 413, "Yêu cầu quá lớn", message)
            response.headers["Connection"] = "close"
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            msg = await receive()
            if msg["type"] == "http.request":
                received += len(msg.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, message)
            return msg

        await self.app(scope, limited, send)
