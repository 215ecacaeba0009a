"""Articles: check, import, export, search, categories."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..app import App
from ..importers import expand
from ..jobs.ingest import export_jsonl, import_paths
from ..model import ItemResult
from ..text import format_vi_datetime
from .base import cli, console, get_config, pass_app

_STYLE = {"added": "green", "updated": "cyan", "unchanged": "dim", "failed": "red"}


@cli.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config (every problem, with its dotted path); exit 1 if invalid."""
    config = get_config(ctx)
    from .checks import run_checks

    problems, lines = run_checks(config)
    where = config.source_path or "built-in defaults (no config file)"
    if problems:
        console.print(f"[red]{where}: {len(problems)} problem(s)[/]")
        for p in problems:
            console.print(f"  {p}", markup=False, soft_wrap=True)  # one line each
        sys.exit(1)
    console.print(f"[green]ok[/] {where}")
    for line in lines:
        console.print(f"  {line}", markup=False)


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True))
@click.option("--dry-run", is_flag=True, help="Parse and report, write nothing.")
@click.option("-q", "--quiet", is_flag=True, help="Only the summary and failures.")
@pass_app
def import_(app: App, paths: tuple[Path, ...], dry_run: bool, quiet: bool) -> None:
    """Import article pages (.txt/.html), .jsonl or .csv files, or folders of them.

    Each item is added, updated, unchanged or failed (with its reason); exits 1
    when anything failed, keeping every good item.
    """
    files = list(expand(paths))
    show_each = not quiet and len(files) <= 50 and sum(p.suffix == ".jsonl" for p in files) == 0

    def report(item: ItemResult) -> None:
        if item.outcome == "failed" or show_each:
            reason = f": {item.reason}" if item.reason else ""
            style = _STYLE[item.outcome]
            console.print(
                f"[{style}]{item.outcome:>9}[/] {item.item}{reason}", markup=True, highlight=False
            )

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=quiet or not console.is_terminal,
    ) as progress:
        task = progress.add_task("importing", total=None)

        def on_item(item: ItemResult) -> None:
            progress.advance(task)
            report(item)

        result = import_paths(app, paths, on_item=on_item, dry_run=dry_run)
    c = result.counts
    console.print(
        f"{'dry run: ' if dry_run else ''}{c['added']} added, {c['updated']} updated, "
        f"{c['unchanged']} unchanged, {c['failed']} failed"
    )
    if c["failed"]:
        sys.exit(1)


@cli.command()
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write to this file instead of standard output.",
)
@pass_app
def export(app: App, output: Path | None) -> None:
    """All articles as JSON Lines (round-trips through `tgfeed import`)."""
    if output is None:
        export_jsonl(app, sys.stdout)
        return
    tmp = output.with_name(output.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as out:
        n = export_jsonl(app, out)
    tmp.replace(output)
    console.print(f"{n} articles written to {output}")


@cli.command()
@click.argument("query")
@click.option("-n", "--limit", default=10, show_default=True, help="How many results.")
@pass_app
def search(app: App, query: str, limit: int) -> None:
    """Search articles, ignoring diacritics (`hoi nghi` finds `Hội nghị`)."""
    hits = app.store.articles.search(query, limit)
    if not hits:
        console.print("no match")
        return
    table = Table("ngày", "tiêu đề", "chuyên mục", box=None)
    for hit in hits:
        a = hit.article
        table.add_row(format_vi_datetime(a.published_at, app.tz), a.title, a.category[-1])
    console.print(table)


@cli.command()
@pass_app
def categories(app: App) -> None:
    """The category tree with article counts (a parent counts its children)."""
    table = Table("slug", "tên", "bài", box=None)
    for cat in app.store.articles.categories(with_counts=True):
        table.add_row(cat.slug_path, "  " * (cat.depth - 1) + cat.name, str(cat.article_count))
    console.print(table)


@cli.command()
@click.option("--dry-run", is_flag=True, help="Count the rows that would change, write nothing.")
@pass_app
def resanitize(app: App, dry_run: bool) -> None:
    """Rewrite every stored article's HTML with the current sanitiser (after an upgrade
    that changed it); prints how many rows changed."""
    from ..jobs.resanitize import resanitize as run

    result = run(app.store, now=app.now(), dry_run=dry_run)
    verb = "would change" if dry_run else "changed"
    console.print(f"{len(result.changed)} of {result.checked} articles {verb}")
    for ident in result.changed[:20]:
        console.print(f"  {ident}", markup=False)
