"""The import path's shortcuts decide exactly as the full checks they skip."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from tgfeed.errors import IngestError
from tgfeed.store import open_store
from tgfeed.text import _PLAIN_URL, _parsed_http_url, clean_line, clean_lines, is_http_url

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


LINE = st.lists(
    st.sampled_from([*"ab đĐ\u00a0\u0301\u0323\u0338>\t\u200b\u4e00", "ạ", "e\u0301"]),
    max_size=8,
).map("".join)


@settings(max_examples=1000, deadline=None)
@given(st.lists(LINE, max_size=6))
def test_one_check_of_many_lines_agrees_with_clean_line_on_each(texts: list[str]) -> None:
    assert clean_lines(texts) == all(clean_line(t) == t for t in texts)


@settings(max_examples=200, deadline=None)
@given(
    title=LINE.filter(lambda t: t.strip()),
    summary=LINE,
    author=st.one_of(st.none(), LINE),
    related=st.lists(LINE, max_size=3),
    names=st.lists(LINE.filter(lambda t: any(c.isalpha() for c in t)), min_size=1, max_size=2),
)
def test_a_record_reads_the_same_with_and_without_the_one_pass_check(
    title: str, summary: str, author: str | None, related: list[str], names: list[str]
) -> None:
    import tgfeed.importers as imp

    rec = {
        "url": "https://example.org/a.aspx",
        "title": title,
        "summary": summary,
        "author": author,
        "related": related,
        "category": names,
        "published": "2026-01-02T03:04:05+07:00",
        "body_text": "Nội dung.",
    }

    def read() -> object:
        try:
            return imp.article_from_record(dict(rec), "x", "https://example.org")
        except IngestError as exc:
            return exc.message

    fast = read()
    saved = imp._lines_clean
    imp._lines_clean = lambda rec: False  # type: ignore[assignment]
    try:
        slow = read()
    finally:
        imp._lines_clean = saved
    assert fast == slow
