"""Page parser: the behaviours issue 17 found unpinned (each was changed and every
test still passed)."""

from __future__ import annotations

import unicodedata

import pytest

from tgfeed.errors import IngestError
from tgfeed.ids import article_id
from tgfeed.parser import PageSource, decode, parse_html, parse_page

SITE = "https://tuyengiaohungyen.vn"
HOAT_DONG = ("Thông tin - Tuyên truyền", "Tin tức hoạt động")
LONG = "Sáng nay, Ban Tuyên giáo Tỉnh ủy tổ chức hội nghị triển khai nhiệm vụ năm 2026."


def page(*body: str, head: str = "Hội nghị triển khai nhiệm vụ") -> str:
    return "\n".join(
        [
            "Trang chủ » Thông tin - Tuyên truyền » Tin tức hoạt động",
            "Đăng ngày: 09/08/2019 - 4:29:33 PM | Lượt xem: 1.503 | Lưu Tú",
            head,
            *body,
        ]
    )


def html_page(content: str, *, canonical: str | None = None, h1: str = "") -> str:
    link = f'<link rel="canonical" href="{canonical}">' if canonical is not None else ""
    return (
        f"<!DOCTYPE html><html><head>{link}</head><body>"
        "<div>Trang chủ » Thông tin - Tuyên truyền » Tin tức hoạt động</div>"
        "<div>Đăng ngày: 09/08/2019 - 4:29:33 PM | Lượt xem: 7</div>"
        f"<h1>{h1}</h1><div>Tiêu đề trong trang</div>"
        f'<div class="news-content">{content}</div></body></html>'
    )


# -- decoding -------------------------------------------------------------------


def test_utf8_is_tried_before_cp1258_without_a_declared_charset() -> None:
    """These UTF-8 bytes also decode as windows-1258, into garbage: UTF-8 must win."""
    text = "Hội nghị triển khai công tác tuyên giáo"
    data = text.encode("utf-8")
    data.decode("cp1258")  # the trap: no error, garbled text
    assert decode(data) == text


CP1258 = b"H\xf4\xf2i nghi\xf2 \xd0a\xd2ng b\xf4\xf2"  # "Hội nghị Đảng bộ", tones combining


def test_cp1258_is_the_fallback_for_old_pages() -> None:
    assert unicodedata.normalize("NFC", decode(CP1258)) == "Hội nghị Đảng bộ"


def test_declared_and_meta_charsets_come_first() -> None:
    latin = "Hội".encode().decode("latin-1")
    assert decode("Hội".encode(), declared="latin-1") == latin  # declared: trusted
    assert decode(b'<meta charset="latin-1">' + "Hội".encode()).endswith(latin)
    assert decode(CP1258, declared="utf-8") == CP1258.decode("cp1258")  # wrong: next
    utf = "<meta charset=bogus-name>Hội nghị".encode()
    assert decode(utf) == "<meta charset=bogus-name>Hội nghị"  # unknown name: skipped
    assert decode(b"\xef\xbb\xbfH\xe1\xbb\x99i") == "Hội"  # a BOM wins over everything
    assert decode(b"\xef\xbb\xbf\xff") == "\ufffd"


# -- URLs and ids -----------------------------------------------------------------


def test_javascript_canonical_link_is_ignored() -> None:
    a = parse_html(
        html_page(f"<p>{LONG}</p>", canonical="javascript:alert(1)"), PageSource("p.html")
    )
    assert a.url.startswith(f"{SITE}/bai-viet/")
    assert a.id == "tag:tuyengiaohungyen.vn,2018:page/p"


def test_canonical_link_is_used_without_a_fetched_url() -> None:
    a = parse_html(
        html_page(f"<p>{LONG}</p>", canonical="/bai-viet/hoi-nghi-3602.aspx"), PageSource("p.html")
    )
    assert a.url == f"{SITE}/bai-viet/hoi-nghi-3602.aspx"
    assert a.id == "tag:tuyengiaohungyen.vn,2018:bai-viet/3602"


