"""Hostile Unicode never becomes markup.

Normalising (NFC) markup after it is serialised composes a tag's ``>`` with a
following U+0338 COMBINING LONG SOLIDUS OVERLAY into ``≯``: ``<p>`` + U+0338 …
became ``<p≯ onmouseover=alert(1) … x=</p>`` — the tag lost its ``>`` and the
paragraph's text turned into attributes. tgfeed normalises text before it
escapes or sanitises it, never after, and writes a combining mark at the start
of a text node as a character reference.

The property test pushes articles of any Unicode text (combining marks, U+0338,
U+20D2, fullwidth and compatibility look-alikes, bidi controls, markup) through
the real push API and parses every output a reader or a browser sees with
html5lib: each feed format (the category's, ``all``, search), the index page,
the admin page, the digest's HTML (mail and archive copy).
"""

from __future__ import annotations

import asyncio
import json
import re
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import html5lib
import httpx
import lxml.etree as ET
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tgfeed.app import App
from tgfeed.importers import export_record
from tgfeed.jobs.digest import compose
from tgfeed.jobs.resanitize import resanitize
from tgfeed.model import Article
from tgfeed.sanitize import allowed_attributes, allowed_tags, sanitize_html
from tgfeed.web import create_app

from .feeds_support import ATOM, CONTENT
from .fuzz_support import UNICODE_FRAGMENTS, fuzz_settings
from .test_fuzz_inputs import _HOSTILE

API = "unicode-api-token-0123456789"
ADMIN = "unicode-admin-token-0123456789"
WEB = '[web]\napi_token_env = "TGFEED_UNI_API"\nadmin_token_env = "TGFEED_UNI_ADMIN"\n'
AUTH = {"Authorization": f"Bearer {API}"}
URL = "https://tuyengiaohungyen.vn/bai-viet/kiem-tra-unicode-9001.aspx"
WEEK = "2026-W48"
CATEGORY = ["Thông tin - Tuyên truyền", "Tin tức hoạt động"]
# The reproduction: a paragraph of body_text that starts with U+0338.
U0338 = "\u0338 onmouseover=alert(1) style=position:fixed;inset:0 x="
_URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "poster", "background"}


@pytest.fixture
def server(
    app_factory: Callable[..., App], live_server: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[httpx.Client, App]]:
    monkeypatch.setenv("TGFEED_UNI_API", API)
    monkeypatch.setenv("TGFEED_UNI_ADMIN", ADMIN)
    app = app_factory(WEB)
    with (
        live_server(create_app(app, scheduler=False)) as srv,
        httpx.Client(base_url=srv.url, timeout=30) as client,
    ):
        yield client, app


# -- checking what comes out --------------------------------------------------------


def _elements(markup: str, *, document: bool = False) -> list[Any]:
    parse = html5lib.parse if document else html5lib.parseFragment
    tree = parse(markup, treebuilder="etree", namespaceHTMLElements=False)
    return [el for el in tree.iter() if isinstance(el.tag, str)]


def _runs_nothing(tag: str, attrs: dict[str, str], where: str) -> None:
    for name, value in attrs.items():
        assert not name.lower().startswith("on"), (where, tag, name, value)
        if name.lower() in _URL_ATTRS or ":" in value[:12]:
            v = re.sub(r"[\s\x00-\x20]", "", value).lower()
            assert not v.startswith(("javascript:", "vbscript:", "data:")), (where, tag, name)


def assert_sanitised(fragment: str, where: str) -> None:
    """Entry HTML: only the sanitiser's elements and attributes, nothing that runs —
    and the same after a reader normalises it (NFC), which changes nothing."""
    assert unicodedata.normalize("NFC", fragment) == fragment, (where, fragment[:200])
    for el in _elements(fragment):
        if el.tag == "DOCUMENT_FRAGMENT":
            continue
        assert el.tag in allowed_tags(), (where, el.tag, fragment[:300])
        extra = set(el.attrib) - allowed_attributes(el.tag)
        assert not extra, (where, el.tag, extra, fragment[:300])
        _runs_nothing(el.tag, dict(el.attrib), where)


def shape(markup: str) -> set[tuple[str, str]]:
    """The (element, attribute) pairs of a whole page; ``(tag, "")`` for each element."""
    pairs: set[tuple[str, str]] = set()
    for el in _elements(markup, document=True):
        pairs.add((el.tag, ""))
        pairs |= {(el.tag, a) for a in el.attrib}
    return pairs


def _sanitiser_shape() -> set[tuple[str, str]]:
    pairs = {(t, "") for t in allowed_tags()}
    return pairs | {(t, a) for t in allowed_tags() for a in allowed_attributes(t)}


def assert_page(markup: str, reference: set[tuple[str, str]], where: str) -> None:
    """A whole page: the template's own elements and attributes (those of the same
    page for a plain article) and the sanitiser's — nothing else, nothing that runs."""
    extra = shape(markup) - reference - _sanitiser_shape()
    assert not extra, (where, extra)
    for el in _elements(markup, document=True):
        _runs_nothing(el.tag, dict(el.attrib), where)


