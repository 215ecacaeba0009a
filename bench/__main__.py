"""tgfeed at scale: one harness for every benchmark, each next to its baseline.

    python -m bench                                  # 10,000 articles, 10,000 subscribers
    python -m bench --articles 1000000 --subscribers 100000 --keep /var/tmp/tgbench
    python -m bench --articles 10000,100000 --only import,feeds,search

For each article count it writes a deterministic Vietnamese corpus (bench.corpus:
200 categories under 20 parents, 2016–2026), imports it, and runs the steps
below, every measurement in a fresh child process so its peak RSS is its own
(``os.wait4`` for a step, ``VmHWM`` for a server):

  import   tgfeed import of the JSONL   vs raw sqlite3.executemany, same schema
  feeds    full build_feeds, no-change rebuild   vs raw feedgen on in-memory items
  serve    304 and 200 responses/s of /feeds/all.rss   vs a bare Starlette app
  search   store.articles.search queries/s, p95 latency; search feed render p95
  store    reads that may grow with the archive: category counts, the feed
           listing, a digest week, export (streamed)
  digest   digest selection + render for the newest week
  send     digest send to N subscribers   vs a plain aiosmtplib loop, same sink
  crawl    crawl of a loopback fixture site, then an unchanged re-crawl

and prints one table of absolute figures, ratios, targets and peak RSS. The
results are also written as JSON next to the store (``results-<N>.json``).

``--keep DIR`` keeps the corpus and the imported store in DIR and reuses them
next time (a 1,000,000-article import takes minutes); without it everything is
made in a temporary folder under bench/out/ and removed at the end. With a kept
store the import step is skipped unless named in ``--only``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("import", "feeds", "serve", "search", "store", "digest", "send", "crawl")
TARGET_RSS_MB = 500
BASELINE = re.compile(r"(^|\.)(raw|bare|plain)(\.|_)")


# -- child processes ------------------------------------------------------------


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
    elapsed, counts, _ = box.value
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    n = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    conn.close()
    size = sum(p.stat().st_size for p in Path(db).parent.glob(Path(db).name + "*"))
    return {"seconds": elapsed, "counts": counts, "articles": n, "bytes": size}


def child_build(db: str, out: str) -> dict[str, Any]:
    from bench.feeds import child_build as build

    return build(Path(db), Path(out))


def child_raw_feedgen(db: str) -> dict[str, Any]:
    from bench.feeds import child_raw

    return child_raw(Path(db))


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
    "raw_feedgen": child_raw_feedgen,
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


# -- steps ------------------------------------------------------------------------


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def best(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    out = dict(min(runs, key=lambda r: r[key]))
    out["rss_mb"] = max(r["rss_mb"] for r in runs)
    return out


def step_import(ctx: Ctx) -> dict[str, Any]:
    raw_db = ctx.work / f"raw-{ctx.tag}.db"
    tmp_db = ctx.work / f"import-{ctx.tag}.db"
    # Best of --repeat up to 100,000 articles (the machine may be shared); once above.
    rounds = ctx.repeat if ctx.n <= 100_000 else 1
    raws, tgs = [], []
    for i in range(rounds):
        for p in [*ctx.work.glob(raw_db.name + "*"), *ctx.work.glob(tmp_db.name + "*")]:
            p.unlink()
        say(f"import: raw executemany ({i + 1}/{rounds})")
        raws.append(run_child("import", "raw", str(ctx.jsonl), str(raw_db)))
        for p in ctx.work.glob(raw_db.name + "*"):
            p.unlink()
        say(f"import: tgfeed import ({i + 1}/{rounds})")
        tgs.append(run_child("import", "tgfeed", str(ctx.jsonl), str(tmp_db)))
    raw, tg = best(raws, "seconds"), best(tgs, "seconds")
    for p in ctx.work.glob(ctx.db.name + "*"):
        p.unlink()
    tmp_db.rename(ctx.db)
    for suffix in ("-wal", "-shm"):
        Path(str(tmp_db) + suffix).unlink(missing_ok=True)
    return {"raw": raw, "tgfeed": tg}


def step_feeds(ctx: Ctx) -> dict[str, Any]:
    builds, raws = [], []
    for i in range(ctx.repeat):
        say(f"feeds: build {i + 1}/{ctx.repeat}")
        if ctx.cold:
            evict(ctx.db)
        builds.append(run_child("build", str(ctx.db), str(ctx.work / f"public-{ctx.tag}")))
        say(f"feeds: raw feedgen {i + 1}/{ctx.repeat}")
        raws.append(run_child("raw_feedgen", str(ctx.db)))
    build = best(builds, "full")
    build["again"] = min(b["again"] for b in builds)
    build["one"] = min(b["one"] for b in builds)
    return {"build": build, "raw": best(raws, "raw")}


def step_serve(ctx: Ctx) -> dict[str, Any]:
    from bench.serve import run

    say("serve: 304s and 200s, tgfeed and bare Starlette")
    return run(ctx.db, ctx.work, seconds=ctx.seconds, repeat=ctx.repeat)


def step_search(ctx: Ctx) -> dict[str, Any]:
    say("search")
    if ctx.cold:
        evict(ctx.db)
    return run_child("search", str(ctx.db))


def step_store(ctx: Ctx) -> dict[str, Any]:
    say("store reads")
    if ctx.cold:
        evict(ctx.db)
    return run_child("store", str(ctx.db), ctx.export)


def step_digest(ctx: Ctx) -> dict[str, Any]:
    say("digest: selection + render of the newest complete week")
    if ctx.cold:
        evict(ctx.db)
    return run_child("digest", str(ctx.db))


def step_send(ctx: Ctx) -> dict[str, Any]:
    """bench/digest.py's sink and clients: send_digest (ledger, token, personalised
    message) vs a plain aiosmtplib loop over the same connections into the same sink.
    The message does not depend on the archive; each client has its own store."""
    from bench import digest as bd
    from bench.feeds import free_port

    port = free_port()
    sink = subprocess.Popen(
        [sys.executable, bd.__file__, "--sink", str(port)], stdout=subprocess.PIPE, text=True
    )
    out: dict[str, Any] = {}
    try:
        assert sink.stdout is not None
        assert sink.stdout.readline().strip() == "ready"
        for m in ctx.subscribers:
            best: dict[str, dict[str, Any]] = {}
            for i in range(ctx.repeat if m <= 10_000 else 1):
                for mode in ("plain", "tgfeed"):
                    say(f"send: {m:,} subscribers, {mode} ({i + 1})")
                    r = bd._client(mode, m, port, ctx.connections)
                    if mode not in best or r["seconds"] < best[mode]["seconds"]:
                        best[mode] = r
            plain, ours = best["plain"], best["tgfeed"]
            out[str(m)] = {
                "tgfeed_rate": ours["messages"] / ours["seconds"],
                "plain_rate": plain["messages"] / plain["seconds"],
                "tgfeed_cpu_ms": 1000 * ours["cpu"] / ours["messages"],
                "plain_cpu_ms": 1000 * plain["cpu"] / plain["messages"],
                "tgfeed_rss_mb": ours["rss_mb"],
                "plain_rss_mb": plain["rss_mb"],
                "message_kb": ours["bytes"] / 1024,
                "connections": ctx.connections,
                "tgfeed": ours,
                "plain": plain,
            }
    finally:
        sink.terminate()
        sink.wait()
    return out


def step_crawl(ctx: Ctx) -> dict[str, Any]:
    say(f"crawl: {ctx.crawl_pages:,} pages")
    return run_child("crawl", ctx.crawl_pages)


RUNNERS: dict[str, Callable[[Ctx], dict[str, Any]]] = {
    "import": step_import,
    "feeds": step_feeds,
    "serve": step_serve,
    "search": step_search,
    "store": step_store,
    "digest": step_digest,
    "send": step_send,
    "crawl": step_crawl,
}


class Ctx:
    """One article count's run: where its files are and the options."""

    def __init__(self, args: argparse.Namespace, work: Path, n: int) -> None:
        self.n = n
        self.categories: int = args.categories
        self.work = work
        tag = f"{n}" if self.categories == 200 else f"{n}-c{self.categories}"
        self.tag = tag
        self.jsonl = work / f"corpus-{tag}.jsonl"
        self.db = work / f"store-{tag}.db"
        self.results = work / f"results-{tag}{'-cold' if args.cold else ''}.json"
        self.subscribers: list[int] = args.subscribers
        self.seconds: float = args.seconds
        self.repeat: int = args.repeat
        self.export: bool = args.export
        self.cold: bool = args.cold
        self.crawl_pages: int = args.crawl_pages
        self.connections: int = args.connections


