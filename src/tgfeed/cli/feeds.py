"""Commands of the feeds concern: `tgfeed build`, `tgfeed articles retract|migrate-ids`,
and the demo's feeds step."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from rich.markup import escape

from ..app import App
from ..errors import TgfeedError
from ..jobs.feeds import BuildResult, build_feeds
from ..nochange import summary
from ..store.idmigration import id_changes
from .base import cli, console, err_console
from .context import pass_app
from .output import progress


def _summary(result: BuildResult) -> str:
    return summary(
        written=result.written,
        unchanged=result.unchanged,
        removed=result.removed,
        feeds=result.feeds,
        rendered=result.rendered,
        output_dir=result.output_dir,
        dry_run=result.dry_run,
    )


@cli.command()
@click.option(
    "--output",
    "output",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Output folder (default: [feeds] output_dir).",
)
@click.option("--dry-run", is_flag=True, help="Report what would change; write nothing.")
@click.option("--list", "list_files", is_flag=True, help="Print every file written or removed.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary line.")
@pass_app
def build(app: App, output: Path | None, dry_run: bool, list_files: bool, quiet: bool) -> None:
    """Write every feed (RSS, Atom, JSON Feed), feeds.opml and index.html.

    Files are replaced atomically and only when their bytes change; feeds of
    categories that no longer exist are removed. Exits 1 if any file failed.
    A progress bar shows on a terminal; --list prints each file.
    """
    with progress("building feeds", None, quiet=quiet) as update:
        result = build_feeds(
            app,
            output.resolve() if output else None,
            dry_run=dry_run,
            progress=lambda done, total: update(total=total, completed=done + 1),
        )
    wrote, removed = ("would write", "would remove") if dry_run else ("written", "removed")
    if list_files and not quiet:
        for rel in result.written_paths:
            console.print(f"[green]{wrote}[/] {escape(rel)}", soft_wrap=True)
        for rel in result.removed_paths:
            console.print(f"[yellow]{removed}[/] {escape(rel)}", soft_wrap=True)
    for rel, reason in result.failures:
        err_console.print(
            f"[red]failed[/] {escape(rel)}: {escape(reason)}", highlight=False, soft_wrap=True
        )
    console.print(_summary(result), highlight=False, soft_wrap=True)
    if not dry_run and app.config.feeds.hub:
        from ..websub import notify_hub  # httpx: only with a hub

        hub = asyncio.run(notify_hub(app))
        console.print(
            f"hub {app.config.feeds.hub}: {len(hub.sent)} notified, {len(hub.failed)} failed",
            highlight=False,
            soft_wrap=True,
        )
    if result.failures:
        sys.exit(1)


@cli.group()
def articles() -> None:
    """Articles in the store: retract one, migrate old-shape ids."""


@articles.command()
@click.argument("article_id")
@click.option("--reason", default=None, help="Shown to readers (Atom at:comment).")
@pass_app
def retract(app: App, article_id: str, reason: str | None) -> None:
    """Withdraw an article: it leaves every feed and Atom feeds carry a tombstone
    (RFC 6721) for [feeds] tombstone_days. Repeating it changes nothing."""
    tomb, now = app.store.feeds.retract(article_id, now=app.now(), reason=reason, origin="cli")
    if tomb is None:
        raise TgfeedError(
            f"no article with id {article_id!r}",
            hint="`tgfeed export` or `tgfeed search` shows the ids",
        )
    verb = "retracted" if now else "already retracted"
    console.print(f"{verb} {tomb.article_id} ({tomb.title})", markup=False, soft_wrap=True)
    if now and app.config.feeds.hub:
        from ..websub import publish_changes  # httpx: only with a hub

        asyncio.run(publish_changes(app))


@articles.command("migrate-ids")
@pass_app
def migrate_ids(app: App) -> None:
    """Show the ids the store rewrote from an older shape (done once, automatically)."""
    changes = id_changes(app.store, limit=1000)
    if not changes:
        console.print("no article id needed migrating", highlight=False)
    for c in changes:
        console.print(f"{c.outcome}: {c.old_id} → {c.new_id}", markup=False, soft_wrap=True)


def demo_feeds(app: App) -> None:
    """`tgfeed demo` step: build the feeds and show where they are served."""
    result = build_feeds(app)
    console.print(f"built the feeds: {_summary(result)}", highlight=False, soft_wrap=True)
    base = app.config.site.public_url.rstrip("/")
    console.print("feeds (served by `tgfeed serve`):", highlight=False)
    for line in (
        f"  {base}/                      index, with autodiscovery links",
        f"  {base}/feeds/all.rss         all articles (also .atom, .json)",
        f"  {base}/feeds/thong-tin-tuyen-truyen/tin-tuc-hoat-dong.rss",
        f"  {base}/feeds/search.rss?q=hoi+nghi",
        f"  {base}/feeds.opml            every feed, for import into a reader",
    ):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
