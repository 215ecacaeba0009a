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

A folder made with ``gzip=(".rss", …)`` also gets a ``.gz`` sibling of each such
file (gzip with mtime 0: the same bytes always give the same ``.gz``), with the
file's mtime, for nginx's ``gzip_static``. The pair is published so that a reader
never sees a ``.gz`` of other bytes than its file: the old ``.gz`` is removed, the
new file renamed into place, then the new ``.gz`` — in between, the file is served
uncompressed (or compressed on the fly).

Used by ``tgfeed build``; written so that the digest preview, ``export -o`` and
the Maildir outbox can use it too.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from .atomicfiles import (
    atomic_write,
    content_digest,
    fsync_dir,
    gzipped,
    ns,
    prune_empty_dirs,
    remove_orphaned_temps,
    write_temp,
)
from .nochange import MANIFEST, MANIFEST_FORMAT, load_manifest
from .private import public_mkdir

log = logging.getLogger(__name__)

IO_THREADS = 4
MAX_STAGED = 128  # bounds the open file descriptors
SIBLING = "gz"  # the manifest's hash of a .gz: it changes with its file, never alone

__all__ = [
    "MANIFEST",
    "StaticDir",
    "atomic_write",
    "content_digest",
    "prune_empty_dirs",
    "remove_orphaned_temps",
]


@dataclass(slots=True)
class _Staged:
    """A file written to its temp name, its fsync running on an I/O thread."""

    rel: str
    tmp: Path
    fd: int
    entry: list[Any]  # [size, mtime_ns, hash] for the manifest
    synced: Future[None]
    gz: _Staged | None = None  # its .gz sibling, published right after it
    sibling: bool = False  # a .gz written again for a file that did not change


