"""The id migration: article ids of an older shape (a port or capitals in the tag
authority — ``tag:127.0.0.1:8080,2018:…`` — or unencoded characters) rewritten to
the shape ``tgfeed.ids`` makes today, once per store. Two rows that become one id
are merged: the published one with the newer content (``updated_at``, then
``first_seen_at``) keeps the id, the other is removed. Every rewrite is recorded
(``id_merges``, in the feeds concern's migration set).

The scan streams the ids (a million articles cost a few seconds once, not memory).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..ids import normalise_tag
from ..text import utc_iso
from .feedstate import FeedState

DONE_KEY = "ids_normalised"


@dataclass(frozen=True, slots=True)
class IdChange:
    old_id: str
    new_id: str
    outcome: str  # renamed, merged-kept (this row's content won), merged-dropped


def migrate_ids(state: FeedState, *, now: datetime) -> list[IdChange]:
    """Rewrite old-shape ids (see the module docstring); returns what changed."""
    db = state.db
    if db.execute("SELECT 1 FROM feedstate_meta WHERE key = ?", (DONE_KEY,)).fetchone():
        return []
    plan = [
        (rowid, old, new)
        for rowid, old in db.execute("SELECT rowid, id FROM articles")
        if (new := normalise_tag(old)) != old
    ]
    changes: list[IdChange] = []
    with state.store.write():
        for rowid, old, new in plan:
            changes.append(_one(state, rowid, old, new))
        db.conn.executemany(
            "INSERT INTO id_merges (old_id, new_id, outcome, at) VALUES (?,?,?,?)",
            [(c.old_id, c.new_id, c.outcome, utc_iso(now)) for c in changes],
        )
        db.conn.execute(
            "INSERT OR REPLACE INTO feedstate_meta (key, value) VALUES (?, ?)",
            (DONE_KEY, utc_iso(now)),
        )
        if changes:
            state.store._bump()  # the feeds must be rendered again
    return changes


_ROW = "SELECT rowid, id, deleted_at IS NULL, updated_at, first_seen_at FROM articles"


def _one(state: FeedState, rowid: int, old: str, new: str) -> IdChange:
    conn = state.db.conn
    row = conn.execute(_ROW + " WHERE rowid = ?", (rowid,)).fetchone()
    other = conn.execute(_ROW + " WHERE id = ?", (new,)).fetchone()
    if other is None:
        _rename(state, row, new)
        return IdChange(old, new, "renamed")
    if tuple(row[2:]) > tuple(other[2:]):  # published first, then the newer content
        _drop(state, other)
        _rename(state, row, new)
        return IdChange(old, new, "merged-kept")
    _drop(state, row)
    return IdChange(old, new, "merged-dropped")


def _rename(state: FeedState, row: Sequence[Any], new: str) -> None:
    conn = state.db.conn
    conn.execute("UPDATE articles SET id = ? WHERE rowid = ?", (new, row[0]))
    conn.execute(
        "UPDATE article_categories SET article_id = ? WHERE article_rowid = ?", (new, row[0])
    )
    if _has_table(state, "source_http_cache"):
        conn.execute(
            "UPDATE source_http_cache SET article_id = ? WHERE article_id = ?", (new, row[1])
        )


def _drop(state: FeedState, row: Sequence[Any]) -> None:
    conn = state.db.conn
    conn.execute("DELETE FROM article_categories WHERE article_rowid = ?", (row[0],))
    conn.execute("DELETE FROM articles_fts WHERE rowid = ?", (row[0],))
    conn.execute("DELETE FROM articles WHERE rowid = ?", (row[0],))


def _has_table(state: FeedState, name: str) -> bool:
    found = state.db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def id_changes(state: FeedState, limit: int = 50) -> list[IdChange]:
    """The rewrites recorded, newest first."""
    rows = state.db.execute(
        "SELECT old_id, new_id, outcome FROM id_merges ORDER BY id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [IdChange(r[0], r[1], r[2]) for r in rows]
