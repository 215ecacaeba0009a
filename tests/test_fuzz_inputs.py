"""Fuzzing the inputs tgfeed reads from files: article pages, JSON Lines and CSV
imports, the TOML config. Nothing but the documented errors may come out:
``IngestError`` for a bad item (the batch goes on), ``ConfigError`` for a bad
config — never another exception, never a hang.

CI runs a bounded number of examples per target; ``TGFEED_FUZZ_EXAMPLES=10000
pytest tests/test_fuzz_*.py -q`` runs 10,000 per target.
"""

from __future__ import annotations

import csv
import io
import json
import tomllib
import unicodedata
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tgfeed.checks import run_checks
from tgfeed.config import Config
from tgfeed.errors import ConfigError, IngestError
from tgfeed.importers import EXPORT_FIELDS, read_csv, read_jsonl
from tgfeed.loader import loads
from tgfeed.model import Article
from tgfeed.parser import PageSource, parse_page
from tgfeed.scheduler.triggers import make_trigger, next_fire_times

from .feeds_support import assert_safe_html
from .fuzz_support import UNICODE_FRAGMENTS, fuzz_settings, toml_document

ROOT = Path(__file__).resolve().parents[1]
PAGES = Path(__file__).parent / "fixtures" / "pages"
SITE = "https://tuyengiaohungyen.vn"
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def assert_clean_article(a: Article) -> None:
    """What every article that comes out of any importer must be."""
    assert isinstance(a, Article)
    assert a.title.strip() and a.category and a.url.startswith(("http://", "https://"))
    assert a.published_at.tzinfo is not None
    for text in (a.title, a.summary, a.body_text, a.body_html, *a.category, *a.related):
        assert unicodedata.is_normalized("NFC", text)
        assert all(c in "\t\n" or ord(c) >= 0x20 for c in text), repr(text)
        assert not any(0xD800 <= ord(c) <= 0xDFFF or c in "\ufffe\uffff" for c in text)
    assert_safe_html(a.body_html)


# -- the page parser ------------------------------------------------------------

_REAL = [p.read_text(encoding="utf-8") for p in sorted(PAGES.glob("*")) if p.suffix != ".json"]
_HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">x</a>',
    '<a href=" jav&#x09;ascript:alert(1)">x</a>',
    "<svg/onload=alert(1)>",
    '<div style="background:url(javascript:alert(1))">',
    "<iframe src=//evil.example>",
    '<link rel="canonical" href="https://[::1">',
    '<link rel="canonical" href="https://<b>x</b>tuyengiaohungyen.vn/bai-viet/x-2.aspx">',
    '<link rel="canonical" href="http://tuyengiaohungyen.vn:99999/bai-viet/x-1.aspx">',
    '<meta charset="utf-7">+ADw-script+AD4-',
    "<!--",
    "<![CDATA[",
    "</div></div></div>",
    "<body>",
    "Đăng ngày: 31/02/2026 - 13:61:00 PM",
    "Đăng ngày: 09/08/2019 - 4:29:33 PM | Lượt xem: 99999999999999999999999 |",
    "Trang chủ » " + " » ".join(["Mục"] * 50),
    "Trang chủ » \u0000 » \ufeff",
    "\x00\x01\x1b[31m\u202e\u200b\ufffe",
    "Bài viết khác:",
    "x" * 3000,
    *UNICODE_FRAGMENTS,
]


@st.composite
def spliced_pages(draw: st.DrawFn) -> bytes | str:
    """A real fixture page cut, spliced with hostile fragments and random text,
    maybe NFD, maybe as bytes in another encoding."""
    page = draw(st.sampled_from(_REAL))
    pieces = [page]
    for _ in range(draw(st.integers(0, 6))):
        at = draw(st.integers(0, len(pieces[-1])))
        insert = draw(st.sampled_from(_HOSTILE) | st.text(max_size=30))
        last = pieces.pop()
        if draw(st.booleans()):  # cut: drop a random span
            end = draw(st.integers(at, min(len(last), at + 400)))
            pieces.append(last[:at] + insert + last[end:])
        else:
            pieces.append(last[:at] + insert + last[at:])
    text = "".join(pieces)
    if draw(st.booleans()):
        text = unicodedata.normalize("NFD", text)
    form = draw(st.sampled_from(["str", "utf-8", "cp1258", "utf-16", "latin-1"]))
    if form == "str":
        return text
    return text.encode(form, errors="replace")


