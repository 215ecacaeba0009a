"""The in-memory cache of rendered feeds: bytes, their gzip, a strong ETag and
Last-Modified, keyed by URL path and stamped with the store version they were
made for. A request finds a fresh entry (same version) and sends it as-is; a
stale entry is re-checked once per version (see ``feeds.publish``), never
re-rendered per request.

Bounded: catalogue entries by total bytes, search entries by count, each LRU.
Over its byte budget the catalogue first drops the plain copies of its least
recently used entries, keeping their gzip (a quarter of the size), and evicts
whole entries only when nothing but gzip is left. Feed readers poll every feed
in turn, and a plain LRU a little smaller than the catalogue misses on every
such request, rendering each feed again each time; this way every feed stays
cached until the gzipped copies alone fill the budget (about 1,000 categories at
the default 96 MiB), and a plain request for a slimmed entry costs a decompression.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

DEFAULT_MAX_BYTES = 96 * 1024 * 1024
DEFAULT_MAX_SEARCHES = 64


@dataclass(frozen=True, slots=True)
class Rendered:
    """One response body, ready to send."""

    gzipped: bytes
    etag: str  # strong ETag of ``body``
    etag_gzip: str  # strong ETag of ``gzipped`` (another representation)
    last_modified: datetime
    http_date: str  # Last-Modified, formatted once
    media_type: str
    fingerprint: str = ""
    plain: bytes | None = None  # the uncompressed body, while the cache keeps it

    @classmethod
    def make(
        cls, body: bytes, media_type: str, last_modified: datetime, fingerprint: str = ""
    ) -> Rendered:
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        last_modified = last_modified.replace(microsecond=0)
        return cls(
            # mtime=0: the same bytes always compress to the same gzip bytes.
            gzipped=gzip.compress(body, compresslevel=6, mtime=0),
            etag=f'"{digest}"',
            etag_gzip=f'"{digest}-gz"',
            last_modified=last_modified,
            http_date=format_datetime(last_modified.astimezone(UTC), usegmt=True),
            media_type=media_type,
            fingerprint=fingerprint,
            plain=body,
        )

    @property
    def body(self) -> bytes:
        """The uncompressed body (decompressed again if the cache dropped it)."""
        return self.plain if self.plain is not None else gzip.decompress(self.gzipped)

    def slim(self) -> Rendered:
        """The same response without its plain copy."""
        return dataclasses.replace(self, plain=None)

    @property
    def size(self) -> int:
        return len(self.gzipped) + (len(self.plain) if self.plain is not None else 0) + 256


class FeedCache:
    """Path → (store version, Rendered), LRU-bounded."""

    def __init__(
        self, max_bytes: int = DEFAULT_MAX_BYTES, max_searches: int = DEFAULT_MAX_SEARCHES
    ) -> None:
        self.max_bytes = max_bytes
        self.max_searches = max_searches
        self._feeds: OrderedDict[str, tuple[int, Rendered]] = OrderedDict()
        self._searches: OrderedDict[str, tuple[int, Rendered]] = OrderedDict()
        self._bytes = 0
        self.hits = 0
        self.renders = 0

    def _table(self, key: str) -> OrderedDict[str, tuple[int, Rendered]]:
        return self._searches if "?" in key else self._feeds

    def get(self, key: str, version: int, *, plain: bool = False) -> Rendered | None:
        """The entry if it was made for ``version``. ``plain``: the caller will send
        the uncompressed body, so a slimmed entry gets its plain copy back (a feed
        fetched without gzip again and again is decompressed once, not each time)."""
        table = self._table(key)
        entry = table.get(key)
        if entry is None or entry[0] != version:
            return None
        table.move_to_end(key)
        self.hits += 1
        rendered = entry[1]
        if plain and rendered.plain is None and table is self._feeds:
            rendered = dataclasses.replace(rendered, plain=rendered.body)
            self.put(key, version, rendered)
        return rendered

    def peek(self, key: str) -> Rendered | None:
        """The entry whatever its version (to reuse it when its fingerprint still holds)."""
        entry = self._table(key).get(key)
        return entry[1] if entry else None

    def put(self, key: str, version: int, rendered: Rendered) -> None:
        table = self._table(key)
        old = table.pop(key, None)
        if table is self._feeds:
            if old:
                self._bytes -= old[1].size
            self._bytes += rendered.size
        table[key] = (version, rendered)
        if table is self._searches:
            while len(table) > self.max_searches:
                table.popitem(last=False)
        elif self._bytes > self.max_bytes:
            self._shrink(key)

    def _shrink(self, newest: str) -> None:
        """Back under budget: plain copies go first, oldest first, then whole entries."""
        table = self._feeds
        for key, (version, entry) in list(table.items()):
            if self._bytes <= self.max_bytes:
                return
            if entry.plain is not None and key != newest:
                slim = entry.slim()
                table[key] = (version, slim)  # keeps its place in the LRU order
                self._bytes -= entry.size - slim.size
        while self._bytes > self.max_bytes and len(table) > 1:
            _, (_, dropped) = table.popitem(last=False)
            self._bytes -= dropped.size

    def clear(self) -> None:
        self._feeds.clear()
        self._searches.clear()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._feeds) + len(self._searches)
