from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tgfeed.text import (
    clean,
    clean_line,
    fold,
    format_vi_date,
    iso_local,
    iso_week_key,
    last_complete_week,
    parse_site_datetime,
    slugify,
    summarize,
    week_window,
)


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Tin tức hoạt động", "tin-tuc-hoat-dong"),
        ("Thông tin - Tuyên truyền", "thong-tin-tuyen-truyen"),
        ("Đảng", "dang"),
        ("ĐẢNG ỦY", "dang-uy"),
        ("Văn hóa - Khoa giáo", "van-hoa-khoa-giao"),
        ("  Học tập và làm theo Bác  ", "hoc-tap-va-lam-theo-bac"),
        (unicodedata.normalize("NFD", "Hội nghị"), "hoi-nghi"),
    ],
)
def test_slugify(name: str, slug: str) -> None:
    assert slugify(name) == slug


def test_fold_handles_d_stroke_explicitly() -> None:
    assert fold("Đảng ủy") == "dang uy"
    assert fold("Hội nghị giao ban") == "hoi nghi giao ban"
    assert "dj" not in slugify("Đại đoàn kết")


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("09/08/2019 - 4:29:33 PM", "2019-08-09T16:29:33+07:00"),
        ("20/01/2020 - 8:28:04 AM", "2020-01-20T08:28:04+07:00"),
        ("1/2/2021 - 12:05:00 AM", "2021-02-01T00:05:00+07:00"),
        ("15/10/2026 - 12:30:00 PM", "2026-10-15T12:30:00+07:00"),
        ("31/12/2025 - 11:59:59 PM", "2025-12-31T23:59:59+07:00"),
        ("3/4/2024 - 9:07 am", "2024-04-03T09:07:00+07:00"),
    ],
)
def test_parse_site_datetime(text: str, local: str) -> None:
    value = parse_site_datetime(text)
    assert value.tzinfo is not None
    assert value.utcoffset() == timedelta(0)
    assert iso_local(value) == local


@pytest.mark.parametrize("bad", ["31/02/2026 - 1:00:00 PM", "1/1/2020 - 13:00:00 PM", "hôm qua"])
def test_parse_site_datetime_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_site_datetime(bad)


def test_vietnamese_date() -> None:
    when = parse_site_datetime("09/08/2019 - 4:29:33 PM")
    assert format_vi_date(when) == "Thứ Sáu, ngày 9 tháng 8 năm 2019"
    sunday = datetime(2026, 11, 29, 3, 0, tzinfo=timezone.utc)
    assert format_vi_date(sunday) == "Chủ Nhật, ngày 29 tháng 11 năm 2026"


def test_clean_removes_xml_illegal_and_folds_space() -> None:
    raw = unicodedata.normalize("NFD", "Hội\x07 nghị\u00a0\u00a0lần\ufffe 2\r\n")
    assert clean(raw) == "Hội nghị\u00a0\u00a0lần 2\n"
    assert clean_line(raw) == "Hội nghị lần 2"


def test_summarize_cuts_at_word_boundary() -> None:
    text = "Từ đầu nhiệm kỳ " * 40
    out = summarize(text, 300)
    assert len(out) <= 300
    assert out.endswith("…")
    assert not out[:-1].endswith(" ")
    assert summarize("Ngắn gọn.") == "Ngắn gọn."


def test_week_window_and_digest_week() -> None:
    start, end = week_window("2026-W48")
    assert iso_local(start) == "2026-11-23T00:00:00+07:00"
    assert iso_local(end) == "2026-11-30T00:00:00+07:00"
    fire = datetime(2026, 11, 30, 0, 0, tzinfo=timezone.utc)  # Monday 07:00 +07:00
    assert last_complete_week(fire) == "2026-W48"
    assert last_complete_week(fire + timedelta(days=1, hours=5)) == "2026-W48"
    assert iso_week_key(fire) == "2026-W49"


@given(st.integers(min_value=2000, max_value=2100), st.integers(min_value=1, max_value=52))
def test_week_windows_tile(year: int, week: int) -> None:
    _, end = week_window(f"{year}-W{week:02d}")
    nxt = iso_week_key(end)
    start2, _ = week_window(nxt)
    assert start2 == end


@given(st.text())
def test_clean_is_idempotent_and_xml_safe(text: str) -> None:
    once = clean(text)
    assert clean(once) == once
    assert unicodedata.is_normalized("NFC", once)
    assert all(c in "\t\n" or ord(c) >= 0x20 for c in once)
    assert "\ufffe" not in once and "\uffff" not in once
