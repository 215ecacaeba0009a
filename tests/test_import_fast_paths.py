"""The import path's shortcuts decide exactly as the full checks they skip."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tgfeed.store import open_store
from tgfeed.text import _PLAIN_URL, _parsed_http_url, is_http_url

URLISH = st.text(alphabet="htps:/[]@%?#.-_aZ09 \t\u00e9\u0110:", max_size=40)


@settings(max_examples=3000, deadline=None)
@given(st.one_of(URLISH, st.builds(lambda s: "https://" + s, URLISH)))
def test_the_plain_url_pattern_accepts_only_what_urlsplit_accepts(url: str) -> None:
    if _PLAIN_URL.fullmatch(url):
        assert _parsed_http_url(url)


def test_plain_urls_take_the_shortcut() -> None:
    assert is_http_url("https://tuyengiaohungyen.vn/bai-viet/a-1.aspx")
    assert _PLAIN_URL.fullmatch("https://tuyengiaohungyen.vn/bai-viet/a-1.aspx?x=1#y")
    assert not _PLAIN_URL.fullmatch("https://Tuyengiaohungyen.vn/")  # urlsplit decides
    assert not _PLAIN_URL.fullmatch("https://x.vn:80/")
    assert not _PLAIN_URL.fullmatch("https://x.vn/a b")


def test_a_known_category_is_found_without_a_write(tmp_path: Path) -> None:
    store = open_store(tmp_path / "s.db")
    first = store.articles.ensure_category(("Thông tin", "Tin tức"))
    changes = store.db.conn.total_changes
    again = store.articles.ensure_category(("Thông tin", "Tin tức"))
    assert again == first and store.db.conn.total_changes == changes
    # a description still reaches the stored category
    described = store.articles.ensure_category(("Thông tin", "Tin tức"), description="Mô tả")
    assert described.description == "Mô tả" and store.db.conn.total_changes > changes
    store.close()
