"""A folder of files that a web server (nginx, a CDN) serves while we rewrite it.

Every file is written to a temp file beside it, flushed to disk (``fsync``, on an
I/O thread while the caller goes on producing the next file) and renamed over the
old one, so a reader sees the old file or the new one, never half of one. Files are
``0644`` in folders made ``0755`` (``private.public_mkdir``): a web server running as
another user serves them whatever tgfeed's umask. A file
whose bytes did not change is not touched. A manifest remembers each file's size,
mtime and hash (and whatever the caller adds), so a later run can tell that a file
is still as it left it without reading it. Temp files of a run that was killed are
removed by the next one.

    with StaticDir(out) as d:
        d.put("feeds/all.rss", body, mtime=changed_at)
        d.remove(stale)
        d.commit({"version": 7})        # writes the manifest, fsyncs the folders
    d.written, d.unchanged, d.removed, d.failures

Used by ``tgfeed build``; written so that the digest preview, ``export -o`` and
the Maildir outbox can use it too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import stat
import threading
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from .private import public_mkdir
from .procs import pid_alive

log = logging.getLogger(__name__)

MANIFEST = ".tgfeed-build.json"
MANIFEST_FORMAT = 1
IO_THREADS = 4
MAX_STAGED = 128  # bounds the open file descriptors

__all__ = [
    "MANIFEST",
    "StaticDir",
    "atomic_write",
    "content_digest",
    "prune_empty_dirs",
    "remove_orphaned_temps",
]


def content_digest(data: bytes) -> str:
    """The hash kept in the manifest (and used for ETags): 32 hex digits."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _ns(when: datetime) -> int:
    return int(when.timestamp()) * 1_000_000_000


