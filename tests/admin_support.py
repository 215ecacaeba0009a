"""Helpers for the console tests: users, a logged-in httpx client on a live server."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tgfeed.app import App
from tgfeed.auth import hash_password
from tgfeed.model import Role

PASSWORD = "mật khẩu đủ dài 2026"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')

# A cheaper scrypt cost for test users (verification reads the cost from the hash).
FAST_N = 2**10


def add_user(app: App, name: str, role: Role, email: str | None = None) -> None:
    app.store.users.add_user(
        name, role, hash_password(PASSWORD, n=FAST_N), now=app.now(), email=email
    )


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found[1]


def login(
    url: str, name: str, password: str = PASSWORD, **client_options: Any
) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=url, timeout=30, **client_options)
    form = client.get("/admin/login")
    r = client.post(
        "/admin/login",
        data={"name": name, "password": password, "csrf": csrf_of(form.text), "next": "/admin/"},
    )
    return client, r


def page_csrf(client: httpx.Client, path: str = "/admin/") -> str:
    return csrf_of(client.get(path).text)
