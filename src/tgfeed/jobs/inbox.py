"""`process_inbox`: read the bounce/unsubscribe mailbox and act on it.

A message sent to the list's ``mailto:`` unsubscribe address unsubscribes the
subscriber its token names (in the subject or the address's ``+detail``), else
its sender (From, then Return-Path). A delivery status notification (RFC 3464)
counts a hard bounce (``Action: failed``) for each recipient it names — the
address is given up at once for 5.1.x (no such mailbox or domain), else at
``[mail] bounce_limit`` — and records a soft one (``delayed``). Every message is
logged (``store.inbox``) in the same transaction as what was done about it, and
only then marked processed in the mailbox; a message whose key is in the log is
never acted on twice. One bad message never stops the batch.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from ..app import App
from ..errors import InboxError, TgfeedError, TokenError
from ..inbox.imap import ImapBox
from ..inbox.maildir import MaildirBox
from ..inbox.parse import Incoming, Recipient, parse_message
from ..inbox.source import Fetched, Mailbox
from ..model import Subscriber
from ..procs import holder_id
from ..store.inbox import LogEntry

log = logging.getLogger(__name__)

LEASE = "inbox"
LEASE_TTL = timedelta(minutes=15)


@dataclass(slots=True)
class InboxResult:
    mailbox: str = ""
    status: str = "ok"  # ok | skipped (no [mail.inbox]) | dry-run
    messages: int = 0  # read this run
    unsubscribed: int = 0
    hard_bounces: int = 0
    soft_bounces: int = 0
    now_bounced: int = 0  # subscribers given up on this run
    ignored: int = 0  # other messages, positive reports, unknown addresses
    invalid: int = 0  # unreadable messages (logged, marked processed)
    already: int = 0  # logged by an earlier run: only marked processed now
    failed: int = 0  # not processed (left for the next run); see errors
    left: int = 0  # beyond this run's batch
    errors: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)  # one per message, for the CLI


def open_mailbox(app: App) -> Mailbox:
    cfg = app.config.mail.inbox
    if cfg is None:
        raise InboxError("no [mail.inbox] is configured", hint="see docs/inbox.md")
    if cfg.maildir is not None:
        return MaildirBox(app.path(cfg.maildir), cfg.processed_folder)
    assert cfg.host is not None  # the schema requires host and user together
    assert cfg.user is not None
    password = cfg.password()
    if password is None:
        raise InboxError(
            "mail.inbox: an IMAP inbox needs a password",
            hint="set [mail.inbox] password_env or password_file",
        )
    return ImapBox(
        cfg.host,
        cfg.port,
        cfg.user,
        password,
        folder=cfg.folder,
        processed_folder=cfg.processed_folder,
        ca_file=app.path(cfg.ca_file) if cfg.ca_file else None,
        timeout=cfg.timeout,
    )


def _find(app: App, *addresses: str | None) -> Subscriber | None:
    for address in addresses:
        if address:
            sub = app.store.mail.by_email(address)
            if sub is not None:
                return sub
    return None


def _unsubscribe(app: App, item: Incoming, dry_run: bool) -> LogEntry:
    ms = app.store.mail
    sub, how, problems = None, "sender", []
    for token in item.tokens:
        try:
            sid = app.signer.verify(token, "unsubscribe", now=app.now())
        except TokenError as exc:
            problems.append(f"token {exc.reason}")
            continue
        sub, how = ms.subscriber(sid), "token"
        break
    if sub is None:
        sub = _find(app, item.sender, item.return_path)
    detail = f"by {how}" + (f" ({', '.join(problems)}; used the sender)" if problems else "")
    if sub is None:
        return LogEntry("unsubscribe", "unknown address", None, item.sender, detail)
    if sub.status == "unsubscribed":
        return LogEntry("unsubscribe", "already unsubscribed", sub.id, sub.email, detail)
    if dry_run:
        return LogEntry("unsubscribe", "would unsubscribe", sub.id, sub.email, detail)
    ms.unsubscribe(sub.id, now=app.now())
    return LogEntry("unsubscribe", "unsubscribed", sub.id, sub.email, detail)


def _by_token(app: App, tokens: tuple[str, ...]) -> Subscriber | None:
    for token in tokens:
        try:
            return app.store.mail.subscriber(app.signer.verify(token, "unsubscribe", now=app.now()))
        except TokenError:
            continue
    return None


def _bounce(app: App, rcpt: Recipient, dry_run: bool, returned: tuple[str, ...] = ()) -> LogEntry:
    """``returned``: tokens of the returned message, used when the report names one
    recipient whose address is no subscriber's (an alias, a forward)."""
    detail = " ".join(filter(None, [rcpt.action, rcpt.status, rcpt.diagnostic]))
    sub = _find(app, rcpt.address)
    if sub is None and returned:
        sub = _by_token(app, returned)
        if sub is not None:
            detail += f"; reported for {rcpt.address}, matched by the returned message's token"
    if not (rcpt.hard or rcpt.soft):
        return LogEntry(
            "report", f"ignored (action {rcpt.action or 'none'})", None, rcpt.address, detail
        )
    kind = "bounce-hard" if rcpt.hard else "bounce-soft"
    if sub is None:
        return LogEntry(kind, "unknown address", None, rcpt.address, detail)
    if rcpt.soft:
        return LogEntry(kind, "recorded (delayed; not counted)", sub.id, sub.email, detail)
    limit = app.config.mail.bounce_limit
    # Counted from the log too: a later successful hand-over to the relay resets
    # bounce_count, though the mailbox kept bouncing.
    earlier = app.store.inbox.hard_bounces(sub.id, since=sub.confirmed_at)
    give_up = rcpt.no_such_address or earlier + 1 >= limit
    if dry_run:
        would = give_up and sub.status == "active"
        return LogEntry(kind, "would bounce" if would else "would count", sub.id, sub.email, detail)
    if app.store.mail.count_bounce(sub.id, now=app.now(), bounce_limit=limit, give_up=give_up):
        return LogEntry(kind, "now bounced", sub.id, sub.email, detail)
    n = max(sub.bounce_count + 1, earlier + 1)
    state = f"{n} of {limit}" if sub.status == "active" else f"subscriber {sub.status}"
    return LogEntry(kind, f"counted ({state})", sub.id, sub.email, detail)


