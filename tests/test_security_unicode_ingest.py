"""A paragraph that starts with U+0338 stays text on every ingest path: a ``.txt``
and an HTML page, a JSON Lines and a CSV record, a foreign Atom feed's
``type="text"`` content (see test_security_unicode.py for why)."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from tgfeed.app import App
from tgfeed.config import SourceConfig
from tgfeed.importers import read_csv, read_jsonl
from tgfeed.jobs.resanitize import TEXT_PIPELINE
from tgfeed.model import Article
from tgfeed.parser import PageSource, parse_page
from tgfeed.sources.feeds import articles_from_feed

from .conftest import FIXED_NOW
from .test_security_unicode import CATEGORY, U0338, assert_sanitised, record

# -- every ingest path ------------------------------------------------------------------

PAGES_DIR = Path(__file__).parent / "fixtures" / "pages"
ATOM_TEXT = (
    '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
    "<title>Cổng</title><id>urn:uuid:f</id><updated>2026-11-26T10:00:00+07:00</updated>"
    "<entry><id>tag:hungyen.gov.vn,2026:news/78</id><title>Tin</title>"
    '<link rel="alternate" href="https://hungyen.gov.vn/tin/78"/>'
    "<published>2026-11-26T09:30:00+07:00</published>"
    f'<content type="text">{U0338}</content></entry></feed>'
)


def _ingested(kind: str) -> Article:
    """An article whose body has a paragraph starting with U+0338, read by ``kind``."""
    if kind in ("txt", "html"):
        name = "text_basic.txt" if kind == "txt" else "html_basic.html"
        page = (PAGES_DIR / name).read_text(encoding="utf-8")
        if kind == "txt":
            page = page.replace("\nThực hiện chỉ đạo", f"\n{U0338}\n\nThực hiện chỉ đạo", 1)
        else:
            page = page.replace('<p style="text-align: justify;">', f"<p>{U0338}</p><p>", 1)
        return parse_page(page.encode(), PageSource(name))
    if kind == "feed":
        source = SourceConfig(name="cong", kind="feed", url="https://hungyen.gov.vn/rss")
        ((_, art),) = articles_from_feed(
            ATOM_TEXT.encode(),
            source,
            url="https://hungyen.gov.vn/rss",
            site_url="https://tuyengiaohungyen.vn",
            now=FIXED_NOW,
        )
        assert isinstance(art, Article)
        return art
    rec = record(body_html=None, body_text=U0338)
    if kind == "jsonl":
        ((_, art),) = read_jsonl(json.dumps(rec), "x.jsonl", "https://tuyengiaohungyen.vn")
    else:
        rec = {**rec, "category": " » ".join(CATEGORY), "related": ""}
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=list(rec))
        writer.writeheader()
        writer.writerow(rec)
        ((_, art),) = read_csv(out.getvalue(), "x.csv", "https://tuyengiaohungyen.vn")
    assert isinstance(art, Article), art
    return art


@pytest.mark.parametrize("kind", ["txt", "html", "jsonl", "csv", "feed"])
def test_every_ingest_path_keeps_a_leading_mark_as_text(kind: str) -> None:
    art = _ingested(kind)
    assert f"<p>&#x338;{U0338[1:]}</p>" in art.body_html, art.body_html[:300]
    assert_sanitised(art.body_html, kind)


# -- stores written by the old pipeline ------------------------------------------------


def test_a_store_from_the_old_pipeline_is_repaired_once_at_its_next_open(
    app_factory: Callable[..., App], caplog: pytest.LogCaptureFixture
) -> None:
    """Opening a store whose rows were stored by the old text pipeline re-sanitises
    them and logs how many changed; once the store is current, opening it again
    leaves the rows alone (a current store is not rescanned)."""
    app = app_factory()
    old_form = unicodedata.normalize("NFC", f"<p>{U0338}</p>")  # <p≯ onmouseover=…
    broken = Article(
        id="tag:x,2018:broken",
        url="https://tuyengiaohungyen.vn/bai-viet/cu-9002.aspx",
        title="Hỏng",
        category=tuple(CATEGORY),
        published_at=FIXED_NOW,
        body_text=U0338,
        body_html=old_form,
    )
    other = dataclasses.replace(
        broken, id="tag:x,2018:broken2", url=broken.url.replace("9002", "9003")
    )
    app.store.articles.upsert([broken, other], now=FIXED_NOW)
    app.store.articles.set_meta("text_pipeline", "1")
    with caplog.at_level(logging.WARNING, logger="tgfeed.store"):
        reopened = app_factory()
    for row in (broken, other):
        fixed = reopened.store.articles.get(row.id)
        assert fixed is not None and fixed.body_html == f"<p>&#x338;{U0338[1:]}</p>"
    assert "re-sanitised the stored HTML of 2 of 2 articles" in caplog.text
    assert reopened.store.articles.meta("text_pipeline") == TEXT_PIPELINE
    # Current now: a row written in the old form afterwards is not rescanned at open.
    reopened.store.db.conn.execute(
        "UPDATE articles SET body_html = ? WHERE id = ?", (old_form, broken.id)
    )
    again = app_factory().store.articles.get(broken.id)
    assert again is not None and again.body_html == old_form
