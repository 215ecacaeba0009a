"""The id migration: article ids of an older shape (a port or capitals in the tag
authority — ``tag:127.0.0.1:8080,2018:…`` — or unencoded characters) rewritten to
the shape ``tgfeed.ids`` makes today, once per store. Two rows that become one id
are merged: the published one with the newer content (``updated_at``, then
``first_seen_at``) keeps the id, the other is removed. Every rewrite is recorded
(``id_merges``, in the feeds concern's migration set "tgfeed.feedstate").

The scan streams the ids (a million articles cost a few seconds once, not memory).
It runs in the store's one write transaction (``store.write()``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..ids import normalise_tag
from ..text import utc_iso
from .db import Row, store_error

if TYPE_CHECKING:
    from . import Store

DONE_KEY = "ids_normalised"


@dataclass(frozen=True, slots=True)
class IdChange:
    old_id: str
    new_id: str
    outcome: str  # renamed, merged-kept (this row's content won), merged-dropped


def migrate_ids(store: Store, *, now: datetime) -> list[IdChange]:
    """Rewrite old-shape ids (see the module docstring); returns what changed."""
    try:
        return _migrate(store, now)
    except sqlite3.Error as exc:
        raise store_error(exc, store.path, "migrate article ids") from exc


def _migrate(store: Store, now: datetime) -> list[IdChange]:
    conn = store.db.conn
    if conn.execute("SELECT 1 FROM feedstate_meta WHERE key = ?", (DONE_KEY,)).fetchone():
        return []
    scan = conn.cursor()
    scan.row_factory = sqlite3.Row
    plan = [
        (row["rid"], row["id"], new)
        for row in scan.execute("SELECT rowid AS rid, id FROM articles")
        if (new := normalise_tag(row["id"])) != row["id"]
    ]
    changes: list[IdChange] = []
    with store.write():
        for rowid, old, new in plan:
            changes.append(_one(conn, rowid, old, new))
        conn.executemany(
            "INSERT INTO id_merges (old_id, new_id, outcome, at) VALUES (?,?,?,?)",
            [(c.old_id, c.new_id, c.outcome, utc_iso(now)) for c in changes],
        )
        conn.execute(
            "INSERT OR REPLACE INTO feedstate_meta (key, value) VALUES (?, ?)",
            (DONE_KEY, utc_iso(now)),
        )
        if changes:
            store.articles._bump()  # the feeds must be rendered again
    return changes


_ROW = (
    "SELECT rowid AS rid, id, deleted_at IS NULL AS live, updated_at, first_seen_at FROM articles"
)


def _row(conn: sqlite3.Connection, where: str, arg: object) -> Row | None:
    cur = conn.cursor()
    cur.row_factory = sqlite3.Row
    found: Row | None = cur.execute(f"{_ROW} WHERE {where} = ?", (arg,)).fetchone()
    return found


def _rank(row: Row) -> tuple[int, str, str]:
    """Published first, then the newer content."""
    return (row["live"], row["updated_at"] or "", row["first_seen_at"] or "")


def _one(conn: sqlite3.Connection, rowid: int, old: str, new: str) -> IdChange:
    row = _row(conn, "rowid", rowid)
    assert row is not None
    other = _row(conn, "id", new)
    if other is None:
        _rename(conn, row, new)
        return IdChange(old, new, "renamed")
    if _rank(row) > _rank(other):
        _drop(conn, other)
        _rename(conn, row, new)
        return IdChange(old, new, "merged-kept")
    _drop(conn, row)
    return IdChange(old, new, "merged-dropped")


def _rename(conn: sqlite3.Connection, row: Row, new: str) -> None:
    conn.execute("UPDATE articles SET id = ? WHERE rowid = ?", (new, row["rid"]))
    conn.execute(
        "UPDATE article_categories SET article_id = ? WHERE article_rowid = ?", (new, row["rid"])
    )
    conn.execute(
        "UPDATE source_http_cache SET article_id = ? WHERE article_id = ?", (new, row["id"])
    )


def _drop(conn: sqlite3.Connection, row: Row) -> None:
    # The search index forgets the row through the articles' delete trigger (an
    # external-content index must not be deleted from directly: it would forget twice).
    conn.execute("DELETE FROM article_categories WHERE article_rowid = ?", (row["rid"],))
    conn.execute("DELETE FROM articles WHERE rowid = ?", (row["rid"],))


def id_changes(store: Store, limit: int = 50) -> list[IdChange]:
    """The rewrites recorded, newest first."""
    cur = store.db.conn.cursor()
    cur.row_factory = sqlite3.Row
    try:
        rows = cur.execute(
            "SELECT old_id, new_id, outcome FROM id_merges ORDER BY id DESC LIMIT ?", (limit,)
        ).fetchall()
    except sqlite3.Error as exc:
        raise store_error(exc, store.path, "list article id changes") from exc
    return [IdChange(r["old_id"], r["new_id"], r["outcome"]) for r in rows]