def _xml_shape(data: bytes) -> set[tuple[str, str]]:
    root = ET.fromstring(data)
    return {(str(el.tag), a) for el in root.iter() for a in ("", *el.attrib)}


def assert_feed(data: bytes, kind: str, reference: set[tuple[str, str]], where: str) -> None:
    """A feed: well-formed, the feed format's own elements only, every HTML field
    sanitised (see `assert_sanitised`)."""
    if kind == "json":
        feed = json.loads(data)
        assert set(feed) <= {k for k, _ in reference}, where
        for item in feed["items"]:
            assert_sanitised(item.get("content_html", ""), where)
            assert item["url"].startswith(("http://", "https://")), where
        return
    assert not _xml_shape(data) - reference, (where, _xml_shape(data) - reference)
    root = ET.fromstring(data)
    if kind == "rss":
        fields = [*root.iter("description"), *root.iter(CONTENT)]
    else:
        fields = [el for el in root.iter(f"{ATOM}content", f"{ATOM}summary")]
        fields = [el for el in fields if el.get("type") == "html"]
    for el in fields:
        assert_sanitised(el.text or "", where)


# -- the outputs ----------------------------------------------------------------------

FEEDS = [
    ("/feeds/all.rss", "rss"),
    ("/feeds/all.atom", "atom"),
    ("/feeds/all.json", "json"),
    ("/feeds/thong-tin-tuyen-truyen/tin-tuc-hoat-dong.rss", "rss"),
    ("/feeds/search.rss?q=kiemtra", "rss"),
    ("/feeds/search.atom?q=kiemtra", "atom"),
    ("/feeds/search.json?q=kiemtra", "json"),
]
PAGES = ["/", "/admin/status"]


def outputs(client: httpx.Client, app: App) -> tuple[dict[str, bytes], dict[str, str]]:
    """Every feed, the pages, and the week's digest (mail HTML and archive copy)."""
    feeds = {}
    for path, _ in FEEDS:
        r = client.get(path)
        assert r.status_code == 200, (path, r.status_code)
        feeds[path] = r.content
    pages = {}
    for path in PAGES:
        r = client.get(path, headers={"Authorization": f"Bearer {ADMIN}"})
        assert r.status_code == 200, (path, r.status_code)
        pages[path] = r.text
    _, rendered = compose(app, WEEK)
    pages["digest mail"] = rendered.html
    pages["digest archive"] = rendered.web_html
    return feeds, pages


def push(client: httpx.Client, record: dict[str, Any]) -> httpx.Response:
    return client.post("/api/articles", json=record, headers=AUTH)


def record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "url": URL,
        "title": "kiemtra Hội nghị giao ban",
        "category": CATEGORY,
        "published": "2026-11-25T09:30:00+07:00",
        "author": "Lưu Tú",
        "summary": "Tóm tắt.",
        "body_html": "<p>Đoạn <b>một</b> <a href='https://tuyengiaohungyen.vn/'>liên kết</a>"
        "</p><img src='https://tuyengiaohungyen.vn/a.jpg' alt='ảnh'>",
        "signature": "NT",
        "related": ["Bài liên quan"],
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


# -- the regression: the reproduction, through the HTTP API --------------------


def test_u0338_after_a_tag_never_unclosses_it_through_the_push_api(
    server: tuple[httpx.Client, App],
) -> None:
    client, app = server
    r = push(client, record(body_html=None, body_text=U0338))
    assert r.status_code == 200, r.text
    expected = "<p>&#x338; onmouseover=alert(1) style=position:fixed;inset:0 x=</p>"
    (item,) = client.get("/feeds/all.json").json()["items"]
    assert item["content_html"] == expected
    for path, kind in FEEDS:
        if kind != "json":
            body = client.get(path).content
            assert "≯".encode() not in body, path
    stored = app.store.articles.get(r.json()["results"][0]["id"])
    assert stored is not None and stored.body_html == expected
    assert export_record(stored)["body_html"] == expected  # `tgfeed export` too
    (p,) = [el for el in _elements(item["content_html"]) if el.tag == "p"]
    assert dict(p.attrib) == {} and "".join(p.itertext()) == U0338


def test_u0338_after_a_link_in_pushed_html_stays_text(server: tuple[httpx.Client, App]) -> None:
    client, app = server
    body = "<a href='https://tuyengiaohungyen.vn/'>\u0338 onclick=alert(1) x=</a>"
    r = push(client, record(body_html=body))
    assert r.status_code == 200, r.text
    stored = app.store.articles.get(r.json()["results"][0]["id"])
    assert stored is not None
    (a,) = [el for el in _elements(stored.body_html) if el.tag == "a"]
    assert set(a.attrib) == {"href", "rel"} and "".join(a.itertext()) == body[39:-4]


