"""The build does not sanitise the store's HTML again (issue 14): ingest's sanitiser
is the one guard. Proven here for any imported HTML: what the store keeps is already
safe (only the sanitiser's elements and attributes, nothing that runs, unchanged by a
reader's NFC), and a feed rendered from the stored HTML as it is says the same as the
feed rendered with the build-time pass run again, under each image policy: byte for
byte for ordinary HTML; for combining marks next to markup, the stored form may keep
a character reference (``&#x338;``) where the pass wrote the character, or marks in
the order typed where the pass put them in canonical order — the same text once a
reader decodes the references and normalises (NFC)."""

from __future__ import annotations

import dataclasses
import html
import itertools
import json
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from tgfeed.app import App
from tgfeed.feeds.catalog import ALL_FEED, FORMATS
from tgfeed.feeds.publish import Publisher
from tgfeed.feeds.render import render_many
from tgfeed.jobs.ingest import import_paths

from .fuzz_support import fuzz_settings
from .test_security_unicode import assert_sanitised, hostile_records, record

_N = itertools.count()


def same_text(a: bytes, b: bytes) -> bool:
    """The same document once character references are decoded (the HTML inside the
    XML is escaped twice) and the text normalised (NFC), as a reader shows it."""

    def text(data: bytes) -> str:
        out = data.decode("utf-8")
        for _ in range(3):
            out = html.unescape(out)
        return unicodedata.normalize("NFC", out)

    return text(a) == text(b)


def stored_equals_sanitised(
    app: App, records: list[dict[str, Any]], folder: Path, *, exact: bool = False
) -> int:
    """Import ``records``; check every stored article; how many there are."""
    path = folder / f"records-{next(_N)}.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    import_paths(app, [path])
    articles = app.store.articles.latest(None, 50)
    if not articles:
        return 0  # every record was refused (an empty title, say): nothing stored
    for a in articles:
        assert_sanitised(a.body_html, a.id)
    pub = Publisher(app)
    channel = pub.channel(ALL_FEED)
    for images in ("keep", "https-only", "drop"):
        opts = dataclasses.replace(pub.opts, images=images)  # type: ignore[arg-type]
        as_stored = render_many(FORMATS, channel, articles, opts, stored=True)
        again = render_many(FORMATS, channel, articles, opts)
        if exact:
            assert as_stored == again, images
        for fmt in FORMATS:
            assert same_text(as_stored[fmt], again[fmt]), (images, fmt)
    return len(articles)


def test_the_sample_records_html_is_stored_sanitised(
    app_factory: Callable[..., App], tmp_path: Path
) -> None:
    # Links, an https image and an http one (which only "keep" keeps), a relative link.
    body = (
        "<p>Đoạn <b>một</b> <a href='/bai-viet/x.aspx' onclick='x()'>liên kết</a></p>"
        "<img src='https://tuyengiaohungyen.vn/a.jpg' alt='ảnh'>"
        "<img src='http://tuyengiaohungyen.vn/b.jpg'><script>alert(1)</script>"
    )
    got = stored_equals_sanitised(app_factory(), [record(body_html=body)], tmp_path, exact=True)
    assert got == 1


@given(records=st.lists(hostile_records(), min_size=1, max_size=3))
@fuzz_settings(25)
def test_any_imported_html_is_stored_sanitised(
    app_factory: Callable[..., App], tmp_path: Path, records: list[dict[str, Any]]
) -> None:
    for i, r in enumerate(records):  # distinct articles
        r["url"] = f"https://tuyengiaohungyen.vn/bai-viet/fuzz-{next(_N)}-{i}.aspx"
    assume(stored_equals_sanitised(app_factory(), records, tmp_path) > 0)
