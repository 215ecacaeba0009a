"""Rendering: golden files, determinism, round trips through feedparser and lxml,
spec details readers rely on, hostile input, and the layering rule."""

from __future__ import annotations

import ast
import dataclasses
import json
import os
import re
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import feedparser
import lxml.etree as ET
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.feeds_support import (
    ATOM,
    CONTENT,
    assert_safe_html,
    check_atom,
    check_json,
    check_rss,
    rfc822,
)
from tests.fuzz_support import UNICODE_FRAGMENTS
from tgfeed.app import App
from tgfeed.config import Config
from tgfeed.feeds import catalog
from tgfeed.feeds.opml import Outline, render_opml
from tgfeed.feeds.publish import Publisher
from tgfeed.feeds.render import (
    EMPTY_FEED_DATE,
    Channel,
    Options,
    fingerprint,
    render,
    render_many,
)
from tgfeed.model import Article

GOLDEN = Path(__file__).parent / "golden" / "feeds"
REGEN = os.environ.get("TGFEED_REGEN_GOLDEN") == "1"
GOLDEN_CATEGORY = "thong-tin-tuyen-truyen/tin-tuc-hoat-dong"
SRC = Path(__file__).resolve().parents[1] / "src" / "tgfeed"
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc)
FORMATS = ("rss", "atom", "json")


def opts(**kw: object) -> Options:
    return dataclasses.replace(Options.from_config(Config()), **kw)  # type: ignore[arg-type]


CHANNEL = Channel(
    id="tag:tuyengiaohungyen.vn,2018:feeds/test",
    title="Thử nghiệm · Ban Tuyên giáo Tỉnh ủy Hưng Yên",
    description="Nguồn tin thử nghiệm",
    base_url="http://127.0.0.1:8080/feeds/test",
    home_url="https://tuyengiaohungyen.vn",
)


def art(n: int, **kw: object) -> Article:
    base = Article(
        id=f"tag:tuyengiaohungyen.vn,2018:bai-viet/{n}",
        url=f"https://tuyengiaohungyen.vn/bai-viet/bai-{n}-{n}.aspx",
        title=f"Hội nghị số {n}",
        category=("Thông tin - Tuyên truyền", "Tin tức hoạt động"),
        published_at=T0 + timedelta(hours=n),
        body_text=f"Nội dung bài {n}.",
        body_html=f"<p>Nội dung bài {n}.</p>",
        summary=f"Tóm tắt bài {n}.",
        author="Nguyễn Văn A",
    )
    return dataclasses.replace(base, **kw)  # type: ignore[arg-type]


