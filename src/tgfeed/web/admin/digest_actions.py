"""Bản tin's decisions: approve or reject a week's draft (editors and
administrators — with ``[digest] approvers`` set, only those whose account address
it lists), resend a sent week (administrators).

Each is the digest lifecycle's own function (``jobs.digest_approval``,
``jobs.digest_resend``), so the console, the CLI and the approver's link move a
week the same way and leave the same history. The sending itself runs after the
response (the ledger makes it resumable: `tgfeed digest send --week K`). Every
action and every refusal is in the console's audit trail and changes nothing: a
role without the permission, or a user who is not one of the approvers, gets the
"Không được phép" page (403); a week that
is not a draft, a missing reason, a bad week or form token, nothing to resend,
a Vietnamese message on the Bản tin page itself."""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...app import App
from ...digest.message import check_address
from ...errors import SubscriberError, TgfeedError
from ...jobs.digest import WeekBusy, check_week, send_digest
from ...jobs.digest_approval import approve_week, reject_week
from ...jobs.digest_resend import Kind, resend
from ..common import get_app
from .digest import digest_page_response
from .session import Visitor, audit, console_page, guard
from .weeks import STATE_NAMES, not_an_approver, not_decidable

log = logging.getLogger(__name__)

KINDS: dict[str, Kind] = {"failed": "failed", "new-subscribers": "new-subscribers", "to": "to"}
NO_REASON = "Xin ghi lý do từ chối để người soạn biết cần sửa gì."
BAD_WEEK = "Tuần không hợp lệ: ghi dạng 2026-W48."


def actor_of(visitor: Visitor) -> str:
    """Who moved the week, in its history: ``console:<user>`` (the CLI: ``cli:<user>``)."""
    return f"console:{visitor.user.name}"


def _send_after(app: App, week: str, actor: str) -> BackgroundTask:
    """Send the week's pending rows once the response has gone out."""

    async def send_now() -> None:
        try:
            await send_digest(app, week=week, actor=actor)
        except TgfeedError as exc:  # rows stay pending; the next run or `digest send` resumes
            log.error("digest %s after %s: %s", week, actor, exc.message)

    return BackgroundTask(send_now)


async def _form(request: Request) -> tuple[str, str, str]:
    """(week as given, week checked or "", the reason with its spaces collapsed)."""
    form = await request.form()
    given = str(form.get("week") or "")
    try:
        week = check_week(given, get_app(request))
    except TgfeedError:
        week = ""
    return given, week, " ".join(str(form.get("reason") or "").split())


async def _refuse(
    request: Request,
    visitor: Visitor,
    action: str,
    week: str | None,
    message: str,
    *,
    status_code: int,
    detail: object,
    outcome: str = "refused",
) -> Response:
    audit(request, visitor, action, outcome=outcome, target=week, detail=detail)
    return digest_page_response(
        request, visitor, status_code, week=week or None, action_error=message
    )


def _not_approver(request: Request, visitor: Visitor, action: str, week: str) -> Response | None:
    """The 403 page when ``[digest] approvers`` does not list the user's address (the
    same list the approval link checks); None when they may decide."""
    why = not_an_approver(get_app(request), visitor.user)
    if why is None:
        return None
    which = f" tuần {week}" if week else ""
    detail = f"not in digest.approvers: {visitor.user.email or 'the account has no address'}"
    audit(request, visitor, action, outcome="refused", target=week or None, detail=detail)
    message = f"Bạn không được duyệt hay từ chối bản tin{which}. {why}"
    return console_page(request, visitor, "admin/refused.html.j2", status_code=403, message=message)


async def _bad_week(request: Request, visitor: Visitor, action: str, given: str) -> Response:
    """The form's week is not a week: refused, nothing changed."""
    return await _refuse(request, visitor, action, None, BAD_WEEK, status_code=400, detail=given)


async def _same_page(request: Request, visitor: Visitor, message: str) -> Response:
    _, week, _ = await _form(request)
    return digest_page_response(request, visitor, 403, week=week or None, action_error=message)