def test_fetched_url_wins_over_the_canonical_link() -> None:
    """The id comes from where the page was fetched; a canonical link cannot move it."""
    fetched = f"{SITE}/bai-viet/that-1234.aspx"
    html = html_page(f"<p>{LONG}</p>", canonical=f"{SITE}/bai-viet/other-9999.aspx")
    a = parse_html(html, PageSource("p.html", url=fetched))
    assert a.url == fetched
    assert a.id == "tag:tuyengiaohungyen.vn,2018:bai-viet/1234"


def test_article_ids() -> None:
    assert article_id(f"{SITE}/bai-viet/abc-12.aspx", "h") == "tag:h,2018:bai-viet/12"
    assert article_id(f"{SITE}/gioi-thieu.aspx", "h") == "tag:h,2018:gioi-thieu"
    assert article_id(f"{SITE}/", "h") == "tag:h,2018:index"
    assert article_id(f"{SITE}/abc-12.html", "h") == "tag:h,2018:abc-12"


# -- body, signature ---------------------------------------------------------------


def test_photo_only_article_is_kept() -> None:
    a = parse_html(
        html_page('<p><img src="/anh/1.jpg"></p>', h1="Ảnh hội nghị"), PageSource("p.html")
    )
    assert "<img" in a.body_html and f"{SITE}/anh/1.jpg" in a.body_html
    assert a.title == "Ảnh hội nghị"
    assert a.body_text == "Ảnh hội nghị"  # the title stands in for the missing text


def test_html_whose_content_element_is_empty_is_refused() -> None:
    """Text beside the content element (a sidebar) is no body for the article."""
    html = html_page("<p> </p>").replace("</body>", f"<p>{LONG}</p></body>")
    with pytest.raises(IngestError, match=r"'Tiêu đề trong trang' has no body$"):
        parse_html(html, PageSource("p.html"))


def test_h1_is_the_title_wherever_it_stands() -> None:
    html = html_page(f"<p>{LONG}</p>").replace("<body>", "<body><h1>Tiêu đề H1</h1>", 1)
    assert parse_html(html, PageSource("p.html")).title == "Tiêu đề H1"
    no_h1 = html_page(f"<p>{LONG}</p>").replace("<h1></h1>", "")
    assert parse_html(no_h1, PageSource("p.html")).title == "Tiêu đề trong trang"


def test_all_caps_first_paragraph_is_body_not_footer() -> None:
    a = parse_page(page("THÔNG BÁO KHẨN VỀ PHÒNG CHỐNG DỊCH", LONG), PageSource("p.txt"))
    assert a.body_text.split("\n\n") == ["THÔNG BÁO KHẨN VỀ PHÒNG CHỐNG DỊCH", LONG]
    b = parse_page(page(LONG, "BAN TUYÊN GIÁO TỈNH ỦY HƯNG YÊN"), PageSource("p.txt"))
    assert b.body_text == LONG  # after the body, shouting is the footer


def test_one_line_notice_is_body_not_signature() -> None:
    a = parse_page(page("Thông báo nghỉ lễ"), PageSource("p.txt"))
    assert a.body_text == "Thông báo nghỉ lễ"
    assert a.signature is None
    assert a.summary == "Thông báo nghỉ lễ"


def test_four_word_byline_is_a_signature_five_words_are_not() -> None:
    a = parse_page(page(LONG, "Nguyễn Văn Minh Tuấn"), PageSource("p.txt"))
    assert (a.signature, a.body_text) == ("Nguyễn Văn Minh Tuấn", LONG)
    b = parse_page(page(LONG, "Nguyễn Văn Minh Tuấn Anh"), PageSource("p.txt"))
    assert b.signature is None and b.body_text.endswith("Tuấn Anh")


