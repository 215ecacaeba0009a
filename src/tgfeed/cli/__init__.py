"""The ``tgfeed`` command line. Each concern registers its commands from its own module."""

from __future__ import annotations

import sys

from ..errors import ConfigError, TgfeedError
from .base import cli, console, err_console

# Command modules register themselves on `cli` when imported.
from . import articles as _articles  # noqa: F401  isort: skip
from . import demo as _demo  # noqa: F401  isort: skip
from . import digest as _digest  # noqa: F401  isort: skip
from . import feeds as _feeds  # noqa: F401  isort: skip
from . import schedule as _schedule  # noqa: F401  isort: skip
from . import sources as _sources  # noqa: F401  isort: skip
from . import subscribers as _subscribers  # noqa: F401  isort: skip


def main(argv: list[str] | None = None) -> None:
    """Entry point: one line (plus a hint) per error, a traceback only with -v."""
    verbose = "-v" in (argv if argv is not None else sys.argv[1:])
    try:
        cli.main(args=argv, prog_name="tgfeed", standalone_mode=False)
    except TgfeedError as exc:
        if verbose:
            raise
        if isinstance(exc, ConfigError) and len(exc.problems) > 1:
            err_console.print(f"[red]error:[/] {len(exc.problems)} problems in the configuration")
            for problem in exc.problems:
                err_console.print(f"  {problem}", highlight=False, markup=False)
        else:
            err_console.print(f"[red]error:[/] {exc.message}", highlight=False)
        if exc.hint:
            err_console.print(f"[dim]hint:[/] {exc.hint}", highlight=False)
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
