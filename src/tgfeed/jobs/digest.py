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

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import jinja2

from ..app import App
from ..digest.message import MessageTemplate, build_digest, check_address, domain_of
from ..digest.render import RenderedDigest, render_digest
from ..digest.select import Selection, select, window
from ..errors import MailError, PermanentMailError, StoreError, TemporaryMailError, TgfeedError
from ..mail import Mailer, dkim_key, envelope_from, make_mailer, sender_of
from ..store.mail import DigestRecord, MailStore, Recipient
from ..templating import make_env
from ..text import last_complete_week
from ..tokens import Signer, placeholder, signer_for

log = logging.getLogger(__name__)

Status = Literal["sent", "incomplete", "skipped", "already-done", "disabled", "dry-run", "test"]
Progress = Callable[[int, int], None]  # (done, total) after each recipient's final outcome

LEASE_SECONDS = 120
LEASE_RENEW = 30.0
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


def digest_env(app: App) -> jinja2.Environment:
    env = app.extras.get("digest_env")
    if not isinstance(env, jinja2.Environment):
        tdir = app.config.templates_dir
        env = make_env(app.path(tdir) if tdir else None, app.tz)
        app.extras["digest_env"] = env
    return env


def unsubscribe_url(app: App, token: str) -> str:
    return f"{app.config.site.public_url.rstrip('/')}/unsubscribe/{token}"


def compose(app: App, week: str) -> tuple[Selection, RenderedDigest]:
    """The week's selection and its rendering (mail and web variants)."""
    start, end = window(week, app.tz)
    selection = select(app.store.between(start, end), week, app.config.digest, app.tz)
    rendered = render_digest(
        digest_env(app),
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
) -> DigestResult:
    """Send (or resume) the digest of ``week`` — by default the last complete week
    before ``fire_time`` (or now). ``to``: a test send to one address, which never
    counts as the week's run. ``dry_run``: render and count, send and write nothing."""
    week = check_week(week, app) if week else last_complete_week(fire_time or app.now(), app.tz)
    if to is not None:
        return await _test_send(app, week, to)
    ms = MailStore(app.store)
    record = ms.digest(week)
    if record is not None and record.status != "sending":
        return _result(record, "already-done", ms.delivery_counts(record.id))
    if record is None:
        if not app.config.digest.enabled and not dry_run:
            return DigestResult(week, "disabled", error="[digest] enabled = false")
        selection, rendered = compose(app, week)
        if selection.empty and not app.config.digest.send_empty:
            if not dry_run:
                ms.skip_digest(week, subject=rendered.subject, now=app.now())
            return DigestResult(week, "skipped", rendered.subject)
        if dry_run:
            return DigestResult(
                week,
                "dry-run",
                rendered.subject,
                articles=selection.count,
                recipients=ms.count_subscribers()["active"],
            )
        record, _ = ms.start_digest(
            week,
            subject=rendered.subject,
            article_count=selection.count,
            mail_html=rendered.html,
            mail_text=rendered.text,
            web_html=rendered.web_html,
            web_text=rendered.web_text,
            now=app.now(),
        )
        log.info("digest %s: %d recipients snapshotted", week, record.recipients)
    elif dry_run:
        return _result(record, "dry-run", ms.delivery_counts(record.id))
    html, text = ms.mail_bodies(record.id)
    template = message_template(
        app, week, subject=record.subject, html=html, text=text, date=record.created_at
    )
    mailer = make_mailer(app)  # may refuse the config (a missing password) before we start
    owner = f"{socket.gethostname()}:{os.getpid()}"
    previous = ms.acquire_lease(
        record.id, owner, now=app.now(), seconds=LEASE_SECONDS, owner_alive=_owner_alive
    )
    if previous is None:
        raise MailError(
            f"digest {week} is being sent by another process ({record.lease_owner})",
            hint="wait for it to finish; `tgfeed digest status` shows the progress",
        )
    if previous and previous != owner:
        log.warning("digest %s: taking over from %s, which stopped", week, previous)
    delivery = _Delivery(app, ms, record, template, mailer, signer_for(app), progress, owner)
    error: str | None = None
    try:
        await delivery.run()
    except MailError as exc:
        error = exc.message + (f" ({exc.hint})" if exc.hint else "")
    finally:
        await mailer.aclose()
        ms.release_lease(record.id, owner)
    counts = ms.finish_digest(record.id, now=app.now())
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


