"""Commands of the subscribers concern: `tgfeed subscribers add|import|list|remove`."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Callable
from pathlib import Path

import click
from rich.markup import escape

from ..app import App
from ..digest.message import check_address
from ..errors import MailError, SubscriberError
from ..jobs.subscribers import (
    NAME_MAX,
    UNIT_MAX,
    clean_field,
    import_csv,
    send_confirmation,
)
from ..model import STATUSES, Status, Subscriber
from ..store import MailRepo
from .base import cli, console, err_console
from .context import pass_app
from .output import ByteEstimate, emit_json, json_option, local, plural, progress, table


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


class _Bars:
    """One progress bar at a time (rich draws one live display): the rows by bytes,
    then the confirmation emails by count."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.stack = contextlib.ExitStack()
        self.stage = ""
        self.update: Callable[..., None] = lambda *a, **k: None

    def show(self, stage: str, total: int, *, by_bytes: bool) -> Callable[..., None]:
        if stage != self.stage:
            self.stack.close()
            self.update = self.stack.enter_context(progress(stage, total, by_bytes=by_bytes))
            self.stage = stage
        return self.update

    def row(self, line: int, lines: int) -> None:
        self.show("importing", self.size, by_bytes=True)(completed=self.size * line // lines)

    def confirm(self, done: int, total: int) -> None:
        self.show("sending confirmations", total, by_bytes=False)(completed=done)


@subscribers.command("import")
@click.argument(
    "csv_path", metavar="CSV", type=click.Path(path_type=Path, exists=True, dir_okay=False)
)
@click.option("--active", is_flag=True, help="Activate everyone at once (an official list).")
@pass_app
def import_(app: App, csv_path: Path, active: bool) -> None:
    """Import email[,name[,unit]] rows from a UTF-8 CSV (header row optional).

    Invalid addresses are reported with their line number and skipped; the
    rest import. A progress bar (by bytes, then by confirmation email) shows on
    a terminal only. Exits 1 if any line was skipped.
    """
    bars = _Bars(ByteEstimate([csv_path]).total)
    try:
        result = asyncio.run(
            import_csv(app, csv_path, active=active, on_row=bars.row, on_confirm=bars.confirm)
        )
    finally:
        bars.stack.close()  # the bar is gone before the report is printed
    for problem in sorted(result.problems, key=lambda p: p.line):
        err_console.print(
            f"[red]line {problem.line}:[/] {escape(problem.reason)}", highlight=False, markup=True
        )
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
