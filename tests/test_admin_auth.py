"""The console's accounts and sessions over a real uvicorn server: login, the
cookie's flags, idle and absolute expiry, logout, CSRF, the login rate limit,
roles, and the admin audit trail of every state-changing or refused action."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tgfeed.app import App
from tgfeed.web.server import create_app

from .admin_support import PASSWORD, add_user, csrf_of, login, page_csrf
from .conftest import FixedClock


@pytest.fixture
def served(app: App, live_server: Callable[[Any], Any]) -> Iterator[tuple[App, str]]:
    add_user(app, "quantri", "admin", "quantri@example.vn")
    add_user(app, "bientap", "editor", "bientap@example.vn")
    add_user(app, "xem", "viewer")
    with live_server(create_app(app, scheduler=False)) as srv:
        yield app, srv.url


def _actions(app: App) -> list[tuple[str | None, str, str]]:
    return [(a.actor, a.action, a.outcome) for a in app.store.users.audit_log()]


def test_the_console_asks_for_a_login_in_vietnamese(served: tuple[App, str]) -> None:
    _, url = served
    r = httpx.get(url + "/admin/subscribers?q=a")
    assert r.status_code == 303
    assert r.headers["location"] == "/admin/login?next=/admin/subscribers%3Fq%3Da"
    form = httpx.get(url + "/admin/login")
    assert form.status_code == 200 and "Đăng nhập quản trị" in form.text
    assert 'for="password">Mật khẩu</label>' in form.text
    assert form.headers["cache-control"] == "no-store"


def test_login_sets_a_strict_httponly_cookie_and_lands_on_the_dashboard(
    served: tuple[App, str],
) -> None:
    app, url = served
    client, r = login(url, "quantri")
    assert r.status_code == 303 and r.headers["location"] == "/admin/"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("tgfeed_session=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    assert "Secure" not in cookie  # plain http from a direct client
    home = client.get("/admin/")
    assert home.status_code == 200 and "<h1>Tổng quan</h1>" in home.text
    assert ("quantri", "login", "ok") in _actions(app)
    # The store keeps only a hash of the session id.
    session_id = client.cookies["tgfeed_session"].split(".")[0]
    assert (
        app.store.db.execute(
            "SELECT count(*) FROM sessions WHERE id_hash = ?", [session_id]
        ).fetchone()[0]
        == 0
    )


def test_the_cookie_is_secure_behind_a_trusted_https_proxy_only(
    app_factory: Callable[..., App], live_server: Callable[[Any], Any]
) -> None:
    app = app_factory('[web]\ntrusted_proxies = ["127.0.0.1"]\n')
    add_user(app, "quantri", "admin")
    with live_server(create_app(app, scheduler=False)) as srv:
        _, r = login(srv.url, "quantri", headers={"X-Forwarded-Proto": "https"})
        assert "Secure" in r.headers["set-cookie"]
    untrusted = app_factory('[web]\ntrusted_proxies = ["10.0.0.1"]\n')
    with live_server(create_app(untrusted, scheduler=False)) as srv:
        _, r = login(srv.url, "quantri", headers={"X-Forwarded-Proto": "https"})
        assert r.status_code == 303 and "Secure" not in r.headers["set-cookie"]


def test_a_wrong_password_is_refused_on_the_same_page_and_audited(
    served: tuple[App, str],
) -> None:
    app, url = served
    _, r = login(url, "quantri", "sai mật khẩu rồi")
    assert r.status_code == 401
    assert "Tên đăng nhập hoặc mật khẩu không đúng." in r.text
    assert 'value="quantri"' in r.text  # the name is kept, the password is not
    _, unknown = login(url, "khongco", PASSWORD)
    assert unknown.status_code == 401 and "không đúng" in unknown.text
    assert (None, "login", "failed") in _actions(app)
    entry = app.store.users.audit_log()[0]
    assert entry.target == "khongco" and entry.client == "127.0.0.1"


def test_login_is_rate_limited_per_account_and_per_client(
    app_factory: Callable[..., App], live_server: Callable[[Any], Any]
) -> None:
    app = app_factory("[admin]\nlogin_attempts = 3\nlogin_attempts_client = 5\n")
    add_user(app, "quantri", "admin")
    add_user(app, "bientap", "editor")
    with live_server(create_app(app, scheduler=False)) as srv:
        for _ in range(3):
            assert login(srv.url, "quantri", "sai")[1].status_code == 401
        locked = login(srv.url, "quantri")[1]  # the right password, too late
        assert locked.status_code == 429 and "Đăng nhập sai quá nhiều lần" in locked.text
        assert login(srv.url, "bientap")[1].status_code == 303  # another account still can
        for _ in range(2):
            assert login(srv.url, "khach", "sai")[1].status_code == 401
        # Five failures from this client: every account is refused from here.
        assert login(srv.url, "bientap")[1].status_code == 429
    assert (None, "login", "refused") in _actions(app)


def test_sessions_expire_when_idle_and_after_their_lifetime(
    app_factory: Callable[..., App], clock: FixedClock, live_server: Callable[[Any], Any]
) -> None:
    app = app_factory('[admin]\nsession_idle = "10m"\nsession_lifetime = "1h"\n')
    add_user(app, "quantri", "admin")
    with live_server(create_app(app, scheduler=False)) as srv:
        client, _ = login(srv.url, "quantri")
        clock.advance(9 * 60)
        assert client.get("/admin/").status_code == 200  # activity keeps it alive
        clock.advance(11 * 60)
        idle = client.get("/admin/")
        assert idle.status_code == 303 and idle.headers["location"].startswith("/admin/login")
        client, _ = login(srv.url, "quantri")
        for _ in range(7):  # busy all along, but past the absolute lifetime
            clock.advance(9 * 60)
            last = client.get("/admin/")
        assert last.status_code == 303


def test_logout_ends_the_session_for_good(served: tuple[App, str]) -> None:
    app, url = served
    client, _ = login(url, "quantri")
    stolen = dict(client.cookies)
    r = client.post("/admin/logout", data={"csrf": page_csrf(client)})
    assert r.status_code == 303 and r.headers["location"] == "/admin/login?out=1"
    again = httpx.get(url + "/admin/", cookies=stolen)
    assert again.status_code == 303  # the old cookie opens nothing
    assert ("quantri", "logout", "ok") in _actions(app)


def test_a_tampered_cookie_opens_nothing(served: tuple[App, str]) -> None:
    _, url = served
    client, _ = login(url, "quantri")
    session_id, _, mac = client.cookies["tgfeed_session"].partition(".")
    forged = httpx.get(url + "/admin/", cookies={"tgfeed_session": f"{session_id}.{mac[::-1]}"})
    assert forged.status_code == 303


def test_a_missing_wrong_or_replayed_csrf_token_changes_nothing(served: tuple[App, str]) -> None:
    app, url = served
    client, _ = login(url, "quantri")
    old_token = page_csrf(client)
    for data in ({}, {"csrf": "x" * 43}):
        r = client.post("/admin/subscribers/add", data={**data, "email": "a@example.vn"})
        assert r.status_code == 403 and "mã chống giả mạo" in r.text
    # A token of an ended session does not work in the next one.
    client.post("/admin/logout", data={"csrf": old_token})
    client, _ = login(url, "quantri")
    replay = client.post(
        "/admin/subscribers/add", data={"csrf": old_token, "email": "a@example.vn"}
    )
    assert replay.status_code == 403
    assert app.store.mail.by_email("a@example.vn") is None
    assert [a for a in _actions(app) if a[2] == "refused"] == [
        ("quantri", "subscribers.add", "refused")
    ] * 3


def test_the_login_form_needs_its_own_csrf_value(served: tuple[App, str]) -> None:
    _, url = served
    r = httpx.post(
        url + "/admin/login", data={"name": "quantri", "password": PASSWORD, "csrf": "abc"}
    )
    assert r.status_code == 403 and "hết hạn" in r.text


def test_an_editor_cannot_reach_user_management(served: tuple[App, str]) -> None:
    app, url = served
    client, _ = login(url, "bientap")
    home = client.get("/admin/")
    assert 'href="/admin/users"' not in home.text
    r = client.get("/admin/users")
    assert r.status_code == 403 and "Chỉ quản trị viên được quản lý tài khoản." in r.text
    add = client.post(
        "/admin/users/add",
        data={"csrf": csrf_of(home.text), "name": "moi", "role": "admin", "password": PASSWORD},
    )
    assert add.status_code == 403 and app.store.users.user("moi") is None
    assert _actions(app)[:2] == [
        ("bientap", "users.add", "refused"),
        ("bientap", "users", "refused"),
    ]


def test_a_viewer_cannot_run_a_job_or_change_subscribers(served: tuple[App, str]) -> None:
    app, url = served
    client, _ = login(url, "xem")
    home = client.get("/admin/")
    assert "/admin/jobs/run" not in home.text  # no button to press
    token = csrf_of(home.text)
    r = client.post("/admin/jobs/run", data={"csrf": token, "job": "build_feeds"})
    assert r.status_code == 403 and "không được chạy công việc" in r.text
    assert app.store.jobs.last_run("build_feeds") is None
    add = client.post("/admin/subscribers/add", data={"csrf": token, "email": "x@example.vn"})
    assert add.status_code == 403 and app.store.mail.by_email("x@example.vn") is None
    assert client.get("/admin/subscribers").status_code == 200  # reading is allowed
    assert ("xem", "jobs.run", "refused") in _actions(app)


def test_the_bearer_token_still_gives_the_status_json(
    app_factory: Callable[..., App],
    live_server: Callable[[Any], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TGFEED_TEST_ADMIN_TOKEN", "t" * 32)
    app = app_factory('[web]\nadmin_token_env = "TGFEED_TEST_ADMIN_TOKEN"\n')
    with live_server(create_app(app, scheduler=False)) as srv:
        r = httpx.get(
            srv.url + "/admin/status?format=json", headers={"Authorization": "Bearer " + "t" * 32}
        )
        assert r.status_code == 200 and "schedule" in r.json()
        assert httpx.get(srv.url + "/admin/status?format=json").status_code == 401


def test_an_expired_session_says_so_on_the_login_page(
    app_factory: Callable[..., App], clock: FixedClock, live_server: Callable[[Any], Any]
) -> None:
    app = app_factory('[admin]\nsession_idle = "10m"\n')
    add_user(app, "quantri", "admin")
    with live_server(create_app(app, scheduler=False)) as srv:
        client, _ = login(srv.url, "quantri")
        clock.advance(11 * 60)
        r = client.get("/admin/sources", follow_redirects=True)
        assert "Phiên làm việc đã hết hạn; xin đăng nhập lại." in r.text
        assert 'name="next" value="/admin/sources"' in r.text


def test_a_console_session_also_opens_the_status_page(served: tuple[App, str]) -> None:
    _, url = served
    refused = httpx.get(url + "/admin/status")
    assert refused.status_code == 403 and "/admin/login" in refused.text
    client, _ = login(url, "xem")
    assert client.get("/admin/status?format=json").json()["schedule"]["timezone"]
