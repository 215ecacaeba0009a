from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tgfeed.errors import IngestError
from tgfeed.ids import article_id
from tgfeed.parser import PageSource, parse_page
from tgfeed.text import iso_local

PAGES = Path(__file__).parent / "fixtures" / "pages"


def test_seed_page(seed_dir: Path) -> None:
    path = seed_dir / "000_4d45c8f300885717.txt"
    a = parse_page(path.read_bytes(), PageSource(path.name))
    assert a.title == "Hưng Yên: Một số kinh nghiệm trong triển khai công tác Tuyên giáo"
    assert a.category == ("Thông tin - Tuyên truyền", "Tin tức hoạt động")
    assert a.category_slug == "thong-tin-tuyen-truyen/tin-tuc-hoat-dong"
    assert iso_local(a.published_at) == "2019-08-09T16:29:33+07:00"
    assert a.views == 503
    assert a.author == "Lưu Tú"
    assert a.signature == "NT"
    paragraphs = a.body_text.split("\n\n")
    assert len(paragraphs) == 8
    assert paragraphs[0].startswith("Từ đầu nhiệm kỳ")
    assert paragraphs[-1].startswith("Thứ năm,")
    assert len(a.related) == 10
    assert a.related[-1] == "Hưng Yên tổ chức Hội nghị giao ban báo chí tháng 6"
    for footer in ("BAN TUYÊN GIÁO", "Giấy phép", "Ghi rõ nguồn", "0221 3 551 414"):
        assert footer not in a.body_text
        assert footer not in a.body_html
        assert all(footer not in r for r in a.related)
    assert len(a.summary) <= 300
    assert a.summary.startswith("Từ đầu nhiệm kỳ Đại hội XVIII")
    # The render date at the top of the page is not the article date.
    assert a.published_at.year == 2019


def _expected() -> dict[str, dict[str, object]]:
    path = PAGES / "expected.json"
    if not path.exists():
        pytest.skip("fixture pages not written yet")
    data: dict[str, dict[str, object]] = json.loads(path.read_text(encoding="utf-8"))
    return data


@pytest.mark.parametrize(
    "name",
    [
        "text_basic.txt",
        "text_no_author_12am.txt",
        "text_12pm_nfd.txt",
        "html_basic.html",
        "html_hostile.html",
    ],
)
def test_fixture_pages(name: str) -> None:
    exp = _expected()[name]
    path = PAGES / name
    a = parse_page(path.read_bytes(), PageSource(name))
    assert a.title == exp["title"]
    assert list(a.category) == exp["category"]
    assert iso_local(a.published_at) == exp["published"]
    assert a.views == exp["views"]
    assert a.author == exp["author"]
    assert a.signature == exp["signature"]
    assert len(a.related) == exp["related"]
    first = str(exp["first_paragraph_startswith"])
    assert a.body_text.startswith(first[:20])
    for text in (a.title, a.body_text, a.summary, *a.related, a.body_html):
        assert unicodedata.is_normalized("NFC", text)
        assert "\x07" not in text and "\u00a0" not in text


def test_html_page_keeps_markup_but_nothing_executable() -> None:
    path = PAGES / "html_hostile.html"
    if not path.exists():
        pytest.skip("fixture pages not written yet")
    a = parse_page(path.read_bytes(), PageSource(path.name))
    html = a.body_html.lower()
    assert "<script" not in html and "javascript:" not in html and "onerror" not in html
    assert "<iframe" not in html
    assert "BAN TUYÊN GIÁO" not in a.body_text


def test_html_page_resolves_links_and_id_from_canonical() -> None:
    path = PAGES / "html_basic.html"
    if not path.exists():
        pytest.skip("fixture pages not written yet")
    a = parse_page(path.read_bytes(), PageSource(path.name))
    assert a.url.startswith("https://tuyengiaohungyen.vn/bai-viet/")
    assert a.id.startswith("tag:tuyengiaohungyen.vn,2018:bai-viet/")
    assert 'src="https://tuyengiaohungyen.vn/Upload/' in a.body_html
    assert "<strong>" in a.body_html


