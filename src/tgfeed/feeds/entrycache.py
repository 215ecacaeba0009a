"""Each feed entry rendered once: the bytes of one article in one format, kept under
a key made of everything those bytes depend on — the article's shown fields, the
options an entry uses and the renderer version — so a feed is its channel plus
cached entries in order (``render.render_many(..., cache=)``). An article in the
all-feed, its category's and its parent's is rendered once, not three times.

In memory, bounded by bytes (least recently used go first), one per App
(``app.publisher.entries``): the server's feeds and the builds of the running
service share it, so a build after one new article renders that article's
entries. Not in the store: writing every listed article's three entries into
SQLite cost more CPU than rendering them. A changed article, or a changed option
it depends on, gets a new key, so nothing stale is reused.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterable

from ..model import Article
from .entries import Options, article_key

# Room for every feed's entries at the default 50 items (~80 MB at 221 feeds with
# ~2 KB bodies): a smaller cache misses on every entry when a build walks the feeds.
DEFAULT_MAX_BYTES = 128 * 1024 * 1024


def entry_key(a: Article, opts: Options) -> str:
    """The key of ``a``'s entries (one per format: ``<fmt>:<key>``)."""
    h = hashlib.blake2b(digest_size=16)
    h.update(opts.entry_key().encode("utf-8"))
    h.update(article_key(a).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


class EntryCache:
    """``<fmt>:<entry_key>`` → the entry's bytes, least recently used dropped first."""

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._mem: OrderedDict[str, bytes] = OrderedDict()
        self._bytes = 0
        self.rendered = 0  # entries rendered (cache misses), for tests and the bench

    def get_many(self, keys: Iterable[str]) -> dict[str, bytes]:
        found: dict[str, bytes] = {}
        for key in keys:
            body = self._mem.get(key)
            if body is not None:
                self._mem.move_to_end(key)
                found[key] = body
        return found

    def put(self, key: str, body: bytes) -> None:
        self.rendered += 1
        old = self._mem.pop(key, None)
        if old is not None:
            self._bytes -= len(old)
        self._mem[key] = body
        self._bytes += len(body)
        while self._bytes > self.max_bytes and len(self._mem) > 1:
            _, dropped = self._mem.popitem(last=False)
            self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._mem)
