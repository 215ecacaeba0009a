"""The approver's pages: the week's draft preview, and approving or rejecting it.

``GET /digests/<week>/approve/<token>`` shows the draft and two forms; only the
POST (same token: the token is the secret, so a cross-site form cannot forge
it) approves or rejects. A link scanner that fetches the URL changes nothing. A
tampered or expired token, one for another week or for an address that is no
longer an approver gets a Vietnamese page, never a 500 and never a state change.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from ..app import App
from ..digest.approval import approver_for, read_subject
from ..errors import TgfeedError, TokenError
from ..jobs.digest import send_digest
from ..jobs.digest_approval import approve_week, reject_week
from ..text import format_vi_datetime
from .admin.weeks import reason_vi
from .common import SECURITY_HEADERS, get_app, page
from .digest import PRIVATE

log = logging.getLogger(__name__)

_FRAMED = {
    **SECURITY_HEADERS,
    **PRIVATE,
    "X-Frame-Options": "SAMEORIGIN",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "img-src 'self' https: data:; frame-ancestors 'self'; base-uri 'none'",
}


def _invalid(request: Request, reason: str, status_code: int = 400) -> Response:
    response = page(request, "approve_invalid.html.j2", status_code=status_code, reason=reason)
    response.headers.update(PRIVATE)
    return response


def _approver(request: Request) -> tuple[str, str] | Response:
    """(week, approver address) of the request's token, or the page saying why not."""
    app = get_app(request)
    week = str(request.path_params["week"]).upper()
    try:
        subject = app.signer.verify(request.path_params["token"], "approve", now=app.now())
    except TokenError as exc:
        return _invalid(request, exc.reason)
    token_week, code = read_subject(subject)
    if token_week != week:
        return _invalid(request, "week")
    approver = approver_for(code, list(app.config.digest.approvers))
    if approver is None:
        return _invalid(request, "approver", 403)
    return week, approver


def _state(app: App, week: str) -> dict[str, Any]:
    """What the page says about the week now, in the template's terms."""
    ms = app.store.mail
    record = ms.digest(week)
    events = ms.events(week)
    last = events[-1] if events else None
    return {
        "week": week,
        "record": record,
        "status": record.status if record else "none",
        "has_draft": bool(record and ms.has_draft(record.id)),
        "by": (record.approved_by if record and record.approved_by else last.actor if last else ""),
        "why": last.reason if last else "",
        "why_vi": reason_vi(last.reason) if last else "",
        "when": format_vi_datetime(last.at, app.tz) if last else "",
        "deadline": format_vi_datetime(record.deadline_at, app.tz)
        if record and record.deadline_at
        else "",
    }


async def preview(request: Request) -> Response:
    found = _approver(request)
    if isinstance(found, Response):
        return found
    week, approver = found
    app = get_app(request)
    response = page(
        request,
        "approve.html.j2",
        approver=approver,
        token=request.path_params["token"],
        done="",
        **_state(app, week),
    )
    response.headers.update(PRIVATE)
    response.headers["Content-Security-Policy"] = (
        SECURITY_HEADERS["Content-Security-Policy"] + "; frame-src 'self'"
    )
    return response


async def draft_html(request: Request) -> Response:
    """The draft itself (the archive's form of it), shown framed in the preview."""
    found = _approver(request)
    if isinstance(found, Response):
        return found
    week, _ = found
    app = get_app(request)
    record = app.store.mail.digest(week)
    if record is None or not app.store.mail.has_draft(record.id):
        return _invalid(request, "none", 404)
    return HTMLResponse(app.store.mail.draft_web_html(record.id), headers=_FRAMED)


async def decide(request: Request) -> Response:
    found = _approver(request)
    if isinstance(found, Response):
        return found
    week, approver = found
    app = get_app(request)
    form = await request.form()
    action = str(form.get("action") or "")
    task = None
    try:
        if action == "reject":
            decision = reject_week(app, week, actor=approver, reason=str(form.get("reason") or ""))
        elif action == "approve":
            decision = await approve_week(app, week, actor=approver, send=False)
            if decision.outcome == "approved":

                async def send_now() -> None:
                    try:
                        await send_digest(app, week=week, actor=approver)
                    except TgfeedError as exc:  # rows stay pending; `digest send` resumes
                        log.error("digest %s after approval: %s", week, exc.message)

                task = BackgroundTask(send_now)
        else:
            return _invalid(request, "action")
    except TgfeedError:  # a rejection without a reason
        decision = None
    response = page(
        request,
        "approve.html.j2",
        approver=approver,
        token=request.path_params["token"],
        done=decision.outcome if decision else "no-reason",
        **_state(app, week),
    )
    response.headers.update(PRIVATE)
    response.background = task
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/digests/{week}/approve/{token}", preview, methods=["GET"]),
        Route("/digests/{week}/approve/{token}", decide, methods=["POST"]),
        Route("/digests/{week}/approve/{token}/draft", draft_html, methods=["GET"]),
    ]