@pytest.mark.parametrize("name", ["broken_no_date.txt", "broken_garbage.html"])
def test_broken_pages_name_file_and_what_is_missing(name: str) -> None:
    path = PAGES / name
    if not path.exists():
        pytest.skip("fixture pages not written yet")
    with pytest.raises(IngestError) as info:
        parse_page(path.read_bytes(), PageSource(name))
    assert name in info.value.message


def test_id_never_depends_on_the_title() -> None:
    page = (
        "Trang chủ » Chính trị - Xã hội » Tin tức trong tỉnh\n"
        "Đăng ngày: 20/01/2020 - 8:28:04 AM | Lượt xem: 1231 | Trần Thị Thanh Thủy\n\n"
        "{title}\n\nĐoạn thứ nhất của bài viết, đủ dài để làm phần tóm tắt của bài.\n\nĐoạn hai.\n"
    )
    src = PageSource("x.txt", url="https://tuyengiaohungyen.vn/bai-viet/tin-moi-1234.aspx")
    a = parse_page(page.format(title="Tiêu đề cũ"), src)
    b = parse_page(page.format(title="Tiêu đề đã sửa"), src)
    assert a.id == b.id == "tag:tuyengiaohungyen.vn,2018:bai-viet/1234"
    assert article_id("https://tuyengiaohungyen.vn/bai-viet/gioi-thieu.aspx", "h.vn") == (
        "tag:h.vn,2018:bai-viet/gioi-thieu"
    )


def test_missing_author_and_view_count_formats() -> None:
    page = (
        "Trang chủ » Thông báo\nĐăng ngày: 1/2/2021 - 12:05:00 AM | Lượt xem: 1.234\n\n"
        "Thông báo nghỉ Tết\n\nNội dung thông báo về lịch nghỉ Tết Nguyên đán năm 2021.\n"
    )
    a = parse_page(page, PageSource("t.txt"))
    assert a.author is None
    assert a.views == 1234
    assert iso_local(a.published_at) == "2021-02-01T00:05:00+07:00"
    assert a.signature is None


_noise = st.lists(
    st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=40)
    | st.sampled_from(
        [
            "\x00",
            "\x07",
            "\u00a0",
            "\ufffe",
            "]]>",
            "<script>",
            "»",
            "\r\n",
            "Bài viết khác:",
            "BAN TUYÊN GIÁO TỈNH ỦY",
            "x" * 5000,
            "😀",
        ]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(head=_noise, body=_noise, tail=_noise, html=st.booleans(), nfd=st.booleans())
def test_any_text_gives_an_article_or_an_ingest_error(
    head: str, body: str, tail: str, html: bool, nfd: bool
) -> None:
    page = (
        f"{head}\nTrang chủ » Tin » {head[:20]}\nĐăng ngày: 09/08/2019 - 4:29:33 PM | {tail[:30]}\n"
        f"\n{body[:80]}\n\n{body}\n\n{tail}\n"
    )
    if nfd:
        page = unicodedata.normalize("NFD", page)
    if html:
        page = f"<html><body><div class='news-content'>{page}</div></body></html>"
    try:
        a = parse_page(page, PageSource("fuzz.txt"))
    except IngestError as exc:
        assert "fuzz.txt" in exc.message
        return
    for text in (a.title, a.body_text, a.summary, a.body_html, *a.category, *a.related):
        assert unicodedata.is_normalized("NFC", text)
        assert all(c in "\t\n" or ord(c) >= 0x20 for c in text)
    assert "<script" not in a.body_html.lower()


@settings(max_examples=100)
@given(st.binary(max_size=2000))
def test_any_bytes_give_an_article_or_an_ingest_error(data: bytes) -> None:
    try:
        parse_page(data, PageSource("bytes.html"))
    except IngestError:
        pass