@fuzz_settings(300)
@given(spliced_pages())
def test_fuzz_page_parser(data: bytes | str) -> None:
    try:
        a = parse_page(data, PageSource("fuzz.html", None, SITE))
    except IngestError as exc:
        assert exc.message.startswith("fuzz.html") and "\n" not in exc.message
        return
    assert_clean_article(a)


@fuzz_settings(300)
@given(st.binary(max_size=4000) | st.text(max_size=4000))
def test_fuzz_page_parser_on_noise(data: bytes | str) -> None:
    try:
        a = parse_page(data, PageSource("noise.txt", None, SITE))
    except IngestError:
        return
    assert_clean_article(a)


# -- JSON Lines and CSV imports ---------------------------------------------------

_scalar = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=40)
    | st.sampled_from(_HOSTILE)
)
_json = st.recursive(
    _scalar,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=10), c, max_size=4),
    max_leaves=12,
)
_dates = st.sampled_from(
    [
        "2026-11-24T08:15:00+07:00",
        "2026-11-24T08:15:00Z",
        "2026-11-24",
        "24/11/2026 - 8:15:00 AM",
        "9999-12-31T23:59:59+14:00",
        "0001-01-01T00:00:00-12:00",
        "2026-02-30T00:00:00",
        "1e309",
        "",
    ]
) | st.text(max_size=30)
_record = st.fixed_dictionaries(
    {},
    optional={
        **{k: _json for k in EXPORT_FIELDS},
        "title": st.text(max_size=80) | st.sampled_from(_HOSTILE),
        "published": _dates,
        "updated": _dates,
        "category": st.lists(st.text(max_size=20) | st.sampled_from(_HOSTILE), max_size=10)
        | st.text(max_size=40),
        "url": st.sampled_from(
            [
                "https://tuyengiaohungyen.vn/bai-viet/x-1.aspx",
                "javascript:alert(1)",
                "http://",
                "https://[::1",
                "https://tuyengiaohungyen.vn:99999/x",
                "https://<script>alert(1)</script>tuyengiaohungyen.vn/x",
                "//evil.example/x",
                "",
            ]
        )
        | st.text(max_size=30),
        "body_html": st.lists(st.sampled_from(_HOSTILE) | st.text(max_size=30), max_size=6).map(
            "".join
        ),
        "views": st.integers() | st.text(max_size=5) | st.floats(),
    },
)


@fuzz_settings(300)
@given(st.lists(_record | _json, max_size=5), st.sampled_from(["\n", "\r\n", "\n\n"]))
def test_fuzz_jsonl_import(records: list[Any], sep: str) -> None:
    lines = []
    for rec in records:
        try:
            lines.append(json.dumps(rec, ensure_ascii=False))
        except ValueError:
            lines.append(str(rec))
    items = list(read_jsonl(sep.join(lines), "fuzz.jsonl", SITE))
    for label, item in items:
        assert label.startswith("fuzz.jsonl:")
        if isinstance(item, IngestError):
            assert item.message.startswith(label)
        else:
            assert_clean_article(item)


def _csv_text(rows: list[dict[str, Any]], header: list[str]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        cells = []
        for key in header:
            v = row.get(key, "")
            if isinstance(v, list):
                v = " » ".join(map(str, v)) if key == "category" else " | ".join(map(str, v))
            cells.append("" if v is None else str(v))
        w.writerow(cells)
    return buf.getvalue()


@fuzz_settings(300)
@given(
    st.lists(_record, max_size=4),
    st.lists(st.sampled_from([*EXPORT_FIELDS, "extra", ""]), min_size=1, max_size=16),
    st.text(max_size=60),
)
def test_fuzz_csv_import(rows: list[dict[str, Any]], header: list[str], junk: str) -> None:
    text = _csv_text(rows, header)
    for variant in (text, text + junk, junk + text, text[: len(text) // 2]):
        for label, item in read_csv(variant, "fuzz.csv", SITE):
            assert label.startswith("fuzz.csv")
            if isinstance(item, IngestError):
                assert item.message.startswith("fuzz.csv")
            else:
                assert_clean_article(item)


# -- the config loader -----------------------------------------------------------

_EXAMPLE = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
_toml_scalar = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30)
    | st.sampled_from(
        [
            "0 7 * * mon",
            "*/0 * * * *",
            "0 0 30 2 *",
            "61 25 * * *",
            "0 7 * * mon-sun/0",
            "@reboot",
            "9999999999999w",
            "0s",
            "5s",
            "1w",
            "Asia/Ho_Chi_Minh",
            "../../../etc/passwd",
            "/etc/localtime",
            "https://evil.example",
            "ftp://x",
            "a@b.vn",
            "a@b.vn\r\nBcc: x@y.vn",
            *UNICODE_FRAGMENTS,
            "smtp",
            "outbox",
            "send_digest",
            "build_feeds",
            "site",
            "feed",
            "directory",
            "(a+)+$",
            "[",
        ]
    )
    | st.datetimes(timezones=st.none() | st.just(UTC))
)
_toml_value = st.recursive(
    _toml_scalar,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=8,
)


def _paths(data: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(data, dict):
        for k, v in data.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += _paths(v, (*prefix, i))
    return out


@st.composite
def mutated_configs(draw: st.DrawFn) -> dict[str, Any]:
    """The example config with some values replaced, keys dropped or added."""
    data = json.loads(json.dumps(_EXAMPLE, default=str))
    jobs = {
        "weekly_digest": {"kind": "send_digest", "cron": "0 7 * * mon"},
        "build_feeds": {"kind": "build_feeds", "every": "15m"},
    }
    data.setdefault("schedule", {}).setdefault("jobs", jobs)
    for _ in range(draw(st.integers(1, 6))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        parent: Any = data
        for step in path[:-1]:
            parent = parent[step]
        key = path[-1]
        action = draw(st.sampled_from(["replace", "replace", "drop", "add"]))
        if action == "replace":
            parent[key] = draw(_toml_value)
        elif action == "drop":
            del parent[key]
        elif isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=10))] = draw(_toml_value)
    return data


