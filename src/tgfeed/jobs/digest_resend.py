"""Resending a sent week, never a duplicate (`tgfeed digest resend`).

Each resend is a new segment of the week's ledger: ``--failed`` makes the failed
rows of still-active subscribers pending again, ``--new-subscribers`` adds those
active now and not in the ledger, ``--to ADDR`` one address. Then the usual
delivery loop sends the pending rows, under the week's lease: a second process
resending the same week meanwhile is told the week is busy. Nobody whose row is
``sent`` is sent the week again; every resend is in the audit trail.
"""

from __future__ import annotations

import logging
import uuid
from typing import Literal

from ..app import App
from ..digest.message import check_address, domain_of
from ..errors import TgfeedError
from ..mail import envelope_from
from ..procs import holder_id
from ..store import digest_lease
from .delivery import LEASE_TTL, Progress
from .digest_core import DigestResult, WeekBusy, deliver, message_template

log = logging.getLogger(__name__)

Kind = Literal["failed", "new-subscribers", "to"]


def _sent_week(app: App, week: str) -> None:
    record = app.store.mail.digest(week)
    if record is None or record.status != "sent":
        state = record.status if record else "not sent yet"
        raise TgfeedError(
            f"{week}: only a sent week can be resent (it is {state})",
            hint=f"`tgfeed digest send --week {week}` sends or resumes it; "
            f"`tgfeed digest status --week {week}` shows its state",
        )


async def resend(
    app: App,
    week: str,
    kind: Kind,
    *,
    actor: str,
    to: str | None = None,
    progress: Progress | None = None,
    send: bool = True,
) -> DigestResult:
    """Open a new ledger segment of ``week`` and send it. Raises WeekBusy when
    another process holds the week, TgfeedError when the week was not sent.
    ``send=False``: open the segment only (``queued``, the week is ``sending``);
    the caller sends it, e.g. after the web response (``send_digest`` resumes it)."""
    ms, jobs, lease = app.store.mail, app.store.jobs, digest_lease(week)
    owner = holder_id()  # the holder ``deliver`` renews: the week stays held throughout
    if jobs.acquire_lease(lease, owner, now=app.now(), ttl=LEASE_TTL) is None:
        raise WeekBusy(week, jobs.lease_holder(lease, app.now()))
    try:
        opened = await _open(app, week, kind, actor=actor, to=to)
    except BaseException:
        jobs.release_lease(lease, owner)
        raise
    if isinstance(opened, DigestResult):
        jobs.release_lease(lease, owner)
        return opened
    number, rows = opened
    log.info("digest %s: resend #%d --%s: %d recipient(s)", week, number, kind, rows)
    reopened = ms.digest(week)
    assert reopened is not None
    if not send:
        jobs.release_lease(lease, owner)
        return DigestResult(week, "queued", reopened.subject, recipients=rows)
    return await deliver(app, reopened, progress, actor=actor)


async def _open(
    app: App, week: str, kind: Kind, *, actor: str, to: str | None
) -> tuple[int, int] | DigestResult:
    """The new segment (number, rows), or the result when nothing is to be sent."""
    ms = app.store.mail
    _sent_week(app, week)
    record = ms.digest(week)
    assert record is not None
    sid = None
    if kind == "to":
        assert to is not None
        address = check_address(to)
        sub = ms.by_email(address)
        if sub is None:
            return await _manual_copy(app, week, address, actor=actor)
        if ms.delivery_status(record.id, sub.id) == "sent":
            return DigestResult(
                week,
                "already-done",
                record.subject,
                error=f"{address} already got {week}; nothing sent",
            )
        sid = sub.id
    number, rows = ms.open_resend(week, kind, actor=actor, now=app.now(), subscriber_id=sid)
    if rows == 0:
        return DigestResult(
            week, "already-done", record.subject, error=f"nobody to resend {week} to (--{kind})"
        )
    return number, rows


async def _manual_copy(app: App, week: str, address: str, *, actor: str) -> DigestResult:
    """``--to`` an address that is not a subscriber: one copy outside the ledger,
    recorded as a segment (a second `--to` the same address is refused)."""
    ms = app.store.mail
    record = ms.digest(week)
    assert record is not None
    if address.lower() in (a.lower() for a in ms.manual_copies(record.id)):
        return DigestResult(
            week,
            "already-done",
            record.subject,
            recipients=1,
            sent=1,
            error=f"{address} already got a copy of {week}; nothing sent",
        )
    html, text = ms.mail_bodies(record.id)
    template = message_template(
        app, week, subject=record.subject, html=html, text=text, date=record.created_at
    )
    token = app.signer.issue(
        "unsubscribe", 0, now=app.now(), max_age=app.config.digest.token_max_age
    )
    domain = domain_of(app.config.mail.from_address)
    message = template.personalize(
        email=address,
        name=None,
        subscriber_id=0,
        token=token,
        msg_id=f"<{week}.resend.{uuid.uuid4().hex[:16]}@{domain}>",
    )
    if app.dkim is not None:
        message = app.dkim.sign(message)
    mailer = app.mailer()
    try:
        reply = await mailer.send(envelope_from(app.config), [address], message)
    finally:
        await mailer.aclose()
    ms.record_manual_copy(week, address, actor=actor, reply=reply, now=app.now())
    return DigestResult(week, "sent", record.subject, recipients=1, sent=1, sent_now=1)
