"""The bench's child processes: each measurement runs in a fresh interpreter
(``python -m bench _child NAME ARGS``) so that its peak RSS is its own."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


class _Box:
    """Stands in for the multiprocessing.Queue the bench.import_ functions put into."""

    value: Any = None

    def put(self, value: Any) -> None:
        self.value = value


def _rss_self() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_import(kind: str, jsonl: str, db: str) -> dict[str, Any]:
    from bench.import_ import run_raw, run_tgfeed

    box = _Box()
    (run_tgfeed if kind == "tgfeed" else run_raw)(Path(jsonl), Path(db), box)  # type: ignore[arg-type]
    elapsed, counts, _, cpu = box.value
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    conn.close()
    size = sum(p.stat().st_size for p in Path(db).parent.glob(Path(db).name + "*"))
    return {
        "seconds": elapsed,
        "wall": elapsed,
        "cpu": cpu,
        "counts": counts,
        "articles": n,
        "bytes": size,
    }


def child_build(db: str, out: str) -> dict[str, Any]:
    from bench.feeds import child_build as build

    return build(Path(db), Path(out))


def child_plain_feedgen(db: str) -> dict[str, Any]:
    from bench.feeds import child_plain

    return child_plain(Path(db))


def child_search(db: str) -> dict[str, Any]:
    from bench.search import run

    return run(Path(db))


def child_store(db: str, export: bool) -> dict[str, Any]:
    """Reads whose cost could grow with the archive."""
    from tgfeed.app import build_app
    from tgfeed.config import Config, StoreConfig
    from tgfeed.feeds.publish import Publisher
    from tgfeed.text import last_complete_week, week_window

    app = build_app(Config(store=StoreConfig(path=Path(db))))
    store = app.store
    out: dict[str, Any] = {}

    def timed(name: str, fn: Callable[[], Any]) -> Any:
        t = time.perf_counter()
        value = fn()
        out[name] = time.perf_counter() - t
        return value

    timed("count", store.articles.count)
    cats = timed("categories_counts", lambda: store.articles.categories(with_counts=True))
    out["n_categories"] = len(cats)
    timed("categories", store.articles.categories)
    timed("listing", lambda: Publisher(app).listing())
    timed("latest_all", lambda: store.articles.latest(None, 50))
    newest = store.articles.latest(None, 1)[0].published_at
    week = last_complete_week(newest, app.tz)
    start, end = week_window(week, app.tz)
    arts = timed("between_week", lambda: store.articles.between(start, end))
    out["week"], out["week_articles"] = week, len(arts)
    if export:
        from tgfeed.jobs.ingest import export_jsonl

        with open(os.devnull, "w", encoding="utf-8") as sink:
            n = timed("export", lambda: export_jsonl(app, sink))
        out["exported"] = n
    app.close()
    return out


def child_digest(db: str) -> dict[str, Any]:
    """compose() (select the week's articles, render mail + web, HTML + text) on the
    store, for the newest complete week; twice, the second with a warm cache."""
    from tgfeed.app import build_app
    from tgfeed.config import Config, StoreConfig
    from tgfeed.jobs.digest import compose
    from tgfeed.text import last_complete_week, parse_iso_datetime, week_window

    app = build_app(Config(store=StoreConfig(path=Path(db))))
    newest = app.store.articles.latest_keys(None, 1)[0].published
    week = last_complete_week(parse_iso_datetime(newest), app.tz)
    times = []
    for _ in range(2):
        t = time.perf_counter()
        selection, rendered = compose(app, week)
        times.append(time.perf_counter() - t)
    start, end = week_window(week, app.tz)
    in_week = len(app.store.articles.between(start, end))
    app.close()
    return {
        "week": week,
        "articles": selection.count,
        "week_articles": in_week,
        "seconds": min(times),
        "first_seconds": times[0],
        "html_kb": len(rendered.html.encode()) / 1024,
        "text_kb": len(rendered.text.encode()) / 1024,
    }


def child_crawl(pages: int) -> dict[str, Any]:
    from bench.crawl import run

    return run(pages=pages)


CHILDREN: dict[str, Callable[..., dict[str, Any]]] = {
    "import": child_import,
    "build": child_build,
    "plain_feedgen": child_plain_feedgen,
    "search": child_search,
    "store": child_store,
    "crawl": child_crawl,
    "digest": child_digest,
}


def evict(db: Path) -> None:
    """Drop the store's pages from the OS page cache (POSIX_FADV_DONTNEED on its
    files only): the next step reads from disk, as on a machine with less RAM."""
    for p in db.parent.glob(db.name + "*"):
        fd = os.open(p, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def run_child(name: str, *args: Any) -> dict[str, Any]:
    """Run CHILDREN[name](*args) in a fresh interpreter; its result with its own
    peak RSS (``rss_mb``, from ``os.wait4``)."""
    cmd = [sys.executable, "-m", "bench", "_child", name, json.dumps(args)]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    data = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"bench step {name} failed (exit {proc.returncode})")
    result: dict[str, Any] = json.loads(data.decode().strip().splitlines()[-1])
    result["rss_mb"] = usage.ru_maxrss / 1024
    return result
