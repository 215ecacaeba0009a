"""Editorial approval of a week's digest (``digest.approval = true``).

The scheduled run renders the week into a ``draft`` and mails each of
``digest.approvers`` the real HTML with a link to the web preview, where
approving is a POST carrying a signed approver token (or `tgfeed digest approve`).
Approval snapshots the active subscribers and sends; a rejection is recorded with
its reason. At ``approval_deadline`` nobody having approved, ``on_deadline``
sends (recorded as the scheduler's approval) or holds the week.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape
from typing import Literal

from ..app import App
from ..digest.approval import approver_subject, next_deadline
from ..digest.message import domain_of
from ..errors import MailError, TgfeedError
from ..mail import envelope_from
from ..model import DigestRecord
from ..store.digest_states import Bodies
from ..text import format_vi_datetime
from .delivery import Progress
from .digest_core import DigestResult, deliver, digest_alert, message_template, no_recipients

log = logging.getLogger(__name__)

APPROVE_MAX_AGE = timedelta(days=7)
Outcome = Literal["approved", "rejected", "unchanged"]


@dataclass(frozen=True, slots=True)
class Decision:
    """What an approve/reject did: ``unchanged`` says why nothing changed."""

    week: str
    outcome: Outcome
    message: str  # one line, English (the CLI); the web page says it in Vietnamese
    status: str = ""  # the week's state afterwards
    result: DigestResult | None = None


def approve_url(app: App, week: str, approver: str, created_at: datetime) -> str:
    token = app.signer.sign(
        "approve", approver_subject(week, approver), created_at + APPROVE_MAX_AGE
    )
    return f"{app.config.site.public_url.rstrip('/')}/digests/{week}/approve/{token}"


async def draft(app: App, week: str, bodies: Bodies, *, actor: str) -> DigestResult:
    """Store the week's draft and mail it to every approver."""
    d = app.config.digest
    now = app.now()
    deadline = next_deadline(d.approval_deadline, now, app.tz) if d.approval_deadline else None
    reason = f"awaiting approval by {', '.join(d.approvers)}"
    record = app.store.mail.prepare_digest(
        week, "draft", bodies, actor=actor, reason=reason, now=now, deadline_at=deadline
    )
    if record is None:  # another process moved the week meanwhile
        return DigestResult(week, "already-done", bodies.subject, error="changed meanwhile")
    mailed = await mail_approvers(app, record)
    log.info("digest %s: draft mailed to %d approver(s)", week, mailed)
    return DigestResult(
        week, "draft", record.subject, articles=record.article_count, recipients=mailed
    )


async def mail_approvers(app: App, record: DigestRecord) -> int:
    """Each approver gets the draft as subscribers will (the real HTML), with a
    banner linking to the web preview. Returns how many were accepted."""
    html, text = app.store.mail.mail_bodies(record.id)
    token = app.signer.sign("unsubscribe", 0, record.created_at + APPROVE_MAX_AGE)
    domain = domain_of(app.config.mail.from_address)
    mailer = app.mailer()
    sent = 0
    try:
        for approver in app.config.digest.approvers:
            url = approve_url(app, record.week, approver, record.created_at)
            template = message_template(
                app,
                record.week,
                subject=f"[Cần duyệt] {record.subject}",
                html=_banner_html(html, url, record),
                text=_banner_text(app, url, record) + text,
                date=app.now(),
            )
            message = template.personalize(
                email=approver,
                name=None,
                subscriber_id=0,
                token=token,
                msg_id=f"<{record.week}.draft.{uuid.uuid4().hex[:16]}@{domain}>",
            )
            try:
                await mailer.send(envelope_from(app.config), [approver], message)
                sent += 1
            except MailError as exc:
                log.error("draft %s to %s not sent: %s", record.week, approver, exc.message)
    finally:
        await mailer.aclose()
    return sent


def _deadline_line(app: App, record: DigestRecord) -> str:
    if record.deadline_at is None:
        return "Bản tin chỉ được gửi khi có người duyệt."
    then = "tự động gửi" if app.config.digest.on_deadline == "send" else "tạm giữ, không gửi"
    when = format_vi_datetime(record.deadline_at, app.tz)
    return f"Nếu đến {when} chưa ai duyệt, bản tin sẽ {then}."


def _banner_text(app: App, url: str, record: DigestRecord) -> str:
    return (
        f"BẢN NHÁP CẦN DUYỆT — chưa gửi cho người đăng ký.\n"
        f"Mở trang xem trước để duyệt hoặc từ chối:\n{url}\n"
        f"{_deadline_line(app, record)}\n\n"
    )


def _banner_html(html: str, url: str, record: DigestRecord) -> str:
    banner = (
        '<div style="padding:12px;margin:0 0 12px;background:#fff3cd;color:#222;'
        'font:15px/1.5 Arial,sans-serif;border:1px solid #e0c46c">'
        "<strong>Bản nháp cần duyệt</strong> — chưa gửi cho người đăng ký. "
        f'<a href="{escape(url)}">Mở trang xem trước để duyệt hoặc từ chối</a>.</div>'
    )
    m = re.search(r"<body[^>]*>", html, re.IGNORECASE)
    return html[: m.end()] + banner + html[m.end() :] if m else banner + html


