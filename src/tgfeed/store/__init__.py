"""The SQLite store: the only package that imports sqlite-utils.

``core`` holds articles, categories, search and ingest runs; other concerns
(subscribers and deliveries, job runs) add their own modules here, each with
its own migration set, sharing one connection.
"""

from .core import Store, open_store

__all__ = ["Store", "open_store"]
