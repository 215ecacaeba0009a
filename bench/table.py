"""The bench's table: one row per figure, tgfeed next to its baseline, the ratio
(median and min–max of the A/B pairs), the target and whether it is met."""

from __future__ import annotations

import re
from typing import Any

from bench.pairs import fmt_ratio, spread

TARGET_RSS_MB = 300
# A baseline's keys: its own step (raw, bare, plain) or the B side of an A/B pair (b_rss_mb).
BASELINE = re.compile(r"(^|\.)(raw|bare|plain)(\.|_)|(^|\.)b_rss")


# measure, tgfeed, baseline, ratio, target (met/MISSED), peak RSS tgfeed, peak RSS baseline
Row = tuple[str, str, str, str, str, str, str]


def _mb(r: dict[str, Any] | None) -> str:
    return f"{r['rss_mb']:.0f}" if r else ""


def _ok(good: bool) -> str:
    return "met" if good else "MISSED"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"


def _spread_s(r: dict[str, float], unit: str = "s", scale: float = 1.0, digits: int = 2) -> str:
    """``1.23 s (1.20–1.31)``: the median, then min–max."""
    return (
        f"{r['median'] * scale:,.{digits}f} {unit} "
        f"({r['min'] * scale:,.{digits}f}–{r['max'] * scale:,.{digits}f})"
    )


def _rows_import(n: int, res: dict[str, Any]) -> list[Row]:
    if not ("import" in res and "ratio" in res["import"]):
        return []
    rows: list[Row] = []
    im = res["import"]
    # speed ratio: raw CPU / tgfeed CPU, per pair
    speed = {k: 1 / v for k, v in im["ratio"].items()}
    speed = {"min": speed["max"], "median": speed["median"], "max": speed["min"]}
    rows += [
        (
            f"import CPU ({im['pairs']} pairs), speed vs raw",
            _spread_s(im["a_cpu"]),
            _spread_s(im["b_cpu"]),
            fmt_ratio(speed),
            f"≥ 0.9× {_ok(speed['median'] >= 0.9)}",
            f"{im.get('a_rss_mb', 0):.0f}",
            f"{im.get('b_rss_mb', 0):.0f}",
        ),
        ("  import wall", _spread_s(im["a_wall"]), _spread_s(im["b_wall"]), "", "", "", ""),
        (
            "  store size per article",
            f"{im['bytes'] / n:,.0f} B",
            "",
            "",
            f"≤ 6.5 KB {_ok(im['bytes'] / n <= 6500)}",
            "",
            "",
        ),
    ]
    return rows


def _rows_feeds(n: int, res: dict[str, Any]) -> list[Row]:
    if not ("feeds" in res and "ratio" in res["feeds"]):
        return []
    rows: list[Row] = []
    f = res["feeds"]
    share = f["one_share"]
    rows += [
        (
            f"cold full build CPU, {f['feeds']} feeds, vs plain feedgen",
            _spread_s(f["a_cpu"]),
            _spread_s(f["b_cpu"]),
            fmt_ratio(f["ratio"]),
            f"≤ 1.0× {_ok(f['ratio']['median'] <= 1.0)}",
            f"{f.get('a_rss_mb', 0):.0f}",
            f"{f.get('b_rss_mb', 0):.0f}",
        ),
        ("  cold build wall", _spread_s(f["a_wall"]), _spread_s(f["b_wall"]), "", "", "", ""),
        (
            "  no-change rebuild CPU",
            _spread_s(f["again_cpu"], "ms", 1000, 0),
            "",
            "",
            "",
            "",
            "",
        ),
        (
            "  the service's first build CPU (entry cache)",
            _spread_s(f["service_cold_cpu"]) if "service_cold_cpu" in f else "",
            "",
            "",
            "",
            "",
            "",
        ),
        (
            "  then a build after 1 new article CPU",
            _spread_s(f["one_cpu"], "ms", 1000, 0),
            "",
            f"{100 * share['median']:.1f} % of cold",
            f"≤ 2 % {_ok(share['median'] <= 0.02)}",
            "",
            "",
        ),
        (
            "  `tgfeed build` process, nothing changed",
            _spread_s(f["process_wall"], "s wall") + "; " + _spread_s(f["process_cpu"], "s CPU"),
            "",
            "",
            f"≤ 0.3 s {_ok(f['process_wall']['median'] <= 0.3)}",
            "",
            "",
        ),
        ("  .gz files written", f"{f.get('gz_files', 0):,}", "", "", "", "", ""),
    ]
    return rows


