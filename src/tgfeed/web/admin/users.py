"""Tài khoản (administrators only): the console's users and the admin audit trail."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ...auth import ROLE_NAMES, AccountError, check_name, check_password, check_role, hash_password
from ...digest.message import check_address
from ...errors import SubscriberError
from ..common import get_app
from .session import Visitor, audit, console_page, guard


def _page(request: Request, visitor: Visitor, status_code: int = 200, **extra: object) -> Response:
    users = get_app(request).store.users
    return console_page(
        request,
        visitor,
        "admin/users.html.j2",
        status_code=status_code,
        section="users",
        users=users.users(),
        role_names=ROLE_NAMES,
        log=users.audit_log(limit=200),
        **extra,
    )


@guard("users")
async def users_page(request: Request, visitor: Visitor) -> Response:
    return _page(request, visitor)


def _email(value: str) -> str | None:
    return check_address(value) if value.strip() else None


@guard("users", "users.add")
async def add(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    form = await request.form()
    name = str(form.get("name") or "")
    try:
        name = check_name(name)
        role = check_role(str(form.get("role") or ""))
        email = _email(str(form.get("email") or ""))
        hashed = hash_password(check_password(str(form.get("password") or "")))
        if app.store.users.user(name) is not None:
            raise AccountError(f"{name}: the user exists")
    except (AccountError, SubscriberError) as exc:
        audit(request, visitor, "users.add", outcome="failed", target=name[:80], detail=exc.message)
        return _page(request, visitor, 400, user_error=exc.message)
    app.store.users.add_user(name, role, hashed, now=app.now(), email=email)
    audit(request, visitor, "users.add", target=name, detail={"role": role})
    return RedirectResponse("/admin/users?ok=user-added", status_code=303)


@guard("users", "users.change")
async def change(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    users = app.store.users
    form = await request.form()
    name = str(form.get("name") or "")
    target = users.user(name)
    try:
        if target is None:
            raise AccountError(f"{name}: no such user")
        role = check_role(str(form.get("role") or target.role))
        if target.role == "admin" and role != "admin" and users.count_admins() == 1:
            raise AccountError("the last administrator cannot lose the admin role")
        password = str(form.get("password") or "")
        hashed = hash_password(check_password(password)) if password else None
        email = _email(str(form.get("email") or ""))
    except (AccountError, SubscriberError) as exc:
        audit(
            request, visitor, "users.change", outcome="failed", target=name[:80], detail=exc.message
        )
        return _page(request, visitor, 400, user_error=exc.message)
    users.update_user(
        name,
        now=app.now(),
        role=role if role != target.role else None,
        email=email,
        password_hash=hashed,
    )
    audit(
        request,
        visitor,
        "users.change",
        target=name,
        detail={"role": role, "password": bool(hashed), "email": email},
    )
    return RedirectResponse("/admin/users?ok=user-changed", status_code=303)


@guard("users", "users.remove")
async def remove(request: Request, visitor: Visitor) -> Response:
    app = get_app(request)
    form = await request.form()
    name = str(form.get("name") or "")
    if name.casefold() == visitor.user.name.casefold():
        audit(
            request,
            visitor,
            "users.remove",
            outcome="refused",
            target=name,
            detail="cannot remove oneself",
        )
        return _page(request, visitor, 400, user_error="Không thể tự xóa tài khoản của mình.")
    if not app.store.users.remove_user(name):
        return _page(request, visitor, 404, user_error=f"Không có tài khoản {name}.")
    audit(request, visitor, "users.remove", target=name)
    return RedirectResponse("/admin/users?ok=user-removed", status_code=303)


def routes() -> list[BaseRoute]:
    return [
        Route("/admin/users", users_page),
        Route("/admin/users/add", add, methods=["POST"]),
        Route("/admin/users/change", change, methods=["POST"]),
        Route("/admin/users/remove", remove, methods=["POST"]),
    ]
