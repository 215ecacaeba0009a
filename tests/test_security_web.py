"""What a stranger on the network can and cannot do to tgfeed's web side, against
a real uvicorn server: reach the admin page or the push API without the token,
get an HTML page without the security headers, make an article run script in a
reader's browser or feed reader, or make a path parameter reach the filesystem.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import lxml.etree as ET
import lxml.html
import pytest
from starlette.routing import Route

from tgfeed.app import App
from tgfeed.feeds.pages import COPY_CSP, COPY_JS
from tgfeed.jobs.feeds import build_feeds
from tgfeed.web import create_app

from .conftest import ROOT, free_port
from .feeds_support import check_atom, check_json, check_rss
from .reliability_support import published_files

API_TOKEN = "api-token-0123456789abcdef"
ADMIN_TOKEN = "admin-token-fedcba9876543210"
WEB = (
    '[web]\napi_token_env = "TGFEED_SEC_API"\nadmin_token_env = "TGFEED_SEC_ADMIN"\n'
    "max_body_bytes = 65536\n"
)
SECURITY_HEADERS = {
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
}


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TGFEED_SEC_API", API_TOKEN)
    monkeypatch.setenv("TGFEED_SEC_ADMIN", ADMIN_TOKEN)


@pytest.fixture
def server(
    app_factory: Callable[..., App], live_server: Any, tokens: None
) -> Iterator[tuple[httpx.Client, App]]:
    app = app_factory(WEB, samples=True)
    with (
        live_server(create_app(app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url, timeout=20) as client,
    ):
        yield client, app


# -- tokens --------------------------------------------------------------------------


def _routes(app: App, prefixes: tuple[str, ...]) -> list[tuple[str, str]]:
    """Every (method, path) under ``prefixes``, path parameters filled in."""
    out = []
    for route in create_app(app, scheduler=False).routes:
        if not isinstance(route, Route) or not route.path.startswith(prefixes):
            continue
        path = route.path
        for name in route.param_convertors:
            path = path.replace("{" + name + ":path}", "x").replace("{" + name + "}", "x")
            path = path.replace("{" + name + ":int}", "1")
        out += [(m, path) for m in sorted(route.methods or {"GET"}) if m != "HEAD"]
    return out


def _protected_routes(app: App) -> list[tuple[str, str]]:
    """The token-protected routes: /api and the monitoring /admin/status."""
    return _routes(app, ("/api", "/admin/status"))


def test_every_console_route_needs_a_session(server: tuple[httpx.Client, App]) -> None:
    """The rest of /admin is the console: without a session (a bearer token is no
    session) every route sends to the login page and changes nothing."""
    client, app = server
    routes = [r for r in _routes(app, ("/admin",)) if r not in _protected_routes(app)]
    routes = [(m, p) for m, p in routes if p != "/admin/login"]
    assert ("POST", "/admin/jobs/run") in routes and ("GET", "/admin/users") in routes
    before = app.store.users.audit_log()
    for method, path in routes:
        for headers in ({}, {"Authorization": f"Bearer {ADMIN_TOKEN}"}):
            r = client.request(method, path, headers=headers, data={"csrf": "x", "job": "x"})
            assert r.status_code == 303, (method, path, r.status_code)
            assert r.headers["location"].startswith("/admin/login?next=")
    assert app.store.users.audit_log() == before


WRONG = [
    {},
    {"Authorization": ""},
    {"Authorization": "Bearer"},
    {"Authorization": f"Basic {API_TOKEN}"},
    {"Authorization": f"Token {API_TOKEN}"},
    {"Authorization": f"Bearer {API_TOKEN[:-1]}"},
    {"Authorization": f"Bearer {API_TOKEN}x"},
    {"Authorization": f"Bearer {API_TOKEN.upper()}"},
    {"Authorization": f"Bearer {ADMIN_TOKEN[:8]}"},
    {"X-Api-Token": API_TOKEN},
    {"Cookie": f"token={API_TOKEN}"},
]


def test_every_api_and_admin_route_answers_401_without_its_token(
    server: tuple[httpx.Client, App],
) -> None:
    client, app = server
    routes = _protected_routes(app)
    assert ("POST", "/api/articles") in routes and ("GET", "/admin/status") in routes
    assert ("DELETE", "/api/articles/x") in routes
    for method, path in routes:
        for headers in WRONG:
            for query in ("", f"?token={API_TOKEN}&access_token={ADMIN_TOKEN}"):
                r = client.request(method, path + query, headers=headers, json={"title": "x"})
                assert r.status_code == 401, (method, path, headers, r.status_code)
                assert r.headers["www-authenticate"].startswith("Bearer")
                assert API_TOKEN not in r.text and ADMIN_TOKEN not in r.text
    # Each token opens only its own door.
    api = {"Authorization": f"Bearer {API_TOKEN}"}
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert client.get("/admin/status", headers=api).status_code == 401
    assert client.get("/admin/status", headers=admin).status_code == 200
    assert client.delete("/api/articles/x", headers=admin).status_code == 401
    assert client.delete("/api/articles/x", headers=api).status_code == 404


def test_no_token_configured_means_the_door_stays_shut(
    app_factory: Callable[..., App], live_server: Any
) -> None:
    app = app_factory()
    with live_server(create_app(app, scheduler=False)) as srv, httpx.Client(base_url=srv.url) as c:
        for method, path in _protected_routes(app):
            for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer None"}):
                r = c.request(method, path, headers=headers)
                assert r.status_code == 403, (method, path, r.status_code)


def test_tokens_are_compared_in_constant_time(
    server: tuple[httpx.Client, App], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every check goes through hmac.compare_digest (no early-exit ``==``)."""
    import tgfeed.web.common as common

    calls: list[tuple[bytes, bytes]] = []
    real = common.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(common.hmac, "compare_digest", spy)
    client, _ = server
    for headers, expected in (
        ({"Authorization": "Bearer guess"}, API_TOKEN),
        ({"Authorization": f"Bearer {API_TOKEN}"}, API_TOKEN),
    ):
        client.post("/api/articles", headers=headers, json={})
        assert calls[-1] == (headers["Authorization"][7:].encode(), expected.encode())
    client.get("/admin/status", headers={"Authorization": "Bearer guess"})
    assert calls[-1] == (b"guess", ADMIN_TOKEN.encode())
    source = Path(common.__file__).read_text(encoding="utf-8")
    assert "compare_digest" in source and "given == expected" not in source


