"""The ``tgfeed`` command line. Each concern registers its commands from its own
module, imported only when one of its commands runs (the table: ``lazy``); click
and rich themselves load only once the command line is not a `tgfeed build` that
would change nothing (``nochange``)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from ..private import apply_umask

if TYPE_CHECKING:
    from .base import cli, console


def main(argv: list[str] | None = None) -> None:
    """Entry point (click's standalone mode: usage errors, Ctrl-C and exit codes are
    click's; a TgfeedError is one line plus its hint, exit 1, see ``base``)."""
    apply_umask()  # everything tgfeed creates is private unless made public on purpose
    args = sys.argv[1:] if argv is None else argv
    if "build" in args:
        from ..nochange import fast_build

        if fast_build(args):
            raise SystemExit(0)
    from .base import cli

    cli.main(args=argv, prog_name="tgfeed")


def __getattr__(name: str) -> Any:
    """``cli`` and ``console`` (``base``), imported on first use."""
    if name in ("cli", "console"):
        from . import base

        return getattr(base, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["cli", "console", "main"]
