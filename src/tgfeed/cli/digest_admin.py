"""A week's editorial lifecycle: `tgfeed digest status|approve|reject|resend`.

Everything a user typed or a subscriber's mail server said is printed as text,
never as console markup: a status word such as ``[sent]`` and a subject with
brackets come out exactly as stored. Tables go through ``cli.output`` (every
value whole when piped; ``--json``); times are local with their offset.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from ..app import App
from ..jobs.digest import check_week
from ..jobs.digest_approval import Decision, approve_week, reject_week
from ..jobs.digest_resend import Kind
from ..jobs.digest_resend import resend as resend_week
from ..model import DigestRecord
from ..text import last_complete_week
from .base import console
from .context import pass_app
from .digest import cli_actor, describe, digest, send_bar
from .output import emit_json, json_option, local, plural, table


def say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _record_json(app: App, record: DigestRecord) -> dict[str, Any]:
    ms = app.store.mail
    return {
        "week": record.week,
        "status": record.status,
        "subject": record.subject,
        "articles": record.article_count,
        "recipients": record.recipients,
        "deliveries": ms.delivery_counts(record.id),
        "created_at": record.created_at.astimezone(app.tz),
        "finished_at": record.finished_at.astimezone(app.tz) if record.finished_at else None,
        "approved_by": record.approved_by,
        "approved_at": record.approved_at.astimezone(app.tz) if record.approved_at else None,
        "deadline_at": record.deadline_at.astimezone(app.tz) if record.deadline_at else None,
    }


def _week_json(app: App, week: str) -> dict[str, Any]:
    """One week: its record, its history (oldest first), failed and pending rows."""
    ms = app.store.mail
    record = ms.digest(week)
    out: dict[str, Any] = _record_json(app, record) if record else {"week": week, "status": "none"}
    out["history"] = [
        {
            "at": e.at.astimezone(app.tz),
            "from": e.from_status,
            "to": e.to_status,
            "actor": e.actor,
            "reason": e.reason,
        }
        for e in ms.events(week)
    ]
    for state in ("failed", "pending"):
        rows = ms.deliveries(record.id, status=state, limit=1000) if record else []
        out[state] = [
            {"email": r.email, "attempts": r.attempts, "last_error": r.last_error} for r in rows
        ]
    return out


@digest.command()
@click.option("--week", help="One week in detail: its deliveries and its audit trail.")
@json_option
@pass_app
def status(app: App, week: str | None, as_json: bool) -> None:
    """Recent digests and their delivery counts; with --week, its audit trail
    (every state change: who, when, why) and its failures too. Times are local,
    with their offset; piped, every value is printed whole."""
    if week is None:
        _recent(app, as_json)
        return
    week = check_week(week, app)
    if as_json:
        emit_json(_week_json(app, week))
        return
    ms = app.store.mail
    record = ms.digest(week)
    if record is None:
        say(f"{week}: not sent yet")
        return
    counts = ms.delivery_counts(record.id)
    say(f"{record.week} [{record.status}] {record.subject}")
    finished = f", finished {local(record.finished_at, app.tz)}" if record.finished_at else ""
    say(
        f"created {local(record.created_at, app.tz)}{finished}; "
        f"{plural(record.article_count, 'article')}; recipients {record.recipients}: "
        + ", ".join(f"{n} {s}" for s, n in counts.items())
    )
    if record.approved_by:
        say(f"approved by {record.approved_by} {local(record.approved_at, app.tz, empty='')}")
    if record.deadline_at and record.status == "draft":
        say(f"approval deadline {local(record.deadline_at, app.tz)}")
    history = [
        (local(e.at, app.tz), e.from_status or "—", e.to_status, e.actor, e.reason)
        for e in ms.events(week)
    ]
    table(("when", "from", "to", "by", "why"), history, title="history")
    for state in ("failed", "pending"):
        rows = ms.deliveries(record.id, status=state, limit=50)
        if rows:
            table(
                ("email", "attempts", "last error"),
                [(r.email, str(r.attempts), r.last_error or "") for r in rows],
                title=state,
            )


def _recent(app: App, as_json: bool) -> None:
    ms = app.store.mail
    records = ms.digests(limit=12)
    subs = ms.count_subscribers()
    if as_json:
        emit_json({"digests": [_record_json(app, r) for r in records], "subscribers": subs})
        return
    if not records:
        say(f"no digest sent yet; the next is {last_complete_week(app.now(), app.tz)}")
        return
    rows = []
    for r in records:
        counts = ms.delivery_counts(r.id)
        rows.append(
            (
                r.week,
                r.status,
                str(r.article_count),
                str(r.recipients),
                str(counts["sent"]),
                str(counts["failed"]),
                local(r.created_at, app.tz),
                r.subject,
            )
        )
    table(("week", "status", "articles", "recipients", "sent", "failed", "at", "subject"), rows)
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
    with send_bar(week) as bar:
        decision = asyncio.run(approve_week(app, week, actor=cli_actor(), progress=bar))
    _report(decision)


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
    with send_bar(week) as bar:
        result = asyncio.run(resend_week(app, week, kind, actor=cli_actor(), to=to, progress=bar))
    say(describe(result))
    if result.status == "incomplete":
        sys.exit(1)
