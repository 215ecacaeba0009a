"""bench/search: queries/s and latency of ``store.articles.search`` and of the search feed
over a fixed list of realistic Vietnamese queries, with and without tone marks.

    python -m bench.search STORE.db [--rounds 3]
    python -m bench.search STORE.db --dump FILE   # every query's hits, to compare trees

The queries mix the very common (``hội nghị`` matches most of an archive of this
department's news), the specific (a district and a topic) and the absent. Each
round runs every query once; the first round warms the page cache and is
reported on its own (``first_*``: a cold cache when the harness ran with --cold). The search feed (``/feeds/search.rss?q=``) is timed through the
Publisher with its cache emptied before each query, so every call searches and
renders. Latencies are wall time; ``cpu_*`` are the same searches' CPU time
(``cpu_s`` their sum: compare two trees by pairs of runs, A B A B).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

QUERIES = [
    # very common words: nearly every article of the corpus matches
    "hội nghị",
    "hoi nghi",
    "Đảng bộ",
    "dang bo",
    "phát triển kinh tế xã hội",
    "phat trien kinh te xa hoi",
    "cán bộ đảng viên",
    "can bo dang vien",
    # topics and places
    "Hội nghị giao ban công tác tuyên giáo",
    "hoi nghi giao ban cong tac tuyen giao",
    "chuyển đổi số Mỹ Hào",
    "chuyen doi so my hao",
    "tọa đàm thành lập Đảng",
    "toa dam thanh lap dang",
    "học tập và làm theo tư tưởng đạo đức phong cách Hồ Chí Minh",
    "hoc tap va lam theo tu tuong dao duc phong cach ho chi minh",
    "nhãn lồng Khoái Châu",
    "nhan long khoai chau",
    "bồi dưỡng lý luận chính trị",
    "boi duong ly luan chinh tri",
    "thi đua khen thưởng",
    "thi dua khen thuong",
    "Văn Lâm",
    "van lam",
    # one article, and nothing
    "lần 4242",
    "lan 4242",
    "Hồi nghỉ",
    "cá heo",
    "ca heo",
]


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def run(db: Path, rounds: int = 3, limit: int = 20) -> dict[str, Any]:
    from tgfeed.app import build_app
    from tgfeed.config import Config, StoreConfig
    from tgfeed.feeds.cache import FeedCache
    from tgfeed.feeds.catalog import normalize_query
    from tgfeed.feeds.publish import Publisher

    app = build_app(Config(store=StoreConfig(path=db)))
    store = app.store
    first: list[float] = []
    for q in QUERIES:  # the first round (cold with --cold) is reported on its own
        t = time.perf_counter()
        store.articles.search(q, limit)
        first.append(time.perf_counter() - t)
    lat: list[float] = []
    cpu: list[float] = []
    per_query: dict[str, list[float]] = {q: [] for q in QUERIES}
    hits: dict[str, int] = {}
    t0 = time.perf_counter()
    for _ in range(rounds):
        for q in QUERIES:
            c = time.process_time()
            t = time.perf_counter()
            found = store.articles.search(q, limit)
            dt = time.perf_counter() - t
            cpu.append(time.process_time() - c)
            lat.append(dt)
            per_query[q].append(dt)
            hits[q] = len(found)
    total = time.perf_counter() - t0

    pub = Publisher(app, FeedCache())
    feed_lat: list[float] = []
    for _ in range(rounds):
        for q in QUERIES:
            pub.cache.clear()
            t = time.perf_counter()
            pub.search(normalize_query(q), "rss")
            feed_lat.append(time.perf_counter() - t)
    worst = sorted(((max(v), q) for q, v in per_query.items()), reverse=True)[:3]
    app.close()
    return {
        "queries": len(lat),
        "qps": len(lat) / total,
        "p50_ms": 1000 * statistics.median(lat),
        "p95_ms": 1000 * _percentile(lat, 95),
        "max_ms": 1000 * max(lat),
        "cpu_s": sum(cpu),
        "cpu_p50_ms": 1000 * statistics.median(cpu),
        "cpu_p95_ms": 1000 * _percentile(cpu, 95),
        "worst": [(q, round(1000 * t, 1)) for t, q in worst],
        "hits": hits,
        "first_p50_ms": 1000 * statistics.median(first),
        "first_p95_ms": 1000 * _percentile(first, 95),
        "first_max_ms": 1000 * max(first),
        "feed_p50_ms": 1000 * statistics.median(feed_lat),
        "feed_p95_ms": 1000 * _percentile(feed_lat, 95),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def dump(db: Path, out: Path) -> None:
    """Every query's hits at 20 and 50 results (id, exact, score), as JSON: compare
    two trees' files to see whether a change kept the results."""
    from tgfeed.store import open_store

    store = open_store(db)
    hits = {
        f"{q}|{limit}": [[h.article.id, h.exact, round(h.score, 6)] for h in found]
        for q in QUERIES
        for limit in (20, 50)
        for found in [store.articles.search(q, limit)]
    }
    store.close()
    out.write_text(json.dumps(hits, ensure_ascii=False, indent=0) + "\n", encoding="utf-8")


if __name__ == "__main__":
    args = sys.argv[1:]
    rounds = 3
    if "--rounds" in args:
        i = args.index("--rounds")
        rounds = int(args[i + 1])
        del args[i : i + 2]
    if "--dump" in args:  # python -m bench.search STORE.db --dump FILE: the hits only
        i = args.index("--dump")
        dump(Path(args[0]), Path(args[i + 1]))
        sys.exit(0)
    print(json.dumps(run(Path(args[0]), rounds), ensure_ascii=False, indent=1))
