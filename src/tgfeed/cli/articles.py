"""Articles: check, import, export, search, categories."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..app import App
from ..importers import expand
from ..jobs.ingest import export_jsonl, import_paths
from ..model import ItemResult
from .base import cli, console
from .context import get_config, pass_app
from .output import ByteEstimate, emit_json, json_option, local, plural, progress, table

_STYLE = {"added": "green", "updated": "cyan", "unchanged": "dim", "failed": "red"}


@cli.command()
@click.pass_context
def check(ctx: click.Context) -> None:
    """Validate the config (every problem, with its dotted path); exit 1 if invalid."""
    config = get_config(ctx)
    from ..checks import run_checks

    problems, lines = run_checks(config)
    where = config.source_path or "built-in defaults (no config file)"
    if problems:
        console.print(f"[red]{where}: {plural(len(problems), 'problem')}[/]", markup=True)
        for p in problems:
            console.print(f"  {p}", markup=False, soft_wrap=True)  # one line each
        sys.exit(1)
    console.print(f"[green]ok[/] {where}")
    for line in lines:  # one line each (a warning too), however narrow the terminal
        console.print(f"  {line}", markup=False, soft_wrap=True)


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

    sizes = ByteEstimate(files)
    with progress("importing", sizes.total, by_bytes=True, quiet=quiet) as update:

        def on_item(item: ItemResult) -> None:
            update(sizes.of(item.item))
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
@json_option
@pass_app
def search(app: App, query: str, limit: int, as_json: bool) -> None:
    """Search articles, ignoring diacritics (`hoi nghi` finds `Hội nghị`)."""
    hits = app.store.articles.search(query, limit)
    if as_json:
        emit_json(
            [
                {
                    "id": h.article.id,
                    "title": h.article.title,
                    "url": h.article.url,
                    "category": list(h.article.category),
                    "published": h.article.published_at.astimezone(app.tz),
                    "score": h.score,
                }
                for h in hits
            ]
        )
        return
    if not hits:
        console.print("no match")
        return
    table(
        ("ngày", "tiêu đề", "chuyên mục"),
        [
            (local(h.article.published_at, app.tz), h.article.title, h.article.category[-1])
            for h in hits
        ],
    )


@cli.command()
@json_option
@pass_app
def categories(app: App, as_json: bool) -> None:
    """The category tree with article counts (a parent counts its children)."""
    cats = app.store.articles.categories(with_counts=True)
    if as_json:
        emit_json(
            [
                {"slug": c.slug_path, "names": list(c.names), "articles": c.article_count}
                for c in cats
            ]
        )
        return
    table(
        ("slug", "tên", "bài"),
        [(c.slug_path, "  " * (c.depth - 1) + c.name, str(c.article_count)) for c in cats],
    )


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
