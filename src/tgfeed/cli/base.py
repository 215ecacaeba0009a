"""The click group, its shared options and how commands get the App."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from .. import __version__
from ..app import App, build_app
from ..config import Config, load

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Config file (default: $TGFEED_CONFIG, else ./config.toml, else built-in defaults).",
)
@click.option("-v", "--verbose", is_flag=True, help="Show debug logs and tracebacks.")
@click.version_option(__version__, prog_name="tgfeed")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, verbose: bool) -> None:
    """tgfeed: feeds and a weekly email digest for a Vietnamese news site."""
    # Commands print what they did; logs are for the service (`serve` turns INFO on).
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


def get_config(ctx: click.Context) -> Config:
    obj = ctx.find_root().obj
    if "config" not in obj:
        obj["config"] = load(obj.get("config_path"))
    config: Config = obj["config"]
    return config


def get_app(ctx: click.Context) -> App:
    obj = ctx.find_root().obj
    if "app" not in obj:
        app = build_app(get_config(ctx))
        obj["app"] = app
        ctx.find_root().call_on_close(app.close)
    result: App = obj["app"]
    return result


def pass_app(f: F) -> F:
    """Give a command the App as its first argument."""

    @click.pass_context
    @functools.wraps(f)
    def wrapper(ctx: click.Context, /, *args: Any, **kwargs: Any) -> Any:
        return f(get_app(ctx), *args, **kwargs)

    return wrapper  # type: ignore[return-value]
