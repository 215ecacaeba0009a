"""`build_feeds`: every feed, ``feeds.opml`` and ``index.html`` into the output
directory, for nginx or a CDN to serve as static files.

Files are written atomically (temp file, fsync, rename) and only when their bytes
change; feeds of categories that no longer exist are removed. A manifest
(``.tgfeed-build.json``) remembers the store version, a config/templates key,
each feed's input fingerprint and each file's size, mtime and hash, so that:

* nothing changed (same store version, same config, files intact) → nothing is
  read from the store or rendered at all;
* the store changed → only feeds whose articles changed (by their keys: id,
  content hash, dates; no text is read) are read and rendered again.
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
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..app import App
from ..errors import RenderError, TgfeedError
from ..feeds import catalog
from ..feeds.catalog import ALL, ALL_FEED, FORMATS
from ..feeds.entries import fingerprint_keys, newest_of_keys
from ..feeds.publish import Listed, Publisher, templates_key
from ..feeds.render import RENDER_VERSION, render_many
from ..private import public_mkdir
from ..procs import pid_alive

log = logging.getLogger(__name__)

MANIFEST = ".tgfeed-build.json"
MANIFEST_FORMAT = 1
IO_THREADS = 4
MAX_STAGED = 128
FEED_SUFFIXES = tuple(f".{fmt}" for fmt in FORMATS)


@dataclass(frozen=True, slots=True)
class BuildResult:
    output_dir: Path
    written: int = 0
    unchanged: int = 0
    removed: int = 0
    feeds: int = 0  # published feeds (each in three formats)
    rendered: int = 0  # feeds rendered this time (the rest were skipped by fingerprint)
    dry_run: bool = False
    written_paths: tuple[str, ...] = ()
    removed_paths: tuple[str, ...] = ()
    failures: tuple[tuple[str, str], ...] = ()  # (relative path, reason)

    @property
    def counts(self) -> dict[str, int]:
        return {"written": self.written, "unchanged": self.unchanged, "removed": self.removed}


@dataclass(slots=True)
class _Staged:
    """A file written to its temp name, its fsync running on an I/O thread."""

    rel: str
    tmp: Path
    fd: int
    entry: list[Any]  # [size, mtime_ns, hash] for the manifest
    synced: Future[None]


@dataclass(slots=True)
class _Run:
    """One build's bookkeeping. Each changed file is written to a temp file at once;
    its fsync (which releases the GIL) runs on an I/O thread while rendering goes
    on; the rename over the old file happens only after that fsync."""

    out: Path
    dry_run: bool
    old_files: dict[str, list[Any]]
    pool: ThreadPoolExecutor
    files: dict[str, list[Any]] = field(default_factory=dict)
    written: list[str] = field(default_factory=list)
    unchanged: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)
    dirs: set[Path] = field(default_factory=set)
    staged: list[_Staged] = field(default_factory=list)
    progress: Callable[[int, int], None] | None = None  # (feeds done, feeds in all)

    def intact(self, rel: str) -> bool:
        """The file is as the last build left it (size and mtime)."""
        entry = self.old_files.get(rel)
        if entry is None:
            return False
        try:
            st = (self.out / rel).stat()
        except OSError:
            return False
        return [st.st_size, st.st_mtime_ns] == entry[:2]

    def keep(self, rel: str) -> None:
        self.files[rel] = self.old_files[rel]
        self.unchanged += 1

    def put(self, rel: str, data: bytes) -> None:
        """Write ``data`` to ``rel`` unless the file already holds exactly these bytes."""
        path = self.out / rel
        digest = hashlib.blake2b(data, digest_size=16).hexdigest()
        try:
            current = path.read_bytes()
        except FileNotFoundError:
            current = None
        except OSError as exc:
            self.failures.append((rel, f"cannot read: {exc.strerror}"))
            return
        if current == data:
            st = path.stat()
            self.files[rel] = [st.st_size, st.st_mtime_ns, digest]
            self.unchanged += 1
            return
        if self.dry_run:
            self.written.append(rel)
            return
        try:
            tmp, fd, size, mtime_ns = _write_temp(path, data)
        except OSError as exc:
            self.failures.append((rel, f"cannot write: {exc.strerror or exc}"))
            return
        synced = self.pool.submit(os.fsync, fd)
        self.staged.append(_Staged(rel, tmp, fd, [size, mtime_ns, digest], synced))
        if len(self.staged) >= MAX_STAGED:  # bound the open file descriptors
            self.finish()

    def finish(self) -> None:
        """Rename every staged file into place once its data is on disk."""
        for st in self.staged:
            try:
                try:
                    st.synced.result()
                finally:
                    os.close(st.fd)
                os.replace(st.tmp, self.out / st.rel)
            except OSError as exc:
                with contextlib.suppress(OSError):
                    os.unlink(st.tmp)
                self.failures.append((st.rel, f"cannot write: {exc.strerror or exc}"))
                continue
            self.files[st.rel] = st.entry
            self.written.append(st.rel)
            self.dirs.add((self.out / st.rel).parent)
        self.staged.clear()


def _write_temp(path: Path, data: bytes, mode: int = 0o644) -> tuple[Path, int, int, int]:
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
        st = os.fstat(fd)
        if stat.S_IMODE(st.st_mode) != mode:  # the umask may have narrowed it
            os.fchmod(fd, mode)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp, fd, st.st_size, st.st_mtime_ns


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> tuple[int, int]:
    """Write via a temp file in the same folder, fsync it, then rename over ``path``
    (readers see the old file or the new one, never half of one). Returns the new
    file's size and mtime_ns."""
    tmp, fd, size, mtime_ns = _write_temp(path, data, mode)
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


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _load_manifest(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((out / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != MANIFEST_FORMAT:
        return {}
    return data


def config_key(app: App) -> str:
    """Everything besides the store that the output depends on."""
    c = app.config
    payload = json.dumps(
        [
            RENDER_VERSION,
            c.site.model_dump(mode="json"),
            c.feeds.model_dump(mode="json", exclude={"output_dir", "cache_control"}),
            [cat.model_dump(mode="json") for cat in c.categories],
            templates_key(app),
        ],
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.blake2b(payload.encode("utf-8"), digest_size=16).hexdigest()


def _existing_feed_files(out: Path) -> set[str]:
    root = out / "feeds"
    if not root.is_dir():
        return set()
    return {
        p.relative_to(out).as_posix()
        for p in root.rglob("*")
        if p.suffix in FEED_SUFFIXES and p.is_file() and not p.name.startswith(".")
    }


_TEMP_NAME = re.compile(r"^\..+\.(\d+)-\d+\.tmp$")


def _remove_orphaned_temps(out: Path) -> int:
    """Delete the temp files of builds that were killed mid-write (their process is
    gone); a live build's temp files are left alone. Returns how many went."""
    removed = 0
    for path in out.rglob(".*.tmp"):
        m = _TEMP_NAME.match(path.name)
        if m is None or pid_alive(int(m[1])):
            continue
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    if removed:
        log.info("removed %d temp file(s) left by an interrupted build", removed)
    return removed


def _prune_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    for d in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        with contextlib.suppress(OSError):
            d.rmdir()  # only succeeds when empty


def build_feeds(
    app: App,
    output_dir: Path | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BuildResult:
    """Write every published feed (RSS, Atom, JSON Feed), ``feeds.opml`` and
    ``index.html`` under ``output_dir`` (default ``feeds.output_dir``);
    ``progress(done, total)`` is called after each feed."""
    out = app.path(output_dir or app.config.feeds.output_dir)
    if not dry_run:
        try:
            public_mkdir(out)
        except OSError as exc:
            raise TgfeedError(
                f"{out}: cannot create the output folder: {exc.strerror}",
                hint="set [feeds] output_dir (or --output) to a writable folder",
            ) from exc
        _remove_orphaned_temps(out)
    version = app.store.articles.version
    key = config_key(app)
    manifest = _load_manifest(out)
    old_files: dict[str, list[Any]] = manifest.get("files", {})
    with ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="feeds-io") as pool:
        run = _Run(out=out, dry_run=dry_run, old_files=old_files, pool=pool, progress=progress)
        return _build(app, run, manifest, key, version)


def _build(app: App, run: _Run, manifest: dict[str, Any], key: str, version: int) -> BuildResult:
    out, dry_run, old_files = run.out, run.dry_run, run.old_files
    store = app.store

    # Nothing changed since the last build: no store reads, no rendering.
    if (
        manifest.get("version") == version
        and manifest.get("config") == key
        and old_files
        and all(run.intact(rel) for rel in old_files)
        and _existing_feed_files(out) <= set(old_files)
    ):
        return BuildResult(
            output_dir=out,
            unchanged=len(old_files),
            feeds=len(manifest.get("feeds", {})),
            dry_run=dry_run,
        )

    pub = Publisher(app)
    opts = pub.opts
    old_fps: dict[str, str] = manifest.get("feeds", {}) if manifest.get("config") == key else {}
    fps: dict[str, str] = {}
    listed: list[Listed] = []
    rendered = 0
    cats = store.articles.categories()
    configured = pub.configured()
    specs = [ALL_FEED] + [
        catalog.category_spec(c)
        for c in cats
        if c.slug_path not in catalog.RESERVED and catalog.is_slug_path(c.slug_path)
    ]
    for done, spec in enumerate(specs):
        if run.progress is not None:
            run.progress(done, len(specs))
        # The keys tell whether the feed changed; its articles are read only if it did,
        # so a rebuild costs what changed, not every feed's articles.
        keys = store.articles.latest_keys(spec.category, opts.items)
        if not keys and spec.key != ALL and spec.key not in configured:
            continue  # a category with no articles left that the config does not name
        listed.append(Listed(spec, newest_of_keys(keys) if keys else None))
        channel = pub.channel(spec)
        fp = fingerprint_keys(channel, keys, opts)
        rels = [spec.path(fmt).lstrip("/") for fmt in FORMATS]
        if old_fps.get(spec.key) == fp and all(run.intact(rel) for rel in rels):
            for rel in rels:
                run.keep(rel)
            fps[spec.key] = fp
            continue
        items = pub.items(spec)
        try:
            bodies = render_many(FORMATS, channel, items, opts)
        except RenderError as exc:
            log.warning("feed %s: %s", spec.key, exc.message)
            run.failures.extend((rel, exc.message) for rel in rels)
            continue
        rendered += 1
        for fmt, body in bodies.items():
            run.put(spec.path(fmt).lstrip("/"), body)
        fps[spec.key] = fp

    # The feeds are in place before the pages that list them; a feed that could not
    # be written and has no older copy is left out of them (no link to a 404).
    run.finish()
    missing = {rel for rel, _ in run.failures if dry_run or not (out / rel).exists()}
    if missing:
        listed = [
            e for e in listed if not any(e.spec.path(f).lstrip("/") in missing for f in FORMATS)
        ]
    for rel in ("feeds.opml", "index.html"):
        try:
            page = (
                pub.opml_bytes(listed)
                if rel == "feeds.opml"
                else pub.index_html(listed, dynamic=False)
            )
        except TgfeedError as exc:
            run.failures.append((rel, exc.message))
            continue
        run.put(rel, page)

    run.finish()

    # Feeds this build did not produce: categories that vanished (or were renamed).
    stale = (set(old_files) | _existing_feed_files(out)) - set(run.files) - {"feeds.opml"}
    stale = {rel for rel in stale if rel.startswith("feeds/") and rel.endswith(FEED_SUFFIXES)}
    stale -= {rel for rel, _ in run.failures}
    removed: list[str] = []
    for rel in sorted(stale):
        if not dry_run:
            try:
                (out / rel).unlink()
            except FileNotFoundError:
                pass
            except OSError as exc:
                run.failures.append((rel, f"cannot remove: {exc.strerror}"))
                continue
        removed.append(rel)

    if not dry_run:
        if removed:
            _prune_empty_dirs(out / "feeds")
        for d in run.dirs:
            _fsync_dir(d)
        failed = {rel for rel, _ in run.failures}
        manifest_out = {
            "format": MANIFEST_FORMAT,
            # A build with failures must not take the fast path next time.
            "version": version if not failed else None,
            "config": key,
            "feeds": fps,
            "files": {rel: v for rel, v in sorted(run.files.items()) if rel not in failed},
        }
        try:
            atomic_write(out / MANIFEST, json.dumps(manifest_out, indent=1).encode("utf-8"))
        except OSError as exc:
            run.failures.append((MANIFEST, f"cannot write: {exc.strerror}"))
        _fsync_dir(out)

    return BuildResult(
        output_dir=out,
        written=len(run.written),
        unchanged=run.unchanged,
        removed=len(removed),
        feeds=len(listed),
        rendered=rendered,
        dry_run=dry_run,
        written_paths=tuple(run.written),
        removed_paths=tuple(removed),
        failures=tuple(run.failures),
    )
