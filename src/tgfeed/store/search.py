"""Diacritic-insensitive full-text search over the folded FTS5 copy."""

from __future__ import annotations

import sqlite3

from ..model import SearchHit
from ..text import fold
from .articles_schema import ARTICLE_COLUMNS as _COLUMNS
from .categories import CategoriesMixin
from .db import Db


def _fts_query(query: str) -> str | None:
    tokens = "".join(c if c.isalnum() else " " for c in fold(query)).split()
    if not tokens:
        return None
    return " ".join(f'"{t}"' for t in tokens[:16])


def _relevance(words: int, title: str, summary: str) -> float:
    """How well a candidate matches, from FTS5's highlight() of its title and
    summary (each matched word instance opens with \x01): instances in the title
    count ×10, in the summary ×4, repeats saturating as in bm25."""
    score = 0.0
    for weight, text in ((10.0, title), (4.0, summary)):
        n = min(text.count("\x01"), 2 * words)
        score += weight * n * 2.2 / (n + 1.2)
    return score


class SearchMixin(CategoriesMixin):
    _db: Db

    def search(self, query: str, limit: int = 20, *, candidates: int = 400) -> list[SearchHit]:
        """Diacritic-insensitive full-text search; exact-tone matches rank first.

        ``hoi nghi`` finds ``Hội nghị``; ``dang uy`` finds ``Đảng ủy``.

        The cost does not grow with the archive. The candidates are the
        ``candidates`` most recently stored matches (FTS5 walks its index
        backwards by rowid and stops there), ranked here: exact tone first, then
        the query's words in the title (×10) and the summary (×4), then the
        newest. When fewer articles match, every match is ranked. (FTS5's bm25()
        would score every match, after counting every row that holds each query
        word: most of the index for a word as common as ``hội nghị``.)
        """
        match = _fts_query(query)
        if match is None:
            return []
        try:
            found = self._db.rows(
                "SELECT rowid, highlight(articles_fts, 0, char(1), '') AS title, "
                "highlight(articles_fts, 1, char(1), '') AS summary FROM articles_fts "
                "WHERE articles_fts MATCH ? ORDER BY rowid DESC LIMIT ?",
                (match, candidates),
            )
        except sqlite3.OperationalError:
            return []
        if not found:
            return []
        words = match.count('"') // 2  # the query's words, each quoted once
        relevance = {r["rowid"]: _relevance(words, r["title"], r["summary"]) for r in found}
        marks = ",".join("?" * len(relevance))
        rows = self._db.rows(
            "SELECT rowid, id, published_at, title, summary, body_text FROM articles "
            f"WHERE rowid IN ({marks}) AND deleted_at IS NULL",
            list(relevance),
        )
        needle = " ".join(query.split()).casefold()
        exact = {
            r["rowid"]: needle in r["title"].casefold()
            or needle in r["summary"].casefold()
            or needle in r["body_text"].casefold()
            for r in rows
        }
        # newest first, then by rank
        rows.sort(key=lambda r: (r["published_at"], r["id"]), reverse=True)
        rows.sort(key=lambda r: (not exact[r["rowid"]], -relevance[r["rowid"]]))
        top = [r["rowid"] for r in rows[:limit]]
        if not top:
            return []
        full = {
            row["rowid"]: row
            for row in self._db.rows(
                f"SELECT {_COLUMNS} FROM articles WHERE rowid IN ({','.join('?' * len(top))})",
                top,
            )
        }
        return [
            SearchHit(self._article(full[rowid]), -relevance[rowid], exact[rowid])
            for rowid in top
            if rowid in full
        ]
