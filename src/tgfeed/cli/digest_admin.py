"""A week's editorial lifecycle: `tgfeed digest status|approve|reject|resend`.

Everything a user typed or a subscriber's mail server said is printed as text,
never as console markup: a status word such as ``[sent]`` and a subject with
brackets come out exactly as stored.
"""

from __future__ import annotations

import asyncio
import sys

import click
from rich.table import Table
from rich.text import Text

from ..app import App
from ..jobs.digest import check_week
from ..jobs.digest_approval import Decision, approve_week, reject_week
from ..jobs.digest_resend import Kind
from ..jobs.digest_resend import resend as resend_week
from ..text import format_vi_datetime, iso_local, last_complete_week
from .base import console
from .context import pass_app
from .digest import cli_actor, describe, digest


def say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _table(*headers: str, title: str | None = None) -> Table:
    return Table(*headers, box=None, title=title)


def _row(table: Table, *cells: str) -> None:
    table.add_row(*(Text(c) for c in cells))


@digest.command()
@click.option("--week", help="One week in detail: its deliveries and its audit trail.")
@pass_app
def status(app: App, week: str | None) -> None:
    """Recent digests and their delivery counts; with --week, its audit trail
    (every state change: who, when, why) and its failures too."""
    if week is None:
        _recent(app)
        return
    week = check_week(week, app)
    ms = app.store.mail
    record = ms.digest(week)
    if record is None:
        say(f"{week}: not sent yet")
        return
    counts = ms.delivery_counts(record.id)
    say(f"{record.week} [{record.status}] {record.subject}")
    say(
        f"created {format_vi_datetime(record.created_at, app.tz)}"
        + (
            f", finished {format_vi_datetime(record.finished_at, app.tz)}"
            if record.finished_at
            else ""
        )
        + f"; {record.article_count} articles; recipients {record.recipients}: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
    )
    if record.approved_by:
        when = iso_local(record.approved_at, app.tz) if record.approved_at else ""
        say(f"approved by {record.approved_by} {when}")
    if record.deadline_at and record.status == "draft":
        say(f"approval deadline {iso_local(record.deadline_at, app.tz)}")
    history = _table("when (+07:00)", "from", "to", "by", "why", title="history")
    for event in ms.events(week):
        _row(
            history,
            iso_local(event.at, app.tz),
            event.from_status or "—",
            event.to_status,
            event.actor,
            event.reason,
        )
    console.print(history)
    for status_ in ("failed", "pending"):
        rows = ms.deliveries(record.id, status=status_, limit=50)
        if rows:
            table = _table("email", "lần thử", "lỗi cuối", title=status_)
            for row in rows:
                _row(table, row.email, str(row.attempts), row.last_error or "")
            console.print(table)


def _recent(app: App) -> None:
    ms = app.store.mail
    records = ms.digests(limit=12)
    if not records:
        say(f"no digest sent yet; the next is {last_complete_week(app.now(), app.tz)}")
        return
    table = _table("tuần", "trạng thái", "tin", "người nhận", "đã gửi", "lỗi", "lúc", "tiêu đề")
    for r in records:
        counts = ms.delivery_counts(r.id)
        _row(
            table,
            r.week,
            r.status,
            str(r.article_count),
            str(r.recipients),
            str(counts["sent"]),
            str(counts["failed"]),
            format_vi_datetime(r.created_at, app.tz),
            r.subject,
        )
    console.print(table)
    subs = ms.count_subscribers()
    say("subscribers: " + ", ".join(f"{n} {st}" for st, n in subs.items()))


def _report(decision: Decision) -> None:
    say(decision.message)
    if decision.result is not None and decision.result.status not in ("skipped",):
        say(describe(decision.result))
    if decision.result is not None and decision.result.status == "incomplete":
        sys.exit(1)


@digest.command()
@click.option("--week", required=True, help="ISO week like 2026-W48.")
@pass_app
def approve(app: App, week: str) -> None:
    """Approve a week's draft and send it (digest.approval = true).

    Recorded in the week's history with your user name. Approving a week twice,
    or one already sent at its deadline, changes nothing and says so.
    """
    week = check_week(week, app)
    _report(asyncio.run(approve_week(app, week, actor=cli_actor())))


@digest.command()
@click.option("--week", required=True, help="ISO week like 2026-W48.")
@click.option("--reason", required=True, help="Why (recorded in the week's history).")
@pass_app
def reject(app: App, week: str, reason: str) -> None:
    """Reject a week's draft: nothing is sent; the reason is recorded.

    `tgfeed digest send --week K` later prepares a new draft.
    """
    week = check_week(week, app)
    _report(reject_week(app, week, actor=cli_actor(), reason=reason))


@digest.command()
@click.option("--week", required=True, help="ISO week like 2026-W48.")
@click.option("--failed", "failed", is_flag=True, help="Rows that failed (after a fix).")
@click.option(
    "--new-subscribers", "new", is_flag=True, help="Active subscribers not in the week's ledger."
)
@click.option("--to", "to", metavar="ADDR", help="One copy to ADDR (a manual resend).")
@pass_app
def resend(app: App, week: str, failed: bool, new: bool, to: str | None) -> None:
    """Send a sent week again to those who did not get it — never to anyone who did.

    Give exactly one of --failed, --new-subscribers, --to ADDR. Each resend is a
    new segment of the week's ledger and a row of its history. Exits 1 when rows
    are still pending (run it again, or `tgfeed digest send --week K`, to resume).
    """
    chosen = [name for name, on in (("--failed", failed), ("--new-subscribers", new)) if on]
    if to is not None:
        chosen.append("--to")
    if len(chosen) != 1:
        raise click.UsageError(
            "give exactly one of --failed, --new-subscribers, --to ADDR"
            + (f" (got {', '.join(chosen)})" if chosen else "")
        )
    week = check_week(week, app)
    kind: Kind = "failed" if failed else "new-subscribers" if new else "to"
    result = asyncio.run(resend_week(app, week, kind, actor=cli_actor(), to=to))
    say(describe(result))
    if result.status == "incomplete":
        sys.exit(1)
