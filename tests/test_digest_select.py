"""The digest window and selection: pure functions over Article values."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tgfeed.config import DigestConfig, DigestSection
from tgfeed.digest.select import in_categories, matches_keywords, select, window
from tgfeed.model import Article
from tgfeed.text import LOCAL_TZ, iso_week_key, last_complete_week


def art(
    n: int,
    title: str,
    when: datetime,
    category: tuple[str, ...] = ("Chính trị - Xã hội", "Tin tức trong tỉnh"),
    *,
    summary: str = "",
    views: int = 0,
) -> Article:
    return Article(
        id=f"tag:test,2026:{n}",
        url=f"https://tuyengiaohungyen.vn/bai-viet/a-{n}.aspx",
        title=title,
        category=category,
        published_at=when,
        body_text=summary or title,
        summary=summary,
        views=views,
    )


def local(y: int, m: int, d: int, h: int = 9, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=LOCAL_TZ).astimezone(UTC)


HOAT_DONG = ("Thông tin - Tuyên truyền", "Tin tức hoạt động")


def test_window_is_monday_to_monday_local_time() -> None:
    start, end = window("2026-W48")
    assert start == datetime(2026, 11, 23, 0, 0, tzinfo=LOCAL_TZ)
    assert end == datetime(2026, 11, 30, 0, 0, tzinfo=LOCAL_TZ)
    assert start.tzinfo is UTC  # UTC inside
    assert start.isoformat() == "2026-11-22T17:00:00+00:00"


def test_window_edges_are_half_open() -> None:
    rules = DigestConfig(keywords=["hội nghị"], most_read=0)
    start, end = window("2026-W48")
    articles = [
        art(1, "Hội nghị sớm nhất", start),
        art(2, "Hội nghị tuần trước", start - timedelta(seconds=1)),
        art(3, "Hội nghị cuối tuần", end - timedelta(seconds=1)),
        art(4, "Hội nghị tuần sau", end),
    ]
    chosen = select(articles, "2026-W48", rules)
    assert [a.id[-1] for a in chosen.articles] == ["3", "1"]


def test_bad_week_key() -> None:
    with pytest.raises(ValueError, match="ISO week"):
        window("2026-48")


def test_last_complete_week_for_a_monday_morning_fire() -> None:
    # Monday 30/11/2026 07:00 +07:00, and a late run on Tuesday: both W48.
    assert last_complete_week(datetime(2026, 11, 30, 0, 0, tzinfo=UTC)) == "2026-W48"
    assert last_complete_week(datetime(2026, 12, 1, 3, 0, tzinfo=UTC)) == "2026-W48"
    # Sunday night local time is still in W48, so the last complete week is W47.
    assert last_complete_week(datetime(2026, 11, 29, 16, 59, tzinfo=UTC)) == "2026-W47"


@given(st.integers(min_value=2000, max_value=2100), st.integers(min_value=1, max_value=53))
def test_consecutive_week_windows_tile_without_gaps(year: int, week: int) -> None:
    key = f"{year}-W{week:02d}"
    try:
        start, end = window(key)
    except ValueError:  # a year without week 53
        return
    assert end - start == timedelta(days=7)
    nxt = iso_week_key(end)
    next_start, _ = window(nxt)
    assert next_start == end  # no gap, no overlap
    assert iso_week_key(start) == key
    assert iso_week_key(end - timedelta(microseconds=1)) == key


@given(st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2099, 1, 1)))
def test_every_instant_falls_in_exactly_its_weeks_window(naive: datetime) -> None:
    instant = naive.replace(tzinfo=UTC)
    start, end = window(iso_week_key(instant))
    assert start <= instant < end


@pytest.mark.parametrize(
    ("text", "keyword", "hit"),
    [
        ("Hội nghị giao ban báo chí", "hội nghị", True),
        ("HỘI NGHỊ TỔNG KẾT", "hội nghị", True),  # case
        ("Hội nghị", "hoi nghi", True),  # typed without tone marks
        ("Tọa đàm khoa học", "toạ đàm", True),  # old/new tone placement
        ("Toạ đàm khoa học", "tọa đàm", True),
        ("Hội nghị".replace("ộ", "ô\u0323"), "hội nghị", True),  # NFD input
        ("Đảng ủy họp phiên thường kỳ", "họp", True),
        ("Phối hợp tuyên truyền", "họp", False),  # hợp is not họp
        ("Phối hợp tuyên truyền", "hop", True),  # no diacritics typed: matches any
        ("Hội nghị", "hội", True),
        ("Hộinghị", "hội nghị", False),  # whole words only
        ("Tập huấn nghiệp vụ", "hội thảo", False),
    ],
)
def test_keyword_matching(text: str, keyword: str, hit: bool) -> None:
    assert matches_keywords(text, [keyword]) is hit


def test_categories_include_descendants_only_on_slug_boundaries() -> None:
    a = art(1, "x", local(2026, 11, 24), HOAT_DONG)
    assert in_categories(a, ["thong-tin-tuyen-truyen"])
    assert in_categories(a, ["thong-tin-tuyen-truyen/tin-tuc-hoat-dong"])
    assert not in_categories(a, ["thong-tin"])
    assert not in_categories(a, ["thong-tin-tuyen-truyen/tin-tuc"])


def test_sections_first_match_wins_and_catch_all_takes_the_rest() -> None:
    rules = DigestConfig()  # defaults: "Hội nghị" by keywords, then "Hoạt động"
    articles = [
        art(1, "Đoàn công tác khảo sát tại Kim Động", local(2026, 11, 24), HOAT_DONG),
        art(2, "Hội nghị giao ban báo chí tháng 11", local(2026, 11, 23)),
        art(3, "Làng hoa Xuân Quan vào vụ Tết", local(2026, 11, 25)),  # not selected
        art(4, "Tọa đàm kỷ niệm ngày Nhà giáo", local(2026, 11, 20 + 6), summary="Chiều 26/11"),
        art(5, "Phối hợp tuyên truyền", local(2026, 11, 27)),  # hợp ≠ họp: not selected
    ]
    chosen = select(articles, "2026-W48", rules)
    assert [s.title for s in chosen.sections] == ["Hội nghị", "Hoạt động"]
    assert [a.id[-1] for a in chosen.sections[0].articles] == ["4", "2"]  # newest first
    assert [a.id[-1] for a in chosen.sections[1].articles] == ["1"]
    assert chosen.count == 3


def test_section_by_category_and_no_catch_all_drops_the_rest() -> None:
    rules = DigestConfig(
        categories=["thong-tin-tuyen-truyen"],
        keywords=["hội nghị"],
        sections=[DigestSection(title="Tuyên truyền", categories=["thong-tin-tuyen-truyen"])],
        most_read=0,
    )
    articles = [
        art(1, "Khảo sát", local(2026, 11, 24), HOAT_DONG),
        art(2, "Hội nghị ở nơi khác", local(2026, 11, 24)),
    ]
    chosen = select(articles, "2026-W48", rules)
    assert [s.title for s in chosen.sections] == ["Tuyên truyền"]
    assert [a.id[-1] for a in chosen.articles] == ["1"]


def test_max_items_keeps_the_newest() -> None:
    rules = DigestConfig(max_items=3, most_read=0)
    articles = [art(i, f"Hội nghị số {i}", local(2026, 11, 23, 8 + i)) for i in range(6)]
    chosen = select(articles, "2026-W48", rules)
    assert [a.id[-1] for a in chosen.articles] == ["5", "4", "3"]


def test_most_read_ranks_the_whole_window_by_views() -> None:
    rules = DigestConfig(most_read=2)
    articles = [
        art(1, "Hội nghị A", local(2026, 11, 23), views=50),
        art(2, "Tin khác rất nhiều người đọc", local(2026, 11, 24), views=900),
        art(3, "Hội nghị B", local(2026, 11, 25), views=300),
        art(4, "Tin chưa ai đọc", local(2026, 11, 26), views=0),
        art(5, "Hội nghị tuần trước", local(2026, 11, 16), views=5000),
    ]
    chosen = select(articles, "2026-W48", rules)
    assert [a.id[-1] for a in chosen.most_read] == ["2", "3"]
    assert DigestConfig(most_read=0).most_read == 0
    assert select(articles, "2026-W48", DigestConfig(most_read=0)).most_read == ()


def test_empty_week() -> None:
    chosen = select([art(1, "Làng hoa", local(2026, 11, 24))], "2026-W48", DigestConfig())
    assert chosen.empty
    assert chosen.sections == ()


def test_sample_week_48(sample_app) -> None:  # type: ignore[no-untyped-def]
    start, end = window("2026-W48")
    chosen = select(sample_app.store.articles.between(start, end), "2026-W48", DigestConfig())
    titles = [a.title for a in chosen.articles]
    assert chosen.count >= 3
    assert any("Hội nghị" in t for t in titles)
    assert all(start <= a.published_at < end for a in chosen.articles)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.add("." * node.level + (node.module or ""))
    return found


SRC = Path(__file__).resolve().parents[1] / "src" / "tgfeed"
EDGES = {
    "aiosmtplib",
    "sqlite3",
    "sqlite_utils",
    "starlette",
    "httpx",
    "smtplib",
    "mailbox",
    "asyncio",
    "socket",
    "..app",
    "..store",
    "..mail",
    "..web",
    "..jobs",
}


@pytest.mark.parametrize("module", ["select.py", "render.py", "message.py"])
def test_the_digest_core_imports_no_edge(module: str) -> None:
    imported = _imports(SRC / "digest" / module)
    assert not {i for i in imported if i.split(".")[0] in EDGES or i in EDGES}, imported
    assert not any(
        i.startswith(("..store", "..mail", "..app", "..jobs", "..web")) for i in imported
    )


@pytest.mark.parametrize(
    ("library", "home"),
    [
        ("aiosmtplib", "mail/smtp.py"),
        ("css_inline", "digest/render.py"),
        ("dkim", "digest/signing.py"),
    ],
)
def test_each_mail_library_has_one_home(library: str, home: str) -> None:
    users = {
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if any(i == library or i.startswith(library + ".") for i in _imports(p))
    }
    assert users == {home}