async def awaiting(
    app: App, record: DigestRecord, *, dry_run: bool, progress: Progress | None
) -> DigestResult:
    """A draft: still waiting, or its deadline passed (``on_deadline``)."""
    base = DigestResult(record.week, "draft", record.subject, articles=record.article_count)
    if record.deadline_at is None or app.now() < record.deadline_at or dry_run:
        return base
    when = format_vi_datetime(record.deadline_at, app.tz)
    if app.config.digest.on_deadline == "send":
        reason = f"approval deadline {when} passed; digest.on_deadline = send"
        decision = await approve_week(
            app, record.week, actor="scheduler", reason=reason, progress=progress
        )
        return decision.result or base
    reason = f"nobody approved by the deadline {when}; digest.on_deadline = hold"
    app.store.mail.transition(
        record.week, "held", expect=("draft",), actor="scheduler", reason=reason, now=app.now()
    )
    await digest_alert(
        app,
        record.week,
        f"[tgfeed] Bản tin {record.week} đang tạm giữ: chưa được duyệt",
        f"Đến {when} chưa ai duyệt bản tin tuần {record.week}, nên bản tin chưa được gửi.\n\n"
        f"Duyệt và gửi: tgfeed digest approve --week {record.week}\n",
    )
    return DigestResult(record.week, "held", record.subject, error=reason)


def _unchanged(record: DigestRecord | None, week: str, app: App) -> Decision | None:
    """Why ``week`` cannot be approved or rejected now (None: it can)."""
    ms = app.store.mail
    if record is None:
        return Decision(week, "unchanged", f"{week}: no draft to approve", "none")
    status = record.status
    if status in ("approved", "sending", "sent"):
        by = record.approved_by or "nobody (approval was off)"
        when = f" at {format_vi_datetime(record.approved_at, app.tz)}" if record.approved_at else ""
        note = " (the approval deadline passed)" if record.approved_by == "scheduler" else ""
        return Decision(
            week, "unchanged", f"{week}: already {status}; approved by {by}{when}{note}", status
        )
    if status == "rejected":
        last = ms.events(week)[-1]
        return Decision(
            week,
            "unchanged",
            f"{week}: rejected by {last.actor}: {last.reason}; `tgfeed digest send --week "
            f"{week}` prepares a new draft",
            status,
        )
    if status == "draft" or (status == "held" and ms.has_draft(record.id)):
        return None
    return Decision(week, "unchanged", f"{week}: {status}, there is no draft to approve", status)


async def approve_week(
    app: App,
    week: str,
    *,
    actor: str,
    reason: str = "",
    progress: Progress | None = None,
    send: bool = True,
) -> Decision:
    """Approve the week's draft (or a week held at its deadline) and send it
    (``send=False``: the caller sends it, e.g. after the web response)."""
    ms = app.store.mail
    record = ms.digest(week)
    refused = _unchanged(record, week, app)
    if refused is not None or record is None:
        return refused or Decision(week, "unchanged", f"{week}: no draft", "none")
    if ms.count_subscribers()["active"] == 0:
        bodies = Bodies(record.subject, record.article_count)
        result = await no_recipients(app, week, bodies, actor=actor, articles=record.article_count)
        return Decision(
            week, "unchanged", f"{week}: no active subscriber; skipped", "skipped", result
        )
    moved = ms.transition(
        week,
        "approved",
        expect=("draft", "held"),
        actor=actor,
        reason=reason or "approved",
        now=app.now(),
        approve=True,
        snapshot=True,
    )
    if moved is None:  # someone else moved it meanwhile
        again = _unchanged(ms.digest(week), week, app)
        return again or Decision(week, "unchanged", f"{week}: changed meanwhile", "")
    if not send:
        return Decision(week, "approved", f"{week}: approved by {actor}", moved.status)
    result = await deliver(app, moved, progress, actor=actor)
    return Decision(week, "approved", f"{week}: approved by {actor}", result.status, result)


def reject_week(app: App, week: str, *, actor: str, reason: str) -> Decision:
    """Reject the week's draft with a reason: recorded, nothing is sent."""
    reason = " ".join(reason.split())
    if not reason:
        raise TgfeedError("a rejection needs a reason", hint='give --reason "…"')
    ms = app.store.mail
    record = ms.digest(week)
    refused = _unchanged(record, week, app)
    if refused is not None:
        return refused
    moved = ms.transition(
        week, "rejected", expect=("draft", "held"), actor=actor, reason=reason, now=app.now()
    )
    if moved is None:
        again = _unchanged(ms.digest(week), week, app)
        return again or Decision(week, "unchanged", f"{week}: changed meanwhile", "")
    return Decision(week, "rejected", f"{week}: rejected by {actor}: {reason}", "rejected")


__all__ = [
    "Decision",
    "approve_url",
    "approve_week",
    "awaiting",
    "draft",
    "mail_approvers",
    "reject_week",
]
