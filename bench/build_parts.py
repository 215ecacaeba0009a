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
  feed, as the build) against plain feedgen, no extension, setting the same elements
  from the same entries (B; tgfeed's ``dc:creator`` and hub link left out, as in the
  bench's baseline);
* JSON Feed, the ``.gz`` siblings and the content hashes of the built files, alone.

Printed as median (min–max) CPU seconds and the ratio A/B.
"""

from __future__ import annotations

import argparse
import html
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

    from feedgen.feed import FeedGenerator

    from bench.feeds import make_app
    from tgfeed.atomicfiles import content_digest, gzipped
    from tgfeed.feeds import render
    from tgfeed.feeds.catalog import ALL_FEED, category_spec
    from tgfeed.feeds.entries import Entry, prepare, select
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

    def plain_feedgen(es: list[Entry], ch: Any) -> None:
        fg = FeedGenerator()
        fg.id(ch.id)
        fg.title(ch.title)
        fg.description(ch.description)
        fg.link(href=ch.url("rss"), rel="self", type="application/rss+xml")
        fg.link(href=ch.home_url, rel="alternate", type="text/html")
        fg.language(opts.language)
        fg.rights(opts.rights)
        fg.author(name=opts.publisher, uri=opts.site_url)
        fg.generator(opts.generator, uri=None, version=None)
        fg.updated(max(e.updated for e in es))
        for e in es:
            fe = fg.add_entry(order="append")
            fe.id(e.id)
            fe.title(e.title)
            fe.link(href=e.url, rel="alternate", type="text/html")
            fe.published(e.published)
            fe.updated(e.updated)
            fe.summary(html.escape(e.summary, quote=False), type="html")
            if e.content_html:
                fe.content(e.content_html, type="html")
            if e.author:
                fe.author(name=e.author)
            scheme = {"scheme": opts.category_scheme} if opts.category_scheme else {}
            fe.category([{"term": t, "label": lb, **scheme} for t, lb in e.categories])
        fg.rss_str(pretty=True)
        fg.atom_str(pretty=True)

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
            lambda: [plain_feedgen(e, ch) for (ch, _), e in zip(feeds, entries, strict=True)],
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