class StaticDir:
    """One run of writes into ``root`` (see the module docstring). ``dry_run``:
    report what would be written or removed, touch nothing."""

    def __init__(
        self,
        root: Path,
        *,
        dry_run: bool = False,
        manifest: str = MANIFEST,
        gzip: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        self._root_s = str(root)
        self.gzip = gzip  # files ending so get a .gz sibling
        self.dry_run = dry_run
        self.manifest_name = manifest
        self.manifest = load_manifest(root, manifest)
        self.old_files: dict[str, list[Any]] = self.manifest.get("files", {})
        self.files: dict[str, list[Any]] = {}
        self.written: list[str] = []
        self.removed: list[str] = []
        self.unchanged = 0
        self.failures: list[tuple[str, str]] = []
        self._dirs: set[str] = set()  # folders to fsync (strings: paths are built per file)
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
        """The file (and its ``.gz`` sibling, when it has one) is as the last run left
        it (size and mtime, per the manifest)."""
        if self._gz(rel) and not self._intact(rel + ".gz"):
            return False
        return self._intact(rel)

    def old_count(self) -> int:
        """Files the last run left, their ``.gz`` siblings not counted."""
        return sum(1 for rel in self.old_files if not self._sibling(rel))

    def _sibling(self, rel: str) -> bool:
        return rel.endswith(".gz") and self._gz(rel[:-3])

    def _gz(self, rel: str) -> bool:
        return bool(self.gzip) and rel.endswith(self.gzip)

    def _path(self, rel: str) -> str:
        return os.path.join(self._root_s, rel)  # no Path: called per file

    def _intact(self, rel: str) -> bool:
        entry = self.old_files.get(rel)
        if entry is None:
            return False
        try:
            st = os.stat(self._path(rel))
        except OSError:
            return False
        return [st.st_size, st.st_mtime_ns] == entry[:2]

    def existing(self, under: str, suffixes: tuple[str, ...]) -> set[str]:
        """Files (relative paths) under ``under`` ending in one of ``suffixes``."""
        found: set[str] = set()
        todo = [under]
        while todo:
            rel_dir = todo.pop()
            try:
                entries = list(os.scandir(os.path.join(self._root_s, rel_dir)))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for e in entries:
                rel = f"{rel_dir}/{e.name}"
                if e.is_dir(follow_symlinks=False):
                    todo.append(rel)
                elif e.name.endswith(suffixes) and not e.name.startswith(".") and e.is_file():
                    found.add(rel)
        return found

    # -- writing -------------------------------------------------------------

    def keep(self, rel: str) -> None:
        """The file (and its ``.gz``) stays as the last run wrote it."""
        self.files[rel] = self.old_files[rel]
        if self._gz(rel):
            self.files[rel + ".gz"] = self.old_files[rel + ".gz"]
        self.unchanged += 1

    def put(
        self, rel: str, data: bytes, *, mtime: datetime | None = None, digest: str | None = None
    ) -> None:
        """Write ``data`` to ``rel`` unless the manifest says the file already holds
        exactly these bytes (by hash; the old file is not read). ``mtime``: the
        file's modification time (whole seconds), also set on an unchanged file
        whose time differs. ``digest``: ``content_digest(data)``, if already known."""
        digest = digest or content_digest(data)
        old = self.old_files.get(rel)
        if old is not None and old[2] == digest and self._intact(rel):
            self._unchanged(rel, data, digest, mtime)
            return
        if self.dry_run:
            self.written.append(rel)
            return
        staged = self._stage(rel, data, digest, mtime)
        if staged is None:
            return
        if self._gz(rel):
            staged.gz = self._stage(rel + ".gz", gzipped(data), SIBLING, mtime)
            if staged.gz is not None:
                staged.gz.sibling = True
        self._staged.append(staged)
        if len(self._staged) >= MAX_STAGED:
            self.finish()

    def _stage(self, rel: str, data: bytes, digest: str, mtime: datetime | None) -> _Staged | None:
        try:
            tmp, fd, size, mtime_ns = write_temp(self.root / rel, data, mtime=mtime)
        except OSError as exc:
            self.failures.append((rel, f"cannot write: {exc.strerror or exc}"))
            return None
        assert self._pool is not None, "StaticDir.put outside `with`"
        synced = self._pool.submit(os.fsync, fd)
        return _Staged(rel, tmp, fd, [size, mtime_ns, digest], synced)

    def _unchanged(self, rel: str, data: bytes, digest: str, mtime: datetime | None) -> None:
        entry = self._retime(rel, self.old_files[rel], mtime)
        if entry is None:
            return
        self.files[rel] = entry
        self.unchanged += 1
        if not self._gz(rel):
            return
        gz_entry = self.old_files.get(rel + ".gz")
        if gz_entry is not None and self._intact(rel + ".gz"):
            gz_entry = self._retime(rel + ".gz", gz_entry, mtime)
            if gz_entry is not None:
                self.files[rel + ".gz"] = gz_entry
        elif not self.dry_run:  # the sibling is missing or was changed: write it again
            staged = self._stage(rel + ".gz", gzipped(data), SIBLING, mtime)
            if staged is not None:
                staged.sibling = True
                self._staged.append(staged)

    def _retime(self, rel: str, entry: list[Any], mtime: datetime | None) -> list[Any] | None:
        """The manifest entry after giving the file ``mtime`` (None: failed)."""
        if mtime is None or entry[1] == ns(mtime) or self.dry_run:
            return entry
        try:
            os.utime(self.root / rel, ns=(ns(mtime), ns(mtime)))
        except OSError as exc:
            self.failures.append((rel, f"cannot set the time: {exc.strerror}"))
            return None
        return [entry[0], ns(mtime), entry[2]]

    def finish(self) -> None:
        """Rename every staged file into place once its data is on disk; a file
        with a ``.gz`` sibling: the old ``.gz`` goes first, the new one comes last."""
        for st in self._staged:
            if st.gz is not None:
                with contextlib.suppress(OSError):
                    self._unlink(st.gz.rel)
            if not self._publish(st):
                if st.gz is not None:
                    self._discard(st.gz)
                continue
            if not st.sibling:
                self.written.append(st.rel)
            if st.gz is not None:
                self._publish(st.gz)
        self._staged.clear()

    def _publish(self, st: _Staged) -> bool:
        try:
            try:
                st.synced.result()
            finally:
                os.close(st.fd)
            path = self._path(st.rel)
            os.replace(st.tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(st.tmp)
            self.failures.append((st.rel, f"cannot write: {exc.strerror or exc}"))
            return False
        self.files[st.rel] = st.entry
        self._dirs.add(os.path.dirname(path))
        return True

    def _discard(self, st: _Staged) -> None:
        with contextlib.suppress(OSError):
            try:
                st.synced.result()
            finally:
                os.close(st.fd)
        with contextlib.suppress(OSError):
            os.unlink(st.tmp)

    def _unlink(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(rel))
        self.files.pop(rel, None)

    def remove(self, rels: Iterable[str]) -> None:
        """Delete these files (a file already gone counts as removed)."""
        for rel in sorted(rels):
            if not self.dry_run:
                if self._gz(rel):
                    with contextlib.suppress(OSError):
                        self._unlink(rel + ".gz")
                try:
                    os.unlink(self._path(rel))
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    self.failures.append((rel, f"cannot remove: {exc.strerror}"))
                    continue
                self._dirs.add(os.path.dirname(self._path(rel)))
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
            fsync_dir(Path(d))
        failed = {rel for rel, _ in self.failures}
        manifest = {
            "format": MANIFEST_FORMAT,
            **meta,
            "files": {rel: v for rel, v in sorted(self.files.items()) if rel not in failed},
        }
        try:
            # Compact: the C encoder (an indented dump runs the pure-Python one).
            text = json.dumps(manifest, separators=(",", ":"))
            atomic_write(self.root / self.manifest_name, text.encode("utf-8"))
        except OSError as exc:
            self.failures.append((self.manifest_name, f"cannot write: {exc.strerror}"))
        fsync_dir(self.root)

    def update_manifest(self, meta: dict[str, Any]) -> None:
        """Write the last run's manifest again with ``meta`` changed (no file was
        written or removed; not in a dry run). Failing to costs only speed: logged."""
        if self.dry_run or not self.manifest:
            return
        manifest = {**self.manifest, **meta, "format": MANIFEST_FORMAT}
        try:
            text = json.dumps(manifest, separators=(",", ":"))  # as ``commit`` writes it
            atomic_write(self.root / self.manifest_name, text.encode("utf-8"))
        except OSError as exc:
            log.warning("%s: cannot write: %s", self.root / self.manifest_name, exc.strerror)
