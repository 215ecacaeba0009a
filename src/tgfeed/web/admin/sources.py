"""Nguồn tin: each source's state, last crawl, recent failures with their URLs
and reasons, and "crawl now" for administrators."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...errors import TgfeedError
from ...jobs.crawl import crawl, source_states
from ..common import get_app
from .session import Visitor, audit, console_page, guard


def _page(request: Request, visitor: Visitor, status_code: int = 200, **extra: object) -> Response:
    app = get_app(request)
    failures = app.store.articles.recent_failures(100)
    return console_page(
        request,
        visitor,
        "admin/sources.html.j2",
        status_code=status_code,
        section="sources",
        sources=source_states(app),
        failures=failures,
        runs=app.store.articles.recent_runs(15),
        **extra,
    )


@guard("read")
async def sources(request: Request, visitor: Visitor) -> Response:
    return _page(request, visitor)


@guard("jobs.run", "sources.crawl")
async def crawl_now(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    form = await request.form()
    name = str(form.get("source") or "") or None
    try:
        results = await crawl(app, name)
    except TgfeedError as exc:
        audit(request, visitor, "sources.crawl", outcome="failed", target=name, detail=exc.message)
        return _page(request, visitor, 400, crawl_error=exc.message)
    counts = {n: dict(r.counts) for n, r in results.items()}
    audit(request, visitor, "sources.crawl", target=name or "*", detail=counts)
    return _page(request, visitor, crawled=counts)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/sources", sources),
        Route("/admin/sources/crawl", crawl_now, methods=["POST"]),
    ]
