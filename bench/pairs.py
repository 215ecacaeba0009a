"""A/B pairs: run A, then B, back to back, ``n`` times (A B A B …), and compare their
CPU time pair by pair, so a load that comes and goes on a shared machine hits both
sides of a pair alike. Wall time is kept beside it, never used for a ratio."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

Measure = Callable[[], dict[str, Any]]


def spread(values: list[float]) -> dict[str, float]:
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def pairs(
    a: Measure, b: Measure, n: int = 3, *, cpu: str = "cpu", say: Callable[[str], None] = print
) -> dict[str, Any]:
    """``a()`` and ``b()`` each return a dict with CPU seconds under ``cpu`` (and
    ``wall``, ``rss_mb`` if they have them). The ratio of each pair is A's CPU / B's."""
    runs_a: list[dict[str, Any]] = []
    runs_b: list[dict[str, Any]] = []
    for i in range(n):
        say(f"  pair {i + 1}/{n}: A")
        runs_a.append(a())
        say(f"  pair {i + 1}/{n}: B")
        runs_b.append(b())
    ratios = [ra[cpu] / rb[cpu] for ra, rb in zip(runs_a, runs_b, strict=True)]
    out: dict[str, Any] = {
        "pairs": n,
        "ratio": spread(ratios),
        "ratios": ratios,
        "a": runs_a,
        "b": runs_b,
        "a_cpu": spread([r[cpu] for r in runs_a]),
        "b_cpu": spread([r[cpu] for r in runs_b]),
    }
    for side, runs in (("a", runs_a), ("b", runs_b)):
        if all("wall" in r for r in runs):
            out[f"{side}_wall"] = spread([r["wall"] for r in runs])
        if all("rss_mb" in r for r in runs):
            out[f"{side}_rss_mb"] = max(r["rss_mb"] for r in runs)
    return out


def fmt_ratio(r: dict[str, float]) -> str:
    """``1.23× (1.20–1.31)``: the median, then min–max."""
    return f"{r['median']:.2f}× ({r['min']:.2f}–{r['max']:.2f})"
