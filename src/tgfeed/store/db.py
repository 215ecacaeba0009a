"""One connection, one write discipline, one way SQLite errors reach a user.

The connection runs in autocommit mode (``isolation_level=None``): Python never
opens a transaction behind our back. Every write goes through ``Db.write()``,
which takes the write lock with ``BEGIN IMMEDIATE`` — so a busy store is waited
for (``busy_timeout``) instead of failing on a read-to-write lock upgrade — and
nested writes become savepoints. Rows are read by column name (``sqlite3.Row``).

``guarded`` wraps every public method of a repository so that a SQLite error
becomes a ``StoreError`` with a hint, never a raw ``sqlite3`` exception.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import itertools
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from ..errors import StoreError
from .lib import Migrations, sqlite_utils

__all__ = ["Database", "Db", "Migrations", "Row", "connect", "guarded", "store_error"]

Database = sqlite_utils.Database
Row = sqlite3.Row
T = TypeVar("T")

LOCKED_HINT = "another process is writing to the store; try again, or raise [store] busy_timeout"
DISK_HINT = "check the disk (space, permissions) of [store] path"


def store_error(exc: sqlite3.Error, where: Path | None, doing: str) -> StoreError:
    """The one translation of a SQLite error into what a user reads."""
    text = str(exc)
    if "locked" in text or "busy" in text:
        hint = LOCKED_HINT
    elif isinstance(exc, sqlite3.OperationalError) and ("disk" in text or "readonly" in text):
        hint = DISK_HINT
    elif isinstance(exc, sqlite3.DatabaseError) and "not a database" in text:
        hint = "is it a SQLite file? check [store] path"
    else:
        hint = None
    return StoreError(f"{where or 'store'}: {doing}: {text}", hint=hint)


class Db:
    """The store's one connection (one writer, one thread) and its write discipline."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None) -> None:
        self.db = db
        self.conn: sqlite3.Connection = db.conn
        self.path = path
        self._savepoints = itertools.count()

    # -- reading by name ---------------------------------------------------

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row
        return cur.execute(sql, args).fetchall()

    def row(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        cur = self.conn.cursor()
        cur.row_factory = sqlite3.Row
        found: Row | None = cur.execute(sql, args).fetchone()
        return found

    def value(self, sql: str, args: Sequence[Any] = ()) -> Any:
        found = self.conn.execute(sql, args).fetchone()
        return found[0] if found else None

    # -- writing -----------------------------------------------------------

    def execute(self, sql: str, args: Sequence[Any] = ()) -> sqlite3.Cursor:
        """One statement inside the current write (``write()`` must be open)."""
        return self.conn.execute(sql, args)

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``); nested calls become savepoints."""
        conn = self.conn
        if conn.in_transaction:
            name = f"sp{next(self._savepoints)}"
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield conn
            except BaseException:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
                raise
            conn.execute(f"RELEASE {name}")
            return
        self.begin()
        try:
            yield conn
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self.commit()

    def begin(self) -> None:
        """Open a write transaction unless one is open (group commit keeps it open)."""
        if self.conn.in_transaction:
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:  # still locked after busy_timeout
            raise store_error(exc, self.path, "cannot write") from exc

    def commit(self) -> None:
        if not self.conn.in_transaction:
            return
        try:
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise store_error(exc, self.path, "cannot commit") from exc

    def close(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
        self.conn.close()


def _wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    doing = name.replace("_", " ")
    if inspect.isgeneratorfunction(fn):

        @functools.wraps(fn)
        def gen(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
            try:
                yield from fn(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise store_error(exc, self._db.path, doing) from exc

        return gen

    @functools.wraps(fn)
    def plain(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise store_error(exc, self._db.path, doing) from exc

    return plain


def guarded(cls: type[T]) -> type[T]:
    """Wrap every public method of a repository (one with a ``_db``), those from its
    mixins included: a SQLite error becomes a ``StoreError`` with a hint."""
    seen: set[str] = set()
    for klass in cls.__mro__[:-1]:
        for name, fn in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            if name.startswith("_") or not inspect.isfunction(fn):
                continue
            setattr(cls, name, _wrap(name, fn))
    return cls


def connect(path: Path | str, *, busy_timeout_ms: int = 5000) -> Db:
    """Open (creating its folder) a SQLite file in WAL mode, in autocommit mode."""
    memory = str(path) == ":memory:"
    where = None if memory else Path(path)
    if where is not None:
        try:
            where.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"{where.parent}: cannot create the store folder: {exc.strerror}",
                hint="set [store] path to a writable location",
            ) from exc
    try:
        conn = sqlite3.connect(
            str(path),
            timeout=busy_timeout_ms / 1000,
            check_same_thread=False,
            isolation_level=None,
        )
        db = sqlite_utils.Database(conn)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        if not memory:
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA temp_store = MEMORY")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB page cache
    except sqlite3.DatabaseError as exc:
        raise StoreError(
            f"{path}: cannot open the store: {exc}",
            hint="is it a SQLite file? check [store] path",
        ) from exc
    return Db(db, where)


def apply(db: Db, migrations: Sequence[Migrations]) -> None:
    """Apply every pending migration of every set, in order, at open."""
    for mig in migrations:
        try:
            mig.apply(db.db)
        except sqlite3.Error as exc:
            raise store_error(exc, db.path, f"migration {mig.name!r} failed") from exc