# -- security headers on every HTML response ---------------------------------------


def _html_probes(client: httpx.Client) -> list[httpx.Response]:
    """One request for each kind of HTML answer the feeds/API/admin side gives."""
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    probes = [
        client.get("/"),
        client.head("/"),
        client.get("/", headers={"If-None-Match": client.get("/").headers["etag"]}),  # 304
        client.get("/no-such-page"),  # 404 of the router
        client.get("/feeds/no-such-category.rss"),  # 404 of the feeds
        client.get("/feeds/ALL.rss"),  # 404: not a slug path
        client.get("/feeds/search.rss"),  # 400: no query
        client.get("/feeds/search.rss", params={"q": "x" * 500}),  # 400: too long
        client.get("/feeds/search.xml", params={"q": "x"}),  # 404: unknown format
        client.put("/"),  # 405
        client.post("/feeds/all.rss"),  # 405
        client.get("/admin/status"),  # 401
        client.get("/admin/status", headers=admin),  # 200
    ]
    return probes


def assert_security_headers(r: httpx.Response) -> None:
    missing = SECURITY_HEADERS - set(r.headers)
    assert not missing, f"{r.request.method} {r.request.url.path} {r.status_code}: no {missing}"
    assert r.headers["x-content-type-options"] == "nosniff"
    csp = r.headers["content-security-policy"]
    # No script may run — except, on the pages with a copy button, that one constant
    # script, pinned by its hash (no 'unsafe-inline', no source URL).
    assert "default-src 'none'" in csp
    assert "script-src" not in csp or csp == COPY_CSP, csp
    assert "frame-ancestors 'none'" in csp