# -- table --------------------------------------------------------------------------

# measure, tgfeed, baseline, ratio, target (met/MISSED), peak RSS tgfeed, peak RSS baseline
Row = tuple[str, str, str, str, str, str, str]


def _mb(r: dict[str, Any] | None) -> str:
    return f"{r['rss_mb']:.0f}" if r else ""


def _ok(good: bool) -> str:
    return "met" if good else "MISSED"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def rows_for(n: int, res: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    if "import" in res:
        raw, tg = res["import"]["raw"], res["import"]["tgfeed"]
        ratio = raw["seconds"] / tg["seconds"]
        rows += [
            (
                "import, articles/s",
                f"{n / tg['seconds']:,.0f}",
                f"{n / raw['seconds']:,.0f}",
                f"{ratio:.2f}×",
                f"≥ 0.5× {_ok(ratio >= 0.5)}",
                _mb(tg),
                _mb(raw),
            ),
            (
                "  import, wall time",
                f"{tg['seconds']:,.0f} s",
                f"{raw['seconds']:,.0f} s",
                "",
                "",
                "",
                "",
            ),
            (
                "  store file size",
                f"{tg['bytes'] / 2**20:,.0f} MiB",
                f"{raw['bytes'] / 2**20:,.0f} MiB",
                "",
                f"{tg['bytes'] / n:,.0f} B/article",
                "",
                "",
            ),
        ]
    if "feeds" in res:
        b, raw = res["feeds"]["build"], res["feeds"]["raw"]
        ratio = b["full"] / raw["raw"]
        share = b["again"] / b["full"]
        rows += [
            (
                f"full feed build, {b['feeds']} feeds",
                f"{b['full']:.2f} s",
                f"{raw['raw']:.2f} s",
                f"{ratio:.2f}×",
                f"≤ 1.5× {_ok(ratio <= 1.5)}",
                _mb(b),
                _mb(raw),
            ),
            (
                "  no-change rebuild",
                _ms(b["again"]),
                "",
                f"{100 * share:.2f} %",
                f"≤ 10 % {_ok(share <= 0.10)}",
                "",
                "",
            ),
            ("  rebuild after 1 new article", _ms(b["one"]), "", "", "", "", ""),
        ]
    if "serve" in res:
        tg, bare = res["serve"]["tgfeed"], res["serve"]["bare"]
        r304 = tg["r304"] / bare["r304"]
        r200 = tg["r200"] / bare["r200"]
        rows += [
            (
                "feed 304 responses/s",
                f"{tg['r304']:,.0f}",
                f"{bare['r304']:,.0f}",
                f"{r304:.2f}×",
                f"≥ 0.7× {_ok(r304 >= 0.7)}",
                _mb(tg),
                _mb(bare),
            ),
            (
                f"304/s polling all {tg.get('feeds_polled', 0)} feeds",
                f"{tg.get('r304_all', 0):,.0f}",
                f"{bare.get('r304_all', 0):,.0f}",
                f"{tg.get('r304_all', 0) / max(1.0, bare.get('r304_all', 0)):.2f}×",
                "",
                "",
                "",
            ),
            (
                f"feed 200 responses/s ({tg['bytes'] / 1024:.0f} KiB)",
                f"{tg['r200']:,.0f}",
                f"{bare['r200']:,.0f}",
                f"{r200:.2f}×",
                "",
                "",
                "",
            ),
        ]
    if "search" in res:
        s = res["search"]
        rows += [
            (
                f"search, {s['queries']} queries",
                f"{s['qps']:,.0f} q/s",
                "",
                "",
                "",
                _mb(s),
                "",
            ),
            (
                "  search p50 / p95",
                f"{s['p50_ms']:.1f} / {s['p95_ms']:.1f} ms",
                "",
                "",
                f"p95 ≤ 100 ms {_ok(s['p95_ms'] <= 100)}",
                "",
                "",
            ),
            (
                "  search feed p50 / p95",
                f"{s['feed_p50_ms']:.1f} / {s['feed_p95_ms']:.1f} ms",
                "",
                "",
                "",
                "",
                "",
            ),
        ]
        if "first_p50_ms" in s:
            rows.insert(
                len(rows) - 1,
                (
                    "  first round p50 / p95 / max",
                    f"{s['first_p50_ms']:.1f} / {s['first_p95_ms']:.1f} / {s['first_max_ms']:.0f} ms",
                    "",
                    "",
                    "",
                    "",
                    "",
                ),
            )
    if "store" in res:
        s = res["store"]
        rows += [
            (
                f"count + category counts ({s['n_categories']})",
                f"{_ms(s['count'])} + {_ms(s['categories_counts'])}",
                "",
                "",
                "",
                _mb(s),
                "",
            ),
            ("feed listing (index, OPML)", _ms(s["listing"]), "", "", "", "", ""),
            (
                f"a week's articles ({s['week_articles']:,})",
                _ms(s["between_week"]),
                "",
                "",
                "",
                "",
                "",
            ),
        ]
        if "export" in s:
            rows.append(
                (
                    "export, streamed",
                    f"{s['exported'] / s['export']:,.0f} art/s",
                    "",
                    "",
                    "",
                    "",
                    "",
                )
            )
    if "digest" in res:
        d = res["digest"]
        rows.append(
            (
                f"digest select + render ({d['articles']} of {d['week_articles']:,})",
                f"{_ms(d['seconds'])}, first {_ms(d['first_seconds'])}",
                "",
                "",
                "",
                _mb(d),
                "",
            )
        )
    for m, d in res.get("send", {}).items():
        ratio = d["tgfeed_rate"] / d["plain_rate"]
        rows.append(
            (
                f"digest send to {int(m):,}, msg/s",
                f"{d['tgfeed_rate']:,.0f}",
                f"{d['plain_rate']:,.0f}",
                f"{ratio:.2f}×",
                f"≥ 0.8× {_ok(ratio >= 0.8)}",
                f"{d['tgfeed_rss_mb']:.0f}",
                f"{d['plain_rss_mb']:.0f}",
            )
        )
    if "crawl" in res:
        c = res["crawl"]
        rows += [
            (
                f"crawl, {c['pages']:,} pages",
                f"{c['pages'] / c['first_s']:,.0f} art/s",
                "",
                "",
                f"{1000 * c['first_cpu'] / c['pages']:.1f} ms CPU/article",
                _mb(c),
                "",
            ),
            (
                "  unchanged re-crawl",
                f"{c['second_s']:.1f} s",
                "",
                "",
                f"{100 * c['bytes2'] / c['bytes1']:.2f} % of the bytes",
                "",
                "",
            ),
        ]
    return rows


HEAD: Row = ("measure", "tgfeed", "baseline", "ratio", "target", "RSS MB", "base RSS")


def print_table(
    n: int, res: dict[str, Any], markdown: bool = False, categories: int = 200, cold: bool = False
) -> None:
    rows = rows_for(n, res)
    note = ", the store evicted from the page cache before each step (--cold)" if cold else ""
    print(f"\n## {n:,} articles, {categories} categories{note}\n")
    if markdown:
        print("| " + " | ".join(HEAD) + " |")
        print("|" + "|".join([" --- "] + [" ---: "] * 6) + "|")
        for r in rows:
            print("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    else:
        widths = [max(len(r[i]) for r in [HEAD, *rows]) for i in range(7)]
        for i, r in enumerate([HEAD, *rows]):
            cells = [r[0].ljust(widths[0])]
            cells += [c.rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
            print("  ".join(cells))
            if i == 0:
                print("  ".join("-" * w for w in widths))
    # The target is tgfeed's; a baseline's memory is only shown.
    ours = [(k, v) for k, v in _rss_all(res) if not BASELINE.search(k)]
    over = [(k, round(v)) for k, v in ours if v > TARGET_RSS_MB]
    top = max(ours, key=lambda kv: kv[1], default=("", 0.0))
    print(
        f"\npeak RSS ≤ {TARGET_RSS_MB} MB in every tgfeed step: {_ok(not over)} "
        f"(highest {top[1]:.0f} MB, {top[0]}) {over or ''}"
    )


def _rss_all(res: Any, path: str = "") -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = []
    if isinstance(res, dict):
        for k, v in res.items():
            if k.endswith("rss_mb") and isinstance(v, int | float):
                out.append((f"{path}.{k}" if path else k, float(v)))
            else:
                out += _rss_all(v, f"{path}.{k}" if path else k)
    return out


# -- main ---------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        result = CHILDREN[sys.argv[2]](*json.loads(sys.argv[3]))
        print(json.dumps(result, ensure_ascii=False, default=str))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_serve":
        from bench.serve import child_serve

        kind, port, db, state = sys.argv[2:6]
        child_serve(kind, int(port), Path(db), Path(state))
        return

    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=_ints, default=[10_000], help="e.g. 10000,100000,1000000")
    ap.add_argument("--subscribers", type=_ints, default=[10_000], help="e.g. 10000,100000")
    ap.add_argument("--categories", type=int, default=200, help="leaf categories (10 per parent)")
    ap.add_argument("--only", default="", help=f"comma list of steps: {','.join(STEPS)}")
    ap.add_argument("--keep", type=Path, help="keep corpus and stores in DIR and reuse them")
    ap.add_argument("--seconds", type=float, default=8.0, help="load duration per HTTP figure")
    ap.add_argument(
        "--repeat", type=int, default=2, help="runs per build/serve figure; best counts"
    )
    ap.add_argument("--crawl-pages", type=int, default=2000)
    ap.add_argument("--connections", type=int, default=4, help="SMTP connections for send")
    ap.add_argument("--export", action="store_true", help="also time a full export (streamed)")
    ap.add_argument(
        "--cold",
        action="store_true",
        help="evict the store from the page cache before the feeds, search and store steps",
    )
    ap.add_argument("--markdown", action="store_true", help="print the tables as Markdown")
    ap.add_argument(
        "--table", action="store_true", help="only print the tables of the kept results (--keep)"
    )
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s]
    unknown = set(only) - set(STEPS)
    if unknown:
        ap.error(f"unknown step(s) {sorted(unknown)}; steps are {', '.join(STEPS)}")
    steps = [s for s in STEPS if not only or s in only]

    if args.table and not args.keep:
        ap.error("--table reads the results kept in --keep DIR")
    if args.keep:
        work = args.keep.resolve()
        work.mkdir(parents=True, exist_ok=True)
        cleanup = False
    else:
        (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="run-", dir=ROOT / "bench" / "out"))
        cleanup = True
    say(f"work folder {work}; free disk {shutil.disk_usage(work).free / 2**30:.0f} GiB")
    if args.table:
        for n in args.articles:
            out = Ctx(args, work, n).results
            if out.exists():
                print_table(
                    n, json.loads(out.read_text()), args.markdown, args.categories, args.cold
                )
        return
    try:
        for n in args.articles:
            ctx = Ctx(args, work, n)
            if not ctx.jsonl.exists():
                from bench.corpus import write

                say(f"corpus: writing {n:,} articles in {ctx.categories} categories")
                tmp = ctx.jsonl.with_suffix(".tmp")
                write(n, tmp, n_categories=ctx.categories)
                tmp.rename(ctx.jsonl)
            todo = list(steps)
            if ctx.db.exists() and "import" in todo and "import" not in only:
                say(f"import: skipped, reusing {ctx.db} (--only import to measure it again)")
                todo.remove("import")
            elif not ctx.db.exists() and "import" not in todo:
                todo.insert(0, "import")
            results: dict[str, Any] = {}
            for name in todo:
                results[name] = RUNNERS[name](ctx)
            out = ctx.results
            old = json.loads(out.read_text()) if out.exists() else {}
            old.update(results)
            out.write_text(json.dumps(old, indent=1, ensure_ascii=False, default=str))
            # With --keep, steps measured by earlier runs are shown too.
            print_table(n, old, args.markdown, ctx.categories, ctx.cold)
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
