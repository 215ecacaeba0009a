"""Pins of ``feeds.entries``: what an entry's content is made of and when the
sanitiser runs (the store's HTML is used as it is; anything else is sanitised), and
what a fingerprint depends on."""

from __future__ import annotations

import dataclasses

import pytest

from tgfeed.feeds import entries
from tgfeed.feeds.entries import fingerprint, fingerprint_keys, prepare
from tgfeed.model import ArticleKey

from .test_feeds_render import CHANNEL, art, opts

HOSTILE = '<p onclick="x()">Đoạn</p><script>alert(1)</script><a href="javascript:x()">y</a>'


def test_an_article_not_from_the_store_is_sanitised() -> None:
    (e,) = prepare([art(1, body_html=HOSTILE)], opts())
    assert e.content_html is not None
    assert "script" not in e.content_html and "onclick" not in e.content_html
    assert "javascript" not in e.content_html and "Đoạn" in e.content_html


def test_the_stores_html_is_used_as_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    def never(*args: object) -> str:
        raise AssertionError("the sanitiser ran on the store's HTML")

    monkeypatch.setattr(entries, "_safe_html", never)
    stored = '<p>Đoạn <a href="https://x.vn/" rel="noopener noreferrer">một</a></p>'
    for images in ("keep", "https-only", "drop"):
        (e,) = prepare([art(1, body_html=stored)], opts(images=images), stored=True)
        assert e.content_html == stored, images
    # With an <img>, only "keep" leaves it to the store's form.
    with_img = stored + '<img src="http://x.vn/a.jpg">'
    (e,) = prepare([art(1, body_html=with_img)], opts(images="keep"), stored=True)
    assert e.content_html == with_img


def test_stored_html_with_an_image_to_drop_goes_through_the_policy() -> None:
    with_img = '<p>Ảnh</p><img src="http://x.vn/a.jpg"><img src="https://x.vn/b.jpg">'
    (e,) = prepare([art(1, body_html=with_img)], opts(images="https-only"), stored=True)
    assert e.content_html is not None
    assert "http://x.vn/a.jpg" not in e.content_html and "https://x.vn/b.jpg" in e.content_html
    (e,) = prepare([art(1, body_html=with_img)], opts(images="drop"), stored=True)
    assert e.content_html is not None and "<img" not in e.content_html


@pytest.mark.parametrize("stored", [False, True])
def test_text_only_articles_get_their_paragraphs(stored: bool) -> None:
    (e,) = prepare([art(1, body_html="", body_text="Một <b>\n\nHai")], opts(), stored=stored)
    assert e.content_html == "<p>Một &lt;b&gt;</p><p>Hai</p>"


def test_fingerprints_change_with_the_options() -> None:
    items = [art(1), art(2)]
    keys = [ArticleKey(a.id, "h", a.published_at.isoformat(), "") for a in items]
    base, other = opts(), opts(rights="Bản quyền khác")
    assert fingerprint(CHANNEL, items, base) != fingerprint(CHANNEL, items, other)
    assert fingerprint_keys(CHANNEL, keys, base) != fingerprint_keys(CHANNEL, keys, other)
    assert fingerprint(CHANNEL, items, base) == fingerprint(
        CHANNEL, items, dataclasses.replace(base)
    )


def test_fingerprints_change_with_the_channel_and_the_articles() -> None:
    items = [art(1), art(2)]
    keys = [ArticleKey(a.id, "h", a.published_at.isoformat(), "") for a in items]
    retitled = dataclasses.replace(CHANNEL, title="Tên khác")
    o = opts()
    assert fingerprint(CHANNEL, items, o) != fingerprint(retitled, items, o)
    assert fingerprint_keys(CHANNEL, keys, o) != fingerprint_keys(retitled, keys, o)
    edited = [art(1, title="Tiêu đề đã sửa"), art(2)]
    assert fingerprint(CHANNEL, items, o) != fingerprint(CHANNEL, edited, o)
