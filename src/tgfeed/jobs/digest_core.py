"""The digest job's shared parts: results, composing a week, the message template,
the states a run can end in (no recipients, held) and delivering a week's ledger.
``jobs.digest`` (sending), ``jobs.digest_approval`` and ``jobs.digest_resend``
build on them."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from ..app import App
from ..digest.message import MessageTemplate, build_digest
from ..digest.render import RenderedDigest, render_digest
from ..digest.select import Selection, select, window
from ..errors import MailError, TgfeedError
from ..mail import sender_of
from ..model import DigestRecord
from ..procs import holder_id
from ..store import digest_lease
from ..store.digest_states import Bodies
from ..tokens import placeholder
from .alerts import alert
from .delivery import LEASE_TTL, Delivery, Progress

log = logging.getLogger(__name__)

Status = Literal[
    "sent",
    "incomplete",
    "skipped",
    "no-recipients",
    "held",
    "draft",
    "already-done",
    "disabled",
    "dry-run",
    "test",
    "queued",  # a resend's segment is open; the caller sends it
]

PREVIEW_ADDRESS = "nguoi.nhan@example.vn"


@dataclass(frozen=True, slots=True)
class DigestResult:
    week: str
    status: Status
    subject: str = ""
    articles: int = 0
    recipients: int = 0  # the ledger's size (or, for a dry run, the active subscribers)
    sent: int = 0  # ledger totals after this call
    failed: int = 0
    pending: int = 0
    skipped: int = 0
    sent_now: int = 0  # accepted by the server during this call
    error: str | None = None


def check_week(week: str, app: App) -> str:
    week = week.strip().upper().replace("W", "-W").replace("--", "-")
    try:
        window(week, app.tz)
    except ValueError:
        raise TgfeedError(
            f"not an ISO week key like 2026-W48: {week!r}", hint="give --week YYYY-Www"
        ) from None
    return week


def unsubscribe_url(app: App, token: str) -> str:
    return f"{app.config.site.public_url.rstrip('/')}/unsubscribe/{token}"


def compose(app: App, week: str) -> tuple[Selection, RenderedDigest]:
    """The week's selection and its rendering (mail and web variants)."""
    start, end = window(week, app.tz)
    selection = select(app.store.articles.between(start, end), week, app.config.digest, app.tz)
    rendered = render_digest(
        app.templates,
        selection,
        site=app.config.site,
        public_url=app.config.site.public_url,
        unsubscribe_url=unsubscribe_url(app, placeholder()),
        tz=app.tz,
    )
    return selection, rendered


def message_template(
    app: App, week: str, *, subject: str, html: str, text: str, date: datetime
) -> MessageTemplate:
    return build_digest(
        subject=subject,
        html=html,
        text=text,
        sender=sender_of(app.config),
        date=date,
        week=week,
        unsubscribe_url=unsubscribe_url(app, placeholder()),
        placeholder=placeholder(),
        tz=app.tz,
    )


def _result(
    record: DigestRecord, status: Status, counts: dict[str, int], **kw: object
) -> DigestResult:
    return DigestResult(
        week=record.week,
        status=status,
        subject=record.subject,
        articles=record.article_count,
        recipients=record.recipients,
        sent=counts["sent"],
        failed=counts["failed"],
        pending=counts["pending"],
        skipped=counts["skipped"],
        **kw,  # type: ignore[arg-type]
    )


async def no_recipients(
    app: App, week: str, bodies: Bodies, *, actor: str, articles: int
) -> DigestResult:
    """Articles but no active subscriber: recorded as skipped, the admin alerted."""
    reason = "no recipients: no active subscriber"
    app.store.mail.prepare_digest(
        week, "skipped", bodies, actor=actor, reason=reason, now=app.now()
    )
    await digest_alert(
        app,
        week,
        f"[tgfeed] Bản tin {week} chưa gửi: không có người nhận",
        f"Bản tin tuần {week} có {articles} tin nhưng không có người đăng ký nào đang hoạt động, "
        "nên chưa gửi cho ai.\n\nThêm người nhận (tgfeed subscribers add … --active hoặc "
        f"tgfeed subscribers import …), rồi chạy: tgfeed digest send --week {week}\n",
    )
    return DigestResult(week, "no-recipients", bodies.subject, articles=articles, error=reason)


async def hold(app: App, week: str, reason: str, *, actor: str) -> DigestResult:
    """Stale sources: the week is held (not sent, not skipped) and the admin alerted."""
    app.store.mail.prepare_digest(
        week, "held", Bodies("", 0), actor=actor, reason=reason, now=app.now()
    )
    log.warning("digest %s held: %s", week, reason)
    await digest_alert(
        app,
        week,
        f"[tgfeed] Bản tin {week} đang tạm giữ",
        f"Bản tin tuần {week} chưa được gửi vì nguồn tin chưa cập nhật: {reason}.\n\n"
        "tgfeed sẽ thử lại trong thời gian cho phép (misfire_grace) của công việc. "
        f"Khi nguồn tin đã sửa, có thể gửi ngay: tgfeed digest send --week {week}\n",
    )
    return DigestResult(week, "held", error=reason)


async def digest_alert(app: App, week: str, subject: str, text: str) -> bool:
    """An alert about one week (throttled per week and subject, like job alerts)."""
    return await alert(app, f"digest:{week}:{subject[:40]}", subject, text)


async def deliver(
    app: App, record: DigestRecord, progress: Progress | None, *, actor: str
) -> DigestResult:
    """Send the week's pending ledger rows under the week's lease."""
    ms, week = app.store.mail, record.week
    if record.status == "approved":
        moved = ms.transition(
            week, "sending", expect=("approved",), actor=actor, reason="", now=app.now()
        )
        record = moved or record
    html, text = ms.mail_bodies(record.id)
    template = message_template(
        app, week, subject=record.subject, html=html, text=text, date=record.created_at
    )
    mailer = app.mailer()  # may refuse the config (a missing password) before we start
    owner = holder_id()
    jobs, lease = app.store.jobs, digest_lease(week)
    grant = jobs.acquire_lease(lease, owner, now=app.now(), ttl=LEASE_TTL)
    if grant is None:
        await mailer.aclose()
        raise WeekBusy(week, jobs.lease_holder(lease, app.now()))
    if grant.previous:
        log.warning("digest %s: taking over from %s, which stopped", week, grant.previous)
    delivery = Delivery(app, ms, record, template, mailer, app.signer, progress, owner)
    error: str | None = None
    try:
        await delivery.run()
    except MailError as exc:
        error = exc.message + (f" ({exc.hint})" if exc.hint else "")
    finally:
        ms.commit()  # whatever the loop staged, even if it was interrupted
        await mailer.aclose()
        jobs.release_lease(lease, owner)
    counts = ms.finish_digest(record.id, now=app.now(), actor=actor)
    error = error or delivery.abort_reason
    status: Status = "sent" if counts["pending"] == 0 else "incomplete"
    log.info(
        "digest %s: %s; %d sent now, totals %s%s",
        week,
        status,
        delivery.sent_now,
        counts,
        f"; stopped: {error}" if error else "",
    )
    return _result(record, status, counts, sent_now=delivery.sent_now, error=error)


class WeekBusy(MailError):
    """Another process holds the week's lease (sending or resending it)."""

    def __init__(self, week: str, holder: str | None) -> None:
        super().__init__(
            f"digest {week} is busy: another process ({holder or 'unknown'}) is sending it",
            hint=f"wait for it to finish; `tgfeed digest status --week {week}` shows the progress",
        )
