"""Search's exact-tone test on UTF-8 bytes gives the answer of ``needle in
text.casefold()`` for any text and query, and the Unicode facts it rests on hold
for the running Python."""

from __future__ import annotations

import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tgfeed.model import Article
from tgfeed.store import open_store
from tgfeed.store.exact import ANCHORS, ASCII_FOLDING, Needle

EVERY_CHAR = [chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i <= 0xDFFF]

# Vietnamese in both cases, ASCII, every character that folds into ASCII, combining
# marks, other scripts with unusual foldings (final sigma, micro sign, the Ohm, Kelvin
# and Ångström signs, titlecase digraphs, Deseret)
ALPHABET = (
    "aAbBdDeEhHiIkKnNoOsStTfFlLjJwWyY ,.-\n"
    + "".join(sorted(ANCHORS))
    + "".join(sorted(ANCHORS)).upper()
    + ASCII_FOLDING
    + "\u0301\u0303\u0309\u0323\u0307ςσΣµμ\u2126ωΩ\u212a\u212b\u00c5ǅǆǄ𐐀𐐨"
)
texts = st.text(alphabet=ALPHABET, max_size=60)


def expected(query: str, text: str) -> bool:
    return " ".join(query.split()).casefold() in text.casefold()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, query=texts.filter(str.strip))
def test_any_query_in_any_text(text: str, query: str) -> None:
    assert Needle(query).found_in(text.encode()) is expected(query, text)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, data=st.data())
def test_a_piece_of_the_text_in_any_case(text: str, data: st.DataObject) -> None:
    """Queries cut from the text itself (so most are found), in upper, lower or
    folded case, and cut from its case folding."""
    source = data.draw(st.sampled_from([text, text.upper(), text.lower(), text.casefold()]))
    i = data.draw(st.integers(0, len(source)))
    j = data.draw(st.integers(i, len(source)))
    query = source[i:j]
    if query.strip():
        assert Needle(query).found_in(text.encode()) is expected(query, text)


def test_vietnamese_queries() -> None:
    body = "Sáng 19/5, HỘI NGHỊ tổng kết của Đảng bộ tỉnh; hoi nghi giao ban. Strasse ẞ"
    for query, found in (
        ("hội nghị", True),
        ("Hội Nghị tổng", True),
        ("hỏi nghị", False),
        ("hoi nghi", True),
        ("HOI NGHI GIAO", True),
        ("đảng bộ", True),
        ("dang bo", False),
        ("strasse ss", True),  # ẞ folds to "ss"
    ):
        assert Needle(query).found_in(body.encode()) is found, query
        assert expected(query, body) is found, query


def test_ascii_folding_lists_every_character_that_folds_into_ascii() -> None:
    assert set(ASCII_FOLDING) == {
        c for c in EVERY_CHAR if not c.isascii() and any(f.isascii() for f in c.casefold())
    }


def test_each_anchor_is_folded_to_by_itself_and_its_capital_only() -> None:
    folding_to: dict[str, set[str]] = {a: set() for a in ANCHORS}
    for c in EVERY_CHAR:
        for f in set(c.casefold()):
            if f in folding_to:
                folding_to[f].add(c)
    for a in ANCHORS:
        assert folding_to[a] == {a, a.upper()}, a
        assert all(c.casefold() == a for c in folding_to[a]), a


def test_a_store_kept_in_utf16_finds_the_same(tmp_path: Path) -> None:
    """The bytes are read as the file keeps them: a store created as UTF-16 (by
    another tool) is compared through its text."""
    path = tmp_path / "utf16.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA encoding = 'UTF-16le'")
    conn.execute("CREATE TABLE made_by_another_tool (x)")
    conn.execute("DROP TABLE made_by_another_tool")
    conn.close()
    store = open_store(path)
    article = Article(
        id="tag:example.org,2025:bai/1",
        url="https://example.org/bai/1.aspx",
        title="HỘI NGHỊ tổng kết",
        category=("Thông tin", "Tin tức"),
        published_at=datetime(2025, 3, 1, tzinfo=UTC),
        body_text="Nội dung.",
        body_html="<p>Nội dung.</p>",
        summary="Tóm tắt.",
    )
    store.articles.upsert([article], now=datetime(2025, 3, 1, tzinfo=UTC))
    assert store.db.conn.execute("PRAGMA encoding").fetchone()[0] == "UTF-16le"
    assert [h.exact for h in store.articles.search("hội nghị")] == [True]
    assert [h.exact for h in store.articles.search("hỏi nghị")] == [False]
    store.close()
