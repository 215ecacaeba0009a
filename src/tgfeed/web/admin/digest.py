"""Bản tin (the read-only part): the week's digest as it will be sent (HTML at
600 and 375 px, and its text part), a test send to one's own address, and the
archive with delivery counts. Approval and resend come with the digest lifecycle."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ...app import App
from ...errors import TgfeedError
from ...jobs.digest import check_week, compose, send_digest
from ...jobs.status import schedule_status
from ...text import iso_week_key, last_complete_week
from ...tokens import placeholder
from ..common import SECURITY_HEADERS, get_app
from .session import NO_STORE, Visitor, audit, console_page, guard

# The page frames the previews (same origin); a preview runs no script at all.
FRAMING_CSP = SECURITY_HEADERS["Content-Security-Policy"] + "; frame-src 'self'"
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


def next_week(app: App) -> str:
    """The week the next scheduled digest covers (the current week without one)."""
    from datetime import datetime

    for job in schedule_status(app)["jobs"]:
        if job["kind"] == "send_digest" and job["enabled"] and job["next"]:
            return last_complete_week(datetime.fromisoformat(job["next"][0]), app.tz)
    return iso_week_key(app.now(), app.tz)


def _week(request: Request, app: App) -> str:
    given = request.query_params.get("week") or request.path_params.get("week")
    if not given:
        return next_week(app)
    return check_week(str(given), app)


def _sample_token(app: App) -> str:
    return app.signer.issue(
        "unsubscribe", 0, now=app.now(), max_age=app.config.digest.token_max_age
    )


def _page(request: Request, visitor: Visitor, status_code: int = 200, **extra: object) -> Response:
    app = get_app(request)
    try:
        week = _week(request, app)
    except TgfeedError as exc:
        week, extra["week_error"] = next_week(app), exc.message
    selection, rendered = compose(app, week)
    ms = app.store.mail
    archive = [(d, ms.delivery_counts(d.id)) for d in ms.digests(limit=52)]
    response = console_page(
        request,
        visitor,
        "admin/digest.html.j2",
        status_code=status_code,
        section="digest",
        week=week,
        subject=rendered.subject,
        articles=selection.count,
        text_part=rendered.text.replace(placeholder(), _sample_token(app)),
        recorded=ms.digest(week),
        active=ms.count_subscribers()["active"],
        archive=archive,
        **extra,
    )
    response.headers["Content-Security-Policy"] = FRAMING_CSP
    return response


@guard("read")
async def digest_page(request: Request, visitor: Visitor) -> Response:
    return _page(request, visitor)


@guard("read")
async def preview_html(request: Request, visitor: Visitor) -> Response:
    """The mail's HTML part for the preview frames (a sample unsubscribe token)."""
    app = get_app(request)
    try:
        week = _week(request, app)
    except TgfeedError:
        return HTMLResponse("", status_code=404)
    _, rendered = compose(app, week)
    body = rendered.html.replace(placeholder(), _sample_token(app))
    headers = {
        **SECURITY_HEADERS,
        **NO_STORE,
        "Content-Security-Policy": PREVIEW_CSP,
        "X-Frame-Options": "SAMEORIGIN",
    }
    return HTMLResponse(body, headers=headers)


@guard("digest.test", "digest.test")
async def test_send(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    form = await request.form()
    week = str(form.get("week") or "")
    to = visitor.user.email
    if not to:
        return _page(
            request,
            visitor,
            400,
            test_error="Tài khoản của bạn chưa có địa chỉ thư. "
            "Quản trị viên đặt địa chỉ ở trang Tài khoản.",
        )
    try:
        result = await send_digest(app, week=check_week(week, app), to=to)
    except TgfeedError as exc:
        audit(request, visitor, "digest.test", outcome="failed", target=week, detail=exc.message)
        return _page(request, visitor, 502, test_error=f"Chưa gửi được: {exc.message}")
    audit(request, visitor, "digest.test", target=result.week, detail={"to": to})
    return _page(request, visitor, test_sent=to)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/digest", digest_page),
        Route("/admin/digest/preview/{week}.html", preview_html),
        Route("/admin/digest/test", test_send, methods=["POST"]),
    ]
