"""Commands of the feeds concern: `tgfeed build`, and the demo's feeds step."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from ..app import App
from ..jobs.feeds import BuildResult, build_feeds
from .base import cli, console, err_console, pass_app
from .demo import DEMO_STEPS
from .output import progress


def _summary(result: BuildResult) -> str:
    verb = "would be " if result.dry_run else ""
    return (
        f"{result.written} {verb}written, {result.unchanged} unchanged, "
        f"{result.removed} {verb}removed ({result.feeds} feeds × 3 formats, "
        f"{result.rendered} rendered) in {result.output_dir}"
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
    if result.failures:
        sys.exit(1)


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


DEMO_STEPS.append(demo_feeds)
