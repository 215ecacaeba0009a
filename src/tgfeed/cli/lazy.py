"""Every top-level command, where it lives and its one-line help: `tgfeed --help`
lists them from here without importing a command module; `tgfeed <cmd>` imports the
module(s) of that command only (they register it on the group when imported).

``tests/test_cli_lazy.py`` keeps this table true: each help equals the first
paragraph of the real command's docstring, each command is reachable, and no
command module registers a command the table does not name.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click
from click.shell_completion import CompletionItem


@dataclass(frozen=True)
class Lazy:
    """A command: the first paragraph of its docstring, the module that defines it
    and any modules that add subcommands to it."""

    help: str
    module: str
    also: tuple[str, ...] = ()

    @property
    def modules(self) -> tuple[str, ...]:
        return (self.module, *self.also)


_PKG = __name__.rpartition(".")[0]


def _cmd(help: str, module: str, *also: str) -> Lazy:
    return Lazy(help, f"{_PKG}.{module}", tuple(f"{_PKG}.{m}" for m in also))


COMMANDS: Mapping[str, Lazy] = {
    "articles": _cmd("Articles in the store: retract one, migrate old-shape ids.", "feeds"),
    "build": _cmd("Write every feed (RSS, Atom, JSON Feed), feeds.opml and index.html.", "feeds"),
    "categories": _cmd(
        "The category tree with article counts (a parent counts its children).", "articles"
    ),
    "check": _cmd(
        "Validate the config (every problem, with its dotted path); exit 1 if invalid.",
        "articles",
    ),
    "crawl": _cmd("Run SOURCE (a [[sources]] name), or every enabled source.", "sources"),
    "demo": _cmd(
        "Quick start: sample articles in, feeds built, a digest in the outbox, then serve.",
        "demo",
    ),
    "digest": _cmd(
        "The weekly digest: preview it, send it, see how delivery went.", "digest", "digest_admin"
    ),
    "export": _cmd("All articles as JSON Lines (round-trips through `tgfeed import`).", "articles"),
    "import": _cmd(
        "Import article pages (.txt/.html), .jsonl or .csv files, or folders of them.",
        "articles",
    ),
    "inbox": _cmd(
        "The bounce/unsubscribe mailbox ([mail.inbox]): process it, show its log.", "inbox"
    ),
    "jobs": _cmd(
        "Each scheduled job: its trigger, next fire times (local time) and last outcome.",
        "schedule",
    ),
    "resanitize": _cmd(
        "Rewrite every stored article's HTML with the current sanitiser (after an upgrade "
        "that changed it); prints how many rows changed.",
        "articles",
    ),
    "run": _cmd(
        "Run one scheduled job now (recorded like a scheduled run; a dry run is not).",
        "schedule",
    ),
    "search": _cmd(
        "Search articles, ignoring diacritics (`hoi nghi` finds `Hội nghị`).", "articles"
    ),
    "serve": _cmd(
        "Run the service: web server and scheduler in one process (until SIGTERM/SIGINT).",
        "schedule",
    ),
    "sources": _cmd(
        "Each configured source: its last run, failure streak and last error (local time).",
        "sources",
    ),
    "status": _cmd(
        "Last runs, failures, the last digest with its deliveries, sources, ingest failures.",
        "schedule",
    ),
    "subscribers": _cmd(
        "The digest's subscribers: add, import a CSV, list, remove.", "subscribers"
    ),
    "users": _cmd("Accounts of the web console (/admin/): add, passwd, remove, list.", "users"),
}


class LazyGroup(click.Group):
    """A group whose commands (``lazy``, e.g. `COMMANDS`) are imported the first time
    they are looked up: to run them, show their own help or complete their arguments.
    Its own help and the completion of command names use the table's lines."""

    def __init__(self, *args: Any, lazy: Mapping[str, Lazy] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy: Mapping[str, Lazy] = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        # Every module of the entry, even when the command is there already: another
        # import path (``demo`` imports ``digest``) may have loaded only its first.
        for module in self.lazy[cmd_name].modules if cmd_name in self.lazy else ():
            importlib.import_module(module)  # registers the command on this group
        return self.commands.get(cmd_name)

    def one_line(self, name: str, limit: int = 45) -> str:
        """A command's one line: its own when loaded, else the table's, cut alike."""
        if name in self.commands:
            return self.commands[name].get_short_help_str(limit)
        # The same cut as a loaded command's, through click's public API (its
        # make_default_short_help is deprecated in Click 8.2+ and gone in 9).
        return click.Command(name, help=self.lazy[name].help).get_short_help_str(limit)

    def _visible(self, ctx: click.Context) -> list[str]:
        hidden = {n for n, cmd in self.commands.items() if cmd.hidden}
        return [n for n in self.list_commands(ctx) if n not in hidden]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self._visible(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        with formatter.section("Commands"):
            formatter.write_dl([(n, self.one_line(n, limit)) for n in names])

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list[CompletionItem]:
        results = [
            CompletionItem(n, help=self.one_line(n))
            for n in self._visible(ctx)
            if n.startswith(incomplete)
        ]
        # the group's own options (click.Group's version would import every command)
        results.extend(click.Command.shell_complete(self, ctx, incomplete))
        return results


def load_all(group: click.Group) -> dict[str, click.Command]:
    """Every command, imported (for tests and docs that walk the whole tree)."""
    ctx = click.Context(group)
    found = {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}
    return {name: cmd for name, cmd in found.items() if cmd is not None}