def _write_temp(
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
            os.utime(fd, ns=(_ns(mtime), _ns(mtime)))
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
    tmp, fd, size, mtime_ns = _write_temp(path, data, mode, mtime)
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
    for path in root.rglob(".*.tmp"):
        m = _TEMP_NAME.match(path.name)
        if m is None or pid_alive(int(m[1])):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    if removed:
        log.info("removed %d temp file(s) left by an interrupted run", removed)
    return removed


def prune_empty_dirs(root: Path) -> None:
    """Remove the empty folders under ``root`` (deepest first; ``root`` stays)."""
    if not root.is_dir():
        return
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            d.rmdir()  # only succeeds when empty


def load_manifest(root: Path, name: str = MANIFEST) -> dict[str, Any]:
    try:
        data = json.loads((root / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return {}
    return data


@dataclass(slots=True)
class _Staged:
    """A file written to its temp name, its fsync running on an I/O thread."""

    rel: str
    tmp: Path
    fd: int
    entry: list[Any]  # [size, mtime_ns, hash] for the manifest
    synced: Future[None]


class StaticDir:
    """One run of writes into ``root`` (see the module docstring). ``dry_run``:
    report what would be written or removed, touch nothing."""

    def __init__(self, root: Path, *, dry_run: bool = False, manifest: str = MANIFEST) -> None:
        self.root = root
        self.dry_run = dry_run
        self.manifest_name = manifest
        self.manifest = load_manifest(root, manifest)
        self.old_files: dict[str, list[Any]] = self.manifest.get("files", {})
        self.files: dict[str, list[Any]] = {}
        self.written: list[str] = []
        self.removed: list[str] = []
        self.unchanged = 0
        self.failures: list[tuple[str, str]] = []
        self._dirs: set[Path] = set()
        self._staged: list[_Staged] = []
        self._pool: ThreadPoolExecutor | None = None

    def open(self) -> StaticDir:
        """Create the folder and clear temp files of killed runs (not in a dry run)."""
        if not self.dry_run:
            public_mkdir(self.root)
            remove_orphaned_temps(self.root)
        self._pool = ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="static-io")
        return self

    def __enter__(self) -> StaticDir:
        return self if self._pool is not None else self.open()

    def __exit__(
        self, tp: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.finish()
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None

    # -- what is there -------------------------------------------------------

    def intact(self, rel: str) -> bool:
        """The file is as the last run left it (size and mtime, per the manifest)."""
        entry = self.old_files.get(rel)
        if entry is None:
            return False
        try:
            st = (self.root / rel).stat()
        except OSError:
            return False
        return [st.st_size, st.st_mtime_ns] == entry[:2]

    def existing(self, under: str, suffixes: tuple[str, ...]) -> set[str]:
        """Files (relative paths) under ``under`` ending in one of ``suffixes``."""
        base = self.root / under
        if not base.is_dir():
            return set()
        return {
            p.relative_to(self.root).as_posix()
            for p in base.rglob("*")
            if p.name.endswith(suffixes) and not p.name.startswith(".") and p.is_file()
        }

    # -- writing -------------------------------------------------------------

    def keep(self, rel: str) -> None:
        """The file stays as the last run wrote it."""
        self.files[rel] = self.old_files[rel]
        self.unchanged += 1

    def put(self, rel: str, data: bytes, *, mtime: datetime | None = None) -> None:
        """Write ``data`` to ``rel`` unless the file already holds exactly these bytes.
        ``mtime``: the file's modification time (whole seconds), also set on an
        unchanged file whose time differs."""
        path = self.root / rel
        digest = content_digest(data)
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            current = None
        except OSError as exc:
            self.failures.append((rel, f"cannot read: {exc.strerror}"))
            return
        if current == data:
            self._unchanged(rel, path, digest, mtime)
            return
        if self.dry_run:
            self.written.append(rel)
            return
        try:
            tmp, fd, size, mtime_ns = _write_temp(path, data, mtime=mtime)
        except OSError as exc:
            self.failures.append((rel, f"cannot write: {exc.strerror or exc}"))
            return
        assert self._pool is not None, "StaticDir.put outside `with`"
        synced = self._pool.submit(os.fsync, fd)
        self._staged.append(_Staged(rel, tmp, fd, [size, mtime_ns, digest], synced))
        if len(self._staged) >= MAX_STAGED:
            self.finish()

    def _unchanged(self, rel: str, path: Path, digest: str, mtime: datetime | None) -> None:
        st = path.stat()
        mtime_ns = st.st_mtime_ns
        if mtime is not None and mtime_ns != _ns(mtime) and not self.dry_run:
            try:
                os.utime(path, ns=(_ns(mtime), _ns(mtime)))
                mtime_ns = _ns(mtime)
            except OSError as exc:
                self.failures.append((rel, f"cannot set the time: {exc.strerror}"))
                return
        self.files[rel] = [st.st_size, mtime_ns, digest]
        self.unchanged += 1

    def finish(self) -> None:
        """Rename every staged file into place once its data is on disk."""
        for st in self._staged:
            try:
                try:
                    st.synced.result()
                finally:
                    os.close(st.fd)
                os.replace(st.tmp, self.root / st.rel)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(st.tmp)
                self.failures.append((st.rel, f"cannot write: {exc.strerror or exc}"))
                continue
            self.files[st.rel] = st.entry
            self.written.append(st.rel)
            self._dirs.add((self.root / st.rel).parent)
        self._staged.clear()

    def remove(self, rels: Iterable[str]) -> None:
        """Delete these files (a file already gone counts as removed)."""
        for rel in sorted(rels):
            if not self.dry_run:
                try:
                    (self.root / rel).unlink()
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    self.failures.append((rel, f"cannot remove: {exc.strerror}"))
                    continue
                self._dirs.add((self.root / rel).parent)
            self.removed.append(rel)

    def commit(self, meta: dict[str, Any], *, prune: str | None = None) -> None:
        """Finish the writes, remove empty folders under ``prune`` (when something
        was removed), write the manifest (``meta`` plus the files that were written
        or kept, failures left out) and fsync the folders."""
        self.finish()
        if self.dry_run:
            return
        if prune is not None and self.removed:
            prune_empty_dirs(self.root / prune)
        for d in self._dirs:
            fsync_dir(d)
        failed = {rel for rel, _ in self.failures}
        manifest = {
            "format": MANIFEST_FORMAT,
            **meta,
            "files": {rel: v for rel, v in sorted(self.files.items()) if rel not in failed},
        }
        try:
            atomic_write(
                self.root / self.manifest_name, json.dumps(manifest, indent=1).encode("utf-8")
            )
        except OSError as exc:
            self.failures.append((self.manifest_name, f"cannot write: {exc.strerror}"))
        fsync_dir(self.root)
