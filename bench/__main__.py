"""tgfeed at scale: one harness for every benchmark, each next to its baseline.

    python -m bench                                  # 10,000 articles, 10,000 subscribers
    python -m bench --articles 30000 --body-kb 2-4 --only import,feeds,serve,search
    python -m bench --articles 100000,1000000 --keep /var/tmp/tgbench

For each article count it writes a deterministic Vietnamese corpus (bench.corpus:
200 categories under 20 parents, 2016–2026; ``--body-kb 2-4`` for longer bodies),
imports it, and runs the steps below, every measurement in a fresh child process
so its peak RSS is its own (``os.wait4``; a server's ``VmHWM``). Every ratio is
the CPU time of A/B pairs run back to back (``--pairs``, at least 3), reported as
median (min–max); wall time is shown beside it:

  import   tgfeed import of the JSONL   vs raw sqlite3.executemany, same schema
  feeds    cold build_feeds, no-change and one-article rebuilds, `tgfeed build` as a
           process   vs plain feedgen (no extensions) on the same articles in memory
  serve    server CPU µs per request under wrk: tgfeed serve vs a bare Starlette
           app and nginx on the built folder (gzip_static, and a fixed file)
  search   store.articles.search queries/s, p50/p95 latency; search feed render
  store    reads that may grow with the archive: category counts, the feed
           listing, a digest week, export (streamed)
  digest   digest selection + render for the newest week
  send     digest send to N subscribers   vs a plain aiosmtplib loop, same sink
  crawl    crawl of a loopback fixture site, then an unchanged re-crawl

and prints one table of absolute figures, ratios, targets and peak RSS. The
results are also written as JSON next to the store (``results-<N>.json``), after
every step.

``--keep DIR`` keeps the corpus and the imported store in DIR and reuses them
next time (a 1,000,000-article import takes minutes); without it everything is
made in a temporary folder under bench/out/ and removed at the end. With a kept
store the import step is skipped unless named in ``--only``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.children import CHILDREN, evict, run_child
from bench.table import print_table

ROOT = Path(__file__).resolve().parents[1]
STEPS = ("import", "feeds", "serve", "search", "store", "digest", "send", "crawl")


# -- steps ------------------------------------------------------------------------


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def best(runs: list[dict[str, Any]], key: str) -> dict[str, Any]:
    out = dict(min(runs, key=lambda r: r[key]))
    out["rss_mb"] = max(r["rss_mb"] for r in runs)
    return out


def _drop(*dbs: Path) -> None:
    for db in dbs:
        for p in db.parent.glob(db.name + "*"):
            p.unlink()


def step_import(ctx: Ctx) -> dict[str, Any]:
    """Pairs: tgfeed import (A) of the JSONL, then the raw executemany (B) of the same
    rows into the same schema; CPU time of the import itself, in-process."""
    from bench.pairs import pairs

    raw_db = ctx.work / f"raw-{ctx.tag}.db"
    tmp_db = ctx.work / f"import-{ctx.tag}.db"
    n = ctx.pairs if ctx.n <= 100_000 else 1

    def ours() -> dict[str, Any]:
        _drop(tmp_db)
        return run_child("import", "tgfeed", str(ctx.jsonl), str(tmp_db))

    def raw() -> dict[str, Any]:
        _drop(raw_db)
        result = run_child("import", "raw", str(ctx.jsonl), str(raw_db))
        _drop(raw_db)
        return result

    say(f"import: {n} pairs, tgfeed import (A) vs raw executemany (B)")
    out = pairs(ours, raw, n, say=say)
    _drop(ctx.db)
    tmp_db.rename(ctx.db)
    for suffix in ("-wal", "-shm"):
        Path(str(tmp_db) + suffix).unlink(missing_ok=True)
    out["bytes"] = out["a"][-1]["bytes"]
    return out


def step_feeds(ctx: Ctx) -> dict[str, Any]:
    """Pairs: a cold full build (A, empty output) vs plain feedgen (B) building the same
    feeds' RSS + Atom in memory; then ``tgfeed build`` as a whole process with
    nothing changed (wall, the process's own CPU)."""
    from bench.pairs import pairs, spread

    public = ctx.work / f"public-{ctx.tag}"

    def build() -> dict[str, Any]:
        if ctx.cold:
            evict(ctx.db)
        return run_child("build", str(ctx.db), str(public))

    say(f"feeds: {ctx.pairs} pairs, build_feeds cold (A) vs plain feedgen (B)")
    out = pairs(build, lambda: run_child("plain_feedgen", str(ctx.db)), ctx.pairs, say=say)
    out["again_cpu"] = spread([r["again_cpu"] for r in out["a"]])
    out["one_cpu"] = spread([r["one_cpu"] for r in out["a"]])
    if all("service_cold_cpu" in r for r in out["a"]):
        out["service_cold_cpu"] = spread([r["service_cold_cpu"] for r in out["a"]])
    # A share of the one-shot cold build (A of the pair, what `tgfeed build` does).
    out["one_share"] = spread([r["one_cpu"] / r["cpu"] for r in out["a"]])
    out["feeds"] = out["a"][0]["feeds"]
    out["gz_files"] = out["a"][-1].get("gz_files", 0)
    config = ctx.work / f"build-{ctx.tag}.toml"
    config.write_text(
        f'[store]\npath = "{ctx.db}"\n[feeds]\noutput_dir = "{public}"\n'
        f'[mail]\noutbox_dir = "{ctx.work / "outbox"}"\n',
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])
        ),
    }
    walls, cpus = [], []
    # Run 0 is not counted: the builds above ran in-process on a Config made in code,
    # so no `tgfeed build` has yet recorded what its no-change check reads (a
    # `tgfeed build` from the config file does, as any user's next build finds it).
    for i in range(-1, max(3, ctx.pairs)):
        say(f"feeds: `tgfeed build`, nothing changed ({i + 1 if i >= 0 else 'not counted'})")
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tgfeed", "--config", str(config), "build"],
            cwd=ctx.work,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(proc.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            raise RuntimeError("tgfeed build failed")
        if i >= 0:
            walls.append(time.perf_counter() - t)
            cpus.append(usage.ru_utime + usage.ru_stime)
    out["process_wall"] = spread(walls)
    out["process_cpu"] = spread(cpus)
    return out


def step_serve(ctx: Ctx) -> dict[str, Any]:
    from bench.serve import run

    public = ctx.work / f"public-{ctx.tag}"
    if not (public / "feeds" / "all.rss").exists():
        say("serve: building the feeds first")
        run_child("build", str(ctx.db), str(public))
    if not shutil.which("wrk"):
        raise RuntimeError("the serve step needs wrk (Debian: apt-get install -y wrk)")
    return run(ctx.db, ctx.work, public, seconds=ctx.seconds, n=ctx.pairs)


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
        if args.pairs < 3:
            raise SystemExit("--pairs: at least 3 pairs")
        self.n = n
        self.categories: int = args.categories
        self.work = work
        tag = f"{n}" if self.categories == 200 else f"{n}-c{self.categories}"
        self.body_kb: tuple[int, int] | None = args.body_kb
        if self.body_kb:
            tag += f"-b{self.body_kb[0]}-{self.body_kb[1]}"
        self.tag = tag
        self.jsonl = work / f"corpus-{tag}.jsonl"
        self.db = work / f"store-{tag}.db"
        self.results = work / f"results-{tag}{'-cold' if args.cold else ''}.json"
        self.subscribers: list[int] = args.subscribers
        self.seconds: float = args.seconds
        self.repeat: int = args.repeat
        self.pairs: int = args.pairs
        self.export: bool = args.export
        self.cold: bool = args.cold
        self.crawl_pages: int = args.crawl_pages
        self.connections: int = args.connections


# -- main ---------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(x.replace("_", "")) for x in text.split(",") if x]


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        result = CHILDREN[sys.argv[2]](*json.loads(sys.argv[3]))
        print(json.dumps(result, ensure_ascii=False, default=str))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "_bare":
        from bench.serve import child_bare

        port, body, etag = sys.argv[2:5]
        child_bare(int(port), body, etag)
        return

    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--articles", type=_ints, default=[10_000], help="e.g. 10000,100000,1000000")
    ap.add_argument("--subscribers", type=_ints, default=[10_000], help="e.g. 10000,100000")
    ap.add_argument("--categories", type=int, default=200, help="leaf categories (10 per parent)")
    ap.add_argument("--only", default="", help=f"comma list of steps: {','.join(STEPS)}")
    ap.add_argument("--keep", type=Path, help="keep corpus and stores in DIR and reuse them")
    ap.add_argument("--seconds", type=float, default=4.0, help="wrk duration per HTTP figure")
    ap.add_argument("--pairs", type=int, default=3, help="A/B pairs per ratio (at least 3)")
    ap.add_argument("--repeat", type=int, default=2, help="runs of the send step; best counts")
    ap.add_argument(
        "--body-kb",
        type=lambda t: tuple(int(x) for x in t.split("-")),
        help="article bodies of A-B KB (e.g. 2-4) instead of the corpus's ~1.8 KB",
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
            ctx = Ctx(args, work, n)
            if ctx.results.exists():
                res = json.loads(ctx.results.read_text())
                print_table(n, res, args.markdown, args.categories, args.cold, ctx.body_kb)
        return
    try:
        for n in args.articles:
            ctx = Ctx(args, work, n)
            if not ctx.jsonl.exists():
                from bench.corpus import write

                say(f"corpus: writing {n:,} articles in {ctx.categories} categories")
                tmp = ctx.jsonl.with_suffix(".tmp")
                write(n, tmp, n_categories=ctx.categories, body_kb=ctx.body_kb)
                tmp.rename(ctx.jsonl)
            todo = list(steps)
            if ctx.db.exists() and "import" in todo and "import" not in only:
                say(f"import: skipped, reusing {ctx.db} (--only import to measure it again)")
                todo.remove("import")
            elif not ctx.db.exists() and "import" not in todo:
                todo.insert(0, "import")
            out = ctx.results
            old = json.loads(out.read_text()) if out.exists() else {}
            for name in todo:  # saved after each step: a long run stopped keeps its steps
                old[name] = RUNNERS[name](ctx)
                out.write_text(json.dumps(old, indent=1, ensure_ascii=False, default=str))
            # With --keep, steps measured by earlier runs are shown too.
            print_table(n, old, args.markdown, ctx.categories, ctx.cold, ctx.body_kb)
    finally:
        if cleanup:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
