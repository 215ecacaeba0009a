"""Commands of the subscribers concern: `tgfeed subscribers add|import|list|remove`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from rich.table import Table

from ..app import App
from ..digest.message import check_address
from ..errors import MailError, SubscriberError
from ..jobs.subscribers import (
    NAME_MAX,
    UNIT_MAX,
    ImportProblem,
    clean_field,
    import_csv,
    send_confirmation,
)
from ..model import STATUSES, Status, Subscriber
from ..store import MailRepo
from ..text import format_vi_datetime
from .base import cli, console, err_console, pass_app


def require_subscriber(ms: MailRepo, email: str) -> Subscriber:
    sub = ms.by_email(email)
    if sub is None:
        raise SubscriberError(
            f"{email}: no such subscriber", hint="`tgfeed subscribers list` shows them"
        )
    return sub


@cli.group()
def subscribers() -> None:
    """The digest's subscribers: add, import a CSV, list, remove."""


@subscribers.command()
@click.argument("email")
@click.option("--name", help="Full name (shown in the To: line).")
@click.option("--unit", help="Unit / position.")
@click.option("--active", is_flag=True, help="Activate at once (skip the confirmation email).")
@pass_app
def add(app: App, email: str, name: str | None, unit: str | None, active: bool) -> None:
    """Add a subscriber; without --active they get a confirmation email first."""
    address = check_address(email)
    status: Status = "active" if active else "pending"
    sub, created = app.store.mail.add_subscriber(
        address,
        now=app.now(),
        name=clean_field(name, NAME_MAX),
        unit=clean_field(unit, UNIT_MAX),
        status=status,
        origin="cli",
    )
    console.print(
        f"{'added' if created else 'updated'} {sub.email} ({sub.status})", highlight=False
    )
    if sub.status == "pending":
        try:
            asyncio.run(send_confirmation(app, sub))
        except MailError as exc:
            err_console.print(f"[red]confirmation not sent:[/] {exc.message}", highlight=False)
            sys.exit(1)
        console.print(f"confirmation email sent to {sub.email}", highlight=False)


@subscribers.command("import")
@click.argument(
    "csv_path", metavar="CSV", type=click.Path(path_type=Path, exists=True, dir_okay=False)
)
@click.option("--active", is_flag=True, help="Activate everyone at once (an official list).")
@pass_app
def import_(app: App, csv_path: Path, active: bool) -> None:
    """Import email[,name[,unit]] rows from a UTF-8 CSV (header row optional).

    Invalid addresses are reported with their line number and skipped; the
    rest import. Exits 1 if any line was skipped.
    """

    def report(problem: ImportProblem) -> None:
        err_console.print(
            f"[red]line {problem.line}:[/] {problem.reason}", highlight=False, markup=True
        )

    result = asyncio.run(import_csv(app, csv_path, active=active, on_problem=report))
    tail = "" if active else f", {result.confirmations} confirmation emails sent"
    console.print(
        f"{result.added} added, {result.updated} updated, {len(result.problems)} skipped{tail}",
        highlight=False,
    )
    if result.problems:
        sys.exit(1)


@subscribers.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status.")
@pass_app
def list_(app: App, status: Status | None) -> None:
    """Subscribers with their status, origin and dates."""
    ms = app.store.mail
    table = Table("email", "tên", "đơn vị", "trạng thái", "nguồn", "từ", box=None)
    n = 0
    for sub in ms.subscribers(status):
        n += 1
        since = sub.confirmed_at or sub.created_at
        table.add_row(
            sub.email,
            sub.name or "",
            sub.unit or "",
            sub.status,
            sub.origin,
            format_vi_datetime(since, app.tz),
        )
    if not n:
        console.print("no subscribers" + (f" with status {status}" if status else ""))
        return
    console.print(table)
    counts = ms.count_subscribers()
    console.print(", ".join(f"{c} {s}" for s, c in counts.items()), highlight=False)


@subscribers.command()
@click.argument("email")
@pass_app
def remove(app: App, email: str) -> None:
    """Delete a subscriber (and their delivery rows) for good."""
    ms = app.store.mail
    sub = require_subscriber(ms, email)
    ms.remove(sub.email)
    console.print(f"removed {sub.email}", highlight=False)