def decide(app: App, item: Incoming, dry_run: bool) -> list[LogEntry]:
    """What to do about one classified message; done at once unless ``dry_run``."""
    if item.kind == "unsubscribe":
        return [_unsubscribe(app, item, dry_run)]
    if item.kind == "bounce":
        if not item.recipients:
            return [LogEntry("report", "ignored (names no recipient)", detail=item.subject)]
        returned = item.tokens if len(item.recipients) == 1 else ()
        return [_bounce(app, r, dry_run, returned) for r in item.recipients]
    return [LogEntry("other", "ignored", None, item.sender, item.note)]


def _tally(result: InboxResult, entries: list[LogEntry]) -> None:
    for e in entries:
        if e.kind == "unsubscribe" and e.outcome in ("unsubscribed", "would unsubscribe"):
            result.unsubscribed += 1
        elif e.kind == "bounce-hard" and e.subscriber_id is not None:
            result.hard_bounces += 1
            result.now_bounced += e.outcome in ("now bounced", "would bounce")
        elif e.kind == "bounce-soft" and e.subscriber_id is not None:
            result.soft_bounces += 1
        elif e.kind == "invalid":
            result.invalid += 1
        else:
            result.ignored += 1


def _handle(app: App, box: Mailbox, got: Fetched, result: InboxResult, dry_run: bool) -> bool:
    """Process one fetched message; True when it may be marked processed."""
    if got.error:  # not logged: retried by the next run
        raise InboxError(got.error)
    unsubscribe_address = app.config.mail.unsubscribe_mailto
    try:
        item = parse_message(got.raw, unsubscribe_address=unsubscribe_address)
        key, sender, subject = item.key, item.sender, item.subject
    except InboxError as exc:
        item = None
        key, sender, subject = "sha256:" + hashlib.sha256(got.raw).hexdigest(), None, ""
        problem = exc.message
    store = app.store
    with store.write():
        if store.inbox.seen(key):
            result.already += 1
            return not dry_run
        if item is None:
            entries = [LogEntry("invalid", "unreadable", detail=problem)]
        else:
            entries = decide(app, item, dry_run)
        if not dry_run:
            store.inbox.record(
                key, entries, mailbox=box.name, sender=sender, subject=subject, now=app.now()
            )
    _tally(result, entries)
    for e in entries:
        result.lines.append(
            f"{got.ref}: {e.kind} {e.email or sender or '-'}: {e.outcome}"
            + (f" ({e.detail})" if e.detail else "")
        )
    return not dry_run


async def process_inbox(app: App, *, dry_run: bool = False) -> InboxResult:
    """Read up to ``[mail.inbox] batch`` unprocessed messages and act on each."""
    cfg = app.config.mail.inbox
    if cfg is None:
        return InboxResult(status="skipped", errors=["no [mail.inbox] is configured"])
    box = open_mailbox(app)
    result = InboxResult(mailbox=box.name, status="dry-run" if dry_run else "ok")
    jobs, owner = app.store.jobs, holder_id()
    if jobs.acquire_lease(LEASE, owner, now=app.now(), ttl=LEASE_TTL) is None:
        raise InboxError(
            "the inbox is being processed by another process "
            f"({jobs.lease_holder(LEASE, app.now())})",
            hint="wait for it to finish",
        )
    try:
        await asyncio.to_thread(box.open)
        fetched, result.left = await asyncio.to_thread(box.fetch, cfg.batch)
        for got in fetched:
            result.messages += 1
            try:
                if _handle(app, box, got, result, dry_run):
                    await asyncio.to_thread(box.done, got.ref)
            except TgfeedError as exc:
                result.failed += 1
                result.errors.append(f"{got.ref}: {exc.message}")
                log.error("inbox %s: %s: %s", box.name, got.ref, exc.message)
    finally:
        await asyncio.to_thread(box.close)
        jobs.release_lease(LEASE, owner)
    log.info(
        "inbox %s: %d messages, %d unsubscribed, %d hard and %d soft bounces, %d failed",
        box.name,
        result.messages,
        result.unsubscribed,
        result.hard_bounces,
        result.soft_bounces,
        result.failed,
    )
    return result