@pytest.mark.parametrize(
    "closing",
    [
        "Nguyễn-Thị-Thu-Hà/Báo-Hưng-Yên-tỉnh-Hưng",
        "Xin cảm ơn.",
        "Kết luận:",
        "Trân trọng,",
        "Ghi chú;",
    ],
)
def test_closing_sentence_is_not_a_signature(closing: str) -> None:
    a = parse_page(page(LONG, closing), PageSource("p.txt"))
    assert a.signature is None
    assert a.body_text == f"{LONG}\n\n{closing}"


@pytest.mark.parametrize(
    "sig", ["NT", "T.H.", "Thu Hà.", "PV/TTXVN", "Nguyễn-Thị-Thu-Hà/Báo-Hưng-Yên-tỉnh-Hưn"]
)
def test_short_signatures(sig: str) -> None:
    a = parse_page(page(LONG, sig), PageSource("p.txt"))
    assert (a.signature, a.body_text) == (sig, LONG)


def test_html_signature_leaves_the_body_markup() -> None:
    a = parse_html(html_page(f"<p>{LONG}</p><p>NT</p>"), PageSource("p.html"))
    assert a.signature == "NT"
    assert ">NT<" not in a.body_html and LONG in a.body_html
    assert a.title == "Tiêu đề trong trang"  # h1 empty: the page's title line


def test_header_fields_and_summary_lead() -> None:
    a = parse_page(page("Ngắn.", LONG, LONG + " Thêm"), PageSource("p.txt"))
    assert a.views == 1503 and a.author == "Lưu Tú"
    assert a.summary == LONG  # the first paragraph of 60+ characters
    assert a.category_slug == "thong-tin-tuyen-truyen/tin-tuc-hoat-dong"
    assert a.url == f"{SITE}/bai-viet/hoi-nghi-trien-khai-nhiem-vu.aspx"


def test_related_titles_and_footer() -> None:
    a = parse_page(
        page(LONG, "Bài viết khác:", "Tin một", "Tin hai", "Giấy phép xuất bản số 1"),
        PageSource("p.txt"),
    )
    assert a.related == ("Tin một", "Tin hai")
    assert a.body_text == LONG


# -- structure, found by the mutation run ------------------------------------------


def test_a_page_without_breadcrumb_is_refused() -> None:
    text = page(LONG).split("\n", 1)[1]
    with pytest.raises(IngestError, match="no breadcrumb"):
        parse_page(text, PageSource("p.txt"))


def test_views_default_to_zero() -> None:
    text = page(LONG).replace(" | Lượt xem: 1.503", "")
    a = parse_page(text, PageSource("p.txt"))
    assert (a.views, a.author) == (0, "Lưu Tú")


def test_summary_limit_is_300_characters() -> None:
    exact = ("Hội nghị " * 40)[:299] + "x"
    assert len(exact) == 300
    a = parse_page(page(exact), PageSource("p.txt"))
    assert a.summary == exact


def test_lead_paragraph_is_the_first_of_60_characters() -> None:
    sixty = "Hội nghị tổng kết công tác tuyên giáo năm 2026 của tỉnh nhà."
    assert len(sixty) == 60
    a = parse_page(page("Ngắn.", sixty, LONG), PageSource("p.txt"))
    assert a.summary == sixty


def test_page_name_gives_the_id_of_a_page_without_url() -> None:
    for name in ("some/dir/trang-1.txt", "C:\\pages\\trang-1.txt"):
        a = parse_page(page(LONG), PageSource(name))
        assert a.id == "tag:tuyengiaohungyen.vn,2018:page/trang-1", name


def test_html_without_content_element_or_h1() -> None:
    html = (
        "<!DOCTYPE html><html><body>"
        "<div>Trang chủ » Thông tin - Tuyên truyền » Tin tức hoạt động</div>"
        "<div>Đăng ngày: 09/08/2019 - 4:29:33 PM | Lượt xem: 7</div>"
        f"<div>Tiêu đề trong trang</div><p>{LONG}</p><p>NT</p></body></html>"
    )
    a = parse_page(html.encode(), PageSource("p.html"))
    assert (a.title, a.body_text, a.signature, a.views) == ("Tiêu đề trong trang", LONG, "NT", 7)
    assert a.body_html == f"<p>{LONG}</p>"


