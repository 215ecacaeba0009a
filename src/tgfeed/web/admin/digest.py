"""Bản tin: the week's digest as it will be sent (HTML at 600 and 375 px, and its
text part; a week with a stored draft shows the draft itself), its lifecycle
state and audit trail, a test send to one's own address, and the archive with
delivery counts. Approving, rejecting and resending: ``digest_actions``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ...app import App
from ...errors import TgfeedError
from ...jobs.digest import check_week, compose, send_digest, stored_mail
from ...tokens import placeholder
from ..common import SECURITY_HEADERS, get_app
from .session import NO_STORE, Visitor, audit, console_page, guard
from .weeks import awaiting_decision, default_week, not_an_approver, reason_vi

# The page frames the previews (same origin); a preview runs no script at all.
FRAMING_CSP = SECURITY_HEADERS["Content-Security-Policy"] + "; frame-src 'self'"
PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; base-uri 'none'; form-action 'none'"
)


def _week(request: Request, app: App) -> str:
    given = request.query_params.get("week") or request.path_params.get("week")
    if not given:
        return default_week(app)
    return check_week(str(given), app)


def _mail(app: App, week: str) -> tuple[str, int, str, str]:
    """Subject, article count, HTML and text of the week's mail as it will be (or
    was) sent: the stored draft when there is one, else a fresh rendering."""
    stored = stored_mail(app, week)
    if stored is not None:
        record, html, text = stored
        return record.subject, record.article_count, html, text
    selection, rendered = compose(app, week)
    return rendered.subject, selection.count, rendered.html, rendered.text


def _lifecycle(app: App, week: str) -> dict[str, object]:
    """The week's state, its history (oldest first) and the console's actions on it."""
    ms = app.store.mail
    record = ms.digest(week)
    actions = [
        a
        for a in app.store.users.audit_log(target=week, limit=100)
        if a.action.startswith("digest.")
    ]
    return {
        "recorded": record,
        "state": record.status if record else "none",
        "awaiting": awaiting_decision(app, record),
        "counts": ms.delivery_counts(record.id) if record else None,
        "events": [(e, reason_vi(e.reason)) for e in ms.events(week)],
        "actions": actions,
    }


def _sample_token(app: App) -> str:
    return app.signer.issue(
        "unsubscribe", 0, now=app.now(), max_age=app.config.digest.token_max_age
    )


def digest_page_response(
    request: Request,
    visitor: Visitor,
    status_code: int = 200,
    week: str | None = None,
    **extra: object,
) -> Response:
    """The Bản tin page of ``week`` (default: the request's ``?week=``, else the
    week waiting for a decision, else the next scheduled one)."""
    app = get_app(request)
    if week is None:
        try:
            week = _week(request, app)
        except TgfeedError as exc:
            week, extra["week_error"] = default_week(app), exc.message
    subject, articles, _, text = _mail(app, week)
    ms = app.store.mail
    archive = [(d, ms.delivery_counts(d.id)) for d in ms.digests(limit=52)]
    response = console_page(
        request,
        visitor,
        "admin/digest.html.j2",
        status_code=status_code,
        section="digest",
        week=week,
        subject=subject,
        articles=articles,
        text_part=text.replace(placeholder(), _sample_token(app)),
        active=ms.count_subscribers()["active"],
        archive=archive,
        approver_block=not_an_approver(app, visitor.user),  # the buttons disabled, and why
        **_lifecycle(app, week),
        **extra,
    )
    response.headers["Content-Security-Policy"] = FRAMING_CSP
    return response


@guard("read")
async def digest_page(request: Request, visitor: Visitor) -> Response:
    return digest_page_response(request, visitor)


@guard("read")
async def preview_html(request: Request, visitor: Visitor) -> Response:
    """The mail's HTML part for the preview frames (a sample unsubscribe token)."""
    app = get_app(request)
    try:
        week = _week(request, app)
    except TgfeedError:
        return HTMLResponse("", status_code=404)
    body = _mail(app, week)[2].replace(placeholder(), _sample_token(app))
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
        return digest_page_response(
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
        return digest_page_response(
            request, visitor, 502, test_error=f"Chưa gửi được: {exc.message}"
        )
    audit(request, visitor, "digest.test", target=result.week, detail={"to": to})
    return digest_page_response(request, visitor, test_sent=to)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/digest", digest_page),
        Route("/admin/digest/preview/{week}.html", preview_html),
        Route("/admin/digest/test", test_send, methods=["POST"]),
    ]
