"""Routes of the digest concern: the archive, subscribing (double opt-in),
confirming and unsubscribing (RFC 8058 one-click).

Responses never reveal whether an address is subscribed; a bad, forged or
expired link gets a Vietnamese page that says what to do, never a 500.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import datetime, timedelta

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..app import App
from ..digest.message import check_address
from ..errors import MailError, SubscriberError, TokenError
from ..feeds.pages import mark_retracted, mark_retracted_text, retracted_in
from ..jobs.subscribers import (
    NAME_MAX,
    UNIT_MAX,
    clean_field,
    confirm_days,
    send_confirmation,
)
from .common import SECURITY_HEADERS, error_page, get_app, page

log = logging.getLogger(__name__)

# Pages that carry a token in their URL: not cached, not indexed, no Referer.
PRIVATE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex", "Referrer-Policy": "no-referrer"}
_MAX_CLIENTS = 10_000


def _private(response: Response) -> Response:
    response.headers.update(PRIVATE)
    return response


async def archive(request: Request) -> Response:
    app = get_app(request)
    digests = app.store.mail.digests(limit=520, archived_only=True)
    return page(request, "digests_index.html.j2", digests=digests)


async def archive_redirect(request: Request) -> Response:
    return RedirectResponse("/digests/", status_code=308)


async def web_copy(request: Request) -> Response:
    app = get_app(request)
    key = request.path_params["week"]
    as_text = key.endswith(".txt")
    week = key.removesuffix(".txt").upper()
    found = app.store.mail.web_copy(week)
    if found is None:
        return error_page(
            request,
            404,
            "Không có bản tin tuần này",
            f"Chưa có bản tin nào được gửi cho tuần {week}. "
            "Xem danh sách các số đã gửi ở trang Lưu trữ.",
        )
    _, html, text = found
    # Articles retracted since the digest was sent are marked (issue 13).
    retracted = retracted_in(app, html)
    html, text = mark_retracted(html, retracted), mark_retracted_text(text, retracted)
    headers = {**SECURITY_HEADERS, "Cache-Control": "public, max-age=3600"}
    if as_text:
        return PlainTextResponse(text, headers=headers)
    return HTMLResponse(html, headers=headers)


def _rate_limited(app: App, client: str, now: datetime) -> bool:
    """True when ``client`` has used up its subscribe requests for the hour."""
    hits = app.runtime.subscribe_hits
    window_start = now - timedelta(hours=1)
    seen = hits.get(client)
    if seen is None:
        if len(hits) >= _MAX_CLIENTS:  # forget the quietest clients first
            for key in [k for k, v in hits.items() if not v or v[-1] < window_start]:
                del hits[key]
            if len(hits) >= _MAX_CLIENTS:
                hits.pop(next(iter(hits)))
        seen = hits[client] = deque()
    while seen and seen[0] < window_start:
        seen.popleft()
    if len(seen) >= app.config.web.subscribe_per_hour:
        return True
    seen.append(now)
    return False


def _form_page(request: Request, status_code: int = 200, **values: str) -> Response:
    ctx = {"email": "", "name": "", "unit": "", "error": "", **values}
    return page(request, "subscribe.html.j2", status_code=status_code, **ctx)


async def subscribe(request: Request) -> Response:
    app = get_app(request)
    if request.method == "GET":
        return _form_page(request)
    client = request.client.host if request.client else "unknown"
    if _rate_limited(app, client, app.now()):
        return error_page(
            request,
            429,
            "Quá nhiều yêu cầu",
            "Bạn đã gửi quá nhiều yêu cầu đăng ký trong một giờ. Xin thử lại sau.",
        )
    form = await request.form()
    email = str(form.get("email") or "")[:300]
    name = clean_field(form.get("name"), NAME_MAX)
    unit = clean_field(form.get("unit"), UNIT_MAX)
    if form.get("website"):  # the hidden honeypot: a bot filled it
        return page(request, "subscribe_done.html.j2", email=email, days=confirm_days(app))
    try:
        address = check_address(email)
    except SubscriberError:
        return _form_page(
            request,
            400,
            email=email,
            name=name or "",
            unit=unit or "",
            error="Địa chỉ email chưa đúng. Xin nhập lại, ví dụ: ten@example.vn",
        )
    sub, due = app.store.mail.request_subscription(
        address, now=app.now(), name=name, unit=unit, origin="web"
    )
    task = None
    if due:

        async def confirm_later() -> None:
            try:
                await send_confirmation(app, sub)
            except MailError as exc:
                log.error("confirmation to %s not sent: %s", sub.email, exc.message)

        # Sent after the response, so every request answers alike and at once.
        task = BackgroundTask(confirm_later)
    response = page(request, "subscribe_done.html.j2", email=address, days=confirm_days(app))
    response.background = task
    return _private(response)


async def confirm(request: Request) -> Response:
    """GET shows the subscription and one button; only the button's POST (same
    token: the token is the secret, so no other site can forge it) activates.
    Mail scanners that open every link therefore confirm nobody."""
    app = get_app(request)
    token = request.path_params["token"]
    try:
        sid = app.signer.verify(token, "confirm", now=app.now())
    except TokenError as exc:
        return _private(
            page(
                request,
                "confirm_invalid.html.j2",
                status_code=400,
                reason=exc.reason,
                days=confirm_days(app),
            )
        )
    ms = app.store.mail
    posted = request.method == "POST"
    sub = ms.confirm(sid, now=app.now()) if posted else ms.subscriber(sid)
    if posted and sub is not None and sub.status == "active":
        log.info("confirmed %s", sub.email)
    state = sub.status if sub else "missing"
    email = sub.email if sub else ""
    return _private(
        page(request, "confirm.html.j2", state=state, email=email, token=token, posted=posted)
    )


async def unsubscribe(request: Request) -> Response:
    app = get_app(request)
    token = request.path_params["token"]
    try:
        sid = app.signer.verify(token, "unsubscribe", now=app.now())
    except TokenError as exc:
        return _private(
            page(request, "unsubscribe_invalid.html.j2", status_code=400, reason=exc.reason)
        )
    ms = app.store.mail
    if request.method == "POST":  # RFC 8058 one-click, or the page's button
        sub = ms.unsubscribe(sid, now=app.now())
        if sub is not None:
            log.info("unsubscribed %s", sub.email)
        return _private(page(request, "unsubscribe_done.html.j2", email=sub.email if sub else ""))
    sub = ms.subscriber(sid)
    if sub is None:
        return _private(page(request, "unsubscribe_done.html.j2", email=""))
    return _private(
        page(request, "unsubscribe.html.j2", state=sub.status, email=sub.email, token=token)
    )


def routes() -> list[BaseRoute]:
    return [
        Route("/digests", archive_redirect),
        Route("/digests/", archive),
        Route("/digests/{week}", web_copy),
        Route("/subscribe", subscribe, methods=["GET", "POST"]),
        Route("/confirm/{token}", confirm, methods=["GET", "POST"]),
        Route("/unsubscribe/{token}", unsubscribe, methods=["GET", "POST"]),
    ]
