"""The ``tgfeed`` command line. Each concern registers its commands from its own module."""

from __future__ import annotations

from . import articles as _articles  # noqa: F401  isort: skip
from . import demo as _demo  # noqa: F401  isort: skip
from . import feeds as _feeds  # noqa: F401  isort: skip
from . import inbox as _inbox  # noqa: F401  isort: skip
from . import digest as _digest  # noqa: F401  isort: skip
from . import digest_admin as _digest_admin  # noqa: F401  isort: skip
from . import schedule as _schedule  # noqa: F401  isort: skip
from . import sources as _sources  # noqa: F401  isort: skip
from . import subscribers as _subscribers  # noqa: F401  isort: skip
from . import users as _users  # noqa: F401  isort: skip
from ..private import apply_umask
from .base import cli, console

# Command modules register themselves on `cli` when imported (and their demo steps,
# in this order: feeds, then the digest).


def main(argv: list[str] | None = None) -> None:
    """Entry point (click's standalone mode: usage errors, Ctrl-C and exit codes are
    click's; a TgfeedError is one line plus its hint, exit 1, see ``base``)."""
    apply_umask()  # everything tgfeed creates is private unless made public on purpose
    cli.main(args=argv, prog_name="tgfeed")


__all__ = ["cli", "console", "main"]
