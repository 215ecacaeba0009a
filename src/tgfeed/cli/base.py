"""The click group, its shared options and how commands get the App."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..app import App, build_app
from ..config import Config
from ..errors import ConfigError, TgfeedError
from ..loader import load

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

F = TypeVar("F", bound=Callable[..., Any])


def report(exc: TgfeedError, *, verbose: bool) -> None:
    """The one place a TgfeedError reaches the user: one line (each problem of a
    config on its own line) plus the hint; the traceback only with ``-v``."""
    if verbose:
        err_console.print_exception()
    # Messages are text, not markup ("[feeds] output_dir" must survive), and one
    # line each however narrow the terminal or log.
    say = functools.partial(err_console.print, highlight=False, soft_wrap=True)
    if isinstance(exc, ConfigError) and len(exc.problems) > 1:
        err_console.print(f"[red]error:[/] {len(exc.problems)} problems in the configuration")
        for problem in exc.problems:
            say(f"  {problem}", markup=False)
    else:
        say(f"[red]error:[/] {escape(exc.message)}")
    if exc.hint:
        say(f"[dim]hint:[/] {escape(exc.hint)}")


class TgfeedGroup(click.Group):
    """Turns a TgfeedError raised by any command into ``report()`` and exit 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TgfeedError as exc:
            report(exc, verbose=bool(ctx.find_root().params.get("verbose")))
            ctx.exit(1)


@click.group(cls=TgfeedGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
