"""Sources: `tgfeed crawl [SOURCE] [--dry-run]` and `tgfeed sources`."""

from __future__ import annotations

import asyncio
import sys

import click
from rich.markup import escape
from rich.table import Table

from ..app import App
from ..jobs.crawl import crawl as crawl_job
from ..jobs.crawl import select_sources, source_states
from ..text import format_vi_datetime
from .base import cli as group
from .base import console, pass_app


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
    select_sources(app, source)  # an unknown name fails here, before any network
    results = asyncio.run(crawl_job(app, source, dry_run=dry_run))
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
@pass_app
def sources(app: App) -> None:
    """Each configured source: its last run, failure streak and last error."""
    states = source_states(app)
    if not states:
        console.print("no [[sources]] in the config", markup=False)
        return
    table = Table("source", "kind", "target", "last run", "last ok", "fails", "last counts")
    errors: list[tuple[str, str]] = []
    for s in states:
        fails = str(s.consecutive_failures)
        if s.failing:
            fails = f"[red]{fails} (failing)[/]"
        counts = s.last_counts or {}
        summary = (
            ", ".join(
                f"{counts[k]} {k.replace('_', ' ')}"
                for k in ("added", "updated", "unchanged", "failed", "not_modified")
                if counts.get(k)
            )
            or "-"
        )
        table.add_row(
            escape(s.name) + ("" if s.enabled else " [dim](disabled)[/]"),
            s.kind,
            escape(s.target),
            format_vi_datetime(s.last_run_at, app.tz) if s.last_run_at else "never",
            format_vi_datetime(s.last_ok_at, app.tz) if s.last_ok_at else "-",
            fails,
            summary,
        )
        if s.last_error:
            errors.append((s.name, s.last_error))
    console.print(table)
    for name, error in errors:
        console.print(f"[red]{escape(name)}:[/] {escape(error)}", highlight=False)
