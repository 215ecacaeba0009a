"""Hierarchical categories: created on first use with their ancestors, cached
in memory and re-read when another process added some."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ..errors import StoreError
from ..model import Article, Category
from ..text import parse_iso_datetime, slugify
from .db import Db, Row


class CategoriesMixin:
    _db: Db
    _categories: dict[str, Category]
    _by_id: dict[int, Category]

    def _load_categories(self) -> None:
        self._categories = {}
        for row in self._db.rows(
            "SELECT id, slug_path, name, names, parent_id, description FROM categories"
        ):
            cat = Category(
                row["id"],
                row["slug_path"],
                row["name"],
                tuple(json.loads(row["names"])),
                row["parent_id"],
                row["description"],
            )
            self._categories[cat.slug_path] = cat

    def ensure_category(
        self,
        names: Sequence[str],
        slugs: Sequence[str] | None = None,
        description: str | None = None,
    ) -> Category:
        """The category at this path, creating it and its ancestors as needed."""
        if not names:
            raise StoreError("an article needs at least one category")
        slugs = list(slugs) if slugs else [slugify(n) or "khac" for n in names]
        if description is None:  # the common case, an article's category: no write
            known = self._categories.get("/".join(slugs))
            if known is not None:  # its ancestors were made before it, and stay
                return known
        try:
            with self._db.write():
                return self._ensure(names, slugs, description)
        except BaseException:
            self.refresh_categories()  # the cache may hold rows that were rolled back
            raise

    def _ensure(
        self, names: Sequence[str], slugs: Sequence[str], description: str | None
    ) -> Category:
        parent: Category | None = None
        for depth in range(1, len(names) + 1):
            slug_path = "/".join(slugs[:depth])
            cat = self._categories.get(slug_path)
            is_leaf = depth == len(names)
            if cat is None:
                cur = self._db.execute(
                    "INSERT INTO categories (slug_path, name, names, parent_id, description) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (
                        slug_path,
                        names[depth - 1],
                        json.dumps(list(names[:depth]), ensure_ascii=False),
                        parent.id if parent else None,
                        description if is_leaf else None,
                    ),
                )
                cat = Category(
                    int(cur.lastrowid or 0),
                    slug_path,
                    names[depth - 1],
                    tuple(names[:depth]),
                    parent.id if parent else None,
                    description if is_leaf else None,
                )
                self._categories[slug_path] = cat
            elif is_leaf and description and cat.description != description:
                self._db.execute(
                    "UPDATE categories SET description = ? WHERE id = ?", (description, cat.id)
                )
                cat = Category(
                    cat.id, cat.slug_path, cat.name, cat.names, cat.parent_id, description
                )
                self._categories[slug_path] = cat
            parent = cat
        assert parent is not None
        return parent

    def categories(self, *, with_counts: bool = False, only_used: bool = False) -> list[Category]:
        """All categories, parents before children, in slug order."""
        stored = self._db.value("SELECT count(*) FROM categories")
        if stored != len(self._categories):
            self.refresh_categories()
        counts: dict[int, int] = {}
        if with_counts or only_used:
            counts = {
                r["category_id"]: r["articles"]
                for r in self._db.rows("SELECT category_id, articles FROM category_counts")
            }
        cats = sorted(self._categories.values(), key=lambda c: c.slug_path.split("/"))
        out = [
            Category(
                c.id, c.slug_path, c.name, c.names, c.parent_id, c.description, counts.get(c.id, 0)
            )
            for c in cats
        ]
        return [c for c in out if c.article_count] if only_used else out

    def revisions(self) -> dict[str, int]:
        """Each category's revision (by slug path): a number that changes whenever
        anything its feed lists may have (kept by triggers, ``m004``); equal
        revisions, nothing changed. A category no article was ever filed under has
        none."""
        return dict(
            self._db.conn.execute(
                "SELECT c.slug_path, cc.revision FROM category_counts cc "
                "JOIN categories c ON c.id = cc.category_id"
            ).fetchall()
        )

    def category(self, slug_path: str) -> Category | None:
        cat = self._categories.get(slug_path)
        if cat is None:  # another process (an import, a crawl) may have added it
            stored = self._db.value("SELECT count(*) FROM categories")
            if stored != len(self._categories):
                self.refresh_categories()
                cat = self._categories.get(slug_path)
        return cat

    def _ancestors(self, cat: Category) -> list[int]:
        parts = cat.slug_path.split("/")
        return [self._categories["/".join(parts[:i])].id for i in range(1, len(parts) + 1)]

    # -- writing -----------------------------------------------------------

    def _by_id_cache(self) -> dict[int, Category]:
        if len(self._by_id) != len(self._categories):
            self._by_id = {c.id: c for c in self._categories.values()}
        return self._by_id

    def _category_by_id(self, category_id: int) -> Category:
        """A category by id; another process may have added it since we loaded them."""
        cat = self._by_id_cache().get(category_id)
        if cat is None:
            self._load_categories()
            self._by_id = {}
            cat = self._by_id_cache()[category_id]
        return cat

    def refresh_categories(self) -> None:
        """Re-read categories (another process may have added some)."""
        self._load_categories()
        self._by_id = {}

    def _article(self, row: Row) -> Article:
        """An article row (read by name) with its category resolved."""
        cat = self._category_by_id(row["category_id"])
        return Article(
            id=row["id"],
            url=row["url"],
            title=row["title"],
            category=cat.names,
            category_slugs=tuple(cat.slug_path.split("/")),
            published_at=parse_iso_datetime(row["published_at"]),
            updated_at=parse_iso_datetime(row["updated_at"]),
            author=row["author"],
            views=row["views"],
            summary=row["summary"],
            body_html=row["body_html"],
            body_text=row["body_text"],
            signature=row["signature"],
            related=tuple(json.loads(row["related"])),
        )
