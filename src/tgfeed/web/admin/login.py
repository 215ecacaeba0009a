"""``/admin/login`` and ``/admin/logout``.

Failed logins are counted per account and per client over ``[admin]
login_window``; past ``login_attempts`` (per account) or ``login_attempts_client``
(per client) the form refuses to check passwords until the window has passed.
The login form's CSRF token is a double-submit value (a cookie and a hidden
field that must match), since there is no session yet.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...auth import new_token, sign_cookie, verify_password
from ..common import get_app, page
from .session import (
    LOGIN_COOKIE,
    NO_STORE,
    Visitor,
    audit,
    client_of,
    cookie_key,
    current_visitor,
    guard,
    set_session_cookie,
)

WRONG = "Tên đăng nhập hoặc mật khẩu không đúng."
LOCKED = "Đăng nhập sai quá nhiều lần. Xin thử lại sau {minutes} phút."
EXPIRED_FORM = "Biểu mẫu đăng nhập đã hết hạn; xin đăng nhập lại."


def _next(value: str | None) -> str:
    """Only a path inside the console (never another site)."""
    if value and value.startswith("/admin") and not value.startswith("//") and "\\" not in value:
        return value
    return "/admin/"


def _form(
    request: Request, *, status_code: int = 200, error: str = "", name: str = "", notice: str = ""
) -> Response:
    token = request.cookies.get(LOGIN_COOKIE) or new_token()
    response = page(
        request,
        "admin/login.html.j2",
        status_code=status_code,
        error=error,
        notice=notice,
        name=name,
        login_csrf=token,
        next=_next(request.query_params.get("next")),
    )
    response.headers.update(NO_STORE)
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        path="/admin/login",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        max_age=3600,
    )
    return response


def _locked(request: Request, name: str) -> int | None:
    """Minutes left when the account or the client is over its limit, else None."""
    app = get_app(request)
    cfg = app.config.admin
    since = app.now() - timedelta(seconds=cfg.login_window)
    users = app.store.users
    over = users.failures_since(since, account=name) >= cfg.login_attempts or (
        users.failures_since(since, client=client_of(request)) >= cfg.login_attempts_client
    )
    return max(1, cfg.login_window // 60) if over else None


async def login(request: Request) -> Response:
    if request.method == "GET":
        notice = (
            "Phiên làm việc đã kết thúc."
            if request.query_params.get("out")
            else "Phiên làm việc đã hết hạn; xin đăng nhập lại."
            if request.query_params.get("expired")
            else ""
        )
        if current_visitor(request) is not None:
            return RedirectResponse(_next(request.query_params.get("next")), status_code=303)
        return _form(request, notice=notice)
    app = get_app(request)
    form = await request.form()
    name = str(form.get("name") or "").strip()[:80]
    password = str(form.get("password") or "")
    given = str(form.get("csrf") or "")
    expected = request.cookies.get(LOGIN_COOKIE) or ""
    if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        audit(
            request,
            None,
            "login",
            outcome="refused",
            target=name or None,
            detail="login form CSRF token missing or mismatched",
        )
        return _form(request, status_code=403, error=EXPIRED_FORM, name=name)
    minutes = _locked(request, name)
    if minutes is not None:
        audit(request, None, "login", outcome="refused", target=name or None, detail="rate limited")
        return _form(request, status_code=429, error=LOCKED.format(minutes=minutes), name=name)
    users = app.store.users
    user = users.user(name) if name else None
    if not verify_password(password, users.password_hash(name) if user else None) or not user:
        users.login_failed(name, client_of(request), now=app.now())
        audit(
            request,
            None,
            "login",
            outcome="failed",
            target=name or None,
            detail="wrong name or password",
        )
        return _form(request, status_code=401, error=WRONG, name=name)
    session_id, csrf = new_token(), new_token()
    users.start_session(user.id, session_id, csrf, now=app.now(), client=client_of(request))
    users.clear_failures(name, before=app.now() - timedelta(seconds=app.config.admin.login_window))
    audit(request, Visitor(user, session_id, csrf), "login", target=user.name)
    response = RedirectResponse(_next(str(form.get("next") or "")), status_code=303)
    set_session_cookie(request, response, sign_cookie(cookie_key(app), session_id))
    response.delete_cookie(LOGIN_COOKIE, path="/admin/login")
    return response


@guard("read", "logout")
async def logout(request: Request, visitor: Visitor) -> Response:
    get_app(request).store.users.end_session(visitor.session_id)
    audit(request, visitor, "logout", target=visitor.user.name)
    response = RedirectResponse("/admin/login?out=1", status_code=303)
    set_session_cookie(request, response, None)
    return response


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/login", login, methods=["GET", "POST"]),
        Route("/admin/logout", logout, methods=["POST"]),
    ]
