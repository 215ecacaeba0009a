"""Which feeds exist and where they live: pure functions of the categories and
the config. A slug path from a URL is checked against ``SLUG_PATH`` here before
anything looks it up — nothing else ever reaches the store or the filesystem."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

from .. import ids
from ..config import Config
from ..model import Category

ALL = "all"
SEARCH = "search"
RESERVED = frozenset({ALL, SEARCH})

FORMATS: dict[str, str] = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
    "json": "application/feed+json; charset=utf-8",
}
FORMAT_NAMES = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}

OPML_TYPE = "text/x-opml; charset=utf-8"
HTML_TYPE = "text/html; charset=utf-8"


def mime(fmt: str) -> str:
    """A format's media type without its parameters (``application/rss+xml``)."""
    return FORMATS[fmt].split(";")[0]


_SEGMENT = r"[a-z0-9]+(?:-[a-z0-9]+)*"
# At most 8 levels of at most 80 characters each: the store's slugs are never longer.
SLUG_PATH = re.compile(rf"(?:{_SEGMENT})(?:/{_SEGMENT}){{0,7}}")
_FEED_FILE = re.compile(rf"(?P<key>{SLUG_PATH.pattern})\.(?P<fmt>rss|atom|json)")
_MAX_PATH = 8 * 81 + 5


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """One published feed: the all-articles feed or one category node (with descendants)."""

    key: str  # "all" or the category's slug path
    names: tuple[str, ...] = ()  # the category's path of names; () for the all-feed
    description: str | None = None

    @property
    def category(self) -> str | None:
        """The slug path to give ``store.articles.latest`` (None: every article)."""
        return None if self.key == ALL else self.key

    @property
    def depth(self) -> int:
        return len(self.names)

    def path(self, fmt: str) -> str:
        """The URL path below the public root, which is also the file's path."""
        return f"/feeds/{self.key}.{fmt}"


ALL_FEED = FeedSpec(ALL)


# Both are asked on every feed request, mostly about the same few hundred paths.
@functools.lru_cache(maxsize=4096)
def parse_feed_path(rest: str) -> tuple[str, str] | None:
    """``thong-tin/tin-tuc.rss`` → (``thong-tin/tin-tuc``, ``rss``); None for anything else
    (dots, ``..``, upper case, backslashes, empty segments, over-long paths)."""
    if len(rest) > _MAX_PATH:
        return None
    m = _FEED_FILE.fullmatch(rest)
    if not m or m["key"] == SEARCH:
        return None
    return m["key"], m["fmt"]


@functools.lru_cache(maxsize=4096)
def is_slug_path(value: str) -> bool:
    return len(value) <= _MAX_PATH and SLUG_PATH.fullmatch(value) is not None


def category_spec(cat: Category) -> FeedSpec:
    return FeedSpec(cat.slug_path, cat.names, cat.description)


def feed_specs(categories: Iterable[Category], published: set[str]) -> list[FeedSpec]:
    """The all-feed, then every category in ``published`` (configured or non-empty),
    parents before children. Reserved keys (``all``, ``search``) and slugs that fail
    the URL rule are left out: they could never be served."""
    specs = [ALL_FEED]
    for cat in categories:
        key = cat.slug_path
        if key in published and key not in RESERVED and is_slug_path(key):
            specs.append(category_spec(cat))
    return specs


def configured_slugs(config: Config, categories: Sequence[Category]) -> set[str]:
    """Slug paths of the categories named in ``[[categories]]`` (and their ancestors)."""
    by_names = {c.names: c.slug_path for c in categories}
    out: set[str] = set()
    for cat in config.categories:
        for depth in range(1, len(cat.path) + 1):
            slug = by_names.get(tuple(cat.path[:depth]))
            if slug:
                out.add(slug)
    return out


def public_prefix(config: Config) -> str:
    """The public URL's path (``""`` at the root): prefixes every root-relative link."""
    return urlsplit(config.site.public_url).path.rstrip("/")


def feed_url(config: Config, path: str) -> str:
    return config.site.public_url.rstrip("/") + path


def feed_id(config: Config, key: str) -> str:
    return ids.feed_id(config.site.tag_authority, key)


def spec_title(spec: FeedSpec, site_title: str) -> str:
    if not spec.names:
        return site_title
    return f"{' » '.join(spec.names)} · {site_title}"


def spec_label(spec: FeedSpec) -> str:
    """Short Vietnamese label for lists and autodiscovery titles."""
    return " » ".join(spec.names) if spec.names else "Tất cả tin bài"


def search_query_string(query: str) -> str:
    return "?q=" + quote(query, safe="")


def normalize_query(raw: str) -> str:
    """The cache key and search text of ``?q=``: NFC, XML-clean, one space, case-folded.
    Tone marks stay (exact-tone matches rank first); the store folds them for matching."""
    from ..text import clean_line

    return " ".join(clean_line(raw).split()).casefold()
