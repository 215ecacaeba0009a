"""The in-memory cache of rendered feeds: bytes, their gzip, a strong ETag and
Last-Modified, keyed by URL path and stamped with the store version they were
made for. A request finds a fresh entry (same version) and sends it as-is; a
stale entry is re-checked once per version (see ``feeds.publish``), never
re-rendered per request.

Bounded: catalogue entries by total bytes, search entries by count, each LRU.
"""

from __future__ import annotations

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

    body: bytes
    gzipped: bytes
    etag: str  # strong ETag of ``body``
    etag_gzip: str  # strong ETag of ``gzipped`` (another representation)
    last_modified: datetime
    http_date: str  # Last-Modified, formatted once
    media_type: str
    fingerprint: str = ""

    @classmethod
    def make(
        cls, body: bytes, media_type: str, last_modified: datetime, fingerprint: str = ""
    ) -> Rendered:
        digest = hashlib.blake2b(body, digest_size=16).hexdigest()
        last_modified = last_modified.replace(microsecond=0)
        return cls(
            body=body,
            # mtime=0: the same bytes always compress to the same gzip bytes.
            gzipped=gzip.compress(body, compresslevel=6, mtime=0),
            etag=f'"{digest}"',
            etag_gzip=f'"{digest}-gz"',
            last_modified=last_modified,
            http_date=format_datetime(last_modified.astimezone(UTC), usegmt=True),
            media_type=media_type,
            fingerprint=fingerprint,
        )

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzipped) + 256


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

    def get(self, key: str, version: int) -> Rendered | None:
        """The entry if it was made for ``version``."""
        table = self._table(key)
        entry = table.get(key)
        if entry is None or entry[0] != version:
            return None
        table.move_to_end(key)
        self.hits += 1
        return entry[1]

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
        else:
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