def test_resanitize_repairs_rows_stored_by_the_old_pipeline(app: App) -> None:
    """A row written before the fix (NFC after building the HTML) is rebuilt from its
    text; good rows are left alone; the job says how many changed."""
    good = Article(
        id="tag:x,2018:good",
        url=URL,
        title="Tốt",
        category=("A",),
        published_at=app.now(),
        body_text="Đoạn văn.",
        body_html=sanitize_html("<p>Đoạn <b>văn</b>.</p>"),
    )
    old_form = unicodedata.normalize("NFC", f"<p>{U0338}</p>")  # <p≯ onmouseover=…
    broken = Article(
        id="tag:x,2018:broken",
        url=URL.replace("9001", "9002"),
        title="Hỏng",
        category=("A",),
        published_at=app.now(),
        body_text=U0338,
        body_html=old_form,
    )
    app.store.articles.upsert([good, broken], now=app.now())
    assert resanitize(app.store, now=app.now(), dry_run=True).changed == ("tag:x,2018:broken",)
    result = resanitize(app.store, now=app.now())
    assert (result.checked, result.changed) == (2, ("tag:x,2018:broken",))
    fixed = app.store.articles.get("tag:x,2018:broken")
    assert fixed is not None and fixed.body_html == f"<p>&#x338;{U0338[1:]}</p>"
    assert resanitize(app.store, now=app.now()).changed == ()  # idempotent


# -- the property ---------------------------------------------------------------------

_ANY = st.characters(codec="utf-8", exclude_categories=("Cs",))
# U+0338 is the one mark that composes with markup characters (">", "<", "="): drawn
# on its own as often as all the other fragments together.
_MARKS = st.just("\u0338") | st.sampled_from(UNICODE_FRAGMENTS)
_PIECE = st.text(_ANY, max_size=10) | _MARKS | st.sampled_from(_HOSTILE[:20])
_TEXT = st.lists(_PIECE, max_size=6).map("".join)
_HTML = st.lists(
    _PIECE | st.sampled_from(["<p>", "</p>", "<b>", "<a href='https://x.vn/'>", "</a>", ">"]),
    max_size=8,
).map("".join)


@st.composite
def hostile_records(draw: st.DrawFn) -> dict[str, Any]:
    body = draw(st.sampled_from(["text", "html", "both"]))
    return record(
        title="kiemtra " + draw(_TEXT),
        category=[*CATEGORY, *draw(st.lists(_TEXT.filter(str.strip), max_size=1))],
        author=draw(_TEXT) or None,
        summary=draw(_TEXT),
        body_text=draw(_TEXT) if body != "html" else None,
        body_html=draw(_HTML) if body != "text" else None,
        signature=draw(_TEXT) or None,
        related=draw(st.lists(_TEXT, max_size=2)),
    )


def test_any_unicode_input_never_becomes_markup(server: tuple[httpx.Client, App]) -> None:
    client, app = server
    assert push(client, record()).status_code == 200
    ref_feeds, ref_pages = outputs(client, app)
    feed_refs = {
        p: {(k, "") for k in json.loads(d)} if k == "json" else _xml_shape(d)
        for (p, k), d in zip(FEEDS, ref_feeds.values(), strict=True)
    }
    page_refs = {name: shape(markup) for name, markup in ref_pages.items()}
    accepted = 0

    @fuzz_settings(40)
    @given(hostile_records())
    def check(rec: dict[str, Any]) -> None:
        nonlocal accepted
        r = push(client, rec)
        assert r.status_code in (200, 422), r.text
        if r.status_code == 422:
            return
        accepted += 1
        feeds, pages = outputs(client, app)
        for path, kind in FEEDS:
            assert_feed(feeds[path], kind, feed_refs[path], path)
        for name, markup in pages.items():
            assert_page(markup, page_refs[name], name)

    check()
    assert accepted > 0  # the property was checked on stored articles, not only refusals


def test_the_archive_of_a_sent_hostile_digest_runs_nothing(
    server: tuple[httpx.Client, App],
) -> None:
    """The archive pages of digests actually sent (the stored copies, not a render):
    a plain week gives the template's shape, the hostile week adds nothing to it."""
    client, app = server
    from tgfeed.jobs.digest import send_digest

    app.store.mail.add_subscriber("doc@example.vn", now=app.now(), status="active")
    plain = record(url=URL.replace("9001", "9003"), published="2026-11-18T09:30:00+07:00")
    assert push(client, plain).status_code == 200
    assert asyncio.run(send_digest(app, week="2026-W47")).status == "sent"
    reference = shape(client.get("/digests/2026-W47").text) | shape(client.get("/digests/").text)
    hostile = "".join(UNICODE_FRAGMENTS[-7:])
    assert push(client, record(title="kiemtra " + hostile, body_text=U0338)).status_code == 200
    assert asyncio.run(send_digest(app, week=WEEK)).status == "sent"
    for path in ("/digests/", f"/digests/{WEEK}"):
        r = client.get(path)
        assert r.status_code == 200
        assert_page(r.text, reference, path)
