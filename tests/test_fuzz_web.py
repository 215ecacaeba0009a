"""Fuzzing what strangers send over HTTP, against a real uvicorn server: push-API
bodies, search queries, feed paths, any request at all. The documented answers
only: 200 with a whole document, or a 4xx with a message — never a 5xx, never a
half document. After each run every feed is still valid.

CI runs a bounded number of examples per target; ``TGFEED_FUZZ_EXAMPLES=10000
pytest tests/test_fuzz_*.py -q`` runs 10,000 per target.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tgfeed.app import App
from tgfeed.feeds.catalog import normalize_query
from tgfeed.web import create_app

from .feeds_support import check_atom, check_json, check_rss
from .fuzz_support import UNICODE_FRAGMENTS, fuzz_settings
from .reliability_support import check_document
from .test_fuzz_inputs import _HOSTILE, _json, _record

TOKEN = "fuzz-token-0123456789abcdef"
WEB = '[web]\napi_token_env = "TGFEED_FUZZ_TOKEN"\nmax_body_bytes = 65536\n'
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HTML_HEADERS = ("content-security-policy", "x-content-type-options", "referrer-policy")


@pytest.fixture
def server(
    app_factory: Callable[..., App], live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[httpx.Client, App]]:
    monkeypatch.setenv("TGFEED_FUZZ_TOKEN", TOKEN)
    app = app_factory(WEB, samples=True)
    with (
        live_server(create_app(app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url, timeout=30) as client,
    ):
        yield client, app


def assert_feeds_still_valid(client: httpx.Client) -> None:
    for fmt, check in (("rss", check_rss), ("atom", check_atom), ("json", check_json)):
        r = client.get(f"/feeds/all.{fmt}")
        assert r.status_code == 200
        check(r.content)
    r = client.get("/")
    assert r.status_code == 200
    check_document("/", r.content, r.headers["content-type"])
    r = client.get("/feeds.opml")
    check_document("/feeds.opml", r.content, r.headers["content-type"])


def assert_documented(r: httpx.Response, allowed: set[int]) -> None:
    assert r.status_code in allowed, (r.status_code, r.text[:300])
    ctype = r.headers.get("content-type", "")
    if ctype.startswith("text/html"):
        check_document(str(r.url.path), r.content, ctype)
        for name in HTML_HEADERS:
            assert name in r.headers, f"{r.url.path} {r.status_code}: no {name}"


# -- push API bodies ----------------------------------------------------------------

_bodies = st.one_of(
    st.binary(max_size=3000),
    _record.map(lambda rec: json.dumps(rec, default=str).encode()),
    st.lists(_record, max_size=4).map(lambda recs: json.dumps(recs, default=str).encode()),
    _json.map(lambda v: json.dumps(v, default=str).encode()),
    st.integers(0, 200_000).map(lambda n: b"[" + b" " * n + b"]"),
    st.integers(1, 3000).map(lambda n: b"[" * n + b"]" * n),
    st.sampled_from([b"", b"null", b"[]", b"{}", b'"x"', b"1e999", b"\xef\xbb\xbf{}", b"NaN"]),
)
_ctypes = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/merge-patch+json",
        "text/plain",
        "multipart/form-data; boundary=x",
        "",
    ]
)


def test_fuzz_push_api_bodies(server: tuple[httpx.Client, App]) -> None:
    client, _ = server
    seen: set[int] = set()

    @fuzz_settings(150)
    @given(_bodies, _ctypes)
    def post(body: bytes, ctype: str) -> None:
        headers = {**AUTH, **({"Content-Type": ctype} if ctype else {})}
        r = client.post("/api/articles", content=body, headers=headers)
        seen.add(r.status_code)
        assert_documented(r, {200, 400, 413, 415, 422})
        payload = r.json()
        assert isinstance(payload, dict)
        if r.status_code == 200:
            assert payload["results"] and set(payload["counts"]) >= {"added", "updated"}
        else:
            assert isinstance(payload["error"], str) and "\n" not in payload["error"]
            for problem in payload.get("problems", []):
                assert problem["path"] and problem["message"]

    post()
    assert 422 in seen and 400 in seen
    assert_feeds_still_valid(client)


# -- search queries ------------------------------------------------------------------

_query_text = st.text(max_size=120) | st.lists(
    st.sampled_from(
        [
            '"',
            "*",
            "NEAR(",
            ")",
            " OR ",
            " AND ",
            " NOT ",
            "-",
            "^",
            "title:",
            "hội nghị",
            "đảng",
            "%",
            "\x00",
            "\u0301",
            "ﬁ",
            "İ",
            "'; DROP TABLE articles; --",
            *_HOSTILE[:6],
            *UNICODE_FRAGMENTS,
        ]
    ),
    max_size=12,
).map("".join)


def test_fuzz_search_query(server: tuple[httpx.Client, App]) -> None:
    client, app = server

    @fuzz_settings(150)
    @given(_query_text, st.sampled_from(["rss", "atom", "json"]))
    def search(q: str, fmt: str) -> None:
        hits = app.store.articles.search(q, limit=5)  # the store itself: never raises
        assert all(h.article.id for h in hits)
        r = client.get(f"/feeds/search.{fmt}", params={"q": q})
        assert_documented(r, {200, 400})
        if r.status_code == 200:
            {"rss": check_rss, "atom": check_atom, "json": check_json}[fmt](r.content)
        else:
            assert (
                not normalize_query(q[:400]) or len(normalize_query(q[:400])) > 100 or len(q) > 400
            )

    search()
    assert_feeds_still_valid(client)


# -- any request ---------------------------------------------------------------------

_segment = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12
) | st.sampled_from(
    ["..", ".", "%2e%2e", "%00", "feeds", "all.rss", "digests", "admin", "api", *UNICODE_FRAGMENTS]
)
_paths = st.lists(_segment, min_size=1, max_size=6).map(lambda segs: "/" + "/".join(segs))


def test_fuzz_any_request_is_answered_without_a_5xx(server: tuple[httpx.Client, App]) -> None:
    client, _ = server

    @fuzz_settings(150)
    @given(
        st.sampled_from(["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
        _paths | st.sampled_from(["/", "/feeds.opml", "/healthz", "/subscribe", "/digests/"]),
        st.dictionaries(
            st.sampled_from(
                [
                    "if-none-match",
                    "if-modified-since",
                    "accept-encoding",
                    "accept",
                    "authorization",
                    "content-type",
                ]
            ),
            st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
            max_size=3,
        ),
        st.binary(max_size=200),
    )
    def request(method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        try:
            r = client.request(method, path, headers=headers, content=body or None)
        except (httpx.InvalidURL, httpx.LocalProtocolError):
            return  # the client refuses to send it at all
        assert r.status_code < 500, (method, path, headers, r.status_code, r.text[:300])
        if method != "HEAD" and r.status_code == 200:
            ctype = r.headers.get("content-type", "")
            if ctype.startswith(
                (
                    "text/html",
                    "application/rss",
                    "application/atom",
                    "application/feed",
                    "text/x-opml",
                )
            ):
                check_document(path, r.content, ctype)

    request()
