"""Feed reads while the store changes and the feeds are rebuilt: every response is
one whole, valid document.

`tgfeed serve` runs as a real process. In the test process a writer ingests
(new articles, a new category now and then, edits, unpublishing) and rebuilds the
static output folder with `build_feeds`, over and over; reader threads meanwhile
fetch the index, the OPML, every feed in three formats (with and without gzip),
a search feed and the newest category's feed over HTTP (httpx), and read the
static files as nginx would (open + read). Every body is parsed (lxml / json).

Default: 1,000 HTTP reads during 20 rebuilds. ``pytest -m slow``: 10,000 reads
during 200 rebuilds. The writer keeps going until both counts are reached, so the
reads really happen during the rebuilds.
"""

from __future__ import annotations

import dataclasses
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tgfeed.app import App
from tgfeed.jobs.feeds import build_feeds

from .reliability_support import (
    PartialDocument,
    ServeProcess,
    article,
    check_document,
    published_files,
)

READERS = 4


class Shared:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self.done = threading.Event()
        self.new_slugs: list[str] = []
        self.etags: set[str] = set()
        self.problems: list[str] = []

    def count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.stats[key] += n

    def problem(self, text: str) -> None:
        with self.lock:
            self.stats["invalid"] += 1
            if len(self.problems) < 20:
                self.problems.append(text)


def reader(url: str, paths: list[str], shared: Shared, seed: int) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=30) as client:
        while not shared.done.is_set():
            with shared.lock:
                extra = [f"/feeds/{shared.new_slugs[-1]}.rss"] if shared.new_slugs else []
            path = rng.choice(paths + extra * 3)
            headers = {} if rng.random() < 0.5 else {"Accept-Encoding": "identity"}
            try:
                r = client.get(path, headers=headers)
            except httpx.HTTPError as exc:
                shared.count("errors")
                shared.problem(f"{path}: {type(exc).__name__}: {exc}")
                continue
            shared.count("http reads")
            if r.status_code != 200:
                shared.problem(f"{path}: HTTP {r.status_code}")
                continue
            try:
                check_document(path, r.content, r.headers.get("content-type", ""))
            except PartialDocument as exc:
                shared.problem(str(exc))
                continue
            if path == "/feeds/all.rss":
                with shared.lock:
                    shared.etags.add(r.headers["etag"])


def static_reader(out: Path, shared: Shared, seed: int) -> None:
    """What nginx does: open the file, read it whole."""
    rng = random.Random(seed)
    while not shared.done.is_set():
        files = [
            p
            for p in out.rglob("*")
            if p.suffix in (".rss", ".atom", ".json", ".opml") and not p.name.startswith(".")
        ]
        files.append(out / "index.html")
        for path in rng.sample(files, min(20, len(files))):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # a feed removed between the listing and the read: nginx says 404
            shared.count("static reads")
            try:
                check_document(path.name, data)
            except PartialDocument as exc:
                shared.problem(f"static {exc}")


def writer(app: App, out: Path, shared: Shared, rebuilds: int, reads: int, seed: int) -> None:
    rng = random.Random(seed)
    leaves = sorted(
        {c.names for c in app.store.articles.categories(only_used=True) if c.depth == 2}
    )
    ours: list[str] = []
    n = 0
    try:
        while True:
            with shared.lock:
                enough = (
                    shared.stats["rebuilds"] >= rebuilds and shared.stats["http reads"] >= reads
                )
            if enough:
                break
            arts = []
            for _ in range(rng.randint(1, 3)):
                n += 1
                arts.append(article(n, category=rng.choice(leaves)))
            new_slug = None
            if rng.random() < 0.2:
                n += 1
                arts.append(article(n, category=("Chuyên đề", f"Đợt {n}")))
                new_slug = arts[-1].category_slug
            if ours and rng.random() < 0.3:
                old = app.store.articles.get(rng.choice(ours))
                if old is not None:
                    arts.append(dataclasses.replace(old, title=old.title + " (sửa)"))
            app.store.articles.upsert(arts, now=app.now())
            ours += [a.id for a in arts]
            if new_slug:
                with shared.lock:
                    shared.new_slugs.append(new_slug)
            if len(ours) > 10 and rng.random() < 0.2:
                gone = ours.pop(rng.randrange(len(ours) - 1))
                if not any(a.id == gone and a.category_slug == new_slug for a in arts):
                    app.store.articles.unpublish(gone, now=app.now())
            shared.count("ingests")
            result = build_feeds(app, out)
            if result.failures:
                shared.problem(f"build failed: {result.failures[:3]}")
            shared.count("rebuilds")
    except BaseException as exc:
        shared.problem(f"writer: {type(exc).__name__}: {exc}")
        raise
    finally:
        shared.done.set()


@pytest.mark.parametrize(
    ("reads", "rebuilds"), [(1_000, 20), pytest.param(10_000, 200, marks=pytest.mark.slow)]
)
def test_reads_during_rebuilds_are_always_whole_documents(
    app_factory: Callable[..., App], tmp_path: Path, reads: int, rebuilds: int
) -> None:
    app = app_factory(samples=True)
    out = tmp_path / "static"
    build_feeds(app, out)
    config = app.config.source_path
    assert config is not None
    feed_paths = [
        "/" + rel
        for rel in published_files(out)
        if rel.startswith("feeds/") and rel.count("/") <= 2 and not rel.endswith(".gz")
    ]
    paths = ["/", "/feeds.opml", "/feeds/search.atom?q=hoi+nghi", *feed_paths]
    shared = Shared()
    started = time.monotonic()
    with ServeProcess(config) as srv:
        threads = [
            threading.Thread(target=reader, args=(srv.url, paths, shared, i), daemon=True)
            for i in range(READERS)
        ]
        threads.append(threading.Thread(target=static_reader, args=(out, shared, 99), daemon=True))
        threads.append(
            threading.Thread(
                target=writer, args=(app, out, shared, rebuilds, reads, 7), daemon=True
            )
        )
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=900)
        assert not any(t.is_alive() for t in threads), "the run did not finish in 15 minutes"
        elapsed = time.monotonic() - started
        server_log = srv.output()
    stats = shared.stats
    print(
        f"\nconcurrency figures: {stats['http reads']:,} HTTP reads and "
        f"{stats['static reads']:,} static reads during {stats['rebuilds']} rebuilds "
        f"({stats['ingests']} ingests, {len(shared.new_slugs)} new categories) in {elapsed:.1f}s; "
        f"invalid {stats['invalid']}, errors {stats['errors']}, "
        f"{len(shared.etags)} versions of all.rss seen"
    )
    assert stats["invalid"] == 0, shared.problems
    assert stats["http reads"] >= reads and stats["rebuilds"] >= rebuilds
    assert stats["static reads"] > 0
    assert len(shared.etags) > 1, "the readers never saw a change"
    assert "Traceback" not in server_log, server_log[-3000:]
