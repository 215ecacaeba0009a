"""Rendering the digest: golden files for the sample week, and the properties a
mail client needs (fluid tables up to 600 px, lang, preheader, alt texts, dark mode, size)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selectolax.lexbor import LexborHTMLParser as HTMLParser

from tgfeed.app import App
from tgfeed.config import DigestConfig
from tgfeed.digest.render import date_range, make_subject, view
from tgfeed.digest.select import Selection, select
from tgfeed.jobs.digest import compose, message_template
from tgfeed.model import Article
from tgfeed.text import LOCAL_TZ
from tgfeed.tokens import placeholder

GOLDEN = Path(__file__).parent / "golden" / "digest"
REGEN = os.environ.get("TGFEED_REGEN_GOLDEN") == "1"
WEEK = "2026-W48"


def golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if REGEN or not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
        if not REGEN:
            pytest.fail(f"{path} was missing and has been written; check it and rerun")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, f"{name} differs from its golden file (TGFEED_REGEN_GOLDEN=1)"


def test_golden_subject_text_html(sample_app: App) -> None:
    selection, rendered = compose(sample_app, WEEK)
    golden(f"{WEEK}.subject.txt", rendered.subject + "\n")
    golden(f"{WEEK}.txt", rendered.text)
    golden(f"{WEEK}.html", rendered.html)
    golden(f"{WEEK}.web.html", rendered.web_html)
    n = selection.count
    assert rendered.subject == (
        f"Bản tin tuần 48/2026 (23/11 – 29/11/2026): {n} tin hội nghị, hoạt động"
    )


def test_rendering_is_deterministic(sample_app: App) -> None:
    assert compose(sample_app, WEEK) == compose(sample_app, WEEK)


def test_html_is_a_mail_friendly_document(sample_app: App) -> None:
    selection, rendered = compose(sample_app, WEEK)
    html = rendered.html
    tree = HTMLParser(html)
    assert html.startswith("<!DOCTYPE html>")
    assert tree.css_first("html").attributes["lang"] == "vi"
    assert tree.css_first('meta[name="color-scheme"]').attributes["content"] == "light dark"
    assert "@media (prefers-color-scheme: dark)" in html  # kept by the inliner
    assert "@media only screen and (max-width: 620px)" in html
    container = tree.css_first("table.container")
    # Fluid up to 600 px by its inline style alone (a client may strip <style>).
    assert container.attributes["width"] == "100%"
    assert "width:100%;max-width:600px" in container.attributes["style"]
    assert '<!--[if mso]><table role="presentation" width="600"' in html  # Outlook/Word
    assert all(
        int(t.attributes.get("width", "0").rstrip("%") or 0) <= 600 for t in tree.css("table")
    )
    # CSS is inlined: the elements carry their own styles.
    for node in tree.css("h2.item-title, p.summary, p.meta, td.footer, td.section"):
        assert "font-family" in (node.attributes.get("style") or ""), node.html
    for img in tree.css("img"):
        assert (img.attributes.get("alt") or "").strip()
    pre = tree.css_first("div.preheader")
    assert pre is not None and pre.text(strip=True).startswith(rendered.preheader[:20])
    # Hidden by more than display:none, and never by overflow (caniemail).
    pre_style = pre.attributes["style"] or ""
    assert "overflow" not in pre_style
    for rule in ("visibility:hidden", "opacity:0", "max-height:0", "mso-hide:all"):
        assert rule in pre_style
    links = {a.attributes["href"] for a in tree.css("a")}
    for article in selection.articles:
        assert article.url in links
    assert f"http://127.0.0.1:8080/unsubscribe/{placeholder()}" in links
    assert "http://127.0.0.1:8080/digests/2026-W48" in links
    assert html.count(placeholder()) == 1


def test_web_copy_has_nobodys_token(sample_app: App) -> None:
    _, rendered = compose(sample_app, WEEK)
    assert placeholder() not in rendered.web_html
    assert placeholder() not in rendered.web_text
    assert "/unsubscribe/" not in rendered.web_html
    assert "http://127.0.0.1:8080/subscribe" in rendered.web_html
    assert "http://127.0.0.1:8080/subscribe" in rendered.web_text


def test_text_part_is_for_people(sample_app: App) -> None:
    selection, rendered = compose(sample_app, WEEK)
    text = rendered.text
    lines = text.split("\n")
    for line in lines:
        assert len(line) <= 72 or re.fullmatch(r"\s*https?://\S+", line), line
    for article in selection.articles:
        assert f"    {article.url}" in lines  # whole, on its own line
    assert "ĐỌC NHIỀU NHẤT" in text
    assert f"http://127.0.0.1:8080/unsubscribe/{placeholder()}" in lines
    # The link opens a page with a button: the text says so, and promises no one click.
    assert "Hủy đăng ký: mở đường dẫn sau rồi bấm nút «Hủy đăng ký»." in lines
    assert "một lần bấm" not in text
    assert "<" not in text.replace("<=", "")  # no markup leaks into the text part
    assert "Hội nghị" in text and "đ" in text


def test_date_range_across_years() -> None:
    first = datetime(2026, 12, 28, tzinfo=LOCAL_TZ)
    assert date_range(first, first + timedelta(days=6)) == "28/12/2026 – 3/1/2027"
    assert date_range(datetime(2026, 11, 23), datetime(2026, 11, 29)) == "23/11 – 29/11/2026"


def test_empty_week_subject() -> None:
    selection = select([], "2027-W01", DigestConfig())
    assert make_subject(view(selection, LOCAL_TZ)) == (
        "Bản tin tuần 1/2027 (4/1 – 10/1/2027): không có tin mới"
    )


def _busy_week(n: int = 60) -> list[Article]:
    start = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    long = (
        "Sáng nay, Ban Thường vụ Tỉnh ủy Hưng Yên tổ chức hội nghị quán triệt, triển khai "
        "các văn bản mới của Trung ương và của tỉnh tới cán bộ chủ chốt; đồng chí Phó Bí thư "
        "Thường trực Tỉnh ủy chủ trì, các đồng chí lãnh đạo sở, ban, ngành cùng dự. "
    ) * 6
    return [
        Article(
            id=f"tag:test,2026:busy-{i}",
            url=f"https://tuyengiaohungyen.vn/bai-viet/hoi-nghi-quan-triet-trien-khai-van-ban-{i}.aspx",
            title=f"Hội nghị quán triệt, triển khai các văn bản mới của Trung ương lần thứ {i}",
            category=("Thông tin - Tuyên truyền", "Tin tức hoạt động"),
            published_at=start + timedelta(hours=2 * i),
            body_text=long,
            summary=long,
            views=1000 - i,
        )
        for i in range(n)
    ]


def test_busy_week_html_stays_under_gmails_clip(app_factory: Callable[..., App]) -> None:
    app = app_factory()
    app.store.articles.upsert(_busy_week(80), now=app.now())
    selection, rendered = compose(app, WEEK)
    assert selection.count == DigestConfig().max_items == 60
    size = len(rendered.html.encode("utf-8"))
    assert size < 100_000, size
    template = message_template(
        app,
        WEEK,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        date=app.now(),
    )
    message = template.personalize(
        email="a@example.vn", name="A", subscriber_id=1, token="x" * len(placeholder())
    )
    assert len(message) < 400_000


def test_html_escapes_and_text_does_not(app_factory: Callable[..., App]) -> None:
    app = app_factory()
    when = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    evil = Article(
        id="tag:test,2026:evil",
        url="https://tuyengiaohungyen.vn/bai-viet/x.aspx?a=1&b=2",
        title='Hội nghị <script>alert("x")</script> & "trích dẫn"',
        category=("Thông tin - Tuyên truyền", "Tin tức hoạt động"),
        published_at=when,
        body_text="Nội dung",
        summary="Tóm tắt <b>đậm</b>",
    )
    app.store.articles.upsert([evil], now=app.now())
    _, rendered = compose(app, WEEK)
    tree = HTMLParser(rendered.html)
    assert not tree.css("script") and not tree.css("b")
    title = tree.css_first("a.item-link")
    assert title.text() == 'Hội nghị <script>alert("x")</script> & "trích dẫn"'
    assert "&lt;script&gt;" in rendered.html
    assert 'href="https://tuyengiaohungyen.vn/bai-viet/x.aspx?a=1&amp;b=2"' in rendered.html
    assert '<script>alert("x")</script> & "trích dẫn"' in rendered.text
    assert "https://tuyengiaohungyen.vn/bai-viet/x.aspx?a=1&b=2" in rendered.text


def test_templates_dir_overrides_the_packaged_templates(
    tmp_path: Path, app_factory: Callable[..., App]
) -> None:
    custom = tmp_path / "mytemplates"
    custom.mkdir()
    (custom / "digest.txt.j2").write_text(
        "Tuần {{ digest.number }}: {{ digest.count }} tin\n"
        "{% if unsubscribe_url %}{{ unsubscribe_url }}{% endif %}\n",
        encoding="utf-8",
    )
    base = app_factory(samples=True)
    app = base.with_config(base.config.model_copy(update={"templates_dir": custom}))
    selection, rendered = compose(app, WEEK)
    assert rendered.text.startswith(f"Tuần 48: {selection.count} tin\n")
    assert "<table" in rendered.html  # the HTML template is still the packaged one


def test_selection_view_counts(sample_app: App) -> None:
    selection, _ = compose(sample_app, WEEK)
    assert isinstance(selection, Selection)
    v = view(selection, LOCAL_TZ)
    assert v.count == sum(len(s.entries) for s in v.sections)
    assert v.first_day.weekday() == 0 and v.last_day.weekday() == 6