def parse_ok(data: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


# -- golden files ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_golden_category_feed(sample_app: App, fmt: str) -> None:
    pub = Publisher(sample_app)
    rendered = pub.feed(GOLDEN_CATEGORY, fmt)
    assert rendered is not None
    golden = GOLDEN / f"tin-tuc-hoat-dong.{fmt}"
    if REGEN or not golden.exists():
        if not REGEN:
            pytest.fail(f"{golden} is missing; run with TGFEED_REGEN_GOLDEN=1 to create it")
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(rendered.body)
    assert rendered.body == golden.read_bytes(), (
        f"{golden.name} differs; if the change is intended, regenerate with "
        "TGFEED_REGEN_GOLDEN=1 and review the diff"
    )


# -- determinism ---------------------------------------------------------------


def test_same_data_same_bytes_whatever_the_input_order() -> None:
    items = [art(n) for n in range(1, 8)]
    first = render_many(FORMATS, CHANNEL, items, opts())
    again = render_many(FORMATS, CHANNEL, list(reversed(items)), opts())
    assert first == again
    assert fingerprint(CHANNEL, items, opts()) == fingerprint(CHANNEL, items[::-1], opts())


def test_dates_come_from_the_data_not_the_clock() -> None:
    items = [art(1), art(3, updated_at=T0 + timedelta(days=2)), art(2)]
    rss = check_rss(render("rss", CHANNEL, items, opts()))
    atom = check_atom(render("atom", CHANNEL, items, opts()))
    newest = T0 + timedelta(days=2)
    assert rfc822(rss.findtext("channel/lastBuildDate") or "") == newest
    assert rss.findtext("channel/lastBuildDate") == "Sun, 22 Nov 2026 08:00:00 +0700"
    assert atom.findtext(f"{ATOM}updated") == "2026-11-22T08:00:00+07:00"
    assert rss.findtext("channel/generator") == "tgfeed"
    assert atom.findtext(f"{ATOM}generator") == "tgfeed"


def test_empty_feed_is_valid_and_deterministic() -> None:
    for fmt in FORMATS:
        assert render(fmt, CHANNEL, [], opts()) == render(fmt, CHANNEL, [], opts())
    rss = check_rss(render("rss", CHANNEL, [], opts()))
    assert rfc822(rss.findtext("channel/lastBuildDate") or "") == EMPTY_FEED_DATE
    check_atom(render("atom", CHANNEL, [], opts()))
    assert check_json(render("json", CHANNEL, [], opts()))["items"] == []


def test_newest_first_ties_broken_by_id_and_limited() -> None:
    same = T0 + timedelta(days=100)
    items = [art(n, published_at=same) for n in (3, 1, 2)] + [art(n) for n in range(4, 60)]
    parsed = parse_ok(render("atom", CHANNEL, items, opts(items=5)))
    ids = [e.id for e in parsed.entries]
    assert ids == [art(n).id for n in (3, 2, 1, 59, 58)]


# -- what readers rely on ------------------------------------------------------


def test_rss_channel_details() -> None:
    hub = "https://websub.example.org/hub"
    root = check_rss(render("rss", CHANNEL, [art(1), art(2)], opts(hub=hub)))
    ch = root.find("channel")
    assert ch is not None
    # feedgen uses the last link added for <link>: it must be the alternate one.
    assert ch.findtext("link") == "https://tuyengiaohungyen.vn"
    links = [(el.get("rel"), el.get("href")) for el in ch.findall(f"{ATOM}link")]
    assert links == [("self", "http://127.0.0.1:8080/feeds/test.rss"), ("hub", hub)]
    assert ch.findtext("copyright") == Config().site.attribution
    item = ch.find("item")
    assert item is not None
    guid = item.find("guid")
    assert guid is not None and guid.get("isPermaLink") == "false"
    assert guid.text == art(2).id
    assert item.findtext("pubDate") == "Fri, 20 Nov 2026 10:00:00 +0700"
    assert item.findtext("{http://purl.org/dc/elements/1.1/}creator") == "Nguyễn Văn A"
    assert [c.text for c in item.findall("category")] == [
        "Thông tin - Tuyên truyền",
        "Tin tức hoạt động",
    ]
    assert item.findtext(CONTENT) == "<p>Nội dung bài 2.</p>"


def test_atom_and_json_details() -> None:
    hub = "https://websub.example.org/hub"
    o = opts(hub=hub, icon="https://tuyengiaohungyen.vn/favicon.ico")
    atom = check_atom(render("atom", CHANNEL, [art(1)], o))
    assert atom.findtext(f"{ATOM}rights") == Config().site.attribution
    rels = [el.get("rel") for el in atom.findall(f"{ATOM}link")]
    assert rels == ["self", "hub", "alternate"]
    assert atom.findtext(f"{ATOM}icon") == "https://tuyengiaohungyen.vn/favicon.ico"
    entry = atom.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}published") == "2026-11-20T09:00:00+07:00"
    assert entry.find(f"{ATOM}content").get("type") == "html"  # type: ignore[union-attr]
    feed = check_json(render("json", CHANNEL, [art(1)], o))
    assert feed["hubs"] == [{"type": "WebSub", "url": hub}]
    assert feed["_rights"]["text"] == Config().site.attribution
    item = feed["items"][0]
    assert item["date_published"] == "2026-11-20T09:00:00+07:00"
    assert item["content_html"] == "<p>Nội dung bài 1.</p>"
    assert item["tags"] == ["Thông tin - Tuyên truyền", "Tin tức hoạt động"]


def test_summary_mode_carries_no_full_text() -> None:
    items = [art(1, body_html="<p>TOÀN VĂN</p>", body_text="TOÀN VĂN")]
    out = render_many(FORMATS, CHANNEL, items, opts(content="summary"))
    for fmt in FORMATS:
        assert "TOÀN VĂN".encode() not in out[fmt]
        assert "Tóm tắt bài 1.".encode() in out[fmt]
    assert ET.fromstring(out["rss"]).find(f"channel/item/{CONTENT}") is None
    assert ET.fromstring(out["atom"]).find(f"{ATOM}entry/{ATOM}content") is None
    assert json.loads(out["json"])["items"][0]["content_text"] == "Tóm tắt bài 1."


