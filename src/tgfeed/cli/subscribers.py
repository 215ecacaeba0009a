"""Commands of the subscribers concern: `tgfeed subscribers add|import|list|remove`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import click
from rich.markup import escape

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
from .base import cli, console, err_console
from .context import pass_app
from .output import emit_json, json_option, local, plural, table


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
            f"[red]line {problem.line}:[/] {escape(problem.reason)}", highlight=False, markup=True
        )

    result = asyncio.run(import_csv(app, csv_path, active=active, on_problem=report))
    tail = "" if active else f", {result.confirmations} confirmation emails sent"
    console.print(
        f"{result.added} added, {result.updated} updated, {len(result.problems)} skipped{tail}"
        + (f" ({plural(len(result.problems), 'problem')})" if result.problems else ""),
        highlight=False,
    )
    if result.problems:
        sys.exit(1)


@subscribers.command("list")
@click.option("--status", type=click.Choice(STATUSES), help="Only this status.")
@json_option
@pass_app
def list_(app: App, status: Status | None, as_json: bool) -> None:
    """Subscribers with their status, origin and dates (local time)."""
    ms = app.store.mail
    subs = list(ms.subscribers(status))
    if as_json:
        emit_json(
            [
                {
                    "email": s.email,
                    "name": s.name,
                    "unit": s.unit,
                    "status": s.status,
                    "origin": s.origin,
                    "created_at": s.created_at.astimezone(app.tz),
                    "confirmed_at": s.confirmed_at.astimezone(app.tz) if s.confirmed_at else None,
                }
                for s in subs
            ]
        )
        return
    if not subs:
        console.print("no subscribers" + (f" with status {status}" if status else ""))
        return
    table(
        ("email", "tên", "đơn vị", "trạng thái", "nguồn", "từ"),
        [
            (
                s.email,
                s.name or "",
                s.unit or "",
                s.status,
                s.origin,
                local(s.confirmed_at or s.created_at, app.tz),
            )
            for s in subs
        ],
    )
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
