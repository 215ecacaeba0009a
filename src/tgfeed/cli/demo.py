"""`tgfeed demo`: the quick start on embedded defaults."""

from __future__ import annotations

import os
from collections.abc import Callable
from importlib import resources
from pathlib import Path

import click

from ..app import App, build_app
from ..jobs.ingest import import_paths
from ..loader import load_file
from .base import cli, console
from .digest import demo_digest
from .feeds import demo_feeds

DEMO_DIR = Path("tgfeed-demo")

DEMO_CONFIG = """\
# tgfeed demo configuration (written by `tgfeed demo`; edit freely).
# Paths are relative to this file's folder.

[site]
title = "Ban Tuyên giáo Tỉnh ủy Hưng Yên"
url = "https://tuyengiaohungyen.vn"
public_url = "http://{host}:{port}"

[store]
path = "tgfeed.db"

[feeds]
output_dir = "public"

[mail]
backend = "outbox"
outbox_dir = "outbox"

[web]
host = "{host}"
port = {port}
"""


def samples_path() -> Path:
    return Path(str(resources.files("tgfeed") / "samples" / "articles.jsonl"))


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEMO_DIR,
    show_default=True,
    help="Where the demo lives.",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--no-serve", is_flag=True, help="Set everything up, then exit without serving.")
def demo(directory: Path, host: str, port: int, no_serve: bool) -> None:
    """Quick start: sample articles in, feeds built, a digest in the outbox, then serve."""
    if not no_serve:
        from .schedule import check_port

        check_port(host, port)  # a busy port fails before anything is set up
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "config.toml"
    if not config_file.exists():
        config_file.write_text(DEMO_CONFIG.format(host=host, port=port), encoding="utf-8")
        console.print(f"wrote {config_file}")
    config = load_file(config_file)
    with build_app(config) as app:
        result = import_paths(app, [samples_path()])
        c, arts = result.counts, app.store.articles
        console.print(
            f"imported the sample articles: {c['added']} added, {c['updated']} updated, "
            f"{c['unchanged']} unchanged, {c['failed']} failed "
            f"({arts.count()} articles in {len(arts.categories(only_used=True))} "
            f"categories) into {app.path(config.store.path)}"
        )
        for step in DEMO_STEPS:
            step(app)
    console.print("\nnext:")
    rel = os.path.relpath(config_file)
    console.print(f"  tgfeed --config {rel} search 'hoi nghi'", markup=False)
    console.print(f"  tgfeed --config {rel} categories", markup=False)
    console.print(f"  tgfeed --config {rel} export > articles.jsonl", markup=False)
    if no_serve:
        return
    from ..web.server import serve
    from .schedule import service_logging

    service_logging()
    console.print(f"\nserving on http://{host}:{port}/ (web + scheduler); Ctrl+C stops")
    with build_app(config) as app:
        serve(app, host, port)


# Each concern's step, in order: build the feeds, send the digest to the outbox.
DEMO_STEPS: list[Callable[[App], None]] = [demo_feeds, demo_digest]