def _owner_alive(holder: str) -> bool:
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine: trust its lease until it expires
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Delivery:
    """Sends a digest's pending ledger rows over ``mailer.concurrency`` workers."""

    def __init__(
        self,
        app: App,
        ms: MailStore,
        record: DigestRecord,
        template: MessageTemplate,
        mailer: Mailer,
        signer: Signer,
        progress: Progress | None,
        owner: str,
    ) -> None:
        self.app = app
        self.ms = ms
        self.record = record
        self.template = template
        self.mailer = mailer
        self.signer = signer
        self.progress = progress
        self.owner = owner
        self.smtp = app.config.mail.smtp
        self.bounce_limit = app.config.mail.bounce_limit
        self.token_max_age = app.config.digest.token_max_age
        self.env_from = envelope_from(app.config)
        self.dkim = dkim_key(app)
        self.sent_now = 0
        self.abort_reason: str | None = None
        self._aborted = asyncio.Event()
        self._taken = asyncio.Event()  # the queue ran low: the feeder may add more
        self._low_water = 0
        # Issued as of the digest's creation: a resent message is byte-identical.
        self._expires = record.created_at + timedelta(seconds=self.token_max_age)
        self._batch: asyncio.Event | None = None
        self._retries: set[asyncio.TimerHandle] = set()
        self._outage_round = 0
        self._resume_at = 0.0
        self._renewed = time.monotonic()
        counts = ms.delivery_counts(record.id)
        self.total = sum(counts.values())
        self.done = self.total - counts["pending"]

    def token(self, subscriber_id: int) -> str:
        return self.signer.sign("unsubscribe", subscriber_id, self._expires)

    async def run(self) -> None:
        workers_n = max(1, self.mailer.concurrency)
        # Unbounded, so that a retry can always be put back; the feeder keeps it short.
        queue: asyncio.Queue[Recipient] = asyncio.Queue()
        low_water = self._low_water = workers_n * 16
        if self.progress:
            self.progress(self.done, self.total)

        async def feed_and_drain() -> None:
            after = 0
            while not self._aborted.is_set():
                batch = self.ms.pending(self.record.id, after=after, limit=500)
                if not batch:
                    break
                for item in batch:
                    queue.put_nowait(item)
                after = batch[-1].subscriber_id
                while queue.qsize() > low_water and not self._aborted.is_set():
                    self._taken.clear()
                    await self._taken.wait()
            await queue.join()

        workers = [asyncio.create_task(self._work(queue)) for _ in range(workers_n)]
        main = asyncio.create_task(feed_and_drain())
        stop = asyncio.create_task(self._aborted.wait())
        try:
            await asyncio.wait({main, stop}, return_when=asyncio.FIRST_COMPLETED)
            if main.done():
                main.result()
        finally:
            for handle in self._retries:
                handle.cancel()
            # Cancel until done: Python 3.11's wait_for (inside aiosmtplib) can swallow a
            # cancellation that races with a connection error.
            tasks = [*workers, main, stop]
            while pending := [t for t in tasks if not t.done()]:
                for task in pending:
                    task.cancel()
                await asyncio.wait(pending, timeout=1)
            if self._batch is not None:
                self._commit()

    async def _work(self, queue: asyncio.Queue[Recipient]) -> None:
        while not self._aborted.is_set():
            item = await queue.get()
            if queue.qsize() <= self._low_water:
                self._taken.set()  # wake the feeder only when it has work to do
            requeued = False
            try:
                await self._gate()
                if not self._aborted.is_set():
                    requeued = await self._deliver(item, queue)
            finally:
                if not requeued:
                    queue.task_done()

    def _finished(self, *, sent: bool = False) -> None:
        self.done += 1
        if sent:
            self.sent_now += 1
        if self.progress:
            self.progress(self.done, self.total)
        if time.monotonic() - self._renewed > LEASE_RENEW:
            self._renewed = time.monotonic()
            self.ms.renew_lease(
                self.record.id, self.owner, now=self.app.now(), seconds=LEASE_SECONDS
            )

    def _later(self, delay: float, queue: asyncio.Queue[Recipient], item: Recipient) -> None:
        """Put ``item`` back after ``delay`` seconds; it stays unfinished meanwhile."""
        loop = asyncio.get_running_loop()

        def put() -> None:
            self._retries.discard(handle)
            queue.put_nowait(item)
            queue.task_done()

        handle = loop.call_later(delay, put)
        self._retries.add(handle)

    async def _deliver(self, item: Recipient, queue: asyncio.Queue[Recipient]) -> bool:
        """Try one recipient once; True when it was put back for a retry."""
        ms, digest_id, sid = self.ms, self.record.id, item.subscriber_id
        if not ms.is_pending(digest_id, sid):  # they left (unsubscribed, bounced) meanwhile
            self._finished()
            return False
        try:
            message = self.template.personalize(
                email=item.email, name=item.name, subscriber_id=sid, token=self.token(sid)
            )
            if self.dkim is not None:
                message = self.dkim.sign(message)
        except TgfeedError as exc:  # an address that can no longer be sent to
            ms.mark_failed(
                digest_id,
                sid,
                error=exc.message,
                now=self.app.now(),
                permanent=False,
                bounce_limit=self.bounce_limit,
            )
            self._finished()
            return False
        try:
            reply = await self.mailer.send(self.env_from, [item.email], message)
        except PermanentMailError as exc:
            bounced = ms.mark_failed(
                digest_id,
                sid,
                error=exc.message,
                now=self.app.now(),
                permanent=True,
                bounce_limit=self.bounce_limit,
            )
            log.warning("%s: refused: %s%s", item.email, exc.message, " (now bounced)" * bounced)
            self._finished()
            return False
        except TemporaryMailError as exc:
            if exc.connection:
                ms.mark_retry(digest_id, sid, error=exc.message, now=self.app.now(), count=False)
                if not self._outage(exc):
                    return False
                self._later(0, queue, item)  # not this recipient's fault: no attempt counted
                return True
            attempts = ms.mark_retry(digest_id, sid, error=exc.message, now=self.app.now())
            if attempts >= self.smtp.max_attempts:
                ms.mark_failed(
                    digest_id,
                    sid,
                    error=f"gave up after {attempts} attempts: {exc.message}",
                    now=self.app.now(),
                    permanent=False,
                    bounce_limit=self.bounce_limit,
                )
                self._finished()
                return False
            self._later(self.smtp.retry_delay * 2 ** (attempts - 1), queue, item)
            return True
        except MailError as exc:  # the setup is wrong: stop, leave the rest pending
            self._abort(exc.message + (f" ({exc.hint})" if exc.hint else ""))
            return False
        await self._record_sent(sid, reply)
        self._outage_round = 0
        self._finished(sent=True)
        return False

    async def _record_sent(self, subscriber_id: int, reply: str) -> None:
        """Mark a row sent and wait until that is committed (group commit: rows
        accepted on other connections in the same loop turn share the commit).
        Only then may this connection carry another message."""
        self.ms.mark_sent(
            self.record.id, subscriber_id, reply=reply, now=self.app.now(), commit=False
        )
        batch = self._batch
        if batch is None:
            batch = self._batch = asyncio.Event()
            asyncio.get_running_loop().call_soon(self._commit)
        await batch.wait()  # on a failed commit the run is aborted: no further sends

    def _commit(self) -> None:
        batch, self._batch = self._batch, None
        try:
            self.ms.commit()
        except StoreError as exc:  # disk full, I/O error: stop before sending more
            self._abort(exc.message)
        finally:
            if batch is not None:
                batch.set()

    def _outage(self, exc: TemporaryMailError) -> bool:
        """The relay is unreachable: every worker pauses (1×, 2×, 4×… retry_delay);
        False once it stayed down through ``max_attempts`` pauses (the run stops,
        the rows stay pending for the next run)."""
        now = time.monotonic()
        if now >= self._resume_at:  # a fresh attempt failed, not one from before the pause
            self._outage_round += 1
            if self._outage_round > self.smtp.max_attempts:
                self._abort(f"{self.mailer.where} unreachable: {exc.message}")
                return False
            pause = min(self.smtp.retry_delay * 2.0 ** (self._outage_round - 1), 300.0)
            self._resume_at = now + pause
            log.warning("relay unreachable (%s); pausing %.1fs", exc.message, pause)
        return True

    async def _gate(self) -> None:
        """Wait out a pause after the relay became unreachable."""
        while (wait := self._resume_at - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    def _abort(self, reason: str) -> None:
        if not self._aborted.is_set():
            log.error("digest %s: stopping: %s", self.record.week, reason)
            self.abort_reason = reason
            self._aborted.set()


async def _test_send(app: App, week: str, to: str) -> DigestResult:
    """A test send to one address: same content, its own Message-ID, no ledger."""
    address = check_address(to)
    selection, rendered = compose(app, week)
    ms = MailStore(app.store)
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
    token = signer_for(app).issue(
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
    key = dkim_key(app)
    if key is not None:
        message = key.sign(message)
    mailer = make_mailer(app)
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
    token = signer_for(app).issue(
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
