"""bench/import: N generated articles (JSONL) through `tgfeed import`'s code path,
next to a raw ``sqlite3.executemany`` into the same schema, in the same run.

    python -m bench.import_ [N]          (default 100,000)

Prints articles/s for both, the ratio (target ≥ 0.5), peak RSS of the tgfeed
import (target ≤ 300 MB, measured in a child process) and the store size per article.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from bench.corpus import write
from tgfeed.jobs.ingest import BATCH


def run_tgfeed(jsonl: Path, db: Path, q: mp.Queue) -> None:  # type: ignore[type-arg]
    from tgfeed.app import build_app
    from tgfeed.config import Config, StoreConfig
    from tgfeed.jobs.ingest import import_paths

    config = Config(store=StoreConfig(path=db))
    with build_app(config) as app:
        t, c = time.perf_counter(), time.process_time()
        result = import_paths(app, [jsonl])
        elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put((elapsed, result.counts, rss, cpu))


def run_raw(jsonl: Path, db: Path, q: mp.Queue) -> None:  # type: ignore[type-arg]
    """The floor: parse the JSON and executemany the same rows into the same tables
    (articles, the category index, the full-text index), committing every BATCH rows
    as the import does — no validation, no cleaning, no sanitising, no content hash,
    no change detection, no run record."""
    from tgfeed.store import open_store

    open_store(db).close()  # the same schema, made by tgfeed's migrations
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("INSERT INTO categories (id, slug_path, name, names) VALUES (1, 'c', 'c', '[]')")
    t, c = time.perf_counter(), time.process_time()
    batch: list[tuple[object, ...]] = []
    rowid = 0

    def flush() -> None:
        conn.executemany(
            "INSERT INTO articles (rowid, id, url, title, category_id, published_at, updated_at, "
            "author, views, summary, body_html, body_text, signature, related, content_hash, "
            "first_seen_at) VALUES (?,?,?,?,1,?,?,?,?,?,?,?,?,?,'',?)",
            batch,
        )
        conn.executemany(
            "INSERT INTO article_categories VALUES (?, ?, ?, ?)",
            [(c, b[4], b[1], b[0]) for b in batch for c in (1, 2)],
        )
        conn.executemany(
            "INSERT INTO articles_fts (rowid, title, summary, body_text) VALUES (?, ?, ?, ?)",
            [(b[0], b[3], b[8], b[10]) for b in batch],
        )
        conn.commit()
        batch.clear()

    with jsonl.open(encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            rowid += 1
            batch.append(
                (
                    rowid,
                    r["id"],
                    r["url"],
                    r["title"],
                    r["published"],
                    r["published"],
                    r["author"],
                    r["views"],
                    r["summary"],
                    "".join(f"<p>{p}</p>" for p in r["body_text"].split("\n\n")),
                    r["body_text"],
                    r["signature"],
                    json.dumps(r["related"]),
                    r["published"],
                )
            )
            if len(batch) >= BATCH:
                flush()
    flush()
    elapsed, cpu = time.perf_counter() - t, time.process_time() - c
    q.put((elapsed, None, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, cpu))


def child(target, *args):  # type: ignore[no-untyped-def]
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    p = mp.Process(target=target, args=(*args, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        jsonl = write(n, d / "articles.jsonl")
        raw_s, _, raw_rss, _ = child(run_raw, jsonl, d / "raw.db")
        tg_s, counts, tg_rss, _ = child(run_tgfeed, jsonl, d / "tgfeed.db")
        size = sum(p.stat().st_size for p in d.glob("tgfeed.db*"))
    print(f"articles: {n:,}  ({counts})")
    print(f"{'':24}{'seconds':>10}{'articles/s':>14}{'peak RSS MB':>14}")
    print(f"{'raw executemany':24}{raw_s:10.1f}{n / raw_s:14,.0f}{raw_rss:14.0f}")
    print(f"{'tgfeed import':24}{tg_s:10.1f}{n / tg_s:14,.0f}{tg_rss:14.0f}")
    print(f"ratio tgfeed/raw: {(n / tg_s) / (n / raw_s):.2f} (target >= 0.5)")
    print(f"store size: {size / 2**20:.0f} MiB, {size / n:,.0f} bytes/article")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