def _check_loaded(config: Config) -> None:
    """A config that loads can be checked and scheduled without an exception."""
    tz = config.site.tz
    for job in config.schedule.jobs.values():
        make_trigger(job, tz)
        next_fire_times(job, tz, NOW)
    run_checks(config)


@fuzz_settings(300)
@given(mutated_configs())
def test_fuzz_config_loader(data: dict[str, Any]) -> None:
    text = toml_document(data)
    try:
        config = loads(text)
    except ConfigError as exc:
        assert exc.problems and all("\n" not in p for p in exc.problems)
        return
    _check_loaded(config)


@fuzz_settings(300)
@given(st.data())
def test_fuzz_config_bytes(data: st.DataObject) -> None:
    raw = bytearray((ROOT / "config.example.toml").read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw)))
        if data.draw(st.booleans()):
            del raw[at : at + data.draw(st.integers(1, 40))]
        else:
            raw[at:at] = data.draw(st.binary(min_size=1, max_size=8))
    try:
        config = loads(bytes(raw))
    except ConfigError:
        return
    _check_loaded(config)


# -- other sites' feeds (a crawl source) --------------------------------------------

_LINKS = st.sampled_from(
    [
        "https://baohungyen.vn/tin/1.html",
        "http://[::1",
        "https://x.vn:99999/",
        "javascript:alert(1)",
        "",
        "//no-scheme.vn/x",
    ]
) | st.text(max_size=20)
_DATES_822 = st.sampled_from(
    ["Tue, 24 Nov 2026 08:15:00 +0700", "Mon, 31 Feb 2026 25:00:00 +0700", "x", "9999999999"]
)
_FEED_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40) | st.sampled_from(
    _HOSTILE
)


@st.composite
def foreign_feeds(draw: st.DrawFn) -> bytes:
    from xml.sax.saxutils import escape

    items = []
    for _ in range(draw(st.integers(0, 4))):
        parts = [
            f"<title>{escape(draw(_FEED_TEXT))}</title>",
            f"<link>{escape(draw(_LINKS))}</link>",
            f"<guid>{escape(draw(_FEED_TEXT))}</guid>",
            f"<pubDate>{draw(_DATES_822)}</pubDate>",
            f"<description>{escape(draw(_FEED_TEXT))}</description>",
        ]
        items.append(
            "<item>" + "".join(draw(st.permutations(parts))[: draw(st.integers(0, 5))]) + "</item>"
        )
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(draw(_FEED_TEXT))}</title>{''.join(items)}</channel></rss>"
    )
    raw = doc.encode("utf-8")
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(raw)))
        raw = raw[:cut] + draw(st.binary(max_size=10))
    return raw


@fuzz_settings(200)
@given(foreign_feeds())
def test_fuzz_foreign_feed(data: bytes) -> None:
    from tgfeed.config import SourceConfig
    from tgfeed.sources.feeds import articles_from_feed

    source = SourceConfig(name="bao", kind="feed", url="https://baohungyen.vn/rss")
    try:
        items = articles_from_feed(
            data, source, url="https://baohungyen.vn/rss", site_url=SITE, now=NOW
        )
    except IngestError:
        return
    for _, item in items:
        if not isinstance(item, IngestError):
            assert_clean_article(item)