def test_every_feed_of_the_samples_round_trips(sample_app: App) -> None:
    """feedparser (bozo 0) reads back ids, titles, dates and order; lxml parses all."""
    pub = Publisher(sample_app)
    listed = pub.listing()
    assert len(listed) >= 10
    for entry in listed:
        spec = entry.spec
        items = sample_app.store.articles.latest(spec.category, pub.opts.items)
        assert items, spec.key
        channel = pub.channel(spec)
        out = render_many(FORMATS, channel, items, pub.opts)
        check_rss(out["rss"])
        check_atom(out["atom"])
        feed = check_json(out["json"])
        for fmt in ("rss", "atom"):
            parsed = parse_ok(out[fmt])
            assert parsed.feed.title == channel.title
            assert [e.id for e in parsed.entries] == [a.id for a in items]
            assert [e.title for e in parsed.entries] == [a.title for a in items]
            got = [datetime(*e.published_parsed[:6], tzinfo=timezone.utc) for e in parsed.entries]
            assert got == [a.published_at for a in items]
        assert [i["id"] for i in feed["items"]] == [a.id for a in items]
        published = [datetime.fromisoformat(i["date_published"]) for i in feed["items"]]
        assert published == [a.published_at for a in items]


# -- hostile input ---------------------------------------------------------------

HOSTILE = Article(
    id="tag:tuyengiaohungyen.vn,2018:bai-viet/666",
    url="https://tuyengiaohungyen.vn/bai-viet/x-666.aspx",
    title="Tiêu đề \x00\x0b có ]]> và <script>alert(1)</script> 😀\ufffe",
    category=("Thông tin - Tuyên truyền",),
    published_at=T0,
    body_text="Chữ\x07 NFD: " + unicodedata.normalize("NFD", "Hội nghị Đảng ủy"),
    body_html=(
        "<p onclick='alert(1)'>Đoạn ]]> một</p><script>alert(1)</script>"
        '<a href="javascript:alert(1)">bấm</a><img src=x onerror="alert(1)">'
        '<iframe src="https://evil.example"></iframe><p>\x01 emoji 🇻🇳 '
        + unicodedata.normalize("NFD", "Tuyên giáo")
        + "</p>"
    ),
    summary="Tóm tắt <b>in đậm</b> & ]]> <script>x</script>",
    author="Tác\x1f giả",
)


def test_hostile_article_yields_valid_feeds_with_nothing_executable() -> None:
    out = render_many(FORMATS, CHANNEL, [HOSTILE], opts())
    check_rss(out["rss"])
    check_atom(out["atom"])
    feed = check_json(out["json"])
    for fmt in ("rss", "atom"):
        parsed = parse_ok(out[fmt])
        # A title is text: the markup in it stays visible text, control characters go.
        assert parsed.entries[0].title == "Tiêu đề có ]]> và <script>alert(1)</script> 😀"
        assert parsed.entries[0].title_detail.type == "text/plain"
    html = feed["items"][0]["content_html"]
    assert "script" not in html and "onclick" not in html and "onerror" not in html
    assert "javascript" not in html and "iframe" not in html
    # NFD in, NFC out; XML-illegal characters gone; emoji kept.
    assert unicodedata.normalize("NFC", "Tuyên giáo") in html and "🇻🇳" in html
    assert "\x01" not in html
    assert feed["items"][0]["author" + "s"] == [{"name": "Tác giả"}]
    # The summary is text: in RSS/Atom it is escaped once more, so "<b>" shows as text.
    desc = ET.fromstring(out["rss"]).findtext("channel/item/description") or ""
    assert "&lt;b&gt;in đậm&lt;/b&gt;" in desc and "<b>" not in desc


def test_a_non_http_article_link_falls_back_to_the_site() -> None:
    bad = art(1, url="javascript:alert(1)")
    root = check_rss(render("rss", CHANNEL, [bad], opts()))
    assert root.findtext("channel/item/link") == opts().site_url


_SPICE = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "]]>",
        "javascript:alert(1)",
        '<img src=x onerror="alert(1)">',
        '<a href="javascript:alert(1)">x</a>',
        '<svg onload="alert(1)">',
        "<style>body{}</style>",
        "\x00\x0b\x1f\ufffe\uffff\x85\u2028",
        unicodedata.normalize("NFD", "Hội nghị Đảng ủy"),
        "😀🇻🇳",
        "&amp; &lt; &#0; &#x1;",
        *UNICODE_FRAGMENTS,
        "<![CDATA[x]]>",
    ]
)
_TEXT = st.lists(st.one_of(st.text(max_size=40), _SPICE), max_size=6).map("".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=_TEXT,
    summary=_TEXT,
    body_html=_TEXT,
    body_text=_TEXT,
    author=st.one_of(st.none(), _TEXT),
    category=st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=3),
    content=st.sampled_from(["full", "summary"]),
)
def test_any_text_gives_parseable_feeds_with_no_script(
    title: str,
    summary: str,
    body_html: str,
    body_text: str,
    author: str | None,
    category: list[str],
    content: str,
) -> None:
    a = art(
        1,
        title=title,
        summary=summary,
        body_html=body_html,
        body_text=body_text,
        author=author,
        category=tuple(category),
    )
    out = render_many(FORMATS, CHANNEL, [a, art(2)], opts(content=content))
    rss, atom = check_rss(out["rss"]), check_atom(out["atom"])
    feed = check_json(out["json"])
    for fmt in ("rss", "atom"):
        parsed = parse_ok(out[fmt])
        assert [e.id for e in parsed.entries] == [art(2).id, a.id]
        for e in parsed.entries:
            for c in e.get("content", []):
                assert_safe_html(c.value)
            assert_safe_html(e.get("summary", ""))
    for text in (out["rss"], out["atom"], out["json"]):
        text.decode("utf-8")  # valid UTF-8 (no lone surrogates)
    assert len(rss.findall("channel/item")) == 2
    assert len(atom.findall(f"{ATOM}entry")) == 2
    assert [i["id"] for i in feed["items"]] == [art(2).id, a.id]


