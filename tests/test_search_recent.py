"""Search ranks the matches among the newest stored articles when they fill a page,
and the newest matches of the whole archive when they do not (``recent``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tgfeed.model import Article
from tgfeed.store import Store, open_store
from tgfeed.store.search import RECENT

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def art(n: int, title: str, body: str) -> Article:
    return Article(
        id=f"tag:example.org,2025:bai/{n}",
        url=f"https://example.org/bai/{n}.aspx",
        title=title,
        category=("Thông tin", "Tin tức"),
        published_at=T0 + timedelta(hours=n),
        body_text=body,
        body_html=f"<p>{body}</p>",
        summary="Tóm tắt.",
    )


def _store(tmp_path: Path) -> Store:
    """The oldest stored article is the best match of ``Hội nghị`` (exact tone, in the
    title); the 30 stored after it match only by their bodies' untoned words."""
    store = open_store(tmp_path / "s.db")
    store.articles.upsert([art(1, "Hội nghị tổng kết", "Nội dung.")], now=T0)
    newer = [art(n, f"Tin tức số {n}", f"Bài về hoi nghi, số {n}.") for n in range(2, 32)]
    store.articles.upsert(newer, now=T0)
    return store


def ids(store: Store, recent: int, limit: int = 20) -> list[str]:
    return [h.article.id for h in store.articles.search("Hội nghị", limit, recent=recent)]


def test_the_best_match_ranks_first_when_every_article_is_recent(tmp_path: Path) -> None:
    store = _store(tmp_path)
    found = ids(store, recent=31)
    assert found[0] == art(1, "", "").id and len(found) == 20
    assert ids(store, recent=RECENT) == found
    store.close()


def test_only_the_newest_articles_are_ranked_when_they_fill_a_page(tmp_path: Path) -> None:
    store = _store(tmp_path)
    found = ids(store, recent=30)  # the 30 newer articles: a page of 20 matches
    assert art(1, "", "").id not in found
    # none is exact, none has the words in its title or summary: the newest first
    assert found == [art(n, "", "").id for n in range(31, 11, -1)]
    store.close()


def test_older_matches_are_ranked_when_the_newest_do_not_fill_a_page(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert ids(store, recent=10)[0] == art(1, "", "").id  # 10 recent matches < 20
    assert ids(store, recent=30, limit=31)[0] == art(1, "", "").id  # 30 < 31
    store.close()