def test_every_html_response_sends_csp_nosniff_and_referrer_policy(
    server: tuple[httpx.Client, App],
) -> None:
    client, _ = server
    probes = _html_probes(client)
    statuses = {r.status_code for r in probes}
    assert {200, 304, 400, 401, 404, 405} <= statuses
    for r in probes:
        if r.status_code != 304:
            assert r.headers["content-type"].startswith("text/html"), r.request.url
        assert_security_headers(r)


def test_the_500_page_sends_the_security_headers_too(
    app_factory: Callable[..., App], live_server: Any
) -> None:
    app = app_factory()
    web = create_app(app, scheduler=False)
    with live_server(web) as srv, httpx.Client(base_url=srv.url) as client:
        app.store.close()  # the database is gone: /healthz fails inside
        r = client.get("/healthz")
    assert r.status_code == 500 and r.headers["content-type"].startswith("text/html")
    assert "Lỗi máy chủ" in r.text and "Traceback" not in r.text
    assert_security_headers(r)


def test_feeds_and_api_answers_cannot_be_sniffed_into_html(
    server: tuple[httpx.Client, App],
) -> None:
    client, _ = server
    for path in ("/feeds/all.rss", "/feeds/all.atom", "/feeds/all.json", "/feeds.opml"):
        r = client.get(path)
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in r.headers["content-security-policy"]
    r = client.post("/api/articles", json={})
    assert r.headers["x-content-type-options"] == "nosniff"


# -- nothing executable reaches a reader ---------------------------------------------

HOSTILE_BODY = (
    "<p onclick='alert(1)'>Đoạn một</p><script>alert(1)</script>"
    "<a href='javascript:alert(1)'>a</a><a href=' JaVaScRiPt:alert(1)'>b</a>"
    "<a href='jav&#x09;ascript:alert(1)'>c</a><img src=x onerror=alert(1)>"
    "<svg onload=alert(1)><circle/></svg><iframe src='javascript:alert(1)'></iframe>"
    "<form action='javascript:alert(1)'><button formaction='javascript:alert(1)'>f</button></form>"
    "<object data='javascript:alert(1)'></object><embed src='javascript:alert(1)'>"
    "<math><mi xlink:href='javascript:alert(1)'>m</mi></math><style>*{x:expression(alert(1))}</style>"
    "<a href='data:text/html,<script>alert(1)</script>'>d</a>"
    "<img src='vbscript:msgbox(1)'><base href='javascript:alert(1)//'>"
    "<p style='background:url(javascript:alert(1))'>s</p><p>Đoạn cuối an toàn</p>"
)
HOSTILE = {
    "url": "https://tuyengiaohungyen.vn/bai-viet/doc-hai-7001.aspx",
    "title": 'Tiêu đề <script>alert(1)</script> "><img src=x onerror=alert(1)>',
    "category": ["Chuyên mục <script>alert(1)</script>", 'Mục con "><svg onload=alert(1)>'],
    "published": "2026-11-29T09:00:00+07:00",
    "author": "<img src=x onerror=alert(1)>",
    "summary": "<a href='javascript:alert(1)'>tóm tắt</a> onmouseover=alert(1)",
    "body_html": HOSTILE_BODY,
    "related": ["<script>alert(1)</script>"],
    "signature": "<b onmouseover=alert(1)>NT</b>",
}
_BAD_SCHEMES = ("javascript:", "vbscript:", "data:text")


