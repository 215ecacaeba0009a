"""What `tgfeed run` says and exits with when a ``send_digest`` job did not send its
week: one line (the week is held, why, what to do) and a status of its own, so that
a cron wrapper or a script can tell "sent" from "waiting" from "held" from an error.

Exit statuses (docs/digest.md, "Exit status"): 0 done (the week is sent, now or
before), 1 an error, 3 awaiting approval (a draft is with the approvers: nothing is
wrong), 4 held (stale sources, or nobody approved by the deadline: someone must
act), 5 skipped (nothing to send: no articles, no active subscriber, the digest
disabled). A dry run sends nothing by design: it exits 0 (or 1)."""

from __future__ import annotations

from typing import Any

from ..app import App
from ..scheduler.runner import RunOutcome
from .output import local

EXIT_AWAITING_APPROVAL = 3
EXIT_HELD = 4
EXIT_SKIPPED = 5


def not_sent(app: App, name: str, outcome: RunOutcome) -> tuple[int, str] | None:
    """(exit status, one line) when the digest run ``outcome`` left its week unsent;
    None when the week is sent (or the run failed: that is an error, exit 1)."""
    summary = outcome.summary or {}
    week, status = summary.get("week"), summary.get("status")
    if not isinstance(week, str) or outcome.outcome == "failed":
        return None
    if status == "draft":
        line = f"{name} awaiting approval: {_awaiting(app, week, summary)}"
        return EXIT_AWAITING_APPROVAL, line
    if status == "held":
        reason = outcome.error or ""
        if summary.get("after_not_run"):  # a disabled dependency: the age bound held it
            reason += f" (after not run: {summary['after_not_run']})"
        return EXIT_HELD, f"{name} held: {week} not sent: {_held(app, name, week, reason)}"
    if status in _SKIPPED:
        line = f"{name} skipped: {week} not sent: {_SKIPPED[status].format(week=week)}"
        return EXIT_SKIPPED, line
    return None


_SKIPPED = {
    "skipped": "no articles this week; the next run re-evaluates it",
    "no-recipients": "no active subscriber (the administrator is alerted); add subscribers, "
    "then `tgfeed digest send --week {week}`",
    "disabled": "the digest is disabled ([digest] enabled = false)",
}


def _awaiting(app: App, week: str, summary: dict[str, Any]) -> str:
    d = app.config.digest
    mailed = summary.get("recipients") or 0
    line = f"{week} not sent yet: the draft waits for {', '.join(d.approvers)}"
    if mailed:
        line += f" (mailed to {mailed} approver(s))"
    record = app.store.mail.digest(week)
    if record is not None and record.deadline_at is not None:
        line += f" until {local(record.deadline_at, app.tz)}, then on_deadline = {d.on_deadline}"
    return line + (
        "; they approve it from the mail's link, on /admin/digest, "
        f"or with `tgfeed digest approve --week {week}`"
    )


def _held(app: App, name: str, week: str, reason: str) -> str:
    """Why, and what to do: a week held at its approval deadline keeps its draft and
    waits for a decision; one held for stale sources waits for fresh sources."""
    ms = app.store.mail
    record = ms.digest(week)
    if record is not None and ms.has_draft(record.id):
        return (
            f"{reason}; approve it with `tgfeed digest approve --week {week}` (or on "
            f'/admin/digest), or reject it with `tgfeed digest reject --week {week} --reason "…"`'
        )
    return (
        f"{reason}; fix the sources, then run it again (`tgfeed run {name}`), "
        f"or send it anyway with `tgfeed digest send --week {week}`"
    )
