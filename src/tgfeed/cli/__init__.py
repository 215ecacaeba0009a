"""The ``tgfeed`` command line. Each concern registers its commands from its own
module, imported only when one of its commands runs (the table: ``lazy``)."""

from __future__ import annotations

from ..private import apply_umask
from .base import cli, console


def main(argv: list[str] | None = None) -> None:
    """Entry point (click's standalone mode: usage errors, Ctrl-C and exit codes are
    click's; a TgfeedError is one line plus its hint, exit 1, see ``base``)."""
    apply_umask()  # everything tgfeed creates is private unless made public on purpose
    cli.main(args=argv, prog_name="tgfeed")


__all__ = ["cli", "console", "main"]