def assert_page_runs_nothing(data: bytes, where: str) -> None:
    """An HTML page: no script element, no on*= attribute, no script URL anywhere."""
    doc = lxml.html.document_fromstring(data)
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        if el.tag.lower() == "script" and not el.attrib and el.text == COPY_JS:
            continue  # the copy button's own script, allowed by its hash and nothing else
        assert el.tag.lower() not in ("script", "iframe", "object", "embed", "base"), (
            where,
            el.tag,
        )
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (where, el.tag, name)
            v = "".join(value.split()).lower()
            assert not v.startswith(_BAD_SCHEMES), (where, el.tag, name, value)
    # Exactly one script, the copy button's, and nothing from the article comes near it.
    allowed = f"<script>{COPY_JS}</script>".encode()
    assert b"<script" not in data.replace(allowed, b"").lower(), where


def assert_feed_runs_nothing(data: bytes, kind: str, where: str) -> None:
    {"rss": check_rss, "atom": check_atom, "json": check_json}[kind](data)
    if kind == "json":
        feed = json.loads(data)
        for item in feed["items"]:
            for key in ("url", "external_url"):
                if key in item:
                    assert item[key].startswith(("http://", "https://")), (where, item[key])
    else:
        root = ET.fromstring(data)
        for el in root.iter():
            for name, value in el.attrib.items():
                assert not "".join(value.split()).lower().startswith(_BAD_SCHEMES), (where, name)
            if isinstance(el.tag, str) and el.tag.endswith("link") and el.text:
                assert el.text.strip().startswith(("http://", "https://")), (where, el.text)


def test_hostile_article_never_reaches_a_reader_executable(
    server: tuple[httpx.Client, App], tmp_path: Path
) -> None:
    client, app = server
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    r = client.post("/api/articles", json=HOSTILE, headers=auth)
    assert r.status_code == 200, r.text
    art_id = r.json()["results"][0]["id"]
    stored = app.store.articles.get(art_id)
    assert stored is not None
    assert "Đoạn một" in stored.body_html and "Đoạn cuối an toàn" in stored.body_html
    slug = stored.category_slug

    # Served by `tgfeed serve`.
    for path in (
        *(f"/feeds/{key}.{fmt}" for key in ("all", slug) for fmt in ("rss", "atom", "json")),
        *(f"/feeds/search.{fmt}?q=an+toan" for fmt in ("rss", "atom", "json")),
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert art_id in r.text, path
        assert_feed_runs_nothing(r.content, path.split("?")[0].rsplit(".", 1)[1], path)
    index = client.get("/")
    assert "Chuyên mục &lt;script&gt;alert(1)&lt;/script&gt;" in index.text
    assert_page_runs_nothing(index.content, "/")
    # The pages people see: a feed opened in a browser, the search results.
    browser = {"accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
    for path in (f"/feeds/{slug}.rss", "/feeds/all.atom", "/search?q=an+toan"):
        page = client.get(path, headers=browser)
        assert page.headers["content-type"].startswith("text/html"), path
        assert "Tiêu đề &lt;script&gt;" in page.text, path
        assert_security_headers(page)
        assert_page_runs_nothing(page.content, path)
    ET.fromstring(client.get("/feeds.opml").content)  # category names escaped in XML

    # Built for nginx.
    out = build_feeds(app, tmp_path / "static").output_dir
    for rel, data in published_files(out).items():
        kind = rel.rsplit(".", 1)[1]
        if kind == "html":
            assert_page_runs_nothing(data, rel)
        elif kind in ("rss", "atom", "json"):
            assert_feed_runs_nothing(data, kind, rel)


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "//evil.example/x",
        "https://[::1",
        "https://<script>alert(1)</script>tuyengiaohungyen.vn/x",
        "https://tuyengiaohungyen.vn:99999/x",
    ],
)
def test_an_article_link_is_always_http(server: tuple[httpx.Client, App], url: str) -> None:
    client, _ = server
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    r = client.post("/api/articles", json={**HOSTILE, "url": url}, headers=auth)
    assert r.status_code == 422, (url, r.status_code, r.text)
    assert r.json()["problems"][0]["path"] == "url"


# -- path parameters never reach the filesystem --------------------------------------

MARKER = "zq7marker"