@guard("digest.approve", "digest.approve", same_page=_same_page)
async def approve(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    given, week, reason = await _form(request)
    if (not_listed := _not_approver(request, visitor, "digest.approve", week)) is not None:
        return not_listed
    if not week:
        return await _bad_week(request, visitor, "digest.approve", given)
    actor = actor_of(visitor)
    decision = await approve_week(app, week, actor=actor, reason=reason, send=False)
    if decision.outcome == "approved":
        record = app.store.mail.digest(week)
        recipients = record.recipients if record else 0
        audit(request, visitor, "digest.approve", target=week, detail={"reason": reason})
        response = digest_page_response(
            request,
            visitor,
            week=week,
            action_done=f"Đã duyệt bản tin tuần {week}. Bản tin đang được gửi tới "
            f"{recipients} người nhận; tải lại trang để xem tiến độ.",
        )
        response.background = _send_after(app, week, actor)
        return response
    if decision.result is not None:  # nobody active: the week is recorded as skipped
        return await _refuse(
            request,
            visitor,
            "digest.approve",
            week,
            f"Không có người nhận nào đang nhận bản tin; tuần {week} được ghi là bỏ qua, "
            "không gửi gì.",
            status_code=409,
            detail=decision.message,
            outcome="failed",
        )
    message = not_decidable(app, week, app.store.mail.digest(week))
    return await _refuse(
        request, visitor, "digest.approve", week, message, status_code=409, detail=decision.message
    )


@guard("digest.approve", "digest.reject", same_page=_same_page)
async def reject(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    given, week, reason = await _form(request)
    if (not_listed := _not_approver(request, visitor, "digest.reject", week)) is not None:
        return not_listed
    if not week:
        return await _bad_week(request, visitor, "digest.reject", given)
    if not reason:
        return await _refuse(
            request,
            visitor,
            "digest.reject",
            week,
            NO_REASON,
            status_code=400,
            detail="a rejection needs a reason",
        )
    decision = reject_week(app, week, actor=actor_of(visitor), reason=reason)
    if decision.outcome != "rejected":
        message = not_decidable(app, week, app.store.mail.digest(week))
        return await _refuse(
            request,
            visitor,
            "digest.reject",
            week,
            message,
            status_code=409,
            detail=decision.message,
        )
    audit(request, visitor, "digest.reject", target=week, detail={"reason": reason})
    return digest_page_response(
        request,
        visitor,
        week=week,
        action_done=f"Đã từ chối bản tin tuần {week}; không gửi gì. Lý do đã được ghi lại.",
    )


def _nothing_to_resend(kind: Kind, week: str, address: str | None) -> str:
    if kind == "to":
        return f"{address} đã nhận bản tin tuần {week}; không gửi lại."
    if kind == "failed":
        return f"Tuần {week} không có thư lỗi nào của người còn đang nhận để gửi lại."
    return f"Không có người nhận mới nào chưa được gửi bản tin tuần {week}."


async def _resend_form(
    request: Request, visitor: Visitor
) -> tuple[str, Kind, str | None] | Response:
    """(week, kind, address) of a resend form, or the page saying what is wrong."""
    given, week, _ = await _form(request)
    form = await request.form()
    kind = KINDS.get(str(form.get("kind") or ""))
    to = str(form.get("to") or "").strip() or None
    if not week:
        return await _bad_week(request, visitor, "digest.resend", given)
    if kind is None:
        return await _refuse(
            request,
            visitor,
            "digest.resend",
            week,
            "Chọn một cách gửi lại: thư lỗi, người nhận mới, hoặc một địa chỉ.",
            status_code=400,
            detail=f"unknown kind {form.get('kind')!r}",
        )
    if kind == "to":
        try:
            to = check_address(to or "")
        except SubscriberError as exc:
            message = f"“{to or ''}” không phải địa chỉ thư điện tử hợp lệ (dạng ten@example.vn)."
            return await _refuse(
                request,
                visitor,
                "digest.resend",
                week,
                message,
                status_code=400,
                detail=exc.message,
            )
    return week, kind, to


def _resend_error(app: App, week: str, exc: TgfeedError) -> tuple[str, int, str]:
    """(message, status code, audit outcome) of a resend that raised."""
    if isinstance(exc, WeekBusy):
        return (
            f"Tuần {week} đang được gửi ở một tiến trình khác; xin đợi gửi xong rồi thử lại.",
            409,
            "refused",
        )
    record = app.store.mail.digest(week)
    if record is None or record.status != "sent":
        name = STATE_NAMES[record.status if record else "none"]
        return (
            f"Chỉ gửi lại được tuần đã gửi xong; tuần {week} đang ở trạng thái “{name}”.",
            409,
            "refused",
        )
    return f"Chưa gửi được: {exc.message}", 502, "failed"


@guard("digest.resend", "digest.resend", same_page=_same_page)
async def resend_page(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    read = await _resend_form(request, visitor)
    if isinstance(read, Response):
        return read
    week, kind, to = read
    actor, action = actor_of(visitor), "digest.resend"
    try:
        result = await resend(app, week, kind, actor=actor, to=to, send=False)
    except TgfeedError as exc:
        message, code, outcome = _resend_error(app, week, exc)
        return await _refuse(
            request,
            visitor,
            action,
            week,
            message,
            status_code=code,
            detail=exc.message,
            outcome=outcome,
        )
    detail = {"kind": kind, **({"to": to} if kind == "to" else {})}
    if result.status == "already-done":
        message = _nothing_to_resend(kind, week, to)
        return await _refuse(
            request, visitor, action, week, message, status_code=409, detail=result.error
        )
    audit(request, visitor, action, target=week, detail={**detail, "rows": result.recipients})
    if result.status == "queued":
        done = f"Đang gửi lại bản tin tuần {week} tới {result.recipients} người nhận."
        response = digest_page_response(request, visitor, week=week, action_done=done)
        response.background = _send_after(app, week, actor)
        return response
    done = f"Đã gửi một bản tin tuần {week} tới {to}."
    return digest_page_response(request, visitor, week=week, action_done=done)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/digest/approve", approve, methods=["POST"]),
        Route("/admin/digest/reject", reject, methods=["POST"]),
        Route("/admin/digest/resend", resend_page, methods=["POST"]),
    ]
