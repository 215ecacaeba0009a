"""bench/crawl: crawl a fixture copy of the site on loopback, then re-crawl it unchanged.

    python -m bench.crawl [--pages 5000] [--per-listing 50] [--page-kb 25] [--concurrency 8]

The fixture site (tests/fixture_site.py) runs in a child process so the server
does not share the crawler's GIL. Prints articles/s of the first crawl (fetch +
parse + store), the wall time of the re-crawl, and the bytes on the wire of each
(measured by the server, headers included); the target for the re-crawl is ≤ 5 %
of the first crawl's bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

LISTING = "/chuyen-muc/tin-tuc-hoat-dong.aspx"


def serve(conn: Connection, pages: int, per_listing: int, page_kb: int) -> None:
    from tests.fixture_site import FixtureSite, Resource, article_html, listing_html

    viewstate = "A" * (page_kb * 1024)  # an ASP.NET page carries a heavy __VIEWSTATE
    with FixtureSite() as site:
        site.add("/robots.txt", Resource(b"User-agent: *\nDisallow: /quan-tri/\n"))
        n_listings = (pages + per_listing - 1) // per_listing
        pager = tuple(f"{LISTING}?page={p}" for p in range(2, n_listings + 1))
        for p in range(1, n_listings + 1):
            first = (p - 1) * per_listing
            links = [
                (f"/bai-viet/tin-so-{i}-{10_000 + i}.aspx", f"Tin số {i}")
                for i in range(first, min(first + per_listing, pages))
            ]
            path = LISTING if p == 1 else f"{LISTING}?page={p}"
            nav = pager[max(0, p - 3) : p + 2]  # a pager shows a few neighbours
            site.add(path, listing_html(f"Trang {p}", links, nav))
        for i in range(pages):
            day, minute = 1 + i % 28, i % 60
            html = article_html(
                f"Hội nghị số {i}: triển khai công tác tuyên giáo năm 2026",
                published=f"{day:02d}/10/2026 - 9:{minute:02d}:00 AM",
                views=i,
            ).replace("/wEPDwUKLTY0NzU3MjE1Mg9k", viewstate)
            site.add(f"/bai-viet/tin-so-{i}-{10_000 + i}.aspx", html)
        conn.send(site.url)
        while True:
            cmd = conn.recv()
            if cmd == "stats":
                hits = site.hits
                conn.send(
                    (
                        len(hits),
                        sum(h.wire_bytes for h in hits),
                        sum(1 for h in hits if h.status == 304),
                    )
                )
            elif cmd == "reset":
                site.clear_log()
                conn.send(True)
            else:
                return


async def crawl_once(app: object) -> dict[str, int]:
    from tgfeed.jobs.crawl import crawl

    results = await crawl(app, "bench")  # type: ignore[arg-type]
    return dict(results["bench"].counts)


def run(
    pages: int = 5000, per_listing: int = 50, page_kb: int = 25, concurrency: int = 8
) -> dict[str, Any]:
    """Crawl the fixture site into a fresh store, then re-crawl it; the figures."""
    from tgfeed.app import build_app
    from tgfeed.loader import loads

    parent, child = mp.Pipe()
    proc = mp.Process(target=serve, args=(child, pages, per_listing, page_kb), daemon=True)
    proc.start()
    url = parent.recv()
    listings = (pages + per_listing - 1) // per_listing
    with tempfile.TemporaryDirectory() as tmp:
        config_path = Path(tmp) / "config.toml"
        config_path.write_text(
            f"""
[store]
path = "tgfeed.db"
[[sources]]
name = "bench"
kind = "site"
listing_urls = ["{url}{LISTING}"]
pagination_pattern = '\\?page=\\d+$'
max_pages = {listings}
allow_private = true
delay = 0
concurrency = {concurrency}
timeout = 30
""",
            encoding="utf-8",
        )
        config = loads(config_path.read_bytes(), source=config_path)
        with build_app(config) as app:
            t, cpu = time.perf_counter(), time.process_time()
            first = asyncio.run(crawl_once(app))
            first_s, first_cpu = time.perf_counter() - t, time.process_time() - cpu
            parent.send("stats")
            hits1, bytes1, _ = parent.recv()
            parent.send("reset")
            parent.recv()
            t = time.perf_counter()
            second = asyncio.run(crawl_once(app))
            second_s = time.perf_counter() - t
            parent.send("stats")
            hits2, bytes2, not_modified2 = parent.recv()
            stored = app.store.articles.count()
    parent.send("stop")
    proc.join(timeout=10)
    return {
        "pages": pages,
        "listings": listings,
        "page_kb": page_kb,
        "first": first,
        "first_s": first_s,
        "first_cpu": first_cpu,
        "requests1": hits1,
        "bytes1": bytes1,
        "second": second,
        "second_s": second_s,
        "requests2": hits2,
        "bytes2": bytes2,
        "not_modified2": not_modified2,
        "stored": stored,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=5000)
    ap.add_argument("--per-listing", type=int, default=50)
    ap.add_argument("--page-kb", type=int, default=25)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    r = run(args.pages, args.per_listing, args.page_kb, args.concurrency)
    pages, first_s = r["pages"], r["first_s"]
    print(
        f"fixture site: {pages:,} articles (~{r['page_kb']} KB each), {r['listings']} listing pages"
    )
    print(f"first crawl:  {r['first']}  {first_s:.1f}s  {pages / first_s:,.0f} articles/s")
    print(
        f"              crawler CPU {r['first_cpu']:.1f}s of {first_s:.1f}s wall = "
        f"{1000 * r['first_cpu'] / pages:.1f} ms/article"
    )
    print(f"              {r['requests1']:,} requests, {r['bytes1'] / 1e6:,.1f} MB on the wire")
    print(
        f"re-crawl:     {r['second']}  {r['second_s']:.1f}s  ({r['requests2']:,} requests, "
        f"{r['not_modified2']:,} × 304)"
    )
    print(
        f"              {r['bytes2'] / 1e6:,.2f} MB on the wire = "
        f"{100 * r['bytes2'] / r['bytes1']:.2f} % of the first crawl (target ≤ 5 %)"
    )
    print(f"store: {r['stored']:,} articles")


if __name__ == "__main__":
    main()