def test_markup_without_doctype_is_still_html() -> None:
    html = html_page(f"<p>{LONG}</p>", h1="Tiêu đề H1").split("<html>", 1)[1]
    assert parse_page(html, PageSource("p.html")).title == "Tiêu đề H1"


def test_a_malformed_canonical_link_is_ignored() -> None:
    a = parse_html(html_page(f"<p>{LONG}</p>", canonical="http://[bad"), PageSource("p.html"))
    assert a.url.startswith(f"{SITE}/bai-viet/")


def test_a_charset_declared_in_the_first_4096_bytes_counts() -> None:
    decl = b"charset=cp1258"
    data = b" " * (4096 - len(decl)) + decl + "Hội".encode()
    assert decode(data).endswith("Hội".encode().decode("cp1258"))
    later = b" " + data
    assert decode(later).endswith("Hội")  # cut at 4096 bytes: "cp125", unknown


# -- more holes from the full mutation run ---------------------------------------


def test_summary_of_301_characters_is_cut() -> None:
    long = ("Hội nghị " * 40)[:300] + "x"
    a = parse_page(page(long), PageSource("p.txt"))
    assert len(a.summary) <= 300 and a.summary.endswith("…")


def test_breadcrumb_must_name_a_category_and_the_last_one_wins() -> None:
    with pytest.raises(IngestError, match="names no category"):
        parse_page(
            page(LONG).replace(" » Thông tin - Tuyên truyền » Tin tức hoạt động", " »"),
            PageSource("p.txt"),
        )
    two = "Trang chủ » Liên hệ\nTrang chủ\n" + page(LONG)
    assert parse_page(two, PageSource("p.txt")).category == HOAT_DONG
    first, rest = page(LONG).split("\n", 1)
    other = f"{first}\nTin nổi bật » Xem thêm\n{rest}"  # not a breadcrumb: no "Trang chủ"
    assert parse_page(other, PageSource("p.txt")).category == HOAT_DONG


def test_a_title_without_body_is_refused() -> None:
    with pytest.raises(IngestError, match="has no body paragraphs"):
        parse_page(page(), PageSource("p.txt"))


def test_a_bad_publication_date_is_an_ingest_error() -> None:
    with pytest.raises(IngestError, match="bad publication date"):
        parse_page(page(LONG).replace("09/08/2019", "31/02/2019"), PageSource("p.txt"))


def test_shouting_line_of_8_letters_is_a_footer_7_is_not() -> None:
    a = parse_page(page(LONG, "BAN TUYÊN"), PageSource("p.txt"))
    assert (a.body_text, a.signature) == (LONG, None)
    b = parse_page(page(LONG, "BAN TUYE"[:3] + " GIÁO"), PageSource("p.txt"))
    assert (b.body_text, b.signature) == (LONG, "BAN GIÁO")


def test_lead_falls_back_to_the_first_paragraph() -> None:
    a = parse_page(page("Một.", "Hai ba bốn năm sáu."), PageSource("p.txt"))
    assert a.summary == "Một."
    fifty_nine = "Hội nghị tổng kết công tác tuyên giáo năm 2026 của tỉnh nhà"
    assert len(fifty_nine) == 59
    assert parse_page(page(fifty_nine, LONG), PageSource("p.txt")).summary == LONG


def test_content_selectors_in_order() -> None:
    html = html_page("<p>Sai chỗ, phần khung bên ngoài của trang web này.</p>").replace(
        "</body>", f'<div id="ctl00_divNoiDung"><p>{LONG}</p></div></body>'
    )
    assert parse_html(html, PageSource("p.html")).body_text == LONG


def test_last_block_is_removed_only_when_it_is_the_signature() -> None:
    a = parse_html(html_page(f"<p>{LONG}</p><div>NT</div>"), PageSource("p.html"))
    assert a.signature == "NT" and LONG in a.body_html


