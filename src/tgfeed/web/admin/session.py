"""Who is using the console: the signed session cookie, its idle and absolute
expiry, the CSRF token of every form, role checks, and the audit trail entry of
every state-changing action (refused ones included).

The cookie holds a random session id and its HMAC (a key derived from the
site's signing key); the store keeps only the SHA-256 of the id. It is
``HttpOnly``, ``SameSite=Strict``, scoped to ``/admin``, and ``Secure`` when
the request came over https (behind a proxy, only one listed in
``[web] trusted_proxies`` is believed about that).
"""

from __future__ import annotations

import functools
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...app import App
from ...auth import ROLE_NAMES, Permission, allowed, read_cookie, sign_cookie
from ...model import User
from ..common import get_app, page
from .weeks import STATE_NAMES

COOKIE = "tgfeed_session"
LOGIN_COOKIE = "tgfeed_login"  # the login form's CSRF value (double submit)
NO_STORE = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}

NAV = (
    ("dashboard", "/admin/", "Tổng quan", "read"),
    ("digest", "/admin/digest", "Bản tin", "read"),
    ("subscribers", "/admin/subscribers", "Người nhận", "read"),
    ("sources", "/admin/sources", "Nguồn tin", "read"),
    ("schedule", "/admin/schedule", "Lịch", "read"),
    ("users", "/admin/users", "Tài khoản", "users"),
)

# What a redirect after a POST says (``?ok=key``): fixed texts, never the query's own.
NOTICES = {
    "added": "Đã thêm người nhận.",
    "imported": "Đã nhập danh sách.",
    "unsubscribed": "Đã hủy đăng ký.",
    "schedule": "Đã lưu lịch; dịch vụ đang áp dụng lịch mới.",
    "user-added": "Đã tạo tài khoản.",
    "user-removed": "Đã xóa tài khoản.",
    "user-changed": "Đã cập nhật tài khoản.",
    "crawl": "Đã thu thập xong.",
}


@dataclass(frozen=True, slots=True)
class Visitor:
    """A logged-in user on this request."""

    user: User
    session_id: str
    csrf: str

    def can(self, permission: Permission) -> bool:
        return allowed(self.user.role, permission)


Handler = Callable[[Request, Visitor], Awaitable[Response]]


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def cookie_key(app: App) -> bytes:
    return app.signer.derive("admin-session")


def set_session_cookie(request: Request, response: Response, value: str | None) -> None:
    secure = request.url.scheme == "https"
    if value is None:
        response.delete_cookie(
            COOKIE, path="/admin", secure=secure, httponly=True, samesite="strict"
        )
        return
    response.set_cookie(
        COOKIE, value, path="/admin", secure=secure, httponly=True, samesite="strict"
    )


def current_visitor(request: Request) -> Visitor | None:
    """The session's user when the cookie is valid and neither expiry has passed
    (an expired session is deleted); its last-seen time moves on."""
    app = get_app(request)
    session_id = read_cookie(cookie_key(app), request.cookies.get(COOKIE))
    if session_id is None:
        return None
    users = app.store.users
    found = users.session(session_id)
    if found is None:
        return None
    now = app.now()
    cfg = app.config.admin
    idle = now - found.seen_at > timedelta(seconds=cfg.session_idle)
    old = now - found.created_at > timedelta(seconds=cfg.session_lifetime)
    if idle or old:
        users.end_session(session_id)
        return None
    if now - found.seen_at > timedelta(seconds=30):  # one write a minute at most
        users.touch_session(session_id, now=now)
    return Visitor(found.user, session_id, found.csrf)


def audit(
    request: Request,
    visitor: Visitor | None,
    action: str,
    *,
    outcome: str = "ok",
    target: str | None = None,
    detail: Any = None,
) -> None:
    app = get_app(request)
    app.store.users.audit(
        action,
        now=app.now(),
        outcome=outcome,
        actor=visitor.user if visitor else None,
        target=target,
        detail=detail,
        client=client_of(request),
    )


