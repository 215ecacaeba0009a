"""Diacritic-insensitive full-text search: FTS5 indexes the articles' own text
(external content, nothing stored twice); ``đ`` is matched by the query."""

from __future__ import annotations

import itertools
import sqlite3

from ..model import SearchHit
from ..text import fold
from .articles_schema import ARTICLE_COLUMNS as _COLUMNS
from .categories import CategoriesMixin
from .db import Db, Row
from .exact import Needle

MAX_D_VARIANTS = 4
"""A query word's first this many ``d`` may each stand for ``d`` or ``đ`` (2⁴ spellings)."""

RECENT = 100_000
"""The newest this many stored articles (by rowid) are searched first: when they hold
a page of matches, only they are ranked (see ``SearchMixin.search``)."""

_HIGHLIGHTED = (
    "SELECT rowid, highlight(articles_fts, 0, char(1), '') AS title, "
    "highlight(articles_fts, 1, char(1), '') AS summary FROM articles_fts "
    "WHERE articles_fts MATCH ? AND rowid {} ? ORDER BY rowid DESC LIMIT ?"
)


def _spellings(token: str) -> list[str]:
    """The indexed spellings a folded query word matches. The index keeps ``đ`` (SQLite's
    unicode61 tokenizer folds every other Vietnamese mark, but ``đ`` has no
    decomposition), so ``dang`` must match ``dang`` and ``đang``: each of the word's
    first MAX_D_VARIANTS ``d`` is either letter."""
    parts = token.split("d")
    if len(parts) == 1:
        return [token]
    head = parts[: MAX_D_VARIANTS + 1]
    tail = "d".join(parts[MAX_D_VARIANTS + 1 :])
    out = []
    for letters in itertools.product("dđ", repeat=len(head) - 1):
        word = head[0] + "".join(c + p for c, p in zip(letters, head[1:], strict=True))
        out.append(word + ("d" + tail if len(parts) > MAX_D_VARIANTS + 1 else ""))
    return out


def _fts_query(query: str) -> tuple[str, int] | None:
    """The FTS5 MATCH expression for a query (every word, in any of its spellings) and
    its number of words; None when it has no word."""
    tokens = "".join(c if c.isalnum() else " " for c in fold(query)).split()[:16]
    if not tokens:
        return None
    groups = []
    for token in tokens:
        words = _spellings(token)
        quoted = " OR ".join(f'"{w}"' for w in words)
        groups.append(f"({quoted})" if len(words) > 1 else quoted)
    return " AND ".join(groups), len(tokens)


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

    def _candidates(self, match: str, limit: int, candidates: int, recent: int) -> list[Row]:
        """The newest ``candidates`` matches among the ``recent`` newest stored
        articles, or of the whole archive when those hold fewer than ``limit``;
        each with its title and summary highlighted."""
        newest = self._db.value("SELECT max(rowid) FROM articles") or 0
        floor = newest - recent
        found = self._db.rows(_HIGHLIGHTED.format(">"), (match, floor, candidates))
        if len(found) < limit and floor > 0:
            # the older matches, newest first: with those above, the newest overall
            found += self._db.rows(
                _HIGHLIGHTED.format("<="), (match, floor, candidates - len(found))
            )
        return found

    def _exact(self, query: str, rowids: list[int]) -> tuple[list[Row], dict[int, bool]]:
        """The published candidates' ids and dates, and whether each holds the query
        with its tone marks (its title, summary or body; compared case-folded)."""
        # the texts as SQLite stores them (UTF-8, unless the file was made otherwise):
        # the exact test needs no decoding
        utf8 = self._db.value("PRAGMA encoding") == "UTF-8"
        text = "CAST({0} AS BLOB) AS {0}" if utf8 else "{0}"
        rows = self._db.rows(
            f"SELECT rowid, id, published_at, {text.format('title')}, "
            f"{text.format('summary')}, {text.format('body_text')} FROM articles "
            f"WHERE rowid IN ({','.join('?' * len(rowids))}) AND deleted_at IS NULL",
            rowids,
        )
        needle = Needle(query)

        def found(data: bytes | str) -> bool:
            return needle.found_in(data if isinstance(data, bytes) else data.encode())

        exact = {
            r["rowid"]: found(r["title"]) or found(r["summary"]) or found(r["body_text"])
            for r in rows
        }
        return rows, exact

    def search(
        self, query: str, limit: int = 20, *, candidates: int = 400, recent: int = RECENT
    ) -> list[SearchHit]:
        """Diacritic-insensitive full-text search; exact-tone matches rank first.

        ``hoi nghi`` finds ``Hội nghị``; ``dang uy`` finds ``Đảng ủy``.

        The cost does not grow with the archive, unless the newest ``recent``
        articles hold fewer than a page of matches. The candidates are the
        ``candidates`` most recently stored matches among the ``recent`` newest
        stored articles (FTS5 walks its index backwards by rowid and stops there),
        ranked here: exact tone first, then the query's words in the title (×10)
        and the summary (×4), then the newest. When those articles hold fewer than
        ``limit`` matches, the candidates are the newest ``candidates`` matches of
        the whole archive; when fewer articles match, every match is ranked.
        (FTS5's bm25() would score every match, after counting every row that
        holds each word: most of the index for a word as common as ``hội nghị``.
        Without the ``recent`` bound, a query of many common words and one rare
        one makes FTS5 merge the common words' lists over most of the archive
        before it has its candidates.)
        """
        built = _fts_query(query)
        if built is None:
            return []
        match, words = built
        try:
            found = self._candidates(match, limit, candidates, recent)
        except sqlite3.OperationalError:
            return []
        if not found:
            return []
        relevance = {r["rowid"]: _relevance(words, r["title"], r["summary"]) for r in found}
        rows, exact = self._exact(query, list(relevance))
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