def test_signature_outside_the_content_element_is_kept() -> None:
    html = html_page(f"<p>{LONG}</p>").replace("</body>", "<p>NT</p></body>")
    assert parse_html(html, PageSource("p.html")).signature == "NT"


def test_html_one_line_notice_is_body() -> None:
    a = parse_html(html_page("<p>Thông báo nghỉ lễ</p>"), PageSource("p.html"))
    assert (a.body_text, a.signature) == ("Thông báo nghỉ lễ", None)


def test_script_text_never_becomes_body() -> None:
    html = (
        "<!DOCTYPE html><html><body>"
        "<div>Trang chủ » Thông tin - Tuyên truyền » Tin tức hoạt động</div>"
        "<div>Đăng ngày: 09/08/2019 - 4:29:33 PM</div><!-- ghi chú -->"
        f"<div>Tiêu đề</div><script>var x = 1;</script><p>{LONG}</p></body></html>"
    )
    a = parse_page(html, PageSource("p.html"))
    assert a.body_text == LONG


def test_inline_text_and_blocks_are_separate_lines() -> None:
    a = parse_html(
        html_page(f"Dòng đầu<p>{LONG}</p>Dòng cuối cùng của bài viết này"), PageSource("p.html")
    )
    assert a.body_text.split("\n\n") == ["Dòng đầu", LONG, "Dòng cuối cùng của bài viết này"]


SECOND = "Hội nghị đã thống nhất các giải pháp trọng tâm cho những tháng cuối năm 2026."


@pytest.mark.parametrize(
    "content",
    [
        # the body wrapped in a <div>, as editors' pasted content often is
        f'<div><p>{LONG}</p><p>{SECOND}</p><p style="text-align: right;"><strong>NT</strong></p></div>',
        # the signature line in a <div> of its own
        f'<p>{LONG}</p><p>{SECOND}</p><div style="text-align: right;"><b>NT</b></div>',
        # both, with an empty paragraph after it
        f"<div><p>{LONG}</p><div><p>{SECOND}</p></div><div><p><b>NT</b></p></div></div><p> </p>",
    ],
    ids=["body-in-a-div", "signature-in-a-div", "nested-divs"],
)
def test_signature_in_a_div_is_taken_out_of_the_body_html(content: str) -> None:
    """The signature is stored apart: it must not also close the body's HTML
    (a feed would show it twice, and body_html would disagree with body_text)."""
    a = parse_html(html_page(content), PageSource("p.html"))
    assert a.signature == "NT"
    assert a.body_text == f"{LONG}\n\n{SECOND}"
    assert "NT" not in a.body_html
    assert LONG in a.body_html and SECOND in a.body_html


def test_signature_in_a_layout_table_leaves_no_empty_table() -> None:
    """Pages pasted from a word processor right-align the initials with a table:
    the whole table goes, not just the text inside it."""
    content = f"<p>{LONG}</p><p>{SECOND}</p><table><tr><td><strong>NT</strong></td></tr></table>"
    a = parse_html(html_page(content), PageSource("p.html"))
    assert a.signature == "NT"
    assert "<table" not in a.body_html and "<td" not in a.body_html


def test_signature_removal_keeps_what_shares_its_block() -> None:
    """Only an element holding nothing but the signature goes; a paragraph ending
    in it (after a line break) and images stay."""
    a = parse_html(
        html_page(f'<p>{LONG}</p><p>{SECOND}</p><p><img src="/anh/1.jpg"></p><p>NT</p>'),
        PageSource("p.html"),
    )
    assert a.signature == "NT" and "NT" not in a.body_html and "/anh/1.jpg" in a.body_html
    b = parse_html(html_page(f"<p>{LONG}</p><p>{SECOND}<br>NT</p>"), PageSource("p.html"))
    assert b.signature == "NT" and SECOND in b.body_html
    c = parse_html(html_page(f'<p>{LONG}</p><p><img src="/anh/2.jpg"> NT</p>'), PageSource("p"))
    assert c.signature == "NT" and "/anh/2.jpg" in c.body_html
