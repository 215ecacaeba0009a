"""The push API against a real uvicorn server, with httpx as the CMS."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tgfeed.app import App
from tgfeed.web import create_app

TOKEN = "s3cr3t-token-for-tests"
WEB = '[web]\napi_token_env = "TGFEED_TEST_API_TOKEN"\nmax_body_bytes = 8192\n'
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def article(n: int = 1, **changes: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "url": f"https://tuyengiaohungyen.vn/bai-viet/hoi-nghi-day-{n}-{4000 + n}.aspx",
        "title": f"Hội nghị đẩy mạnh công tác tuyên giáo số {n}",
        "category": ["Thông tin - Tuyên truyền", "Tin tức hoạt động"],
        "published": "2026-11-25T09:30:00+07:00",
        "author": "Lưu Tú",
        "views": 12,
        "body_html": "<p>Sáng 25/11, hội nghị <script>x()</script>đã diễn ra.</p>",
    }
    rec.update(changes)
    return rec


@pytest.fixture
def server(
    app_factory: Callable[..., App],
    live_server: Callable[[Any], Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[str, App]]:
    monkeypatch.setenv("TGFEED_TEST_API_TOKEN", TOKEN)
    app = app_factory(WEB)
    with live_server(create_app(app, scheduler=False)) as srv:
        yield srv.url, app


def test_without_or_with_a_wrong_token_is_401(server: tuple[str, App]) -> None:
    url, app = server
    r = httpx.post(f"{url}/api/articles", json=article())
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert "bearer token" in r.json()["error"]
    r = httpx.post(f"{url}/api/articles", json=article(), headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
    r = httpx.post(f"{url}/api/articles", json=article(), headers={"Authorization": TOKEN})
    assert r.status_code == 401
    r = httpx.delete(f"{url}/api/articles/x")
    assert r.status_code == 401
    assert app.store.articles.count() == 0


def test_no_token_configured_is_403_with_a_clear_message(
    app_factory: Callable[..., App], live_server: Callable[[Any], Any]
) -> None:
    app = app_factory()
    with live_server(create_app(app, scheduler=False)) as srv:
        r = httpx.post(f"{srv.url}/api/articles", json=article(), headers=AUTH)
    assert r.status_code == 403
    body = r.json()
    assert "no API token is configured" in body["error"]
    assert "api_token_env" in body["hint"]


def test_push_is_an_idempotent_upsert(server: tuple[str, App]) -> None:
    url, app = server
    r = httpx.post(f"{url}/api/articles", json=[article(1), article(2)], headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [x["outcome"] for x in body["results"]] == ["added", "added"]
    assert body["results"][0]["id"] == "tag:tuyengiaohungyen.vn,2018:bai-viet/4001"
    assert body["counts"] == {"added": 2, "updated": 0, "unchanged": 0, "failed": 0}
    stored = app.store.articles.get("tag:tuyengiaohungyen.vn,2018:bai-viet/4001")
    assert stored is not None and "script" not in stored.body_html
    assert stored.author == "Lưu Tú" and stored.views == 12

    again = httpx.post(f"{url}/api/articles", json=[article(1), article(2)], headers=AUTH)
    assert [x["outcome"] for x in again.json()["results"]] == ["unchanged", "unchanged"]
    one = httpx.post(
        f"{url}/api/articles", json=article(1, title="Hội nghị (đã sửa)"), headers=AUTH
    )
    assert one.json()["results"] == [
        {
            "id": "tag:tuyengiaohungyen.vn,2018:bai-viet/4001",
            "url": article(1)["url"],
            "outcome": "updated",
        }
    ]
    assert app.store.articles.count() == 2
    assert app.store.articles.recent_runs(1)[0]["source"] == "api"


def test_invalid_articles_are_422_with_field_paths_and_nothing_is_stored(
    server: tuple[str, App],
) -> None:
    url, app = server
    bad = [
        article(1),
        {**article(2), "title": "", "views": -3, "colour": "red"},
        {**article(3), "category": ["Tin", 5], "related": "x"},
        {**article(4), "published": "hôm qua"},
        "not an object",
    ]
    r = httpx.post(f"{url}/api/articles", json=bad, headers=AUTH)
    assert r.status_code == 422
    problems = {(p["path"], p["message"].split(" (")[0]) for p in r.json()["problems"]}
    assert ("[1].title", "required") in problems
    assert ("[1].views", "must be a whole number ≥ 0") in problems
    assert ("[1].colour", "unknown field") in problems
    assert ("[2].category[1]", "must be a non-empty string") in problems
    assert ("[2].related", "must be a list of titles, not a string") in problems
    assert any(path == "[3].published" and "not a date" in m for path, m in problems)
    assert ("[4]", "must be an object, not a string") in problems
    assert "nothing was stored" in r.json()["error"]
    assert app.store.articles.count() == 0

    single = httpx.post(f"{url}/api/articles", json={"title": "x"}, headers=AUTH)
    paths = {p["path"] for p in single.json()["problems"]}
    assert {"published", "id", "body_text", "category"} <= paths
    assert httpx.post(f"{url}/api/articles", content=b"{oops", headers=AUTH).status_code == 400
    assert httpx.post(f"{url}/api/articles", json=[], headers=AUTH).status_code == 422
    form = httpx.post(f"{url}/api/articles", data={"a": "b"}, headers=AUTH)
    assert form.status_code == 415


def test_oversized_body_is_413_declared_or_streamed(server: tuple[str, App]) -> None:
    url, app = server
    big = [article(i, body_text="Nội dung " * 200) for i in range(10)]
    r = httpx.post(f"{url}/api/articles", json=big, headers=AUTH)
    assert r.status_code == 413
    assert "larger than 8,192 bytes" in r.json()["error"]

    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        payload = json.dumps(big).encode()
        for i in range(0, len(payload), 1024):
            sent += 1024
            yield payload[i : i + 1024]

    # No Content-Length: the limit holds while reading the stream.
    r = httpx.post(f"{url}/api/articles", content=chunks(), headers=AUTH)
    assert r.status_code == 413
    assert app.store.articles.count() == 0


def test_delete_unpublishes(server: tuple[str, App]) -> None:
    url, app = server
    httpx.post(f"{url}/api/articles", json=[article(1), article(2)], headers=AUTH)
    ident = "tag:tuyengiaohungyen.vn,2018:bai-viet/4001"
    assert ident in {a.id for a in app.store.articles.latest()}
    r = httpx.delete(f"{url}/api/articles/{quote(ident, safe='')}", headers=AUTH)
    assert r.status_code == 204
    assert ident not in {a.id for a in app.store.articles.latest()}
    assert app.store.articles.get(ident) is None
    again = httpx.delete(f"{url}/api/articles/{quote(ident, safe='')}", headers=AUTH)
    assert again.status_code == 204  # a repeated retraction is idempotent
    unknown = httpx.delete(f"{url}/api/articles/tag:x,2018:nothing", headers=AUTH)
    assert unknown.status_code == 404
    # Unquoted ids (with ':' and '/') work too.
    r = httpx.delete(f"{url}/api/articles/tag:tuyengiaohungyen.vn,2018:bai-viet/4002", headers=AUTH)
    assert r.status_code == 204
    assert app.store.articles.count() == 0
    # Pushing it again republishes it.
    r = httpx.post(f"{url}/api/articles", json=article(1), headers=AUTH)
    assert r.json()["results"][0]["outcome"] == "updated"
    assert app.store.articles.count() == 1
