"""`build_feeds`: every feed, ``feeds.opml`` and ``index.html`` into the output
directory, for nginx or a CDN to serve as static files.

Files are written atomically and only when their bytes change (``staticdir``);
each file's mtime is the instant its bytes last changed, the same instant
``tgfeed serve`` sends as Last-Modified; feeds of categories that no longer exist
are removed. A manifest
(``.tgfeed-build.json``) remembers the store version, a config/templates key,
each feed's input fingerprint and each file's size, mtime and hash, so that:

* nothing changed (same store version, same config, files intact) → nothing is
  read from the store or rendered at all (and a `tgfeed build` process checks
  that before it imports any of this, from the manifest's ``fast`` record:
  ``nochange``);
* the store changed → a category feed whose category revision (kept by the
  store's triggers), tombstones and names are the ones recorded is kept without a
  query (its channel is not even built); the others' keys (id, content hash,
  dates; no text) are read, and only feeds whose keys changed are read and
  rendered again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .. import nochange
from ..app import App
from ..config import Config
from ..errors import ConfigError, RenderError, TgfeedError
from ..feeds import catalog
from ..feeds.catalog import ALL, ALL_FEED, FORMATS, FeedSpec
from ..feeds.entries import Deleted, fingerprint_keys, newest_of_keys
from ..feeds.entrycache import EntryCache
from ..feeds.pages import templates_key
from ..feeds.publish import Listed, Publisher
from ..feeds.render import RENDER_VERSION, render_many
from ..loader import loads
from ..staticdir import MANIFEST, StaticDir, atomic_write, content_digest

__all__ = ["MANIFEST", "BuildResult", "atomic_write", "build_feeds", "config_key"]

log = logging.getLogger(__name__)

FEED_SUFFIXES = tuple(f".{fmt}" for fmt in FORMATS)
# Files nginx serves itself get a precompressed .gz sibling (gzip_static).
GZIP_SUFFIXES = (*FEED_SUFFIXES, ".opml")
# The static index has no search form, so it is not the server's "/" page: its
# Last-Modified is kept under its own name.
PAGES = {"feeds.opml": "/feeds.opml", "index.html": "/index.html"}


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


Progress = Callable[[int, int], None]  # (feeds done, feeds in all)


def build_feeds(
    app: App,
    output_dir: Path | None = None,
    dry_run: bool = False,
    *,
    reuse_entries: bool = False,
    progress: Progress | None = None,
) -> BuildResult:
    """Write every published feed (RSS, Atom, JSON Feed), ``feeds.opml`` and
    ``index.html`` under ``output_dir`` (default ``feeds.output_dir``).
    ``reuse_entries``: assemble feeds from the App's cached entries (the running
    service, whose cache outlives a build); a one-shot ``tgfeed build`` renders each
    feed whole, which costs less CPU when nothing is cached yet. ``progress(done,
    total)`` is called before each feed."""
    out = app.path(output_dir or app.config.feeds.output_dir)
    d = StaticDir(out, dry_run=dry_run, gzip=GZIP_SUFFIXES)
    try:
        d.open()
    except OSError as exc:
        raise TgfeedError(
            f"{out}: cannot create the output folder: {exc.strerror}",
            hint="set [feeds] output_dir (or --output) to a writable folder",
        ) from exc
    with d:
        return _build(app, d, reuse_entries, progress)


def _unchanged(d: StaticDir, version: int, key: str, tombstones: str) -> bool:
    """Nothing changed since the last build: no store reads, no rendering."""
    m = d.manifest
    return bool(
        m.get("version") == version
        and m.get("config") == key
        and m.get("tombstones") == tombstones
        and d.old_files
        and all(d.intact(rel) for rel in d.old_files)
        and d.existing("feeds", FEED_SUFFIXES) <= set(d.old_files)
    )


def _tombstones(app: App) -> tuple[str, datetime | None]:
    """Which tombstones feeds carry now (one expiring changes the Atom feeds), and
    when the first of them expires."""
    live = Publisher(app).deleted(ALL_FEED)
    key = hashlib.blake2b(repr(live).encode("utf-8"), digest_size=8).hexdigest()
    return key, nochange.expiry([t.when for t in live], app.config.feeds.tombstone_days)


def _fast_record(
    app: App, d: StaticDir, version: int, start: datetime, until: datetime | None
) -> dict[str, Any] | None:
    """What `tgfeed build` checks next time before importing anything heavy
    (``nochange``); None when that check could not be trusted: a dry run, a failed
    file, a hub to notify, or a config that is not what its file loads to now."""
    config = app.config
    if d.dry_run or d.failures or config.feeds.hub:
        return None
    source = config.source_path
    try:
        raw = source.read_bytes() if source else b""
        again = loads(raw, source=source) if source else Config()
    except (OSError, ConfigError):
        return None
    if again != config:
        return None  # changed since it was loaded, or not the file's (a reload's mix)
    return nochange.record(
        config=nochange.config_source(raw, source, config.base_dir),
        output_dir=d.root,
        store=app.path(config.store.path),
        version=version,
        templates_dir=app.path(config.templates_dir) if config.templates_dir else None,
        start=start,
        until=until,
        suffixes=FEED_SUFFIXES,
        gzip=GZIP_SUFFIXES,
    )


def _refresh_record(d: StaticDir, record: dict[str, Any] | None) -> None:
    """A build that changed nothing keeps the manifest, but brings its ``fast``
    record up to date (a first build after an upgrade, a comment added to the
    config): rewritten only when more than its start changed."""
    old = d.manifest.get(nochange.FAST)

    def same(a: Any, b: Any) -> bool:
        if not isinstance(a, dict) or not isinstance(b, dict):
            return a is None and b is None
        return {k: v for k, v in a.items() if k != "from"} == {
            k: v for k, v in b.items() if k != "from"
        }

    if not same(old, record):
        d.update_manifest({nochange.FAST: record})


def _put(pub: Publisher, d: StaticDir, files: dict[str, bytes]) -> None:
    """Files (relative path → bytes), each with its Last-Modified as mtime."""
    paths = {rel: PAGES.get(rel, "/" + rel) for rel in files}
    digests = {rel: content_digest(body) for rel, body in files.items()}  # hashed once
    stamps: dict[str, datetime] = pub.stamps_of(
        [(paths[rel], digests[rel]) for rel in files], dry_run=d.dry_run
    )
    for rel, body in files.items():
        d.put(rel, body, mtime=stamps[paths[rel]], digest=digests[rel])


def _build(
    app: App, d: StaticDir, reuse_entries: bool = False, progress: Progress | None = None
) -> BuildResult:
    version = app.store.articles.version
    key = config_key(app)
    # Before anything is rendered: a tombstone expiring during the build must make
    # the next one look again.
    tombstones, until = _tombstones(app)
    start = app.now()
    if _unchanged(d, version, key, tombstones):
        _refresh_record(d, _fast_record(app, d, version, start, until))
        return BuildResult(
            output_dir=d.root,
            unchanged=d.old_count(),
            feeds=len(d.manifest.get("feeds", {})),
            dry_run=d.dry_run,
        )
    pub = Publisher(app)
    cache = app.publisher.entries if reuse_entries else None
    same = d.manifest.get("config") == key
    old_fps: dict[str, str] = d.manifest.get("feeds", {}) if same else {}
    old_marks: dict[str, list[Any]] = d.manifest.get("marks", {}) if same else {}
    fps: dict[str, str] = {}
    marks: dict[str, list[Any]] = {}
    listed, rendered = _feeds(pub, d, (old_fps, old_marks), (fps, marks), cache, progress)

    # The feeds are in place before the pages that list them; a feed that could not
    # be written and has no older copy is left out of them (no link to a 404).
    d.finish()
    missing = {rel for rel, _ in d.failures if d.dry_run or not (d.root / rel).exists()}
    if missing:
        listed = [
            e for e in listed if not any(e.spec.path(f).lstrip("/") in missing for f in FORMATS)
        ]
    _pages(pub, d, listed)
    d.finish()

    # Feeds this build did not produce: categories that vanished (or were renamed).
    stale = (set(d.old_files) | d.existing("feeds", FEED_SUFFIXES)) - set(d.files)
    stale = {rel for rel in stale if rel.startswith("feeds/") and rel.endswith(FEED_SUFFIXES)}
    d.remove(stale - {rel for rel, _ in d.failures})
    failed = bool(d.failures)
    d.commit(
        {
            # A build with failures must not take the fast path next time.
            "version": version if not failed else None,
            "config": key,
            "tombstones": tombstones,
            "feeds": fps,
            "marks": marks,
            nochange.FAST: _fast_record(app, d, version, start, until),
        },
        prune="feeds",
    )
    return BuildResult(
        output_dir=d.root,
        written=len(d.written),
        unchanged=d.unchanged,
        removed=len(d.removed),
        feeds=len(listed),
        rendered=rendered,
        dry_run=d.dry_run,
        written_paths=tuple(d.written),
        removed_paths=tuple(d.removed),
        failures=tuple(d.failures),
    )


def _pages(pub: Publisher, d: StaticDir, listed: list[Listed]) -> None:
    """``feeds.opml`` and ``index.html``, listing the feeds that are in place."""
    pages: dict[str, bytes] = {}
    for rel in PAGES:
        try:
            pages[rel] = (
                pub.opml_bytes(listed)
                if rel == "feeds.opml"
                else pub.index_html(listed, dynamic=False)
            )
        except TgfeedError as exc:
            d.failures.append((rel, exc.message))
    _put(pub, d, pages)


def _mark(revisions: dict[str, int], spec: FeedSpec, deleted: tuple[Deleted, ...]) -> str | None:
    """What a category feed's keys depend on besides the config: the category's
    revision (``ArticlesRepo.revisions``) and what its channel is made of besides
    the config (the category's names and description, its tombstones). The
    all-feed has none: it is read every time (one query)."""
    revision = revisions.get(spec.category) if spec.category is not None else None
    if revision is None:
        return None
    made_of = repr((spec, deleted)).encode("utf-8", "surrogatepass")
    return f"{revision}:{hashlib.blake2b(made_of, digest_size=12).hexdigest()}"


def _kept(d: StaticDir, rels: list[str]) -> bool:
    """Keep a feed's files as the last build left them, if they all are intact."""
    if not all(d.intact(rel) for rel in rels):
        return False
    for rel in rels:
        d.keep(rel)
    return True


def _feeds(
    pub: Publisher,
    d: StaticDir,
    old: tuple[dict[str, str], dict[str, list[Any]]],
    new: tuple[dict[str, str], dict[str, list[Any]]],
    cache: EntryCache | None = None,
    progress: Progress | None = None,
) -> tuple[list[Listed], int]:
    """Every published feed, rendered only when its input fingerprint changed; a
    category feed whose mark is the one recorded is kept without reading its keys."""
    store = pub.app.store
    opts = pub.opts
    (old_fps, old_marks), (fps, marks) = old, new
    listed: list[Listed] = []
    rendered = 0
    configured = pub.configured()
    revisions = store.articles.revisions()
    specs = [ALL_FEED] + [
        catalog.category_spec(c)
        for c in store.articles.categories()
        if c.slug_path not in catalog.RESERVED and catalog.is_slug_path(c.slug_path)
    ]
    for done, spec in enumerate(specs):
        if progress is not None:
            progress(done, len(specs))
        deleted = pub.deleted(spec)
        mark = _mark(revisions, spec, deleted)
        rels = [spec.path(fmt).lstrip("/") for fmt in FORMATS]
        seen = old_marks.get(spec.key)
        if (
            mark is not None
            and seen is not None
            and seen[0] == mark
            and spec.key in old_fps
            and _kept(d, rels)
        ):
            listed.append(Listed(spec, datetime.fromisoformat(seen[1]) if seen[1] else None))
            fps[spec.key], marks[spec.key] = old_fps[spec.key], seen
            continue
        # The keys tell whether the feed changed; its articles are read only if it did,
        # so a rebuild costs what changed, not every feed's articles.
        channel = pub.channel(spec, deleted)  # only for a feed that may have changed
        keys = store.articles.latest_keys(spec.category, opts.items)
        if not keys and spec.key != ALL and spec.key not in configured:
            continue  # a category with no articles left that the config does not name
        newest = newest_of_keys(keys) if keys else None
        listed.append(Listed(spec, newest))
        fp = fingerprint_keys(channel, keys, opts)
        if old_fps.get(spec.key) != fp or not _kept(d, rels):
            try:
                bodies = render_many(
                    FORMATS, channel, pub.items(spec), opts, cache=cache, stored=True
                )
            except RenderError as exc:
                log.warning("feed %s: %s", spec.key, exc.message)
                d.failures.extend((rel, exc.message) for rel in rels)
                continue
            rendered += 1
            _put(pub, d, {rel: bodies[fmt] for fmt, rel in zip(FORMATS, rels, strict=True)})
        fps[spec.key] = fp
        if mark is not None:
            marks[spec.key] = [mark, newest.isoformat() if newest else None]
    return listed, rendered
