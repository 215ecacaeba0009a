"""bench/build_parts: where a cold build's CPU goes, part by part, in one process.

    python -m bench.build_parts STORE [--pairs 5]

On a bench store (``python -m bench --keep DIR`` leaves ``DIR/store-N.db``), for the
published feeds (the all-feed and every category, 50 items each), A/B pairs of CPU
time, each side run on the same data back to back:

* the feeds' reads: ``latest`` of every article field (A) vs only what a feed shows
  (B, ``shown=True``, what the build reads);
* preparing the entries: with the build-time HTML pass (A) vs the stored HTML as it
  is (B, ``stored=True``, what the build does);
* RSS + Atom from feedgen for those entries (A, ``render._xml``, one FeedGenerator per
  feed, as the build) against the bench's baseline, plain feedgen over the same
  articles (B, ``bench.feeds.plain_feedgen``);
* JSON Feed, the ``.gz`` siblings and the content hashes of the built files, alone.

Printed as median (min–max) CPU seconds and the ratio A/B.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.pairs import fmt_ratio, pairs, spread


def _timed(fn: Callable[[], Any]) -> Callable[[], dict[str, Any]]:
    def run() -> dict[str, Any]:
        c = time.process_time()
        fn()
        return {"cpu": time.process_time() - c}

    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--pairs", type=int, default=5)
    args = ap.parse_args()

    from bench.feeds import make_app, plain_feedgen
    from tgfeed.atomicfiles import content_digest, gzipped
    from tgfeed.feeds import render
    from tgfeed.feeds.catalog import ALL_FEED, category_spec
    from tgfeed.feeds.entries import prepare, select
    from tgfeed.feeds.publish import Publisher

    app = make_app(args.store, args.store.parent / "unused")
    pub = Publisher(app)
    opts = pub.opts
    arts = app.store.articles
    specs = [ALL_FEED] + [category_spec(c) for c in arts.categories()]
    feeds = [(pub.channel(s), select(pub.items(s), opts.items)) for s in specs]
    entries = [prepare(items, opts, stored=True) for _, items in feeds]
    bodies = [
        b for (ch, _), e in zip(feeds, entries, strict=True) for b in _all(render, ch, e, opts)
    ]
    print(f"{len(specs)} feeds, {sum(len(e) for e in entries):,} entries")

    steps: list[tuple[str, Callable[[], Any], Callable[[], Any]]] = [
        (
            "reads: every field (A) vs shown fields (B)",
            lambda: [arts.latest(s.category, opts.items) for s in specs],
            lambda: [arts.latest(s.category, opts.items, shown=True) for s in specs],
        ),
        (
            "prepare: HTML pass (A) vs stored HTML as is (B)",
            lambda: [prepare(items, opts) for _, items in feeds],
            lambda: [prepare(items, opts, stored=True) for _, items in feeds],
        ),
        (
            "RSS+Atom: tgfeed's feedgen (A) vs plain feedgen (B)",
            lambda: [
                render._xml(("rss", "atom"), ch, e, opts)
                for (ch, _), e in zip(feeds, entries, strict=True)
            ],
            lambda: plain_feedgen(feeds, opts, app.tz),
        ),
    ]
    for name, a, b in steps:
        out = pairs(_timed(a), _timed(b), args.pairs, say=lambda _: None)
        print(f"{name}: {_s(out['a_cpu'])} vs {_s(out['b_cpu'])}, {fmt_ratio(out['ratio'])}")
    alone: list[tuple[str, Callable[[], Any]]] = [
        (
            "JSON Feed",
            lambda: [render._json(ch, e, opts) for (ch, _), e in zip(feeds, entries, strict=True)],
        ),
        (f".gz of the {len(bodies)} files", lambda: [gzipped(b) for b in bodies]),
        ("content hashes", lambda: [content_digest(b) for b in bodies]),
    ]
    for name, fn in alone:
        runs = [_timed(fn)()["cpu"] for _ in range(args.pairs)]
        print(f"{name}: {_s(spread(runs))}")


def _all(render: Any, ch: Any, es: Any, opts: Any) -> list[bytes]:
    out: list[bytes] = list(render._xml(("rss", "atom"), ch, es, opts).values())
    return [*out, render._json(ch, es, opts)]


def _s(r: dict[str, float]) -> str:
    return f"{r['median']:.2f} s ({r['min']:.2f}–{r['max']:.2f})"


if __name__ == "__main__":
    main()
