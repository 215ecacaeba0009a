"""Atomic files: write via a temp file beside the target, fsync, rename (a reader
sees the old file or the new one, never half of one), with a given mtime; the
deterministic ``.gz`` of a file; and the clean-up of temp files a killed run left.
The building blocks of ``staticdir``."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import re
import stat
import threading
from datetime import datetime
from pathlib import Path
from types import ModuleType

from .private import public_mkdir
from .procs import pid_alive

log = logging.getLogger(__name__)

__all__ = [
    "atomic_write",
    "content_digest",
    "fsync_dir",
    "gzipped",
    "prune_empty_dirs",
    "remove_orphaned_temps",
    "write_temp",
]

# nginx's own gzip_comp_level default: a static .gz costs the build little CPU.
GZIP_LEVEL = 1

_igzip: ModuleType | None
try:  # ISA-L's deflate: at its level 1, 4-5x zlib's level-1 speed, as small a file
    from isal import igzip as _igzip
except ImportError:  # pragma: no cover - a platform without its wheel
    _igzip = None


def gzipped(data: bytes) -> bytes:
    """The ``.gz`` sibling's bytes: deterministic (mtime 0), any gzip reader's format.
    Compressed by ISA-L when it is installed (a dependency; it has wheels for the
    usual platforms), else by zlib at ``GZIP_LEVEL``."""
    if _igzip is not None:
        return bytes(_igzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0))
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


def content_digest(data: bytes) -> str:
    """The hash kept in the manifest (and used for ETags): 32 hex digits."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def ns(when: datetime) -> int:
    return int(when.timestamp()) * 1_000_000_000


def write_temp(
    path: Path, data: bytes, mode: int = 0o644, mtime: datetime | None = None
) -> tuple[Path, int, int, int]:
    """``data`` in a temp file beside ``path``: (temp path, open fd, size, mtime_ns)."""
    # Unique per process and thread; a leftover from a crash is simply overwritten.
    tmp = path.parent / f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, mode)
    except FileNotFoundError:
        public_mkdir(path.parent)
        fd = os.open(tmp, flags, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        if mtime is not None:
            os.utime(fd, ns=(ns(mtime), ns(mtime)))
        st = os.fstat(fd)
        if stat.S_IMODE(st.st_mode) != mode:  # the umask may have narrowed it
            os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp, fd, st.st_size, st.st_mtime_ns


def atomic_write(
    path: Path, data: bytes, mode: int = 0o644, *, mtime: datetime | None = None
) -> tuple[int, int]:
    """Write via a temp file in the same folder, fsync it, then rename over ``path``
    (readers see the old file or the new one, never half of one). ``mtime``: the
    modification time to give the file (whole seconds). Returns size and mtime_ns."""
    tmp, fd, size, mtime_ns = write_temp(path, data, mode, mtime)
    try:
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return size, mtime_ns


def fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_TEMP_NAME = re.compile(r"^\..+\.(\d+)-\d+\.tmp$")


def remove_orphaned_temps(root: Path) -> int:
    """Delete the temp files of runs that were killed mid-write (their process is
    gone); a live run's temp files are left alone. Returns how many went."""
    removed = 0
    for path in _temp_files(str(root)):
        m = _TEMP_NAME.match(os.path.basename(path))
        if m is None or pid_alive(int(m[1])):
            continue
        with contextlib.suppress(OSError):
            os.unlink(path)
            removed += 1
    if removed:
        log.info("removed %d temp file(s) left by an interrupted run", removed)
    return removed


def _temp_files(root: str) -> list[str]:
    """Paths of ``.*.tmp`` files under ``root`` (symlinks not followed): a walk with
    ``os.scandir``, several times cheaper than ``Path.rglob`` over a build's folders."""
    found: list[str] = []
    todo = [root]
    while todo:
        folder = todo.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                todo.append(e.path)
            elif e.name.startswith(".") and e.name.endswith(".tmp"):
                found.append(e.path)
    return found


def prune_empty_dirs(root: Path) -> None:
    """Remove the empty folders under ``root`` (deepest first; ``root`` stays)."""
    if not root.is_dir():
        return
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            d.rmdir()  # only succeeds when empty
