"""bench/search_parts: where ``store.search``'s CPU goes, part by part, in one process.

    python -m bench.search_parts STORE.db [--rounds 3]

On a bench store (``python -m bench --keep DIR`` leaves ``DIR/store-N.db``; it is opened
through ``open_store``, as tgfeed opens it, so its migrations run and its page cache
is the store's), for each of ``bench.search``'s queries, the median CPU ms over the
rounds of the steps ``store.search`` takes, run one by one with the same statements:

* ``highlight``: what the two ``highlight()`` columns add to the FTS5 query;
* ``match``: the FTS5 query alone, down to the last candidate ``store.search`` found
  (the rowids of the same candidates, without ``highlight()``);
* ``fetch`` and ``casefold``: reading the candidates' id, date, title, summary and
  body as text, and the exact-tone test as ``needle in text.casefold()``;
* ``fetch bytes`` and ``Needle``: the same rows with the texts as UTF-8 bytes, and
  the same test by ``tgfeed.store.exact.Needle`` (what ``store.search`` does); the
  two ways are compared as pairs, one pair per round;
* ``search``: ``store.search`` itself, whole.

Then, for the whole list, p50 and p95 of ``store.search`` CPU at candidate depths of
400 (the default), 200 and 100 — what a shallower ranking would cost, not what
tgfeed does: its results change for queries with more matches than the depth.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.search import QUERIES, _percentile


def _cpu(fn: Callable[[], Any]) -> tuple[float, Any]:
    c = time.process_time()
    out = fn()
    return 1000 * (time.process_time() - c), out


def parts(store: Any, query: str) -> dict[str, float] | None:
    """CPU ms of each step of one search (None when the query has no word)."""
    from tgfeed.store.exact import Needle
    from tgfeed.store.search import RECENT, _fts_query

    built = _fts_query(query)
    if built is None:
        return None
    match = built[0]
    repo = store.articles
    conn = store.db.conn
    # the candidates as store.search finds them (within its ``recent`` window), then
    # the rowids of the same candidates without the highlight() columns
    t_hl, found = _cpu(lambda: repo._candidates(match, 20, 400, RECENT))
    floor = found[-1]["rowid"] if found else 0
    fts = "FROM articles_fts WHERE articles_fts MATCH ? AND rowid >= ? ORDER BY rowid DESC"
    t_match, _ = _cpu(lambda: conn.execute(f"SELECT rowid {fts}", (match, floor)).fetchall())
    ids = [r[0] for r in found]
    marks = ",".join("?" * len(ids))
    where = f"FROM articles WHERE rowid IN ({marks}) AND deleted_at IS NULL"
    text = f"SELECT rowid, id, published_at, title, summary, body_text {where}"
    raw = (
        "SELECT rowid, id, published_at, CAST(title AS BLOB), CAST(summary AS BLOB), "
        f"CAST(body_text AS BLOB) {where}"
    )
    # A: the texts decoded and case-folded (the exact test before); B: their UTF-8
    # bytes and ``Needle`` (what store.search does)
    t_fetch, rows = _cpu(lambda: conn.execute(text, ids).fetchall() if ids else [])
    needle = " ".join(query.split()).casefold()
    t_casefold, _ = _cpu(
        lambda: [
            needle in r[3].casefold() or needle in r[4].casefold() or needle in r[5].casefold()
            for r in rows
        ]
    )
    t_bytes, brows = _cpu(lambda: conn.execute(raw, ids).fetchall() if ids else [])
    pin = Needle(query)
    t_needle, _ = _cpu(
        lambda: [pin.found_in(r[3]) or pin.found_in(r[4]) or pin.found_in(r[5]) for r in brows]
    )
    t_search, _ = _cpu(lambda: repo.search(query, 20))
    return {
        "candidates": len(ids),
        "match": t_match,
        "highlight": t_hl - t_match,
        "fetch": t_fetch,
        "casefold": t_casefold,
        "fetch bytes": t_bytes,
        "Needle": t_needle,
        "search": t_search,
    }


def run(db: Path, rounds: int = 3) -> None:
    from tgfeed.store import open_store

    store = open_store(db)
    for q in QUERIES:  # warm the page cache
        store.articles.search(q, 20)
    per: dict[str, list[dict[str, float]]] = {q: [] for q in QUERIES}
    for _ in range(rounds):
        for q in QUERIES:
            got = parts(store, q)
            if got is not None:
                per[q].append(got)
    keys = ("match", "highlight", "fetch", "casefold", "fetch bytes", "Needle", "search")
    print("| query | candidates | " + " | ".join(keys) + " |")
    print("| --- | ---: |" + " ---: |" * len(keys))
    for q, runs in per.items():
        if runs:
            med = {k: statistics.median(r[k] for r in runs) for k in keys}
            cells = " | ".join(f"{med[k]:.1f}" for k in keys)
            print(f"| {q} | {int(runs[0]['candidates'])} | {cells} |")
    print()
    a = [sum(r[i]["fetch"] + r[i]["casefold"] for r in per.values() if r) for i in range(rounds)]
    b = [
        sum(r[i]["fetch bytes"] + r[i]["Needle"] for r in per.values() if r) for i in range(rounds)
    ]
    ratios = [x / y for x, y in zip(a, b, strict=True)]
    print(
        f"exact test, CPU ms per round over the queries: A (texts + casefold) "
        f"{statistics.median(a):.1f} ({min(a):.1f}–{max(a):.1f}), B (bytes + Needle) "
        f"{statistics.median(b):.1f} ({min(b):.1f}–{max(b):.1f}), A/B "
        f"{statistics.median(ratios):.2f}× ({min(ratios):.2f}–{max(ratios):.2f})"
    )
    for depth in (400, 200, 100):
        lat = []
        for _ in range(rounds):
            for q in QUERIES:
                lat.append(_cpu(lambda q=q, d=depth: store.articles.search(q, 20, candidates=d))[0])
        print(
            f"candidates={depth}: store.search CPU p50 {statistics.median(lat):.1f} ms, "
            f"p95 {_percentile(lat, 95):.1f} ms, max {max(lat):.1f} ms"
        )
    store.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store", type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    run(args.store, args.rounds)