def test_no_request_value_reaches_the_filesystem(
    app_factory: Callable[..., App], tokens: None
) -> None:
    """Every path parameter, query and header carries MARKER; an audit hook in the
    server process records any open/os/shutil/sqlite3.connect event that sees it."""
    app = app_factory(WEB, samples=True)
    config = app.config.source_path
    assert config is not None
    log = config.parent / "audit.log"
    port = free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join((str(ROOT), os.environ.get("PYTHONPATH", ""))),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.audit_server", str(config), str(port), MARKER, str(log)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        m = MARKER
        paths = [
            f"/{m}",
            f"/{m}.html",
            f"/feeds/{m}.rss",
            f"/feeds/{m}/{m}.atom",
            f"/feeds/thong-bao/{m}.json",
            f"/feeds/..%2F..%2F{m}.rss",
            f"/feeds/../../{m}",
            f"/feeds/%2e%2e/%2e%2e/etc/{m}.rss",
            f"/feeds/search.rss?q={m}",
            f"/feeds/search.{m}?q=x",
            f"/feeds.opml?{m}={m}",
            f"/digests/{m}",
            f"/digests/2026-W48{m}",
            f"/digests/..%2F{m}",
            f"/confirm/{m}",
            f"/unsubscribe/{m}",
            f"/admin/status?format={m}",
            f"/?{m}=../../{m}",
        ]
        with httpx.Client(base_url=url, timeout=10) as c:
            headers = {
                "Authorization": f"Bearer {API_TOKEN}",
                "Accept-Language": m,
                "If-None-Match": m,
                "Cookie": f"{m}={m}",
                "X-Forwarded-For": m,
                "Referer": f"https://{m}.example/",
            }
            for path in paths:
                for method in ("GET", "POST"):
                    r = c.request(method, path, headers=headers, content=m.encode())
                    assert r.status_code < 500, (method, path, r.status_code)
            r = c.delete(f"/api/articles/..%2F..%2F{m}", headers=headers)
            assert r.status_code == 404
            r = c.post(
                "/api/articles",
                headers=headers,
                json={
                    **HOSTILE,
                    "url": f"https://tuyengiaohungyen.vn/bai-viet/{m}-1.aspx",
                    "category": [f"../../{m}", f"{m}/../.."],
                    "category_slug": None,
                },
            )
            assert r.status_code in (200, 422)
            assert c.get("/feeds/all.rss").status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    lines = log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1 and "-control" in lines[0], lines  # only the positive control


def test_hostile_category_names_stay_inside_the_output_folder(
    server: tuple[httpx.Client, App], tmp_path: Path
) -> None:
    client, app = server
    auth = {"Authorization": f"Bearer {API_TOKEN}"}
    names = [
        ["..", "..", "etc"],
        ["/etc/passwd"],
        ["C:\\Windows", "System32"],
        ["~root"],
        [".tgfeed-build.json"],
        ["feeds", "..", "index.html"],
        ["NUL"],
        ["\u202egnp.exe"],
    ]
    for i, cat in enumerate(names):
        rec = {**HOSTILE, "url": f"https://tuyengiaohungyen.vn/bai-viet/duong-dan-{8000 + i}.aspx"}
        rec["category"] = cat
        r = client.post("/api/articles", json=rec, headers=auth)
        assert r.status_code in (200, 422), r.text
    bad_slug = {**HOSTILE, "category": ["A", "B"], "category_slug": "../b"}
    assert client.post("/api/articles", json=bad_slug, headers=auth).status_code == 422
    out = (tmp_path / "site" / "public").resolve()
    result = build_feeds(app, out)
    assert result.failures == ()
    for p in (tmp_path / "site").rglob("*"):
        assert p.resolve().is_relative_to(out), p
    for rel in result.written_paths:
        resolved = (out / rel).resolve()
        assert resolved.is_relative_to(out) and not resolved.is_symlink()
        parts = Path(rel).parts
        assert ".." not in parts and not any(part.startswith(".") for part in parts), rel
    outside = {p.name for p in tmp_path.iterdir()} - {"site", "config.toml", "data", "outbox"}
    assert not outside, outside
