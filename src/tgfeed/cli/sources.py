"""Sources: `tgfeed crawl [SOURCE] [--dry-run]` and `tgfeed sources`."""

from __future__ import annotations

import asyncio
import dataclasses
import sys

import click
from rich.markup import escape

from ..app import App
from ..jobs.crawl import crawl as crawl_job
from ..jobs.source_status import select_sources, source_states
from ..model import BatchResult
from .base import cli as group
from .base import console
from .context import pass_app
from .output import emit_json, json_option, local, progress, table


@group.command()
@click.argument("source", required=False)
@click.option("--dry-run", is_flag=True, help="Fetch and parse, store nothing.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary per source.")
@pass_app
def crawl(app: App, source: str | None, dry_run: bool, quiet: bool) -> None:
    """Run SOURCE (a [[sources]] name), or every enabled source.

    Each article is added, updated, unchanged (304 / same content) or failed
    with its reason; exits 1 when anything failed, keeping everything else.
    """
    if not app.config.sources:
        console.print("no [[sources]] in the config; nothing to crawl", markup=False)
        return
    selected = select_sources(app, source)  # an unknown name fails here, before any network

    async def run_all() -> dict[str, BatchResult]:
        out: dict[str, BatchResult] = {}
        with progress("crawling", len(selected), quiet=quiet) as update:
            for src in selected:
                out.update(await crawl_job(app, src.name, dry_run=dry_run))
                update()
        return out

    results = asyncio.run(run_all())
    any_failed = False
    for name, result in results.items():
        c = result.counts
        any_failed = any_failed or c["failed"] > 0
        if not quiet:
            for item in result.failures:
                console.print(
                    f"[red]   failed[/] {escape(item.reason or item.item)}", highlight=False
                )
        console.print(
            f"{'dry run: ' if dry_run else ''}{name}: {c['added']} added, "
            f"{c['updated']} updated, {c['unchanged']} unchanged, {c['failed']} failed"
        )
    if any_failed:
        sys.exit(1)


@group.command()
@json_option
@pass_app
def sources(app: App, as_json: bool) -> None:
    """Each configured source: its last run, failure streak and last error (local time)."""
    states = source_states(app)
    if as_json:
        emit_json([dataclasses.asdict(s) for s in states])
        return
    if not states:
        console.print("no [[sources]] in the config", markup=False)
        return
    rows = []
    for s in states:
        counts = s.last_counts or {}
        summary = (
            ", ".join(
                f"{counts[k]} {k.replace('_', ' ')}"
                for k in ("added", "updated", "unchanged", "failed", "not_modified")
                if counts.get(k)
            )
            or "-"
        )
        rows.append(
            (
                s.name + ("" if s.enabled else " (disabled)"),
                s.kind,
                s.target,
                local(s.last_run_at, app.tz, empty="never"),
                local(s.last_ok_at, app.tz, empty="-"),
                str(s.consecutive_failures) + (" (failing)" if s.failing else ""),
                summary,
            )
        )
    table(("source", "kind", "target", "last run", "last ok", "fails", "last counts"), rows)
    for s in states:
        if s.last_error:
            console.print(
                f"[red]{escape(s.name)}:[/] {escape(s.last_error)}", highlight=False, soft_wrap=True
            )
