"""The click group, its shared options and how errors reach the user (how commands
get the App: ``context``)."""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from .. import __version__
from ..errors import ConfigError, TgfeedError
from .lazy import COMMANDS, LazyGroup

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


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


def report_usage(exc: click.UsageError) -> None:
    """A bad argument, option or path: one line and how to get help, like any error."""
    where = exc.ctx.command_path if exc.ctx else "tgfeed"
    say = functools.partial(err_console.print, highlight=False, soft_wrap=True, markup=False)
    say(f"error: {exc.format_message()}")
    say(f"hint: `{where} --help` lists the arguments and options")


class TgfeedGroup(LazyGroup):
    """Its commands load when needed (``lazy``). Turns a TgfeedError raised by any
    command into ``report()`` and exit 1, and click's usage errors (exit 2, several
    lines) into the same one-line form."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            report_usage(exc)
            sys.exit(1)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except (click.Abort, KeyboardInterrupt, EOFError):
            err_console.print("aborted", highlight=False)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TgfeedError as exc:
            report(exc, verbose=bool(ctx.find_root().params.get("verbose")))
            ctx.exit(1)


@click.group(
    cls=TgfeedGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
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