def console_page(
    request: Request,
    visitor: Visitor,
    template: str,
    /,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """A console page: the navigation the role may use, the CSRF token, no caching."""
    context.setdefault("notice", NOTICES.get(request.query_params.get("ok", ""), ""))
    nav = [(key, href, label) for key, href, label, perm in NAV if visitor.can(perm)]  # type: ignore[arg-type]
    response = page(
        request,
        template,
        status_code=status_code,
        visitor=visitor,
        user=visitor.user,
        role_name=ROLE_NAMES[visitor.user.role],
        csrf=visitor.csrf,
        nav=nav,
        tz=get_app(request).tz,
        digest_states=STATE_NAMES,
        **context,
    )
    response.headers.update(NO_STORE)
    return response


def refused(request: Request, visitor: Visitor, action: str, message: str) -> Response:
    audit(request, visitor, action, outcome="refused", detail=message)
    return console_page(request, visitor, "admin/refused.html.j2", status_code=403, message=message)


def csrf_ok(visitor: Visitor, form: FormData) -> bool:
    given = str(form.get("csrf") or "")
    return bool(given) and hmac.compare_digest(given.encode(), visitor.csrf.encode())


_REFUSALS = {
    "users": "Chỉ quản trị viên được quản lý tài khoản.",
    "jobs.run": "Vai trò của bạn không được chạy công việc.",
    "subscribers.write": "Vai trò của bạn chỉ được xem danh sách người nhận.",
    "schedule.write": "Chỉ quản trị viên được sửa lịch.",
    "digest.test": "Vai trò của bạn không được gửi thử bản tin.",
    "digest.approve": "Vai trò của bạn không được duyệt hay từ chối bản tin.",
    "digest.resend": "Chỉ quản trị viên được gửi lại bản tin.",
    "read": "Bạn không được xem trang này.",
}


CSRF_REFUSED = (
    "Biểu mẫu đã hết hạn hoặc không hợp lệ (mã chống giả mạo không khớp). "
    "Xin mở lại trang và gửi lại."
)
SamePage = Callable[[Request, Visitor, str], Awaitable[Response]]


def guard(
    permission: Permission, action: str | None = None, *, same_page: SamePage | None = None
) -> Callable[[Handler], Any]:
    """Wrap a console handler: log in first, check CSRF on POST, check the role.

    ``action`` names the audit entry of a refusal (default: the permission);
    ``same_page`` answers a refused CSRF token on the form's own page (403) with
    the message, instead of the "Không được phép" page."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            visitor = current_visitor(request)
            if visitor is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if request.method != "GET":
                    target = "/admin/"
                expired = "&expired=1" if request.cookies.get(COOKIE) else ""
                return RedirectResponse(
                    f"/admin/login?next={quote(target)}{expired}", status_code=303
                )
            if request.method == "POST":
                form = await request.form()
                if not csrf_ok(visitor, form):
                    audit(
                        request,
                        visitor,
                        action or permission,
                        outcome="refused",
                        detail="CSRF token missing or not this session's",
                    )
                    if same_page is not None:
                        return await same_page(request, visitor, CSRF_REFUSED)
                    return console_page(
                        request,
                        visitor,
                        "admin/refused.html.j2",
                        status_code=403,
                        message=CSRF_REFUSED,
                    )
            if not visitor.can(permission):
                return refused(request, visitor, action or permission, _REFUSALS[permission])
            return await handler(request, visitor)

        return endpoint

    return wrap


__all__ = [
    "COOKIE",
    "CSRF_REFUSED",
    "LOGIN_COOKIE",
    "NO_STORE",
    "Visitor",
    "audit",
    "client_of",
    "console_page",
    "cookie_key",
    "current_visitor",
    "guard",
    "refused",
    "set_session_cookie",
    "sign_cookie",
]
