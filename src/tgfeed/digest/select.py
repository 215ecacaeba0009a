"""Which articles go into a week's digest, and under which section (pure).

The window of ``2026-W48`` is that ISO week, Monday 00:00 to the next Monday
00:00 in the site's timezone. An article is in the digest when its category is
one of ``digest.categories`` (a parent includes its descendants) or its title or
summary contains one of ``digest.keywords``.

Keyword matching is case-insensitive, on whole words, and tolerant of how tone
marks are written: a keyword typed without diacritics matches any (``hoi nghi``
finds ``Hội nghị``), and one typed with diacritics matches them wherever the
tone mark sits (``tọa đàm`` finds ``toạ đàm``) — but keeps ``họp`` (meet) apart
from ``hợp`` (as in *phối hợp*), which plain folding would confuse.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from ..config import DigestConfig
from ..model import Article
from ..text import LOCAL_TZ, fold, week_window

MOST_READ_TITLE = "Đọc nhiều nhất"

# Vietnamese tone marks (combining): grave, acute, hook above, tilde, dot below.
_TONES = frozenset("\u0300\u0301\u0309\u0303\u0323")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    articles: tuple[Article, ...]


@dataclass(frozen=True, slots=True)
class Selection:
    """A week's digest content: sections in config order, newest first within each."""

    week: str
    start: datetime  # UTC, inclusive
    end: datetime  # UTC, exclusive
    sections: tuple[Section, ...]
    most_read: tuple[Article, ...] = ()

    @property
    def count(self) -> int:
        return sum(len(s.articles) for s in self.sections)

    @property
    def empty(self) -> bool:
        return self.count == 0

    @property
    def articles(self) -> tuple[Article, ...]:
        return tuple(a for s in self.sections for a in s.articles)


def window(week: str, tz: ZoneInfo = LOCAL_TZ) -> tuple[datetime, datetime]:
    """[start, end) of an ISO week key in UTC; ValueError on a bad key."""
    return week_window(week, tz)


def _tone_key(word: str) -> str:
    """A word with its tone mark moved to the end: ``hoà`` and ``hòa`` → the same key;
    vowel marks (â, ă, ê, ô, ơ, ư, đ) stay where they are."""
    decomposed = unicodedata.normalize("NFD", word.casefold())
    tones = "".join(c for c in decomposed if c in _TONES)
    base = "".join(c for c in decomposed if c not in _TONES)
    return unicodedata.normalize("NFC", base) + tones


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFC", text))


@dataclass(frozen=True, slots=True)
class _Keyword:
    words: tuple[str, ...]
    folded: bool  # typed without diacritics: compare folded words

    @staticmethod
    def parse(keyword: str) -> _Keyword | None:
        words = _words(keyword)
        if not words:
            return None
        plain = all(fold(w) == w.casefold() for w in words)
        if plain:
            return _Keyword(tuple(w.casefold() for w in words), True)
        return _Keyword(tuple(_tone_key(w) for w in words), False)


@lru_cache(maxsize=64)
def _keywords(keywords: tuple[str, ...]) -> tuple[_Keyword, ...]:
    return tuple(k for k in (_Keyword.parse(w) for w in keywords) if k is not None)


def _contains(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    first = needle[0]
    return any(
        haystack[i] == first and tuple(haystack[i : i + n]) == tuple(needle)
        for i in range(len(haystack) - n + 1)
    )


class _Text:
    """An article's title + summary, tokenised both ways once."""

    __slots__ = ("folded", "toned")

    def __init__(self, text: str) -> None:
        words = _words(text)
        self.folded = [fold(w) for w in words]
        self.toned = [_tone_key(w) for w in words]

    def has(self, keywords: Iterable[_Keyword]) -> bool:
        return any(_contains(self.folded if k.folded else self.toned, k.words) for k in keywords)


def matches_keywords(text: str, keywords: Sequence[str]) -> bool:
    """Does ``text`` contain one of ``keywords`` (see the module's rules)?"""
    return _Text(text).has(_keywords(tuple(keywords)))


def in_categories(article: Article, slugs: Iterable[str]) -> bool:
    """Is the article's category one of ``slugs`` or below one of them?"""
    own = article.category_slug
    return any(own == s or own.startswith(s + "/") for s in slugs)


def select(
    articles: Iterable[Article], week: str, rules: DigestConfig, tz: ZoneInfo = LOCAL_TZ
) -> Selection:
    """The digest of ``week`` from ``articles`` (any superset of the window's)."""
    start, end = window(week, tz)
    in_window = [a for a in articles if start <= a.published_at < end]
    in_window.sort(key=lambda a: (a.published_at, a.id), reverse=True)
    keywords = _keywords(tuple(rules.keywords))
    sections = [(s, _keywords(tuple(s.keywords))) for s in rules.sections]
    chosen: list[tuple[int, Article]] = []
    for article in in_window:
        text = _Text(f"{article.title}\n{article.summary}")
        if not (in_categories(article, rules.categories) or text.has(keywords)):
            continue
        for index, (section, section_keywords) in enumerate(sections):
            catch_all = not section.keywords and not section.categories
            if (
                catch_all
                or in_categories(article, section.categories)
                or text.has(section_keywords)
            ):
                chosen.append((index, article))
                break
        if len(chosen) >= rules.max_items:
            break
    grouped = tuple(
        Section(section.title, tuple(a for i, a in chosen if i == index))
        for index, (section, _) in enumerate(sections)
    )
    most_read: tuple[Article, ...] = ()
    if rules.most_read:
        viewed = sorted(
            (a for a in in_window if a.views > 0),
            key=lambda a: (a.views, a.published_at, a.id),
            reverse=True,
        )
        most_read = tuple(viewed[: rules.most_read])
    return Selection(
        week=week,
        start=start,
        end=end,
        sections=tuple(s for s in grouped if s.articles),
        most_read=most_read,
    )
