"""Commands of the inbox concern: `tgfeed inbox process|log`."""

from __future__ import annotations

import asyncio
import json
import sys

import click
from rich.table import Table
from rich.text import Text

from ..app import App
from ..jobs.inbox import process_inbox
from ..store.inbox import KINDS
from ..text import iso_local
from .base import cli, console
from .context import pass_app


@cli.group()
def inbox() -> None:
    """The bounce/unsubscribe mailbox ([mail.inbox]): process it, show its log."""


@inbox.command()
@click.option("--dry-run", is_flag=True, help="Say what would be done; change nothing.")
@pass_app
def process(app: App, dry_run: bool) -> None:
    """Read the unprocessed messages once: unsubscribe requests, bounces (DSN)."""
    result = asyncio.run(process_inbox(app, dry_run=dry_run))
    if result.status == "skipped":
        click.echo("no [mail.inbox] is configured; nothing to do")
        return
    for line in result.lines:
        click.echo(line)
    for error in result.errors:
        click.echo(f"not processed: {error}")
    click.echo(
        f"{result.mailbox}: {result.messages} message(s){' (dry run)' if dry_run else ''}: "
        f"{result.unsubscribed} unsubscribed, {result.hard_bounces} hard bounce(s) "
        f"({result.now_bounced} now bounced), {result.soft_bounces} soft, "
        f"{result.ignored} ignored, {result.invalid} unreadable, "
        f"{result.already} already processed, {result.failed} failed"
        + (f"; {result.left} left for the next run" if result.left else "")
    )
    if result.failed:
        sys.exit(1)


@inbox.command("log")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--kind", type=click.Choice(KINDS), help="Only entries of this kind.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def log_(app: App, limit: int, kind: str | None, as_json: bool) -> None:
    """What was done about each message, newest first."""
    rows = app.store.inbox.log(limit=limit, kind=kind)
    if as_json:
        out = [
            {
                "processed_at": iso_local(r.processed_at, app.tz),
                "message_id": r.message_key,
                "kind": r.kind,
                "subscriber_id": r.subscriber_id,
                "email": r.email,
                "outcome": r.outcome,
                "detail": r.detail,
                "sender": r.sender,
                "subject": r.subject,
                "mailbox": r.mailbox,
            }
            for r in rows
        ]
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
        return
    table = Table("processed", "kind", "address", "outcome", "detail", "message id", box=None)
    for r in rows:
        cells = (
            iso_local(r.processed_at, app.tz)[:16],
            r.kind,
            r.email or r.sender or "—",
            r.outcome,
            r.detail[:60],
            r.message_key[:40],
        )
        table.add_row(*(Text(c) for c in cells))  # literal text, never markup
    console.print(table)
