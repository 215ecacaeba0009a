"""Assembling the Starlette app and running it under uvicorn."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Receive, Scope, Send

from ..app import App, LiveApp
from ..scheduler.service import scheduler_lifespan
from . import admin, api, approval, digest, feeds
from .common import PinApp, error_page, get_app
from .fastpath import FeedFastPath
from .limits import BodyLimit
from .proxies import TrustedProxies


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok", "articles": get_app(request).store.articles.count()})


async def not_found(request: Request, exc: Exception) -> Response:
    return error_page(request, 404, "Không tìm thấy trang", "Địa chỉ bạn mở không tồn tại.")


async def server_error(request: Request, exc: Exception) -> Response:
    return error_page(request, 500, "Lỗi máy chủ", "Đã có lỗi xảy ra; xin thử lại sau.")


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return await not_found(request, exc)
    if exc.status_code == 405:
        return error_page(request, 405, "Phương thức không được hỗ trợ", "Yêu cầu không hợp lệ.")
    return error_page(request, exc.status_code, "Yêu cầu không hợp lệ", str(exc.detail))


class Web(Starlette):
    """Starlette with the feed fast path in front of its middleware and router."""

    def __init__(self, live: LiveApp, **options: Any) -> None:
        super().__init__(**options)
        self.fast = FeedFastPath(live)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not await self.fast.answer(scope, receive, send):
            await super().__call__(scope, receive, send)


def create_app(app: App | LiveApp, *, scheduler: bool = True) -> Starlette:
    """The ASGI app for ``app``: web routes and, unless ``scheduler=False``, the
    scheduler in the same event loop (started and stopped by the lifespan). A
    config reload swaps the App for the web and the scheduler at once."""
    live = app if isinstance(app, LiveApp) else LiveApp(app)
    routes: list[BaseRoute] = [Route("/healthz", healthz)]
    for module in (feeds, digest, approval, api, admin):
        routes.extend(module.routes())

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if not scheduler:
            yield
            return
        async with scheduler_lifespan(live, live.current.config.source_path):
            yield

    web = Web(
        live,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_found, 500: server_error, HTTPException: http_error},
        middleware=[
            Middleware(PinApp, live=live),
            Middleware(TrustedProxies),
            Middleware(BodyLimit),
        ],
    )
    web.state.tgfeed = live
    return web


# uvicorn's own proxy handling trusts 127.0.0.1 by default; tgfeed reads the
# headers itself, only from [web] trusted_proxies (see `proxies`).
UVICORN_OPTIONS: dict[str, Any] = {"proxy_headers": False, "server_header": False}


def serve(
    app: App, host: str, port: int, *, scheduler: bool = True, **uvicorn_options: Any
) -> None:
    """Run the service (web + scheduler) until SIGINT/SIGTERM."""
    import uvicorn

    uvicorn.run(
        create_app(app, scheduler=scheduler),
        host=host,
        port=port,
        **UVICORN_OPTIONS,
        log_level=uvicorn_options.pop("log_level", "info"),
        access_log=uvicorn_options.pop("access_log", app.config.web.access_log),
        **uvicorn_options,
    )
