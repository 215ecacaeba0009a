"""Opening a database: WAL, busy timeout, foreign keys; migrations by set."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils
from sqlite_utils import Migrations

from ..errors import StoreError

__all__ = ["Database", "Migrations", "connect"]

Database = sqlite_utils.Database


def connect(path: Path | str, *, busy_timeout_ms: int = 5000) -> sqlite_utils.Database:
    """Open (creating its folder) a SQLite file in WAL mode."""
    if str(path) != ":memory:":
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{path.parent}: cannot create the store folder: {exc.strerror}",
                hint="set [store] path to a writable location",
            ) from exc
    try:
        conn = sqlite3.connect(str(path), timeout=busy_timeout_ms / 1000, check_same_thread=False)
        db = sqlite_utils.Database(conn)
        db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if str(path) != ":memory:":
            db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA temp_store = MEMORY")
        db.execute("PRAGMA cache_size = -65536")  # 64 MiB page cache
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path}: cannot open the store: {exc}",
            hint="is it a SQLite file? check [store] path",
        ) from exc
    return db


def apply(db: sqlite_utils.Database, migrations: Migrations) -> None:
    try:
        migrations.apply(db)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"store migration {migrations.name!r} failed: {exc}") from exc
