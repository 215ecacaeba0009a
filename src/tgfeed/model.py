"""Domain objects: frozen, slotted dataclasses. Dict rows live only inside the store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from .text import slugify

Outcome = Literal["added", "updated", "unchanged", "failed"]


@dataclass(frozen=True, slots=True)
class Article:
    """One article. ``id`` is stable and source-scoped (a tag URI), never from the title."""

    id: str
    url: str
    title: str
    category: tuple[str, ...]
    published_at: datetime
    body_text: str
    body_html: str = ""
    summary: str = ""
    author: str | None = None
    views: int = 0
    signature: str | None = None
    related: tuple[str, ...] = ()
    updated_at: datetime | None = None
    category_slugs: tuple[str, ...] | None = None  # per-level slug overrides

    @property
    def category_slug(self) -> str:
        slugs = self.category_slugs or tuple(slugify(name) for name in self.category)
        return "/".join(slugs)


@dataclass(frozen=True, slots=True)
class Category:
    id: int
    slug_path: str  # "thong-tin-tuyen-truyen/tin-tuc-hoat-dong"
    name: str
    names: tuple[str, ...]  # the full path of names
    parent_id: int | None
    description: str | None = None
    article_count: int = 0

    @property
    def depth(self) -> int:
        return len(self.names)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """What happened to one input item of a batch."""

    item: str
    outcome: Outcome
    article_id: str | None = None
    reason: str | None = None


@dataclass(slots=True)
class BatchResult:
    results: list[ItemResult] = field(default_factory=list)

    def add(self, result: ItemResult) -> None:
        self.results.append(result)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {o: self.count(o) for o in ("added", "updated", "unchanged", "failed")}

    @property
    def failures(self) -> list[ItemResult]:
        return [r for r in self.results if r.outcome == "failed"]


@dataclass(frozen=True, slots=True)
class SearchHit:
    article: Article
    score: float
    exact: bool
