"""The ``tgfeed`` command line. Each concern registers its commands from its own module."""

from __future__ import annotations

import functools
import sys

from rich.markup import escape

from ..errors import ConfigError, TgfeedError
from ..private import apply_umask
from .base import cli, console, err_console

# Command modules register themselves on `cli` when imported (and their demo steps,
# in this order: feeds, then the digest).
from . import articles as _articles  # noqa: F401  isort: skip
from . import demo as _demo  # noqa: F401  isort: skip
from . import feeds as _feeds  # noqa: F401  isort: skip
from . import digest as _digest  # noqa: F401  isort: skip
from . import schedule as _schedule  # noqa: F401  isort: skip
from . import sources as _sources  # noqa: F401  isort: skip
from . import subscribers as _subscribers  # noqa: F401  isort: skip


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line (plus a hint) per error, a traceback only with -v."""
    verbose = "-v" in (argv if argv is not None else sys.argv[1:])
    apply_umask()  # everything tgfeed creates is private unless made public on purpose
    try:
        cli.main(args=argv, prog_name="tgfeed", standalone_mode=False)
    except TgfeedError as exc:
        if verbose:
            raise
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
        sys.exit(1)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except Exception as exc:  # click's own usage errors come through here too
        import click

        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise


__all__ = ["cli", "console", "main"]
