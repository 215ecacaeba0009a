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
from datetime import datetime
from pathlib import Path

from ..app import App
from ..atomicfiles import atomic_write
from ..digest.message import check_address, domain_of
from ..mail import envelope_from
from ..model import DigestRecord
from ..private import PRIVATE_FILE_MODE
from ..store.digest_states import Bodies
from ..text import last_complete_week
from ..tokens import placeholder
from .delivery import Progress
from .digest_approval import awaiting, draft
from .digest_core import (
    PREVIEW_ADDRESS,
    DigestResult,
    Status,
    WeekBusy,
    _result,
    check_week,
    compose,
    deliver,
    digest_alert,
    hold,
    message_template,
    no_recipients,
    unsubscribe_url,
)

log = logging.getLogger(__name__)

__all__ = [
    "PREVIEW_ADDRESS",
    "DigestResult",
    "Status",
    "WeekBusy",
    "check_week",
    "compose",
    "deliver",
    "digest_alert",
    "hold",
    "message_template",
    "no_recipients",
    "preview_digest",
    "send_digest",
    "stored_mail",
    "unsubscribe_url",
]


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
        return await draft(app, week, bodies, actor=actor)
    record = ms.prepare_digest(
        week, "sending", bodies, actor=actor, reason="", now=app.now(), snapshot=True
    )
    if record is None:  # another process moved the week meanwhile
        return await send_digest(app, week=week, progress=progress, actor=actor)
    log.info("digest %s: %d recipients snapshotted", week, record.recipients)
    return await deliver(app, record, progress, actor=actor)


def stored_mail(app: App, week: str) -> tuple[DigestRecord, str, str] | None:
    """The week's stored mail (record, HTML, text, with the token placeholder) when
    it has one that is or will be sent: a draft, a week held at its approval
    deadline, approved, sending or sent. None for a week to be (re)composed."""
    ms = app.store.mail
    record = ms.digest(week)
    if record is None or record.status in ("rejected", "skipped"):
        return None
    if not ms.has_draft(record.id):
        return None
    html, text = ms.mail_bodies(record.id)
    return record, html, text


async def _test_send(app: App, week: str, to: str) -> DigestResult:
    """A test send to one address: same content, its own Message-ID, no ledger.
    A week with a stored draft (or one already sent) is sent as stored: the test
    copy is what an approval would send, not a fresh rendering."""
    address = check_address(to)
    ms = app.store.mail
    stored = stored_mail(app, week)
    if stored is not None:
        record, html, text = stored
        subject, articles = record.subject, record.article_count
    else:
        selection, rendered = compose(app, week)
        subject, articles, html, text = (
            rendered.subject,
            selection.count,
            rendered.html,
            rendered.text,
        )
    sub = ms.by_email(address)
    sid = sub.id if sub else 0
    template = message_template(app, week, subject=subject, html=html, text=text, date=app.now())
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
    return DigestResult(week, "test", subject, articles=articles, recipients=1, sent_now=1)


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
        atomic_write(path, data, PRIVATE_FILE_MODE)  # a preview carries a real token: private
    return list(files)