def _rows_serve(n: int, res: dict[str, Any]) -> list[Row]:
    if not ("serve" in res and "r304" in res["serve"]):
        return []
    rows: list[Row] = []
    sv = res["serve"]
    rss = sv.get("rss_mb", {})

    def us(runs: list[dict[str, Any]]) -> dict[str, float]:
        return spread([x["us"] for x in runs])

    r304, rn, gz, fx = sv["r304"], sv["r304_nginx"], sv["r200gz"], sv["nginx_gz_fixed"]
    gz_note = "precompressed .gz" if sv.get("gz_files") else "no .gz: nginx compresses"
    rows += [
        (
            "304 server CPU/request: tgfeed serve vs bare Starlette",
            _spread_s(us(r304["a"]), "µs", 1, 0),
            _spread_s(us(r304["b"]), "µs", 1, 0),
            fmt_ratio(r304["ratio"]),
            f"≤ 1.1× {_ok(r304['ratio']['median'] <= 1.1)}",
            f"{rss.get('tgfeed', 0):.0f}",
            f"{rss.get('bare', 0):.0f}",
        ),
        (
            "304 server CPU/request: tgfeed serve vs nginx",
            _spread_s(us(rn["a"]), "µs", 1, 0),
            _spread_s(us(rn["b"]), "µs", 1, 0),
            fmt_ratio(rn["ratio"]),
            "",
            "",
            f"{rss.get('nginx', 0):.0f}",
        ),
        (
            f"200 gzip CPU/request: tgfeed serve vs nginx ({gz_note})",
            _spread_s(us(gz["a"]), "µs", 1, 0),
            _spread_s(us(gz["b"]), "µs", 1, 0),
            fmt_ratio(gz["ratio"]),
            "",
            "",
            "",
        ),
        (
            f"200 gzip nginx ({gz_note}) vs nginx fixed file, same bytes",
            _spread_s(us(fx["a"]), "µs", 1, 0),
            _spread_s(us(fx["b"]), "µs", 1, 0),
            fmt_ratio(fx["ratio"]),
            f"≤ 1.2× {_ok(fx['ratio']['median'] <= 1.2)}",
            "",
            "",
        ),
    ]
    return rows


def _rows_search(n: int, res: dict[str, Any]) -> list[Row]:
    if "search" not in res:
        return []
    rows: list[Row] = []
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
            f"p95 ≤ 50 ms {_ok(s['p95_ms'] <= 50)}",
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
    return rows


def _rows_store(n: int, res: dict[str, Any]) -> list[Row]:
    if "store" not in res:
        return []
    rows: list[Row] = []
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
    return rows


def _rows_digest(n: int, res: dict[str, Any]) -> list[Row]:
    if "digest" not in res:
        return []
    rows: list[Row] = []
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
    return rows


def _rows_send(n: int, res: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
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
    return rows


def _rows_crawl(n: int, res: dict[str, Any]) -> list[Row]:
    if "crawl" not in res:
        return []
    rows: list[Row] = []
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


def rows_for(n: int, res: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for part in (
        _rows_import,
        _rows_feeds,
        _rows_serve,
        _rows_search,
        _rows_store,
        _rows_digest,
        _rows_send,
        _rows_crawl,
    ):
        rows += part(n, res)
    return rows


HEAD: Row = ("measure", "tgfeed", "baseline", "ratio", "target", "RSS MB", "base RSS")


def print_table(
    n: int,
    res: dict[str, Any],
    markdown: bool = False,
    categories: int = 200,
    cold: bool = False,
    body_kb: tuple[int, int] | None = None,
) -> None:
    rows = rows_for(n, res)
    note = f", bodies of {body_kb[0]}–{body_kb[1]} KB" if body_kb else ""
    note += ", the store evicted from the page cache before each step (--cold)" if cold else ""
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
