"""The weekly digest job: select → render once → snapshot → deliver from the ledger.

Delivery guarantee. A week's digest is one run (``digests.week`` is unique); it
snapshots the active subscribers into the ledger in one transaction. A row is
marked ``sent`` only after the server accepted its message, and that mark is
committed before the same connection carries another message. So a crash, a
SIGKILL or a restart loses nothing (pending rows are sent on the next run) and
duplicates at most the messages that were in flight at that moment: at most one
per open connection, each with the same ``Message-ID`` as its first copy. That
is the floor SMTP allows — a server may accept a message and lose the
connection before its "250" reaches us.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from ..app import App
from ..digest.message import MessageTemplate, build_digest, check_address, domain_of
from ..digest.render import RenderedDigest, render_digest
from ..digest.select import Selection, select, window
from ..errors import MailError, TgfeedError
from ..mail import envelope_from, sender_of
from ..model import DigestRecord
from ..procs import holder_id
from ..store import digest_lease
from ..store.digest_states import Bodies
from ..text import last_complete_week
from ..tokens import placeholder
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


async def send_digest(
    app: App,
    *,
    week: str | None = None,
    dry_run: bool = False,
    to: str | None = None,
    fire_time: datetime | None = None,
    progress: Progress | None = None,
    actor: str = "tgfeed",
    stale: str | None = None,
) -> DigestResult:
    """Send (or resume) the digest of ``week`` — by default the last complete week
    before ``fire_time`` (or now). ``to``: a test send to one address, which never
    counts as the week's run. ``dry_run``: render and count, send and write nothing.
    ``stale``: why the sources are not fresh (the scheduled run): the week is held.
    A week that is skipped, held or rejected is re-evaluated (docs/digest.md)."""
    week = check_week(week, app) if week else last_complete_week(fire_time or app.now(), app.tz)
    if to is not None:
        return await _test_send(app, week, to)
    ms = app.store.mail
    record = ms.digest(week)
    if record is not None and record.status == "sent":
        return _result(record, "already-done", ms.delivery_counts(record.id))
    if record is not None and record.status == "draft":
        from .digest_approval import awaiting

        return await awaiting(app, record, dry_run=dry_run, progress=progress)
    if record is not None and record.status in ("approved", "sending"):
        if dry_run:
            return _result(record, "dry-run", ms.delivery_counts(record.id))
        return await deliver(app, record, progress, actor=actor)
    if not app.config.digest.enabled and not dry_run:
        return DigestResult(week, "disabled", error="[digest] enabled = false")
    if stale is not None and not dry_run:
        return await hold(app, week, stale, actor=actor)
    return await _evaluate(app, week, dry_run=dry_run, progress=progress, actor=actor)


async def _evaluate(
    app: App, week: str, *, dry_run: bool, progress: Progress | None, actor: str
) -> DigestResult:
    """A week with no digest yet (or skipped, held, rejected): compose it and decide."""
    ms = app.store.mail
    selection, rendered = compose(app, week)
    empty = Bodies(rendered.subject, 0)
    if selection.empty and not app.config.digest.send_empty:
        if not dry_run:
            ms.prepare_digest(
                week, "skipped", empty, actor=actor, reason="no articles", now=app.now()
            )
        return DigestResult(week, "skipped", rendered.subject)
    active = ms.count_subscribers()["active"]
    if dry_run:
        return DigestResult(
            week, "dry-run", rendered.subject, articles=selection.count, recipients=active
        )
    if active == 0:
        return await no_recipients(app, week, empty, actor=actor, articles=selection.count)
    bodies = Bodies(
        rendered.subject,
        selection.count,
        rendered.html,
        rendered.text,
        rendered.web_html,
        rendered.web_text,
    )
    if app.config.digest.approval:
        from .digest_approval import draft

        return await draft(app, week, bodies, actor=actor)
    record = ms.prepare_digest(
        week, "sending", bodies, actor=actor, reason="", now=app.now(), snapshot=True
    )
    if record is None:  # another process moved the week meanwhile
        return await send_digest(app, week=week, progress=progress, actor=actor)
    log.info("digest %s: %d recipients snapshotted", week, record.recipients)
    return await deliver(app, record, progress, actor=actor)


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
    from ..scheduler.runner import alert

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


async def _test_send(app: App, week: str, to: str) -> DigestResult:
    """A test send to one address: same content, its own Message-ID, no ledger."""
    address = check_address(to)
    selection, rendered = compose(app, week)
    ms = app.store.mail
    sub = ms.by_email(address)
    sid = sub.id if sub else 0
    template = message_template(
        app,
        week,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        date=app.now(),
    )
    token = app.signer.issue(
        "unsubscribe", sid, now=app.now(), max_age=app.config.digest.token_max_age
    )
    domain = domain_of(app.config.mail.from_address)
    message = template.personalize(
        email=address,
        name=sub.name if sub else None,
        subscriber_id=sid,
        token=token,
        msg_id=f"<{week}.test.{uuid.uuid4().hex[:16]}@{domain}>",
    )
    key = app.dkim
    if key is not None:
        message = key.sign(message)
    mailer = app.mailer()
    try:
        reply = await mailer.send(envelope_from(app.config), [address], message)
    finally:
        await mailer.aclose()
    log.info("test send of %s to %s: %s", week, address, reply)
    return DigestResult(
        week, "test", rendered.subject, articles=selection.count, recipients=1, sent_now=1
    )


def preview_digest(app: App, week: str | None, out_dir: Path) -> list[Path]:
    """Write ``<week>.html``, ``<week>.txt`` and ``<week>.eml`` (as a recipient would
    get it) into ``out_dir``; returns the paths."""
    week = check_week(week, app) if week else last_complete_week(app.now(), app.tz)
    _, rendered = compose(app, week)
    template = message_template(
        app,
        week,
        subject=rendered.subject,
        html=rendered.html,
        text=rendered.text,
        date=app.now(),
    )
    token = app.signer.issue(
        "unsubscribe", 0, now=app.now(), max_age=app.config.digest.token_max_age
    )
    eml = template.personalize(
        email=PREVIEW_ADDRESS, name="Người nhận thử", subscriber_id=0, token=token
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {
        out_dir / f"{week}.html": rendered.html.replace(placeholder(), token).encode("utf-8"),
        out_dir / f"{week}.txt": rendered.text.replace(placeholder(), token).encode("utf-8"),
        out_dir / f"{week}.eml": eml,
    }
    for path, data in files.items():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    return list(files)
