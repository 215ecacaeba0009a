"""Digest selection: keywords found only in an article's summary (issue 17)."""

from __future__ import annotations

from datetime import timedelta

from tgfeed.config import DigestConfig, DigestSection
from tgfeed.digest.select import in_categories, matches_keywords, select, window

from .test_digest_select import art, local

OTHER = ("Văn hóa - Khoa giáo", "Thể thao")


def test_keyword_only_in_the_summary_selects_the_article() -> None:
    rules = DigestConfig(categories=[], keywords=["hội nghị"], sections=[], most_read=0)
    rules = rules.model_copy(update={"sections": [DigestSection(title="Tất cả")]})
    a = art(
        1,
        "Tỉnh ủy làm việc với huyện",
        local(2026, 11, 24),
        OTHER,
        summary="Sáng nay diễn ra hội nghị sơ kết",
    )
    b = art(2, "Tỉnh ủy làm việc với xã", local(2026, 11, 24), OTHER, summary="Không có gì")
    chosen = select([a, b], "2026-W48", rules)
    assert [x.id for x in chosen.articles] == [a.id]


def test_section_keyword_only_in_the_summary_picks_the_section() -> None:
    rules = DigestConfig(
        categories=[],
        keywords=["tỉnh ủy"],
        sections=[
            DigestSection(title="Hội nghị", keywords=["hội nghị"]),
            DigestSection(title="Khác"),
        ],
        most_read=0,
    )
    a = art(1, "Tỉnh ủy làm việc", local(2026, 11, 24), OTHER, summary="Tại hội nghị sáng nay")
    b = art(2, "Tỉnh ủy thăm hỏi", local(2026, 11, 25), OTHER, summary="Gia đình chính sách")
    chosen = select([a, b], "2026-W48", rules)
    assert [(s.title, [x.id for x in s.articles]) for s in chosen.sections] == [
        ("Hội nghị", [a.id]),
        ("Khác", [b.id]),
    ]


def test_capitalised_tone_free_keyword_matches() -> None:
    """ "COVID" typed in capitals matches "covid" and "Covid" in the text, and back."""
    assert matches_keywords("Phòng chống dịch covid-19", ["COVID"])
    assert matches_keywords("Phòng chống dịch Covid", ["COVID"])
    assert matches_keywords("PHÒNG CHỐNG DỊCH COVID", ["covid"])
    assert matches_keywords("HỘI NGHỊ tỉnh", ["hoi nghi"])
    assert not matches_keywords("covidien", ["COVID"])


def test_keywords_are_whole_word_sequences() -> None:
    assert matches_keywords("tổ chức hội nghị", ["hội nghị"])
    assert not matches_keywords("hội thảo nghị quyết", ["hội nghị"])
    assert not matches_keywords("nghị hội", ["hội nghị"])
    assert matches_keywords("hội nghị", ["hội nghị"])  # the whole text
    assert not matches_keywords("hội", ["hội nghị"])  # longer than the text
    assert not matches_keywords("phối hợp", ["họp"])
    assert not matches_keywords("hồi đáp", ["hội"])  # the tone tells words apart
    assert not matches_keywords("hội", ["hồi"])
    assert matches_keywords("toạ đàm", ["tọa đàm"])
    assert not matches_keywords("anything", ["", "  "])


def test_category_prefix_is_a_whole_level() -> None:
    a = art(1, "x", local(2026, 11, 24), ("Thông tin - Tuyên truyền", "Tin tức hoạt động"))
    assert in_categories(a, ["thong-tin-tuyen-truyen"])
    assert in_categories(a, ["thong-tin-tuyen-truyen/tin-tuc-hoat-dong"])
    assert not in_categories(a, ["thong-tin"])
    assert not in_categories(a, [])


def test_max_items_and_most_read() -> None:
    start, _ = window("2026-W48")
    arts = [
        art(i, f"Hội nghị {i}", start + timedelta(hours=i), OTHER, views=v)
        for i, v in enumerate([5, 0, 9, 5], start=1)
    ]
    rules = DigestConfig(categories=[], keywords=["hội nghị"], max_items=2, most_read=2)
    chosen = select(arts, "2026-W48", rules)
    assert [a.id for a in chosen.articles] == [arts[3].id, arts[2].id]  # newest first, 2 max
    assert chosen.count == 2 and not chosen.empty
    assert [a.id for a in chosen.most_read] == [arts[2].id, arts[3].id]  # ties: newer first
    none = select(arts, "2026-W48", rules.model_copy(update={"most_read": 0}))
    assert none.most_read == ()
    unviewed = select([arts[1]], "2026-W48", rules)
    assert unviewed.most_read == ()


def test_newest_first_by_time_not_by_id() -> None:
    start, _ = window("2026-W48")
    arts = [art(9 - i, f"Hội nghị {i}", start + timedelta(hours=i), OTHER) for i in range(3)]
    rules = DigestConfig(categories=[], keywords=["hội nghị"], most_read=0)
    chosen = select(arts, "2026-W48", rules)
    assert [a.title for a in chosen.articles] == ["Hội nghị 2", "Hội nghị 1", "Hội nghị 0"]


def test_one_view_is_enough_for_most_read() -> None:
    start, _ = window("2026-W48")
    one = art(1, "Hội nghị", start, OTHER, views=1)
    chosen = select([one], "2026-W48", DigestConfig(categories=[], keywords=[], most_read=3))
    assert chosen.most_read == (one,)
