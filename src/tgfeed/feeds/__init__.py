"""Feeds: RSS 2.0, Atom 1.0 and JSON Feed 1.1 per category, OPML, the index page.

- ``entries``: pure preparation: options, channels, cleaned and sanitised entries,
  input fingerprints.
- ``render``: pure rendering of RSS/Atom (the only module importing feedgen) and
  JSON Feed.
- ``catalog``: which feeds exist, their URL paths, slug validation.
- ``opml``: the OPML document.
- ``cache``: rendered bytes + gzip + ETag + Last-Modified per path, per store version.
- ``publish``: feeds from the store, through the cache (used by the web and the build).
"""

from __future__ import annotations

from .cache import FeedCache, Rendered
from .catalog import FORMATS, FeedSpec
from .publish import Publisher
from .render import Channel, Options

__all__ = [
    "FORMATS",
    "Channel",
    "FeedCache",
    "FeedSpec",
    "Options",
    "Publisher",
    "Rendered",
]