# -- OPML, catalog, layering -------------------------------------------------------


def test_opml_nests_leaf_feeds_by_top_level_category_without_overlap(sample_app: App) -> None:
    pub = Publisher(sample_app)
    listed = pub.listing()
    root = ET.fromstring(pub.opml_bytes(listed))
    folders = root.findall("body/outline")
    # One folder per top-level category with sub-categories; a lone leaf sits at the top.
    names = [f.get("text") for f in folders]
    assert names == [
        "Chính trị - Xã hội",
        "Thông báo",
        "Thông tin - Tuyên truyền",
        "Văn hóa - Khoa giáo",
        "Xây dựng Đảng",
    ]
    assert folders[1].get("xmlUrl") == "http://127.0.0.1:8080/feeds/thong-bao.rss"
    urls = root.xpath("//outline/@xmlUrl")
    assert len(urls) == len(set(urls)) == 9  # each feed once: the 9 leaves
    assert "http://127.0.0.1:8080/feeds/all.rss" not in urls
    assert "http://127.0.0.1:8080/feeds/chinh-tri-xa-hoi.rss" not in urls  # overlaps children
    # Every article is in exactly one imported feed.
    leaves = [u.rsplit("/feeds/", 1)[1].removesuffix(".rss") for u in urls]
    per_leaf = [a.id for leaf in leaves for a in sample_app.store.articles.latest(leaf, 100)]
    assert sorted(per_leaf) == sorted(a.id for a in sample_app.store.articles.latest(None, 100))

    flat = ET.fromstring(pub.opml_bytes(listed, flat=True))
    assert [o.get("xmlUrl") for o in flat.findall("body/outline")] == urls
    assert all(o.get("type") == "rss" for o in flat.findall("body/outline"))
    assert parse_ok(render_opml("t", [Outline("a <&>", "http://x/a.rss", "http://x")]))


@pytest.mark.parametrize(
    ("rest", "expected"),
    [
        ("all.rss", ("all", "rss")),
        ("thong-tin/tin-tuc.atom", ("thong-tin/tin-tuc", "atom")),
        ("a/b/c.json", ("a/b/c", "json")),
        ("../etc/passwd.rss", None),
        ("..%2f.rss", None),
        ("a/../b.rss", None),
        ("a//b.rss", None),
        ("/a.rss", None),
        ("A.rss", None),
        ("a.xml", None),
        ("a.rss.rss", None),
        ("a\\b.rss", None),
        ("search.rss", None),
        ("a-.rss", None),
        ("x" * 2000 + ".rss", None),
        ("", None),
    ],
)
def test_feed_paths_are_validated(rest: str, expected: tuple[str, str] | None) -> None:
    assert catalog.parse_feed_path(rest) == expected


def test_feedgen_is_imported_only_by_the_renderer() -> None:
    importers = sorted(
        p.relative_to(SRC).as_posix()
        for p in SRC.rglob("*.py")
        if re.search(r"^\s*(from|import) feedgen", p.read_text(encoding="utf-8"), re.M)
    )
    assert importers == ["feeds/render.py"]
    # The renderer is pure: it imports no edge and never reads the clock.
    for name in ("render.py", "entries.py", "opml.py", "catalog.py"):
        tree = ast.parse((SRC / "feeds" / name).read_text(encoding="utf-8"))
        imported = {
            node.module or ""
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level > 0
        }
        edges = {"store", "app", "web", "jobs", "publish", "mail", "cache"}
        assert not imported & edges, (name, imported)
        calls = {
            node.func.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        }
        assert not calls & {"now", "today", "utcnow", "time", "monotonic"}, (name, calls)
